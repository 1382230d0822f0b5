import {test} from 'node:test'
import assert from 'node:assert/strict'
import {PassThrough} from 'node:stream'
import {acceptRemoteClient} from '../../../src/remote/accessory-side.js'
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

function side(extra: {onHangup?: 'interrupt' | 'continue'} = {}) {
  const stdin = new PassThrough()
  const stderr = new PassThrough()
  let written = ''
  stderr.on('data', (d) => (written += d))
  const events: string[] = []
  const started = acceptRemoteClient({version: '0.1.0', stdin, stderr, interrupt: () => events.push('interrupt'), refuse: () => events.push('refuse'), ...extra})
  return {stdin, events, started, written: () => written}
}

test('accessory side: announces itself, starts on go, then 0x03 interrupts once', async () => {
  const s = side()
  assert.match(s.written(), /^@kamal-backup-handshake \{"protocol":1,"version":"0\.1\.0","node":"v\d+/)
  s.stdin.write('g')
  s.stdin.write('o\n')
  await s.started
  assert.deepEqual(s.events, [])
  s.stdin.write(Buffer.from([0x03]))
  s.stdin.write(Buffer.from([0x03]))
  s.stdin.end()
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(s.events, ['interrupt'])
})

test('accessory side: end of stdin after go is an interrupt (the connection went away)', async () => {
  const s = side()
  s.stdin.write('go\n')
  await s.started
  s.stdin.end()
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(s.events, ['interrupt'])
})

test('accessory side, KAMAL_BACKUP_REMOTE_ON_HANGUP=continue: end of stdin lets the command finish; 0x03 still interrupts', async () => {
  const saved = process.env.KAMAL_BACKUP_REMOTE_ON_HANGUP
  process.env.KAMAL_BACKUP_REMOTE_ON_HANGUP = 'continue'
  try {
    const s = side()
    s.stdin.write('go\n')
    await s.started
    s.stdin.end()
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(s.events, [], 'a dropped connection does not stop a production restore halfway')
    const t = side()
    t.stdin.write('go\n')
    await t.started
    t.stdin.write(Buffer.from([0x03]))
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(t.events, ['interrupt'], 'Ctrl-C on the workstation still stops it')
  } finally {
    if (saved === undefined) delete process.env.KAMAL_BACKUP_REMOTE_ON_HANGUP
    else process.env.KAMAL_BACKUP_REMOTE_ON_HANGUP = saved
  }
  const u = side({onHangup: 'continue'})
  u.stdin.end()
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(u.events, ['refuse'], 'before go, end of stdin is still a refusal')
})

test('handshake protocol numbers: only ours is accepted', () => {
  assert.equal(protocolCompatible({protocol: 1, version: '0.1.0'}), true)
  assert.equal(protocolCompatible({protocol: 2, version: '0.1.0'}), false)
  assert.equal(protocolCompatible({protocol: 0, version: '0.1.0'}), false)
})

test('accessory side: EOF or anything but go before starting is a refusal, and nothing starts', async () => {
  const a = side()
  a.stdin.end()
  const b = side()
  b.stdin.write('stop\n')
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(a.events, ['refuse'])
  assert.deepEqual(b.events, ['refuse'])
  let started = false
  a.started.then(() => (started = true))
  b.started.then(() => (started = true))
  await new Promise((r) => setImmediate(r))
  assert.equal(started, false)
})
