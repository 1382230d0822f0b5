// `kamal-backup schedule`, the accessory's foreground loop, run as the built CLI: it works from the state directory
// (a restart right after a backup does not back up again; after downtime it catches up at once), stays up idle when
// disabled, keeps a manual `backup` from overlapping its run, and on SIGTERM in the middle of a dump stops restic
// cleanly — exit 0 within seconds, no restic lock left, no snapshot, the run recorded as interrupted — on restic 0.14
// and 0.18. (The scheduler's timing decisions with an injectable clock are unit-tested in test/unit/engine.)
//
// Fault injection: a slow pg_dump stand-in writes some bytes and then sleeps, so the run is reliably in progress.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN} from '../../support/cli.ts'
import {createPostgresDatabase, dropPostgresDatabase, freshRepo, RESTIC_VERSIONS, tempDir, type ResticVersion} from '../../support/lab.ts'
import {cli, localRestic, pgDatabaseLine, readState, repoLocks, repoSnapshots, script, writeApp, type App} from './support.ts'

interface Running {
  child: ChildProcess
  log: () => string
  waitFor(pattern: RegExp, ms?: number): Promise<void>
  exit: Promise<{code: number | null; signal: NodeJS.Signals | null; at: number}>
}

function startSchedule(app: App, env: Record<string, string> = {}): Running {
  const childEnv: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', ...app.env, ...env}
  for (const [k, v] of Object.entries(app.env)) if (v === undefined) delete childEnv[k]
  const child = spawn(process.execPath, [BIN, 'schedule', '--local', '--backup-config', app.config], {cwd: app.dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe']})
  let text = ''
  child.stdout!.on('data', (d) => (text += d))
  child.stderr!.on('data', (d) => (text += d))
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000)
  const exit = new Promise<{code: number | null; signal: NodeJS.Signals | null; at: number}>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(killer)
      resolve({code, signal, at: Date.now()})
    }),
  )
  return {
    child,
    log: () => text,
    exit,
    async waitFor(pattern, ms = 30_000) {
      const until = Date.now() + ms
      while (!pattern.test(text)) {
        if (Date.now() > until || child.exitCode !== null) assert.fail(`schedule did not log ${pattern} within ${ms} ms:\n${text}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
}

async function stop(running: Running): Promise<number> {
  const sent = Date.now()
  running.child.kill('SIGTERM')
  const {code, at} = await running.exit
  assert.equal(code, 0, `schedule exits 0 on SIGTERM:\n${running.log()}`)
  return at - sent
}

function filesApp(version: ResticVersion, extra: string[] = [], databases: string[] = []): App {
  const dir = tempDir('sched')
  mkdirSync(join(dir, 'files'))
  writeFileSync(join(dir, 'files', 'a.txt'), 'a\n')
  const repo = freshRepo(version)
  return writeApp({version, repo, databases, paths: [`  - ${join(dir, 'files')}`], restic: localRestic(repo), extra})
}

function lastSuccessAgo(app: App, ms: number): void {
  mkdirSync(app.state, {recursive: true})
  writeFileSync(join(app.state, 'last_successful_backup.json'), JSON.stringify({schema_version: 1, kind: 'backup_run', status: 'ok', finished_at: new Date(Date.now() - ms).toISOString()}))
}

describe('schedule: when to back up', {concurrency: true}, () => {
  test('a restart shortly after a successful backup does not back up again', async () => {
    const app = filesApp('0.18', ['backup: {schedule: 1h}'])
    lastSuccessAgo(app, 10_000)
    const s = startSchedule(app)
    await s.waitFor(/next backup at .* \(last success /)
    await new Promise((r) => setTimeout(r, 2000))
    assert.doesNotMatch(s.log(), /backup started/)
    assert.ok((await stop(s)) < 5000)
    assert.equal((await repoSnapshots(app)).length, 0)
    // One line per event, with timestamp and level.
    for (const line of s.log().trim().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR) /)
  })

  test('after downtime longer than the interval it catches up at once', async () => {
    const app = filesApp('0.18', ['backup: {schedule: 2m}'])
    lastSuccessAgo(app, 30 * 60_000)
    const s = startSchedule(app)
    await s.waitFor(/backup ok: run \d{8}T\d{6}Z/, 30_000)
    await s.waitFor(/next backup at /)
    assert.ok((await stop(s)) < 5000)
    assert.equal((await repoSnapshots(app)).length, 1)
    assert.equal(readState(app, 'last_backup.json').trigger, 'scheduled')
  })

  test('with backup.enabled: false it stays up idle until stopped', async () => {
    const app = filesApp('0.18', ['backup: {schedule: 1m, enabled: false}'])
    const s = startSchedule(app)
    await s.waitFor(/disabled .* staying up idle/)
    await new Promise((r) => setTimeout(r, 1500))
    assert.equal(s.child.exitCode, null, 'still running')
    assert.ok((await stop(s)) < 5000)
    assert.equal((await repoSnapshots(app)).length, 0)
    const manual = await cli(app, ['backup'])
    assert.equal(manual.code, 0)
    assert.match(manual.stdout, /backups are disabled .* --force/)
    assert.equal((await repoSnapshots(app)).length, 0)
  })
})

for (const version of RESTIC_VERSIONS) {
  test(`SIGTERM in the middle of a dump (restic ${version}): exit 0 within seconds, no lock, no snapshot; a manual backup could not overlap`, async () => {
    const pg = await createPostgresDatabase()
    try {
      const dir = tempDir('slow')
      const pidFile = join(dir, 'dump.pid')
      // Fault injector: writes 200 kB of dump, then hangs (exec keeps the pid, so we can check it is gone later).
      script(join(dir, 'bin'), 'pg_dump', `echo $$ > '${pidFile}'\nhead -c 200000 /dev/urandom\nexec sleep 120`)
      const app = filesApp(version, ['backup: {schedule: 1m}'], [pgDatabaseLine('main', pg)]) // 1m: at most 0.6 s of jitter
      const s = startSchedule(app, {PATH: `${join(dir, 'bin')}:${process.env.PATH}`})
      await s.waitFor(/database main \(postgres\)\.\.\./)
      for (let i = 0; i < 200 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50))
      for (let i = 0; i < 100 && (await repoLocks(app)).length === 0; i++) await new Promise((r) => setTimeout(r, 100))
      assert.equal((await repoLocks(app)).length, 1, 'restic holds its lock while the dump runs')

      const manual = await cli(app, ['backup', '--force'])
      assert.equal(manual.code, 1, 'the run lock keeps a manual backup out')
      assert.match(manual.stderr, /another kamal-backup backup is running/)

      const took = await stop(s)
      assert.ok(took < 8000, `stopped in ${took} ms`)
      assert.deepEqual(await repoLocks(app), [], 'restic removed its lock')
      assert.equal((await repoSnapshots(app)).length, 0, 'the interrupted dump left no snapshot')
      const dumpPid = readFileSync(pidFile, 'utf8').trim()
      assert.ok(!existsSync(`/proc/${dumpPid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${dumpPid}/status`, 'utf8')), 'the dump process is gone')
      const record = readState(app, 'last_backup.json')
      assert.equal(record.status, 'failed')
      assert.equal(record.reason, 'interrupted')
      assert.ok(!existsSync(join(app.state, 'kamal-backup.lock')), 'the run lock is released')
      assert.match(s.log(), /backup interrupted/)
    } finally {
      await dropPostgresDatabase(pg.name).catch(() => {})
    }
  })
}

test('SIGTERM to a manual `backup` mid-dump: exit 130, recorded as interrupted, no restic lock, no run lock', async () => {
  const pg = await createPostgresDatabase()
  try {
    const dir = tempDir('slow-manual')
    script(join(dir, 'bin'), 'pg_dump', 'head -c 100000 /dev/urandom\nexec sleep 120') // fault injector: a dump that hangs
    const app = filesApp('0.14', [], [pgDatabaseLine('main', pg)])
    const childEnv: NodeJS.ProcessEnv = {...process.env, ...app.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`}
    for (const [k, v] of Object.entries(app.env)) if (v === undefined) delete childEnv[k]
    const child = spawn(process.execPath, [BIN, 'backup', '--force', '--local', '--backup-config', app.config], {cwd: app.dir, env: childEnv, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr!.on('data', (d) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    for (let i = 0; i < 150 && (await repoLocks(app)).length === 0; i++) await new Promise((r) => setTimeout(r, 100))
    assert.equal((await repoLocks(app)).length, 1, `restic is running:\n${stderr}`)
    child.kill('SIGTERM')
    assert.equal(await exited, 130, stderr)
    assert.match(stderr, /SIGTERM received: stopping/)
    assert.deepEqual(await repoLocks(app), [])
    assert.equal((await repoSnapshots(app)).length, 0)
    const record = readState(app, 'last_backup.json')
    assert.equal(record.reason, 'interrupted')
    assert.equal(record.failed_step, 'database:main')
    assert.ok(!existsSync(join(app.state, 'kamal-backup.lock')))
  } finally {
    await dropPostgresDatabase(pg.name).catch(() => {})
  }
})
