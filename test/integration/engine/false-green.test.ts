// Never a false green, on restic 0.14 (the dump piped in; restic interrupted unless the dump succeeded) and 0.18
// (--stdin-from-command): a dump that fails, is killed halfway, produces nothing, or cannot log in must leave no
// snapshot that `list`, `latest` or `evidence` would pick; the CLI exits non-zero, names the failed step, and the
// run is recorded as failed while the previous complete run stays the latest.
//
// Fault injection: the failing and killed dumps are small shell scripts standing in for pg_dump (first on PATH, or
// under KAMAL_BACKUP_POSTGRES_CLIENT_ROOT the way the accessory image lays out its clients). They write real bytes
// into restic before they fail, so a pipeline that ignored the exit status would save a snapshot. The wrong
// password case uses the real pg_dump and the real server.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {createMariaDatabase, createPostgresDatabase, dropMariaDatabase, dropPostgresDatabase, freshRepo, lab, mariadb, psql, RESTIC_VERSIONS, tempDir, type TestDatabase} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, localRestic, mariaDatabaseLine, pgDatabaseLine, readState, repoLocks, repoSnapshots, script, writeApp, type App} from './support.ts'

const pause = () => new Promise((r) => setTimeout(r, 1100)) // run ids have one-second resolution

/** After a failed run: nothing new for database `main`, the failed step named and recorded, `latest` unchanged. */
async function assertNoFalseGreen(app: App, good: string, result: {code: number | null; stderr: string}, expect: RegExp): Promise<void> {
  assert.equal(result.code, 1, `exit status (stderr: ${result.stderr})`)
  assert.match(result.stderr, /failed at step database:main/)
  assert.match(result.stderr, expect)
  const record = readState(app, 'last_backup.json')
  assertSchema('backup-run', record)
  assert.equal(record.status, 'failed')
  assert.equal(record.failed_step, 'database:main')
  assert.match(record.error, expect)
  assert.deepEqual(record.steps.map((s: {name: string; status: string}) => `${s.name}=${s.status}`), ['database:main=failed', 'files=ok', 'forget=skipped', 'check=skipped'])
  assert.equal(readState(app, 'last_successful_backup.json').run_id, good, 'the last success is still the good run')
  const snapshots = await repoSnapshots(app)
  const failedRun = snapshots.filter((s) => s.tags!.includes(`run:${record.run_id}`))
  assert.deepEqual(failedRun.map((s) => s.tags!.find((t) => t.startsWith('database:')) ?? 'files'), ['files'], 'the failed dump left no snapshot')
  const {json: runs} = await cliJson(app, ['list'])
  assertSchema('list', runs)
  assert.equal(runs[0].id, record.run_id)
  assert.equal(runs[0].complete, false)
  assert.deepEqual(runs[0].missing, ['database:main'])
  assert.equal(runs.find((r: {complete: boolean}) => r.complete).id, good, '`latest` is still the good run')
  const evidence = await cli(app, ['evidence'])
  assert.equal(evidence.code, 0, evidence.stderr)
  const doc = JSON.parse(evidence.stdout)
  assertSchema('evidence', doc)
  assert.equal(doc.latest_complete_run.id, good)
  assert.equal(doc.last_backup_run.status, 'failed')
  assert.deepEqual(await repoLocks(app), [], 'no lock left behind')
}

