// execInAccessory against an in-process ssh2 server (fast; the end-to-end proof through OpenSSH is in
// test/integration/remote). The server plays the accessory: it speaks the handshake and obeys the test.
import {ed25519KeyPair} from '../../support/ssh-keys.ts'
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
  const hostKey = ed25519KeyPair().private
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
  const out: Buffer[] = []
  const err: Buffer[] = []
  // Bytes, decoded at the end: a chunk may end inside a character.
  stdout.on('data', (d: Buffer) => out.push(Buffer.from(d)))
  stderr.on('data', (d: Buffer) => err.push(Buffer.from(d)))
  return {stdout, stderr, out: () => Buffer.concat(out).toString('utf8'), err: () => Buffer.concat(err).toString('utf8')}
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

test('go: stdout and stderr stream back as the accessory wrote them (handshake stripped) and the exit code is returned', async () => {
  let command = ''
  behaviour = (stream, cmd, conn) => {
    command = cmd
    accessory('0.1.0', (s) => {
      s.write('{"ok": true}\n')
      s.stderr.write('the accessory redacts its own output; this is not ours to touch: hunter2-secret\n')
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
  assert.equal(s.err(), 'the accessory redacts its own output; this is not ours to touch: hunter2-secret\n')
})

test('the accessory\'s output is never redacted again here: a secret-looking local environment cannot change a byte', async () => {
  // What the accessory printed, already redacted by it. A second pass with a redactor seeded from this machine's
  // environment turned "postgres" into [REDACTED], broke numbers and booleans, and ate the quote after
  // X_TOKEN=[REDACTED] (the assignment pattern matching its own output).
  const doc = JSON.stringify({adapter: 'postgres', files: 1000, complete: true, check: {command: 'X_TOKEN=[REDACTED] ./verify', output: 'PGPASSWORD=[REDACTED]'}, name: 'ünïcødé ✓'}, null, 2) + '\n'
  const log = 'database notes (postgres): 1000 rows, complete true, X_TOKEN=[REDACTED]"\n'
  const bytes = Buffer.from(doc)
  behaviour = accessory('0.1.0', (s) => {
    // Split mid-character, so nothing can rely on chunk boundaries.
    for (let i = 0; i < bytes.length; i += 5) s.write(bytes.subarray(i, i + 5))
    s.stderr.write(log)
    s.exit(0)
    s.end()
  })
  const dirty = new Redactor().addEnvironment({POSTGRES_PASSWORD: 'postgres', DB_PASSWORD: '1000', SOME_FLAG_KEY: 'true', X_TOKEN: 'verify'})
  const c = await client()
  const s = sinks()
  const result = await execInAccessory(c, 'x', options(s, {redactor: dirty}))
  c.end()
  assert.equal(result.exitCode, 0)
  assert.equal(s.out(), doc)
  assert.deepEqual(JSON.parse(s.out()), JSON.parse(doc))
  assert.equal(s.err(), log)
})

test('stdout before the handshake is the host (a login shell\'s rc file): it goes to stderr, redacted here, never to stdout', async () => {
  behaviour = (stream, cmd, conn) => {
    stream.write('Welcome! motd says hunter2-secret\n')
    accessory('0.1.0', (s) => {
      s.write('{"doc": 1}\n')
      s.exit(0)
      s.end()
    })(stream, cmd, conn)
  }
  const c = await client()
  const s = sinks()
  const result = await execInAccessory(c, 'x', options(s))
  c.end()
  assert.equal(result.exitCode, 0)
  assert.equal(s.out(), '{"doc": 1}\n')
  assert.equal(s.err(), 'Welcome! motd says [REDACTED]\n')
})

test('holdStdout: output is written once the exit status arrives, and dropped when the connection is lost first', async () => {
  behaviour = accessory('0.1.0', (s) => {
    s.write('{"a":')
    setTimeout(() => {
      s.write(' 1}\n')
      s.exit(0)
      s.end()
    }, 20)
  })
  const c = await client()
  const s = sinks()
  let early = ''
  s.stdout.on('data', (d) => (early ||= String(d)))
  const ok = await execInAccessory(c, 'x', options(s, {holdStdout: 1024}))
  c.end()
  assert.equal(ok.exitCode, 0)
  assert.equal(s.out(), '{"a": 1}\n', 'written whole')
  assert.equal(early, '{"a": 1}\n', 'in one piece, after the exit status')

  behaviour = (stream, cmd, conn) =>
    accessory('0.1.0', (st) => {
      st.write('[{"half": ')
      setTimeout(() => conn.end(), 50)
    })(stream, cmd, conn)
  const c2 = await client()
  const s2 = sinks()
  const lost = await execInAccessory(c2, 'x', options(s2, {holdStdout: 1024}))
  assert.equal(lost.exitCode, null)
  assert.equal(s2.out(), '', 'no half document on stdout')
  assert.equal(lost.discardedStdout, 10)

  // Past the limit it streams on.
  behaviour = accessory('0.1.0', (st) => {
    st.write('x'.repeat(3000))
    st.exit(0)
    st.end()
  })
  const c3 = await client()
  const s3 = sinks()
  const big = await execInAccessory(c3, 'x', options(s3, {holdStdout: 1024}))
  c3.end()
  assert.equal(big.exitCode, 0)
  assert.equal(s3.out().length, 3000)
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
