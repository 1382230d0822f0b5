// execInAccessory against an in-process ssh2 server (fast; the end-to-end proof through OpenSSH is in
// test/integration/remote). The server plays the accessory: it speaks the handshake and obeys the test.
import {after, before, test} from 'node:test'
import assert from 'node:assert/strict'
import type {AddressInfo} from 'node:net'
import {PassThrough} from 'node:stream'
import ssh2 from 'ssh2'
import {execInAccessory, type ExecOptions} from '../../../src/remote/exec.js'
import {formatHandshake} from '../../../src/remote/protocol.js'
import {Redactor} from '../../../src/redact.js'

type Behaviour = (stream: ssh2.ServerChannel, command: string, connection: ssh2.Connection) => void
let behaviour: Behaviour = () => {}
let server: ssh2.Server
let port = 0

before(async () => {
  const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private
  server = new ssh2.Server({hostKeys: [hostKey]}, (connection) => {
    connection.on('authentication', (ctx) => ctx.accept())
    connection.on('error', () => {})
    connection.on('ready', () => {
      connection.on('session', (accept) => {
        accept().once('exec', (acceptExec, _reject, info) => behaviour(acceptExec(), info.command, connection))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
after(() => server.close())

async function client(): Promise<ssh2.Client> {
  const c = new ssh2.Client()
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve()).once('error', reject)
    c.connect({host: '127.0.0.1', port, username: 'test', hostVerifier: () => true})
  })
  c.on('error', () => {})
  return c
}

function sinks() {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (d) => (out += d))
  stderr.on('data', (d) => (err += d))
  return {stdout, stderr, out: () => out, err: () => err}
}

/** The accessory: handshake, wait for `go`, then `run`; EOF before go = refusal (exit 4). */
function accessory(version: string, run: (stream: ssh2.ServerChannel) => void): Behaviour {
  return (stream) => {
    stream.stderr.write(formatHandshake({protocol: 1, version}))
    let buffered = ''
    let started = false
    stream.on('data', (d: Buffer) => {
      if (started) return
      buffered += d.toString()
      if (buffered.startsWith('go\n')) {
        started = true
        run(stream)
      }
    })
    stream.on('end', () => {
      if (!started) {
        stream.exit(4)
        stream.end()
      }
    })
  }
}

function options(s: ReturnType<typeof sinks>, extra: Partial<ExecOptions> = {}): ExecOptions {
  return {redactor: new Redactor().add('hunter2-secret'), stdout: s.stdout, stderr: s.stderr, onHandshake: () => 'go', ...extra}
}

test('go: stdout and stderr stream back (redacted, handshake stripped) and the exit code is returned', async () => {
  let command = ''
  behaviour = (stream, cmd, conn) => {
    command = cmd
    accessory('0.1.0', (s) => {
      s.write('{"ok": true}\n')
      s.stderr.write('password is hunter2-secret\n')
      s.exit(3)
      s.end()
    })(stream, cmd, conn)
  }
  const c = await client()
  const s = sinks()
  const seen: string[] = []
  const result = await execInAccessory(c, 'docker exec -i x kamal-backup list', options(s, {onHandshake: (h) => (seen.push(h.version), 'go')}))
  c.end()
  assert.equal(command, 'docker exec -i x kamal-backup list')
  assert.deepEqual(seen, ['0.1.0'])
  assert.equal(result.exitCode, 3)
  assert.equal(result.started, true)
  assert.equal(s.out(), '{"ok": true}\n')
  assert.equal(s.err(), 'password is [REDACTED]\n')
})

test('stop: stdin is closed without go, the accessory runs nothing', async () => {
  let ran = false
  behaviour = accessory('0.2.0', () => (ran = true))
  const c = await client()
  const s = sinks()
  const result = await execInAccessory(c, 'x', options(s, {onHandshake: () => 'stop'}))
  c.end()
  assert.equal(ran, false)
  assert.equal(result.started, false)
  assert.equal(result.exitCode, 4)
  assert.equal(result.handshake?.version, '0.2.0')
})

test('abort after go sends the interrupt byte; an exit signal maps to 128+n', async () => {
  behaviour = accessory('0.1.0', (s) => {
    s.write('working\n')
    s.on('data', (d: Buffer) => {
      if (d.includes(3)) {
        s.exit('TERM')
        s.end()
      }
    })
  })
  const c = await client()
  const s = sinks()
  const ac = new AbortController()
  s.stdout.on('data', () => ac.abort())
  const result = await execInAccessory(c, 'x', options(s, {signal: ac.signal}))
  c.end()
  assert.equal(result.interrupted, true)
  assert.equal(result.exitCode, 143)
})

test('no handshake: what the remote side said is kept as the preamble, not printed', async () => {
  behaviour = (stream) => {
    stream.stderr.write('Error response from daemon: No such container: x\n')
    stream.exit(1)
    stream.end()
  }
  const c = await client()
  const s = sinks()
  const result = await execInAccessory(c, 'x', options(s))
  c.end()
  assert.equal(result.handshake, undefined)
  assert.equal(result.exitCode, 1)
  assert.equal(result.preamble, 'Error response from daemon: No such container: x\n')
  assert.equal(s.err(), '')
})

test('the connection going away before an exit status: exitCode null with a reason', async () => {
  behaviour = (stream, cmd, conn) =>
    accessory('0.1.0', (s) => {
      s.write('started\n')
      setTimeout(() => conn.end(), 50)
    })(stream, cmd, conn)
  const c = await client()
  const s = sinks()
  const result = await execInAccessory(c, 'x', options(s))
  assert.equal(result.exitCode, null)
  assert.equal(result.started, true)
  assert.ok(result.lostReason, 'a reason is given')
  assert.equal(s.out(), 'started\n')
})
