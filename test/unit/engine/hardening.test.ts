// The engine's low-level guarantees, each from an auditor's finding: raw stdout kept whole (a JSON document longer
// than 1 MiB), the open deadline that stops a restic talking to a backend that answers garbage, signals reaching a
// dump tool's own children (process groups), repository locations redacted to their credentials only, per-path
// excludes anchored to their path, the run lock's stale rule (another hostname, heartbeat), and state-directory
// write errors (full, read-only, permissions) turned into errors that say what to do. Real processes, real files.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {anchorExclude, fileExcludes} from '../../../src/engine/backup.ts'
import {checkPasswordFile, openTimeoutMs} from '../../../src/engine/context.ts'
import {judge, LOCK_STALE_MS, RunLock, StateDir, stateError} from '../../../src/engine/state.ts'
import {runPipe, runProcess} from '../../../src/exec/local.ts'
import {Redactor, REDACTED} from '../../../src/redact.ts'
import type {BackupConfig} from '../../../src/config/types.ts'
import {isKamalBackupError} from '../../../src/errors.ts'

const dir = () => mkdtempSync(join(tmpdir(), 'kb-hardening-'))
const node = (code: string): [string, ...string[]] => [process.execPath, '-e', code]

describe('local processes', () => {
  test('stdout longer than 1 MiB on one line is kept whole (restic prints a JSON array on one line)', async () => {
    const r = await runProcess({argv: node(`process.stdout.write(JSON.stringify(Array.from({length: 40000}, (_, i) => ({id: 'x'.repeat(40) + i}))))`)})
    assert.equal(r.exitCode, 0)
    assert.ok(r.stdout.length > 1024 * 1024, `${r.stdout.length} bytes`)
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 40000)
  })

  test('stdout beyond maxStdout is refused, not kept', async () => {
    await assert.rejects(runProcess({argv: node(`process.stdout.write('y'.repeat(300000))`)}, {maxStdout: 100_000}), /printed more than 100000 bytes/)
  })

  test('the open deadline stops a command that prints nothing; a sign of life cancels it', async () => {
    const silent = await runProcess({argv: node('setTimeout(() => {}, 30000)')}, {openDeadline: {ms: 300}})
    assert.equal(silent.openTimedOut, true)
    assert.ok(silent.durationMs < 10_000)
    // The deadline must leave room for node's own start on a loaded machine; the command outlives it by far.
    const talking = await runProcess({argv: node(`console.log('{"message_type":"status"}'); setTimeout(() => console.log('done'), 3000)`)}, {openDeadline: {ms: 2000}, onStdoutLine: () => {}})
    assert.equal(talking.openTimedOut, undefined)
    assert.equal(talking.exitCode, 0)
    const preOpen = await runProcess({argv: node(`console.log('using temporary cache in /x'); setTimeout(() => {}, 30000)`)}, {openDeadline: {ms: 300, opened: (l) => !l.startsWith('using temporary cache')}})
    assert.equal(preOpen.openTimedOut, true, 'a line printed before the repository opened is not a sign of life')
  })

  test('an abort reaches a dump tool\'s own children (process group), so the run ends at once', async () => {
    const d = dir()
    const pidFile = join(d, 'sleep.pid')
    // A wrapper script whose child is the real work: SIGINT to the wrapper alone would leave `sleep` holding the pipes.
    const wrapper = join(d, 'dump.sh')
    writeFileSync(wrapper, `#!/bin/sh\nsh -c 'echo $$ > "${pidFile}"; exec sleep 60'\necho the wrapper goes on\n`, {mode: 0o755})
    const ac = new AbortController()
    const started = Date.now()
    const running = runProcess({argv: [wrapper]}, {signal: ac.signal, processGroup: true})
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 20))
    ac.abort()
    const r = await running
    assert.equal(r.interrupted, true)
    assert.ok(Date.now() - started < 4000, `stopped in ${Date.now() - started} ms`)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    await new Promise((r) => setTimeout(r, 100))
    assert.ok(!existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')), 'the grandchild is gone')
  })

  test('a pipe whose consumer fails first says so: the producer\'s broken pipe is a consequence', async () => {
    const piped = await runPipe({argv: node(`const b = Buffer.alloc(65536); (function w() { process.stdout.write(b, (e) => e ? process.exit(1) : w()) })()`)}, {argv: node(`process.stdin.once('data', () => process.exit(3))`)}, {commitOnProducerSuccess: true})
    assert.equal(piped.consumer.exitCode, 3)
    assert.notEqual(piped.producer.exitCode, 0)
    assert.equal(piped.consumerStopped, false)
    const failing = await runPipe({argv: node('process.exit(2)')}, {argv: node(`process.stdin.resume(); process.on('SIGINT', () => process.exit(130))`)}, {commitOnProducerSuccess: true})
    assert.equal(failing.producer.exitCode, 2)
    assert.equal(failing.consumerStopped, true, 'we stopped the consumer because the producer failed')
  })
})

