// The adapters' restore flows with a recording executor (test/support/recording-executor.ts): which client calls a
// restore makes, in which order, and what each answer leads to — above all that a refusal comes before anything is
// dropped. Against real servers these flows are tested in test/integration/restore/; here each branch is reached
// on purpose, including the ones a live server rarely produces (a standby, a lock timeout half-way).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {DatabaseTarget, DbContext, DumpSource} from '../../../src/db/adapter.ts'
import {checkStream} from '../../../src/db/adapter.ts'
import type {ResolvedDatabase} from '../../../src/db/connection.ts'
import {databaseAdapter} from '../../../src/db/index.ts'
import {kindOfRailsAdapter} from '../../../src/config/types.ts'
import {KamalBackupError} from '../../../src/errors.ts'
import {Redactor, Secret} from '../../../src/redact.ts'
import {RecordingExecutor, type Script} from '../../support/recording-executor.ts'
import {ROOT} from '../../support/cli.ts'

function context(exec: RecordingExecutor, env: NodeJS.ProcessEnv = {PATH: '/usr/bin'}): DbContext {
  return {exec, env, signal: new AbortController().signal, redactor: new Redactor().add('s3cret')}
}

function dumpSource(released: string[] = []): DumpSource {
  return {
    spec: {argv: ['restic', 'dump', 'abcd1234', '/app.main.dump'], label: 'restic dump'},
    tags: ['database:main'],
    shortId: 'abcd1234',
    error: (r) => new KamalBackupError(`restic failed: ${r.stderr}`, {code: 'restic/failed'}),
    releaseLock: async () => void released.push('unlock'),
  }
}

const server = (adapter: 'postgres' | 'mysql', extra: Partial<ResolvedDatabase> = {}): ResolvedDatabase => ({name: 'main', adapter, host: 'db', port: 5432, user: 'app', database: 'app_dev', params: {}, password: new Secret('s3cret'), ...extra})
const target = (db: ResolvedDatabase, scratch = false): DatabaseTarget => ({name: 'main', target: db, scratch})

async function rejects(work: Promise<unknown>, code: string, message?: RegExp): Promise<KamalBackupError> {
  let caught: unknown
  await work.catch((error: unknown) => (caught = error))
  assert.ok(caught instanceof KamalBackupError, `expected a KamalBackupError ${code}, got ${String(caught)}`)
  assert.equal(caught.code, code, caught.message)
  if (message) assert.match(caught.message, message)
  return caught
}

