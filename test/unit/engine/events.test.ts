// The lifecycle seam (src/engine/events.ts) with a whole backup run behind it: runBackup with a recording executor
// that answers as restic 0.18 and sqlite3 would (test/support/recording-executor.ts). What it proves: the events a
// run emits and their order, that the engine itself prints no failure (the CLI does, from these events), and that
// a listener can never change a run. The same runs against real restic are in test/integration/engine/.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runBackup} from '../../../src/engine/backup.ts'
import {createEngine} from '../../../src/engine/context.ts'
import {RunEvents, type RunEvent} from '../../../src/engine/events.ts'
import {silentProgress} from '../../../src/engine/progress.ts'
import type {Log} from '../../../src/log.ts'
import {Redactor} from '../../../src/redact.ts'
import {RecordingExecutor, type Script} from '../../support/recording-executor.ts'

const ID_DB = 'a'.repeat(64)
const ID_FILES = 'b'.repeat(64)

/** restic 0.18 and sqlite3, as far as a backup run asks them. */
const healthy: Script = (call) => {
  const [bin, sub] = call.spec.argv
  if (bin === 'sqlite3') return call.line.includes('quick_check') ? {stdout: 'ok\n'} : undefined
  if (sub === 'version') return {stdout: 'restic 0.18.1 compiled with go1.24 on linux/amd64\n'}
  if (sub === 'backup') {
    const files = call.spec.argv.includes('--stdin-filename') ? undefined : ID_FILES
    return {stdout: `{"message_type":"summary","snapshot_id":"${files ?? ID_DB}","total_bytes_processed":4096,"data_added":100}\n`}
  }
  if (sub === 'forget') return {stdout: `[{"keep":[{"id":"${ID_DB}"},{"id":"${ID_FILES}"}],"remove":null}]\n`}
  if (sub === 'check') return {stdout: 'no errors were found\n'}
  return undefined
}

interface Fixture {
  dir: string
  errors: string[]
  events: RunEvent[]
  engine: ReturnType<typeof createEngine>
  exec: RecordingExecutor
}

function fixture(script: Script, events = new RunEvents()): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'kb-events-'))
  mkdirSync(join(dir, 'storage'))
  writeFileSync(join(dir, 'storage', 'blob'), 'x')
  writeFileSync(join(dir, 'app.sqlite3'), '')
  const config = join(dir, 'kamal-backup.yml')
  writeFileSync(config, `app: evt
databases:
  - {name: primary, adapter: sqlite, path: ${join(dir, 'app.sqlite3')}}
paths: [${join(dir, 'storage')}]
restic:
  repository: ${join(dir, 'repo')}
  password: {secret: RESTIC_PASSWORD}
  retention: {keep_last: 3}
  check_after_backup: true
backup:
  schedule: 1d
`)
  const errors: string[] = []
  const log: Log = {redactor: new Redactor(), stream: process.stderr, debug() {}, info() {}, warn: (m) => void errors.push(`warn: ${m}`), error: (m) => void errors.push(m), raw: (t) => void errors.push(t)}
  const exec = new RecordingExecutor(script)
  const engine = createEngine({configFile: config, cwd: dir, env: {RESTIC_PASSWORD: 'pw', PATH: '/usr/bin'}, log, progress: silentProgress, signal: new AbortController().signal, exec, events, stateDir: join(dir, 'state')})
  const seen: RunEvent[] = []
  engine.events.on((event) => void seen.push(event))
  process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
  return {dir, errors, events: seen, engine, exec}
}

const summary = (e: RunEvent) => (e.type === 'step-finished' ? `${e.type} ${e.step.name} ${e.step.status}` : e.type === 'backup-finished' ? `${e.type} ${e.record.status}` : e.type)

describe('a backup run\'s events', () => {
  test('ok: started, each step as it finishes (database, files, retention, check), finished; the engine prints nothing', async () => {
    const f = fixture(healthy)
    const record = await runBackup(f.engine, {force: true})
    assert.equal(record.status, 'ok', record.error ?? '')
    assert.deepEqual(f.events.map(summary), ['backup-started', 'step-finished database:primary ok', 'step-finished files ok', 'step-finished forget ok', 'step-finished check ok', 'backup-finished ok'])
    const started = f.events[0]!
    assert.ok(started.type === 'backup-started' && started.run_id === record.run_id && started.app === 'evt')
    const finished = f.events.at(-1)!
    assert.ok(finished.type === 'backup-finished' && finished.record === record)
    assert.deepEqual(f.errors, [])
    // And the run asked what it should, in order: the copy and its check, then restic (never a shell).
    assert.deepEqual(f.exec.calls.map((c) => c.spec.argv[0] === 'restic' ? `restic ${c.spec.argv[1]}` : c.spec.argv[0]), ['restic version', 'sqlite3', 'sqlite3', 'restic backup', 'restic backup', 'restic forget', 'restic check'])
  })

  test('a failed step is emitted with its error (suggestions included), the run goes on and ends failed; still nothing printed by the engine', async () => {
    const f = fixture((call) => (call.line.includes('quick_check') ? {stdout: 'database disk image is malformed\n'} : healthy(call)))
    const record = await runBackup(f.engine, {force: true})
    assert.equal(record.status, 'failed')
    assert.deepEqual(f.events.map(summary), ['backup-started', 'step-finished database:primary failed', 'step-finished files ok', 'backup-finished failed'])
    const step = f.events[1]!
    assert.ok(step.type === 'step-finished')
    assert.equal(step.title, 'database primary (sqlite)')
    assert.ok(step.error instanceof Error && 'code' in step.error && step.error.code === 'dump/failed')
    assert.deepEqual(f.errors, [])
  })

  test('a run that dies before its first step (restic missing) still ends with backup-finished, carrying the error', async () => {
    const f = fixture((call) => (call.spec.argv[1] === 'version' ? {exitCode: 127, stderr: 'restic: not found'} : healthy(call)))
    const record = await runBackup(f.engine, {force: true})
    assert.equal(record.failed_step, 'preflight')
    assert.deepEqual(f.events.map(summary), ['backup-started', 'backup-finished failed'])
    const finished = f.events[1]!
    assert.ok(finished.type === 'backup-finished' && finished.error instanceof Error)
  })

  test('not due: no run, but an attempt that ends (skipped), so a monitor hears of it', async () => {
    const f = fixture(healthy)
    await runBackup(f.engine, {force: true})
    f.events.length = 0
    const skipped = await runBackup(f.engine)
    assert.equal(skipped.reason, 'not_due')
    assert.deepEqual(f.events.map(summary), ['backup-finished skipped'])
  })
})

test('a listener never changes a run: what it throws or rejects with is a warning, and settled() waits for its work', async () => {
  const warnings: string[] = []
  const events = new RunEvents({warn: (m) => void warnings.push(m)})
  let delivered = 0
  events.on(() => {
    throw new Error('a broken listener')
  })
  events.on(async (event) => {
    await new Promise((r) => setTimeout(r, 20))
    if (event.type === 'backup-finished') throw new Error('the webhook did not answer')
    delivered++
  })
  const f = fixture(healthy, events)
  const record = await runBackup(f.engine, {force: true})
  assert.equal(record.status, 'ok')
  await events.settled()
  assert.equal(delivered, 5, 'every event but the last was delivered before settled() resolved')
  assert.equal(warnings.filter((w) => /a broken listener/.test(w)).length, 6)
  assert.deepEqual(warnings.filter((w) => /webhook/.test(w)), ['a listener of backup-finished failed: the webhook did not answer'])
})