describe('redaction of repository locations', () => {
  test('RESTIC_REPOSITORY (a secret-looking name) registers only the credentials in it', () => {
    const r = new Redactor().addEnvironment({RESTIC_REPOSITORY: 'rest:https://backup:s3cr3t-pw@backup.example.com:8000/app', OTHER_SECRET: 'plain-secret-value'})
    assert.equal(r.redact('rest:https://backup.example.com:8000/app'), 'rest:https://backup.example.com:8000/app')
    assert.equal(r.redact('password s3cr3t-pw and plain-secret-value'), `password ${REDACTED} and ${REDACTED}`)
    assert.equal(new Redactor().addEnvironment({RESTIC_REPOSITORY: 's3:https://s3.example.com/bucket?token=tok-123456'}).redact('tok-123456'), REDACTED)
  })

  test('a value used as the repository is shown, even when it was registered whole', () => {
    const location = 'sftp:backup@host.example:/srv/restic/app'
    const r = new Redactor().add(location)
    assert.equal(r.redact(location), REDACTED)
    r.addRepository(location)
    assert.equal(r.redact(location), location)
    const withPassword = 'rest:https://u:pa55word-x@h.example/r'
    assert.equal(new Redactor().add(withPassword).addRepository(withPassword).redact(`at ${withPassword}, pw pa55word-x`), `at rest:https://${REDACTED}@h.example/r, pw ${REDACTED}`)
  })
})

describe('per-path excludes', () => {
  test('a relative pattern applies under its own path only, at any depth; absolute ones stay', () => {
    assert.equal(anchorExclude('/data/pa', 'cache'), '/data/pa/**/cache')
    assert.equal(anchorExclude('/tmp/app/', 'tmp'), '/tmp/app/**/tmp')
    assert.equal(anchorExclude('/data', './logs/*.log'), '/data/**/logs/*.log')
    assert.equal(anchorExclude('/data', '/data/x'), '/data/x')
    assert.equal(anchorExclude('/data', '!keep'), '!/data/**/keep')
    assert.equal(anchorExclude('/da[t]a*', 'x'), '/da\\[t]a\\*/**/x', 'glob characters in the path itself are literal')
    const config = {paths: [{path: '/pa', exclude: ['cache'], label: 'pa'}, {path: '/pb', exclude: [], label: 'pb'}]} as unknown as BackupConfig
    assert.deepEqual(fileExcludes({config}, []).filter((e) => !e.includes('.kamal-backup-')), ['/pa/**/cache'])
  })
})