describe('PostgreSQL restore', () => {
  const script: Script = (call) => {
    if (call.kind === 'stream') return {stderr: 'pg_restore: creating TABLE "public.users"\npg_restore: creating TABLE "public.posts"\n', tapBytes: readFileSync(join(ROOT, 'test/fixtures/pg/sample-uncompressed.dump'))}
    if (call.stdin?.includes('pg_tables')) return {stdout: '0 public.posts\n50 public.users\n'}
    return undefined
  }

  test('reset in one statement with the lock timeout, pg_restore in one transaction, then the tables listed; marked partial, then restored', async () => {
    const exec = new RecordingExecutor(script)
    const marks: string[] = []
    const report = await databaseAdapter('postgres').restore(context(exec), target(server('postgres')), dumpSource(), {lockTimeoutSeconds: 7, tablesInToc: 2, countRows: true, mark: (state) => void marks.push(state)})
    assert.deepEqual(exec.calls.map((c) => `${c.kind} ${c.consumer?.argv[0] ?? c.spec.argv[0]}`), ['run psql', 'stream pg_restore', 'run psql'])
    assert.match(exec.calls[2]!.stdin!, /count\(\*\)/, 'the restored tables are counted')
    assert.match(exec.calls[0]!.stdin!, /^SET lock_timeout = '7s';\nDO \$\$/)
    assert.ok(exec.calls[1]!.consumer!.argv.includes('--single-transaction') && exec.calls[1]!.consumer!.argv.includes('--exit-on-error'))
    assert.equal(exec.calls[1]!.spec.argv[1], 'dump', 'the dump streams from restic')
    assert.deepEqual(marks, ['partial', 'restored'])
    assert.deepEqual(report, {
      tables_in_dump: ['public.posts', 'public.users'],
      tables_restored: ['public.posts', 'public.users'],
      missing_tables: [],
      tables_in_toc: 2,
      integrity: null,
      rows: [
        {table: 'public.posts', in_dump: 0, restored: 0},
        {table: 'public.users', in_dump: 50, restored: 50},
      ],
      rows_restored: 'counted',
      empty_tables: [],
    })
    // Nothing secret on any argv: the password travels in PGPASSWORD.
    for (const call of exec.calls) assert.ok(!call.line.includes('s3cret') && !(call.consumer?.argv ?? []).join(' ').includes('s3cret'), call.line)
    assert.ok(exec.calls[0]!.spec.env?.PGPASSWORD instanceof Secret)
  })

  test('a restore (not a drill) probes each table for one row instead of counting it', async () => {
    const exec = new RecordingExecutor(script)
    const report = await databaseAdapter('postgres').restore(context(exec), target(server('postgres')), dumpSource(), {lockTimeoutSeconds: 7, tablesInToc: 2, countRows: false, mark: () => {}})
    assert.match(exec.calls[2]!.stdin!, /SELECT count\(\*\) AS n FROM \(SELECT 1 FROM ONLY %I\.%I LIMIT 1\) AS one/)
    assert.equal(report.rows_restored, 'probed')
  })

  test('the app holding locks: the reset gives up within the timeout, nothing was dropped, pg_restore never runs', async () => {
    const exec = new RecordingExecutor((call) => (call.stdin?.includes('DO $$') ? {exitCode: 3, stderr: 'ERROR:  canceling statement due to lock timeout'} : undefined))
    const marks: string[] = []
    await rejects(databaseAdapter('postgres').restore(context(exec), target(server('postgres')), dumpSource(), {lockTimeoutSeconds: 30, tablesInToc: null, countRows: false, mark: (s) => void marks.push(s)}), 'database/in-use', /nothing was dropped/)
    assert.equal(exec.calls.length, 1)
    assert.deepEqual(marks, [])
  })

  test('pg_restore fails after restic was killed by the broken pipe: the stale lock is released and the error says the target may be partly restored', async () => {
    const exec = new RecordingExecutor((call) => (call.kind === 'stream' ? {exitCode: 1, stderr: 'pg_restore: error: could not execute query', producer: {exitCode: null, signal: 'SIGPIPE'}} : undefined))
    const released: string[] = []
    const marks: string[] = []
    const error = await rejects(databaseAdapter('postgres').restore(context(exec), target(server('postgres')), dumpSource(released), {lockTimeoutSeconds: 30, tablesInToc: null, countRows: false, mark: (s) => void marks.push(s)}), 'restore/failed')
    assert.deepEqual(released, ['unlock'])
    assert.deepEqual(marks, ['partial'])
    assert.match(error.suggestions.join(' '), /partly restored/)
  })
})

describe('PostgreSQL preflight', () => {
  const answers = (state: string, exists = '1'): Script => (call) => {
    if (call.stdin?.includes('pg_database')) return {stdout: exists}
    if (call.stdin?.includes('pg_is_in_recovery(), current_setting')) return {stdout: state}
    if (call.stdin?.includes('rolcreatedb')) return {stdout: 'no-createdb'}
    return undefined
  }

  test('a standby is refused before anything changes', async () => {
    const exec = new RecordingExecutor(answers('t|off|f|t||'))
    await rejects(databaseAdapter('postgres').preflight(context(exec), target(server('postgres')), {dryRun: false}), 'database/not-writable', /read-only standby.*nothing was changed/)
    assert.ok(exec.calls.every((c) => !/CREATE DATABASE|DO \$\$|DROP/.test(c.stdin ?? '')), 'nothing created or dropped')
  })

  test('a missing production database is refused, never created', async () => {
    const exec = new RecordingExecutor(answers('f|off|f|t||', ''))
    await rejects(databaseAdapter('postgres').preflight(context(exec), target(server('postgres')), {dryRun: false}), 'restore/target-missing')
    assert.ok(exec.calls.every((c) => !/CREATE DATABASE/.test(c.stdin ?? '')))
  })

  test('a missing scratch database: a drill creates it, its dry run only asks whether this user may (and says no)', async () => {
    const drill = new RecordingExecutor(answers('f|off|f|t||', ''))
    await databaseAdapter('postgres').preflight(context(drill), target(server('postgres', {database: 'drill'}), true), {dryRun: false})
    assert.ok(drill.calls.some((c) => c.stdin === 'CREATE DATABASE "drill";\n'))
    const dry = new RecordingExecutor(answers('f|off|f|t||', ''))
    await rejects(databaseAdapter('postgres').preflight(context(dry), target(server('postgres', {database: 'drill'}), true), {dryRun: true}), 'database/not-writable', /no CREATEDB/)
    assert.ok(dry.calls.every((c) => !/CREATE DATABASE/.test(c.stdin ?? '')), 'a dry run creates nothing')
  })

  test('the client picked for the server must be installed', async () => {
    const exec = new RecordingExecutor(answers('f|off|f|t||'), (name) => name !== 'pg_restore')
    await rejects(databaseAdapter('postgres').preflight(context(exec), target(server('postgres')), {dryRun: false}), 'exec/not-found', /pg_restore is not installed/)
    assert.equal(exec.calls.length, 0)
  })
})

