// The remote protocol (src/remote/protocol.ts): handshake lines, version compatibility and protocol numbers. Pure
// functions; the accessory's side of it is in accessory-side.test.ts.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {compareVersions, formatHandshake, majorMinor, parseHandshake, protocolCompatible} from '../../../src/remote/protocol.js'

test('handshake lines round-trip, and anything else is not a handshake', () => {
  const line = formatHandshake({protocol: 1, version: '0.1.0', node: 'v20.19.0'})
  assert.equal(line, '@kamal-backup-handshake {"protocol":1,"version":"0.1.0","node":"v20.19.0"}\n')
  assert.deepEqual(parseHandshake(line), {protocol: 1, version: '0.1.0', node: 'v20.19.0'})
  assert.deepEqual(parseHandshake('@kamal-backup-handshake {"version":"2.0.0"}'), {protocol: 0, version: '2.0.0'})
  for (const other of ['', 'Error response from daemon: No such container: x\n', '@kamal-backup-handshake {not json}\n', '@kamal-backup-handshake {"version":1}\n', ' @kamal-backup-handshake {"version":"0.1.0"}\n', '@kamal-backup-handshake null\n']) {
    assert.equal(parseHandshake(other), undefined, JSON.stringify(other))
  }
})

test('versions: same major.minor is compatible, a patch difference is flagged, anything else is not', () => {
  assert.equal(compareVersions('0.1.0', '0.1.0'), 'same')
  assert.equal(compareVersions('0.1.0', '0.1.7'), 'patch')
  assert.equal(compareVersions('1.4.2', 'v1.4.2'), 'same')
  assert.equal(compareVersions('0.1.0', '0.2.0'), 'incompatible')
  assert.equal(compareVersions('1.0.0', '2.0.0'), 'incompatible')
  assert.equal(compareVersions('0.1.0', 'garbage'), 'incompatible')
  assert.equal(compareVersions('0.1.0-beta.1', '0.1.0'), 'patch', 'a pre-release is another patch of the same major.minor')
  assert.equal(majorMinor('3.14.15'), '3.14')
})

test('handshake protocol numbers: only ours is accepted', () => {
  assert.equal(protocolCompatible({protocol: 1, version: '0.1.0'}), true)
  assert.equal(protocolCompatible({protocol: 2, version: '0.1.0'}), false)
  assert.equal(protocolCompatible({protocol: 0, version: '0.1.0'}), false)
})