describe('the run lock', () => {
  const info = (over: Record<string, unknown>) => JSON.stringify({pid: 1, start: null, hostname: 'old-container-3f2a', command: 'backup', started_at: '2026-11-30T02:00:00.000Z', ...over})

  test('another hostname\'s lock: alive while refreshed, stale after LOCK_STALE_MS; a dead local pid is stale at once', () => {
    const now = Date.now()
    assert.equal(judge({pid: 1, hostname: 'other'}, now - 1000, now), 'alive')
    assert.equal(judge({pid: 1, hostname: 'other'}, now - LOCK_STALE_MS - 1, now), 'stale')
    assert.equal(judge({pid: 2 ** 22 + 12345, hostname: hostname()}, now, now), 'stale')
    assert.equal(judge({pid: process.pid, hostname: hostname(), start: readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!}, now - 10 * LOCK_STALE_MS, now), 'alive', 'a verified live holder on this host')
  })

  test('a stale lock from a replaced container is taken over (and reported); a fresh one is busy with a way out', () => {
    const d = dir()
    const path = join(d, 'kamal-backup.lock')
    writeFileSync(path, info({}))
    const old = new Date(Date.now() - 2 * 3600_000)
    utimesSync(path, old, old)
    const lock = RunLock.acquire(path, 'unlock')
    assert.deepEqual(lock.replaced, {pid: 1, hostname: 'old-container-3f2a', command: 'backup', started_at: '2026-11-30T02:00:00.000Z'})
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).hostname, hostname())
    lock.release()
    assert.ok(!existsSync(path))

    writeFileSync(path, info({}))
    assert.throws(() => RunLock.acquire(path, 'backup'), (error: unknown) => {
      assert.ok(isKamalBackupError(error) && error.code === 'command/busy')
      assert.match(error.message, /another kamal-backup backup is running \(pid 1 on host old-container-3f2a, since 2026-11-30T02:00:00.000Z; lock refreshed \d+ s ago\)/)
      assert.ok(error.suggestions.some((s) => /goes stale 5 minutes after its last refresh.*kamal-backup unlock/.test(s)), error.suggestions.join('\n'))
      return true
    })
  })

  test('an unreadable (half-written) lock is stale', () => {
    const d = dir()
    const path = join(d, 'kamal-backup.lock')
    writeFileSync(path, '')
    const lock = RunLock.acquire(path, 'backup')
    assert.equal(lock.replaced?.pid, null)
    lock.release()
  })
})

describe('state directory errors', () => {
  test('ENOSPC, EROFS and EACCES become errors that say what to do', () => {
    const fail = (code: string) => stateError(Object.assign(new Error(code), {code}), '/var/lib/kamal-backup', 'take the run lock in')
    assert.equal(fail('ENOSPC').code, 'state/full')
    assert.match(fail('ENOSPC').message, /cannot take the run lock in the state directory \/var\/lib\/kamal-backup: no space left on the device/)
    assert.ok(fail('ENOSPC').suggestions.some((s) => /free space/.test(s)))
    assert.equal(fail('EROFS').code, 'state/read-only')
    assert.ok(fail('EROFS').suggestions.some((s) => /read-write/.test(s)))
    assert.equal(fail('EACCES').code, 'state/permission')
    assert.equal(fail('EIO').code, 'state/unusable')
  })

  test('write and lock errors are mapped (a directory in the way of a record stands in for a broken volume)', () => {
    const d = dir()
    const state = new StateDir(join(d, 'state'))
    state.ensureWritable()
    writeFileSync(join(d, 'not-a-dir'), 'x')
    const broken = new StateDir(join(d, 'not-a-dir'))
    assert.throws(() => broken.write('last_backup.json', {}), (e: unknown) => isKamalBackupError(e) && /cannot write last_backup.json in the state directory/.test(e.message))
    assert.throws(() => broken.lock('backup'), (e: unknown) => isKamalBackupError(e) && /cannot take the run lock in the state directory/.test(e.message))
    assert.throws(() => broken.ensureWritable(), (e: unknown) => isKamalBackupError(e) && e.code.startsWith('state/'))
  })
})

describe('preflight of the restic settings', () => {
  test('the password file must be readable and not empty', () => {
    const d = dir()
    assert.throws(() => checkPasswordFile(join(d, 'missing')), /restic password file .*missing \(restic.password\) cannot be read \(ENOENT\)/)
    writeFileSync(join(d, 'empty'), '')
    assert.throws(() => checkPasswordFile(join(d, 'empty')), /is empty/)
    assert.throws(() => checkPasswordFile(d), /is not a file/)
    writeFileSync(join(d, 'pw'), 'x\n')
    assert.equal(checkPasswordFile(join(d, 'pw')), join(d, 'pw'))
  })

  test('KAMAL_BACKUP_REPOSITORY_TIMEOUT: seconds, default 60, 0 turns it off, nonsense refused', () => {
    assert.equal(openTimeoutMs({}), 60_000)
    assert.equal(openTimeoutMs({KAMAL_BACKUP_REPOSITORY_TIMEOUT: '2.5'}), 2500)
    assert.equal(openTimeoutMs({KAMAL_BACKUP_REPOSITORY_TIMEOUT: '0'}), 0)
    assert.throws(() => openTimeoutMs({KAMAL_BACKUP_REPOSITORY_TIMEOUT: 'soon'}), /not a number of seconds/)
  })
})