describe('MySQL restore', () => {
  const inventory = `TABLE\t${Buffer.from('users').toString('hex')}\nVIEW\t${Buffer.from('active_users').toString('hex')}\n`

  test('inventory, lock probe, drop (views first), the dump through the table scanner, the tables listed', async () => {
    const exec = new RecordingExecutor((call) => {
      if (call.stdin?.includes('information_schema.VIEWS')) return {stdout: inventory}
      if (call.kind === 'stream') return {tap: 'CREATE TABLE `users`\nCREATE TABLE `empty`\nCREATE TABLE `lost`\nINSERT INTO `users`\nINSERT INTO `lost`\n'}
      if (call.stdin?.includes('BASE TABLE')) return {stdout: 'empty\nlost\nusers\n'}
      if (call.stdin?.includes('COUNT(*)')) return {stdout: '0 empty\n0 lost\n3 users\n'}
      return undefined
    })
    const marks: string[] = []
    const report = await databaseAdapter('mysql').restore(context(exec), target(server('mysql')), dumpSource(), {lockTimeoutSeconds: 9, tablesInToc: null, countRows: true, mark: (s) => void marks.push(s)})
    const stdins = exec.calls.map((c) => c.stdin ?? `(${c.kind})`)
    assert.match(stdins[1]!, /^LOCK TABLES `users` WRITE;\nUNLOCK TABLES;/)
    assert.match(stdins[2]!, /DROP VIEW IF EXISTS `active_users`;\nDROP TABLE IF EXISTS `users`;/)
    assert.equal(stdins[3], '(stream)')
    assert.ok(exec.calls[1]!.spec.argv.includes('--init-command=SET SESSION lock_wait_timeout = 9'))
    assert.deepEqual(marks, ['partial', 'partial', 'restored'])
    // A table the dump filled (an INSERT) that is empty now: the restore must not pass. One the dump left empty is fine.
    assert.deepEqual(report, {
      tables_in_dump: ['empty', 'lost', 'users'],
      tables_restored: ['empty', 'lost', 'users'],
      missing_tables: [],
      integrity: null,
      rows: [
        {table: 'empty', in_dump: 0, restored: 0},
        {table: 'lost', in_dump: null, restored: 0},
        {table: 'users', in_dump: null, restored: 3},
      ],
      rows_restored: 'counted',
      empty_tables: ['lost'],
    })
  })

  test('the app\'s open transaction: the lock probe times out and nothing is dropped', async () => {
    const exec = new RecordingExecutor((call) => {
      if (call.stdin?.includes('information_schema.VIEWS')) return {stdout: inventory}
      if (call.stdin?.startsWith('LOCK TABLES')) return {exitCode: 1, stderr: 'ERROR 1205 (HY000): Lock wait timeout exceeded'}
      return undefined
    })
    const marks: string[] = []
    await rejects(databaseAdapter('mysql').restore(context(exec), target(server('mysql')), dumpSource(), {lockTimeoutSeconds: 30, tablesInToc: null, countRows: false, mark: (s) => void marks.push(s)}), 'database/in-use', /nothing was dropped/)
    assert.ok(exec.calls.every((c) => !c.stdin?.includes('DROP')))
    assert.deepEqual(marks, [])
  })

  test('a DROP that times out half-way says some objects may be gone', async () => {
    const exec = new RecordingExecutor((call) => {
      if (call.stdin?.includes('information_schema.VIEWS')) return {stdout: inventory}
      if (call.stdin?.includes('DROP')) return {exitCode: 1, stderr: 'ERROR 1205 (HY000): Lock wait timeout exceeded'}
      return undefined
    })
    await rejects(databaseAdapter('mysql').restore(context(exec), target(server('mysql')), dumpSource(), {lockTimeoutSeconds: 30, tablesInToc: null, countRows: false, mark: () => {}}), 'database/in-use', /may already be dropped/)
  })

  test('a read-only server (a replica) is refused in the preflight', async () => {
    const exec = new RecordingExecutor((call) => (call.stdin?.includes('SCHEMATA') ? {stdout: '1'} : call.stdin?.includes('read_only') ? {stdout: 'read_only\tON\n'} : undefined))
    await rejects(databaseAdapter('mysql').preflight(context(exec), target(server('mysql')), {dryRun: false}), 'database/not-writable', /@@read_only is ON/)
  })
})

