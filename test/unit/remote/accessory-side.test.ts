// The accessory's side of the remote protocol (src/remote/accessory-side.ts): it announces itself, starts on
// "go", and turns 0x03 or a lost connection into an interrupt or a refusal. In-process streams, no SSH.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {PassThrough} from 'node:stream'
import {acceptRemoteClient} from '../../../src/remote/accessory-side.js'

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
