// The scheduler daemon on a cron schedule, with its clock moved by libfaketime (LD_PRELOAD into the real built CLI:
// the clock starts at 2026-01-01 02:58:00 UTC and runs 10 times as fast, timers included). With no backup yet it
// backs up at once; then `0 3 * * *` backs up at 03:00 (plus at most the 60 s jitter) and plans the next run for
// 03:00 the next day. (About 25 s of real time.) restic is a
// static Go binary that faketime does not reach; the snapshot time comes from the run id kamal-backup passes it.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN} from '../../support/cli.ts'
import {freshRepo, tempDir} from '../../support/lab.ts'
import {localRestic, readState, writeApp} from './support.ts'

test('schedule with "0 3 * * *" (fake clock): a first backup at once, one at 03:00, then the next planned for 03:00 the day after', {timeout: 120_000}, async () => {
  const dir = tempDir('schedule-cron')
  mkdirSync(join(dir, 'files'))
  writeFileSync(join(dir, 'files', 'a.txt'), 'a\n')
  const repo = freshRepo('0.18')
  const app = writeApp({version: '0.18', repo, paths: [`  - ${join(dir, 'files')}`], restic: localRestic(repo), extra: ['backup: {schedule: "0 3 * * *"}']})
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', ...app.env, TZ: 'UTC'}
  for (const [k, v] of Object.entries(app.env)) if (v === undefined) delete env[k]
  // The library itself, not the faketime wrapper (which would stand between the test and the CLI's signals).
  const lib = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'].map((d) => join(d, 'faketime', 'libfaketimeMT.so.1')).find((f) => existsSync(f))
  assert.ok(lib, 'libfaketime is installed (scripts/setup.sh --test)')
  const child = spawn(process.execPath, [BIN, 'schedule', '--local', '--backup-config', app.config], {cwd: app.dir, env: {...env, LD_PRELOAD: lib, FAKETIME: '@2026-01-01 02:58:00 x10'}, stdio: ['ignore', 'pipe', 'pipe']})
  let log = ''
  child.stdout.on('data', (d) => (log += d))
  child.stderr.on('data', (d) => (log += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  try {
    // 20 s of fake time to 03:00, at most 60 s of jitter, the backup: well within 30 s of real time at x10.
    for (let i = 0; i < 600 && !/next backup at 2026-01-02T03:00/.test(log); i++) await new Promise((r) => setTimeout(r, 100))
    assert.match(log, /scheduler started: cron "0 3 \* \* \*" \(UTC\)/)
    // No backup yet: one at once (plus at most 60 s of jitter: a new accessory is not left without a backup until
    // 03:00), finished well before 03:00; then the cron's run at 03:00; then 03:00 the next day.
    const planned = [...log.matchAll(/next backup at (\S+) \(([^)]*)\)/g)].map((m) => ({at: m[1] ?? '', why: m[2] ?? ''}))
    assert.equal(planned.length, 3, log)
    assert.match(planned[0]!.why, /no backup yet/)
    assert.ok(planned[0]!.at < '2026-01-01T02:59:30', `the first backup is at once:\n${log}`)
    assert.match(planned[1]!.at, /^2026-01-01T03:00:\d\d\.\d{3}Z$/, '03:00 plus at most 60 s of jitter')
    assert.match(planned[2]!.at, /^2026-01-02T03:0[01]:/, 'then 03:00 the next day, not sooner')
    const runs = [...log.matchAll(/backup ok: run (\S+)/g)].map((m) => m[1] ?? '')
    assert.equal(runs.length, 2, `two backups, not more:\n${log}`)
    const last = runs[1]!
    assert.ok(last >= '20260101T030000Z' && last < '20260101T030100Z', `the second run is the 03:00 one (${last})`)
    const record = readState(app, 'last_backup.json')
    assert.equal(record.status, 'ok')
    assert.equal(record.run_id, last, 'the run is stamped with the fake clock')
  } finally {
    child.kill('SIGTERM')
  }
  assert.equal(await exited, 0, log)
})