describe('SQLite restore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kb-db-flows-'))
  process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
  const db: ResolvedDatabase = {name: 'main', adapter: 'sqlite', params: {}, path: join(dir, 'app.sqlite3')}

  test('staged, checked, then applied with the backup API; a writer holding the lock leaves the database unchanged', async () => {
    const exec = new RecordingExecutor((call) => {
      if (call.line.includes('integrity_check')) return {stdout: 'ok\n'}
      if (call.line.includes('.restore')) return {exitCode: 1, stderr: 'Error: database is locked'}
      return undefined
    })
    const marks: string[] = []
    const error = await rejects(databaseAdapter('sqlite').restore(context(exec), target(db), dumpSource(), {lockTimeoutSeconds: 30, tablesInToc: null, countRows: false, mark: (s) => void marks.push(s)}), 'database/busy', /database is unchanged/)
    assert.deepEqual(exec.calls.map((c) => c.kind), ['toFile', 'run', 'run', 'run'])
    assert.match(exec.calls[0]!.spec.argv.join(' '), /^restic dump/)
    assert.deepEqual(marks, [], 'never marked: nothing changed')
    assert.match(error.suggestions[0]!, /stop the app/)
  })

  test('a staged copy that fails its integrity check is never applied', async () => {
    const exec = new RecordingExecutor((call) => (call.line.includes('integrity_check') ? {stdout: '*** in database main ***\nPage 2: btree corrupt\n'} : undefined))
    await rejects(databaseAdapter('sqlite').restore(context(exec), target(db), dumpSource(), {lockTimeoutSeconds: 30, tablesInToc: null, countRows: false, mark: () => {}}), 'restore/failed', /integrity check/)
    assert.ok(exec.calls.every((c) => !c.line.includes('.restore')))
  })
})

test('a restore pipe whose client succeeded but whose restic failed is restic\'s error; an interrupt is InterruptedError', async () => {
  const ctx = context(new RecordingExecutor())
  const ok = {exitCode: 0, signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false, interrupted: false}
  await rejects(checkStream(ctx, dumpSource(), {...ok, exitCode: 1, stderr: 'Fatal: wrong password'}, ok), 'restic/failed', /wrong password/)
  await rejects(checkStream(ctx, dumpSource(), {...ok, interrupted: true}, ok), 'command/interrupted')
})

test('each kind answers for itself: file or server, Rails adapter names, extension, what a drill check gets', () => {
  assert.equal(kindOfRailsAdapter('postgresql'), 'postgres')
  assert.equal(kindOfRailsAdapter('postgis'), 'postgres')
  assert.equal(kindOfRailsAdapter('trilogy'), 'mysql')
  assert.equal(kindOfRailsAdapter('mysql2'), 'mysql')
  assert.equal(kindOfRailsAdapter('sqlite3'), 'sqlite')
  assert.equal(kindOfRailsAdapter('oracle_enhanced'), undefined)
  assert.deepEqual(['postgres', 'mysql', 'sqlite'].map((k) => databaseAdapter(k as 'postgres').location), ['server', 'server', 'file'])
  assert.deepEqual(['postgres', 'mysql', 'sqlite'].map((k) => databaseAdapter(k as 'postgres').extension), ['pgdump', 'sql', 'sqlite3'])
  assert.equal(databaseAdapter('postgres').connectionUrl(server('postgres', {params: {sslmode: 'require'}})), 'postgres://app:s3cret@db:5432/app_dev?sslmode=require')
  assert.equal(databaseAdapter('mysql').connectionUrl(server('mysql', {port: 3306})), 'mysql2://app:s3cret@db:3306/app_dev')
  assert.equal(databaseAdapter('sqlite').connectionUrl({name: 'main', adapter: 'sqlite', params: {}, path: '/x/db.sqlite3'}), 'sqlite3:/x/db.sqlite3')
  assert.deepEqual(databaseAdapter('sqlite').files({name: 'main', adapter: 'sqlite', params: {}, path: '/x/db.sqlite3'}), ['/x/db.sqlite3', '/x/db.sqlite3-wal', '/x/db.sqlite3-shm', '/x/db.sqlite3-journal'])
  assert.deepEqual(databaseAdapter('postgres').files(server('postgres')), [])
})