// The versions run side by side (each has its own repository, databases and state).
describe('never a false green, on each restic version', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    describe(`no false green on restic ${version}`, {concurrency: false}, () => {
      let pg: TestDatabase
      let app: App
      let good: string
      let faults: string

      before(async () => {
        pg = await createPostgresDatabase()
        await psql(pg.name, `CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t(v) SELECT md5(g::text) FROM generate_series(1, 2000) g;`, {as: 'app'})
        const dir = tempDir(`fg-${version}`)
        const files = join(dir, 'files')
        mkdirSync(files)
        writeFileSync(join(files, 'a.txt'), 'files keep being backed up when a dump fails\n')
        faults = join(dir, 'faults')
        const repo = freshRepo(version)
        app = writeApp({
          version,
          repo,
          databases: [pgDatabaseLine('main', pg)],
          paths: [`  - ${files}`],
          restic: localRestic(repo, ['retention: {keep_last: 10}']),
        })
        const r = await cli(app, ['backup', '--force'])
        assert.equal(r.code, 0, r.stderr)
        good = readState(app, 'last_backup.json').run_id
      })

      after(async () => {
        await dropPostgresDatabase(pg.name).catch(() => {})
      })

      const assertFailedRun = (result: {code: number | null; stderr: string}, expect: RegExp) => assertNoFalseGreen(app, good, result, expect)

      test('a dump that writes data and then exits non-zero (wrapper first on PATH)', async () => {
        const bin = join(faults, 'path-bin')
        script(bin, 'pg_dump', 'head -c 300000 /dev/urandom\necho "pg_dump: error: query failed: server closed the connection unexpectedly" >&2\nexit 1')
        await pause()
        const r = await cli(app, ['backup', '--force'], {env: {PATH: `${bin}:${process.env.PATH}`}})
        await assertFailedRun(r, /server closed the connection unexpectedly/)
      })

      test('a dump killed halfway (client under KAMAL_BACKUP_POSTGRES_CLIENT_ROOT)', async () => {
        const root = join(faults, 'clients')
        const bin = join(root, '15', 'bin')
        script(bin, 'pg_dump', 'head -c 300000 /dev/urandom\nkill -KILL $$')
        symlinkSync(join(lab().postgres.binDir, 'psql'), join(bin, 'psql')) // the real psql probes the server version
        await pause()
        const r = await cli(app, ['backup', '--force'], {env: {KAMAL_BACKUP_POSTGRES_CLIENT_ROOT: root}})
        await assertFailedRun(r, /pg_dump main (was killed by SIGKILL|failed)/)
      })

      test('a dump that exits 0 without writing anything', async () => {
        const bin = join(faults, 'empty-bin')
        script(bin, 'pg_dump', 'exit 0')
        await pause()
        const r = await cli(app, ['backup', '--force'], {env: {PATH: `${bin}:${process.env.PATH}`}})
        await assertFailedRun(r, /empty|no data/)
      })

      test('the real pg_dump with a wrong password', async () => {
        await pause()
        const r = await cli(app, ['backup', '--force'], {env: {PG_PW: 'definitely-wrong-password'}})
        await assertFailedRun(r, /password authentication failed/)
        assert.match(r.stderr, /check the database password/)
      })
    })
  }
})

// The same for MariaDB (mariadb-dump first on PATH; restic 0.18 runs it through `env -i` with that PATH).
describe('never a false green with MariaDB, on each restic version', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    describe(`no false green with MariaDB on restic ${version}`, {concurrency: false}, () => {
      let my: TestDatabase
      let app: App
      let good: string
      let faults: string

      before(async () => {
        my = await createMariaDatabase()
        await mariadb(my.name, 'CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t SELECT seq, MD5(seq) FROM seq_1_to_2000;')
        const dir = tempDir(`fg-my-${version}`)
        const files = join(dir, 'files')
        mkdirSync(files)
        writeFileSync(join(files, 'a.txt'), 'files keep being backed up when a dump fails\n')
        faults = join(dir, 'faults')
        const repo = freshRepo(version)
        app = writeApp({version, repo, databases: [mariaDatabaseLine('main', my)], paths: [`  - ${files}`], restic: localRestic(repo, ['retention: {keep_last: 10}'])})
        const r = await cli(app, ['backup', '--force'])
        assert.equal(r.code, 0, r.stderr)
        good = readState(app, 'last_backup.json').run_id
      })

      after(async () => {
        await dropMariaDatabase(my.name).catch(() => {})
      })

      const faulty = async (name: string, body: string, expect: RegExp) => {
        const bin = join(faults, name)
        script(bin, 'mariadb-dump', body)
        await pause()
        await assertNoFalseGreen(app, good, await cli(app, ['backup', '--force'], {env: {PATH: `${bin}:${process.env.PATH}`}}), expect)
      }

      // restic 0.18 relays the dump's stderr ("subprocess …") but lost that line once in a loaded test run: the
      // failure itself is what must never be missed.
      test('a dump that writes data and then exits non-zero', () => faulty('fails', 'head -c 300000 /dev/urandom\necho "mariadb-dump: Error 2013: Lost connection to server during query" >&2\nexit 2', /Lost connection to server during query|mariadb-dump main failed; no snapshot was saved/))
      test('a dump killed halfway', () => faulty('killed', 'head -c 300000 /dev/urandom\nkill -KILL $$', /mariadb-dump main (was killed by SIGKILL|failed)/))
      test('a dump that exits 0 without writing anything', () => faulty('empty', 'exit 0', /empty|no data/))
      test('the real mariadb-dump with a wrong password', async () => {
        await pause()
        await assertNoFalseGreen(app, good, await cli(app, ['backup', '--force'], {env: {MY_PW: 'definitely-wrong-password'}}), /Access denied/)
      })
    })
  }
})
