// The pure command builders: every restic, pg_dump, mariadb-dump and sqlite3 invocation, checked for the exact
// flags the issue asks for and for secrets travelling only in the environment. Plus the restic error classifier
// (0.14 by message, 0.17+ by exit code), version parsing, and what a config turns into for restic.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {resolveDatabase, type ResolvedDatabase} from '../../../src/db/connection.ts'
import {mysqlConnectionArgs, mysqlDumpSpec, mysqlEnv, mysqlTools} from '../../../src/db/mysql.ts'
import {pgDumpSpec, postgresEnv} from '../../../src/db/postgres.ts'
import {assertSafeSqlitePath, sqliteBackupSpec, sqliteQuickCheckSpec} from '../../../src/db/sqlite.ts'
import {fileExcludes} from '../../../src/engine/backup.ts'
import {resticTarget} from '../../../src/engine/context.ts'
import {environmentSecrets} from '../../../src/config/resolve.ts'
import {StateDir} from '../../../src/engine/state.ts'
import {localExecutor} from '../../../src/exec/executor.ts'
import type {CommandSpec} from '../../../src/exec/spec.ts'
import {childEnvironment, displayCommand} from '../../../src/exec/spec.ts'
import {keepArgs, resticArgv, type ResticTarget} from '../../../src/restic/argv.ts'
import {capabilities, parseResticVersion, resticError} from '../../../src/restic/client.ts'
import type {ProcessResult} from '../../../src/exec/local.ts'
import {Redactor, Secret} from '../../../src/redact.ts'
import type {BackupConfig, ResticConfig} from '../../../src/config/types.ts'

const PASSWORD = 'repo-pass-1234'
const target: ResticTarget = {bin: 'restic', env: {RESTIC_PASSWORD: new Secret(PASSWORD), RESTIC_REPOSITORY: new Secret('rest:https://u:p4ss@host/repo')}, options: ['s3.storage-class=STANDARD_IA']}
const snapshot = {tags: ['kamal-backup', 'app:shop', 'run:20260101T000000Z', 'type:database', 'database:main', 'adapter:postgres'], host: 'kamal-backup-shop'}

function noSecretOnArgv(spec: CommandSpec, secrets: string[]) {
  for (const arg of spec.argv) for (const s of secrets) assert.ok(!arg.includes(s), `argv ${JSON.stringify(arg)} contains a secret`)
}

const pg: ResolvedDatabase = {name: 'main', adapter: 'postgres', host: 'db', port: 5432, user: 'app', database: 'app_production', params: {sslmode: 'require', connect_timeout: '5', bogus: 'x'}, password: new Secret('pg-secret-pw')}
const my: ResolvedDatabase = {name: 'shop', adapter: 'mysql', host: 'mysql', port: 3306, user: 'app', database: 'shop-db', params: {'ssl-mode': 'REQUIRED'}, password: new Secret('my-secret-pw')}

describe('restic argv', () => {
  test('extended options come first, as -o pairs; the environment carries the repository and password', () => {
    const spec = resticArgv.catConfig(target)
    assert.deepEqual(spec.argv, ['restic', '-o', 's3.storage-class=STANDARD_IA', 'cat', 'config'])
    assert.equal(childEnvironment(spec, {}).RESTIC_PASSWORD, PASSWORD)
    assert.doesNotMatch(displayCommand(spec), /repo-pass|p4ss/)
    assert.match(displayCommand(spec), /^\[env RESTIC_PASSWORD RESTIC_REPOSITORY\] restic /)
  })

  test('every backup of a run carries the run\'s start as --time, in UTC (restic runs with TZ=UTC)', () => {
    const time = new Date('2026-11-30T23:59:00.750Z')
    const at = {...snapshot, time}
    const producer = pgDumpSpec(pg, {pg_dump: 'pg_dump', pg_restore: 'pg_restore', psql: 'psql'})
    for (const spec of [resticArgv.backupStdin(target, 'x', at), resticArgv.backupFromCommand(target, 'x', at, producer), resticArgv.backupPaths(target, ['/p'], [], at)]) {
      const i = spec.argv.indexOf('--time')
      assert.ok(i > 0 && i < spec.argv.indexOf('--tag'), `${spec.label}: --time before the tags`)
      assert.equal(spec.argv[i + 1], '2026-11-30 23:59:00')
    }
    const engine = {secrets: environmentSecrets({RP: 'rp-1234'}), redactor: new Redactor(), env: {}, resticBin: 'restic', state: new StateDir('/state')}
    const c = {repository: {kind: 'value', value: '/repo'}, password: {kind: 'secret', name: 'RP'}, env: {}, options: [], initIfMissing: false, checkAfterBackup: false, forgetAfterBackup: true} as ResticConfig
    assert.equal(resticTarget(c, undefined, engine).env.TZ, 'UTC')
  })

  test('a dump read from stdin: --stdin, a flat file name, the host and one --tag per tag', () => {
    const spec = resticArgv.backupStdin({...target, options: []}, 'shop.main.pgdump', snapshot)
    assert.deepEqual(spec.argv, ['restic', 'backup', '--json', '--stdin', '--stdin-filename', 'shop.main.pgdump', '--host', 'kamal-backup-shop', ...snapshot.tags.flatMap((t) => ['--tag', t])])
  })

  test('--stdin-from-command: the producer after --, its environment merged into restic\'s', () => {
    const producer = pgDumpSpec(pg, {pg_dump: '/usr/lib/postgresql/16/bin/pg_dump', pg_restore: 'pg_restore', psql: 'psql'})
    const spec = resticArgv.backupFromCommand({...target, options: []}, 'shop.main.pgdump', snapshot, producer)
    const dash = spec.argv.indexOf('--')
    assert.ok(spec.argv.includes('--stdin-from-command'))
    assert.ok(spec.argv.indexOf('--stdin-from-command') < dash)
    assert.deepEqual(spec.argv.slice(dash + 1), [...producer.argv])
    const env = childEnvironment(spec, {})
    assert.equal(env.PGPASSWORD, 'pg-secret-pw')
    assert.equal(env.RESTIC_PASSWORD, PASSWORD)
    noSecretOnArgv(spec, ['pg-secret-pw', PASSWORD])
  })

  test('files: excludes before --, paths after', () => {
    const spec = resticArgv.backupPaths({...target, options: []}, ['/rails/storage', '-weird'], ['*.log', '/rails/storage/db.sqlite3'], {tags: ['type:files'], host: 'h'})
    assert.deepEqual(spec.argv.slice(-3), ['--', '/rails/storage', '-weird'])
    assert.deepEqual(spec.argv.slice(spec.argv.indexOf('--exclude'), spec.argv.indexOf('--')), ['--exclude', '*.log', '--exclude', '/rails/storage/db.sqlite3'])
  })

  test('snapshots and forget AND the tags in one --tag; forget groups by host and paths', () => {
    assert.deepEqual(resticArgv.snapshots({...target, options: []}, ['kamal-backup', 'app:x']).argv, ['restic', 'snapshots', '--json', '--no-lock', '--tag', 'kamal-backup,app:x'])
    const forget = resticArgv.forget({...target, options: []}, ['kamal-backup', 'app:x'], {keepDaily: 7, keepWeekly: 4}, true)
    assert.deepEqual(forget.argv, ['restic', 'forget', '--json', '--tag', 'kamal-backup,app:x', '--group-by', 'host,paths', '--keep-daily', '7', '--keep-weekly', '4', '--prune'])
    assert.ok(!resticArgv.forget({...target, options: []}, [], {keepLast: 1}, false).argv.includes('--prune'))
  })

  test('keepArgs: every policy field, zero and unset ones left out', () => {
    assert.deepEqual(keepArgs({keepLast: 3, keepHourly: 0, keepDaily: 7, keepWeekly: 4, keepMonthly: 6, keepYearly: 2, keepWithin: '30d'}), ['--keep-last', '3', '--keep-daily', '7', '--keep-weekly', '4', '--keep-monthly', '6', '--keep-yearly', '2', '--keep-within', '30d'])
    assert.deepEqual(keepArgs({}), [])
  })

  test('check with and without --read-data-subset', () => {
    assert.deepEqual(resticArgv.check({...target, options: []}).argv, ['restic', 'check'])
    assert.deepEqual(resticArgv.check({...target, options: []}, '5%').argv, ['restic', 'check', '--read-data-subset', '5%'])
  })
})

describe('database dump commands', () => {
  test('pg_dump: custom format, no owner, no privileges; connection and password only in PG* variables', () => {
    const spec = pgDumpSpec(pg, {pg_dump: 'pg_dump', pg_restore: 'pg_restore', psql: 'psql'})
    assert.deepEqual(spec.argv, ['pg_dump', '--format=custom', '--compress=0', '--no-owner', '--no-privileges'])
    const env = childEnvironment(spec, {PGSERVICE: 'evil', PGPASSFILE: '/x', PGHOST: 'elsewhere'})
    assert.equal(env.PGHOST, 'db')
    assert.equal(env.PGPORT, '5432')
    assert.equal(env.PGUSER, 'app')
    assert.equal(env.PGDATABASE, 'app_production')
    assert.equal(env.PGPASSWORD, 'pg-secret-pw')
    assert.equal(env.PGSSLMODE, 'require')
    assert.equal(env.PGCONNECT_TIMEOUT, '5')
    assert.equal(env.PGSERVICE, undefined, 'inherited settings cannot redirect the connection')
    assert.equal(env.PGPASSFILE, undefined)
    assert.equal(postgresEnv(pg, 'other').PGDATABASE, 'other')
  })

  test('a backup needs only the dump tool, not the mariadb/mysql client', () => {
    const bin = mkdtempSync(join(tmpdir(), 'kb-mysql-bin-'))
    try {
      writeFileSync(join(bin, 'mysqldump'), '#!/bin/sh\n', {mode: 0o755})
      assert.deepEqual(mysqlTools(localExecutor, {PATH: bin}), {dump: join(bin, 'mysqldump')})
      assert.throws(() => mysqlTools(localExecutor, {PATH: join(bin, 'none')}), /neither mariadb-dump nor mysqldump is installed/)
    } finally {
      rmSync(bin, {recursive: true, force: true})
    }
  })

  test('mariadb-dump: one consistent transaction with routines, triggers and events; the password in MYSQL_PWD', () => {
    const spec = mysqlDumpSpec(my, {dump: '/usr/bin/mariadb-dump'})
    for (const flag of ['--no-defaults', '--single-transaction', '--quick', '--routines', '--triggers', '--events', '--host=mysql', '--port=3306', '--user=app', '--protocol=TCP', '--ssl']) assert.ok(spec.argv.includes(flag), flag)
    assert.deepEqual(spec.argv.slice(-2), ['--', 'shop-db'], 'the database name cannot be read as a flag')
    assert.equal(spec.argv[1], '--no-defaults', 'option files are ignored (it must come first)')
    noSecretOnArgv(spec, ['my-secret-pw'])
    assert.equal(childEnvironment(spec, {MYSQL_HOST: 'x'}).MYSQL_PWD, 'my-secret-pw')
    assert.equal(childEnvironment(spec, {MYSQL_HOST: 'x'}).MYSQL_HOST, undefined)
    assert.deepEqual(mysqlConnectionArgs({...my, params: {}}).includes('--ssl'), false)
    assert.deepEqual(Object.keys(mysqlEnv(my)).sort(), ['MYSQL_HOST', 'MYSQL_PWD', 'MYSQL_TCP_PORT', 'MYSQL_UNIX_PORT'])
  })

  test('sqlite3: .backup into the copy, quick_check read-only; quotes in paths are refused', () => {
    assert.deepEqual(sqliteBackupSpec('/data/app.sqlite3', '/state/tmp/x.sqlite3').argv, ['sqlite3', '-bail', '/data/app.sqlite3', ".backup '/state/tmp/x.sqlite3'"])
    assert.deepEqual(sqliteQuickCheckSpec('/c').argv, ['sqlite3', '-bail', '-readonly', '/c', 'PRAGMA quick_check;'])
    assert.throws(() => assertSafeSqlitePath("/tmp/it's"), /unsupported character/)
    assert.throws(() => sqliteBackupSpec('/db', '/tmp/a\nb'), /unsupported character/)
  })

  test('a database URL is split into parts; its password is registered for redaction and kept out of the parts', () => {
    const redactor = new Redactor()
    const db = resolveDatabase({name: 'main', adapter: 'postgres', url: {kind: 'value', value: 'postgres://app:s%40cret-pw@db.internal:6432/app%20prod?sslmode=verify-full'}}, environmentSecrets({}), redactor)
    assert.equal(db.host, 'db.internal')
    assert.equal(db.port, 6432)
    assert.equal(db.user, 'app')
    assert.equal(db.database, 'app prod')
    assert.equal(db.params.sslmode, 'verify-full')
    assert.equal(db.password?.reveal(), 's@cret-pw')
    assert.equal(redactor.redact('failed for s@cret-pw and s%40cret-pw'), 'failed for [REDACTED] and [REDACTED]')
    const fromSecret = resolveDatabase({name: 'main', adapter: 'postgres', url: {kind: 'value', value: 'postgres://app@db/app'}, password: {kind: 'secret', name: 'DB_PW'}}, environmentSecrets({DB_PW: 'from-env-pw'}), redactor)
    assert.equal(fromSecret.password?.reveal(), 'from-env-pw')
    assert.equal(redactor.redact('from-env-pw'), '[REDACTED]')
  })
})

describe('what the config becomes for restic', () => {
  const config = (rest: Partial<ResticConfig>): ResticConfig => ({password: {kind: 'secret', name: 'RP'}, env: {}, options: [], initIfMissing: false, checkAfterBackup: false, forgetAfterBackup: true, ...rest})
  const engine = (env: Record<string, string>) => ({secrets: environmentSecrets(env), redactor: new Redactor(), env: {}, resticBin: 'restic', state: new StateDir('/state')})
  const reveal = (v: unknown) => (v instanceof Secret ? v.reveal() : v)

  test('REST credentials: in RESTIC_REST_* from 0.17 on, in the URL (environment only) on 0.14', () => {
    const c = config({repository: {kind: 'value', value: 'rest:https://backup.example/app'}, rest: {username: {kind: 'value', value: 'u'}, password: {kind: 'secret', name: 'RESTPW'}}})
    const v18 = parseResticVersion('restic 0.18.0 compiled with go1.24')!
    const v14 = parseResticVersion('restic 0.14.0 compiled with go1.19.8 on linux/amd64')!
    const t18 = resticTarget(c, v18, engine({RP: 'rp-1234', RESTPW: 'rest-pw/:@'}))
    assert.equal(reveal(t18.env.RESTIC_REPOSITORY), 'rest:https://backup.example/app')
    assert.equal(reveal(t18.env.RESTIC_REST_PASSWORD), 'rest-pw/:@')
    const t14 = resticTarget(c, v14, engine({RP: 'rp-1234', RESTPW: 'rest-pw/:@'}))
    assert.equal(reveal(t14.env.RESTIC_REPOSITORY), `rest:https://u:${encodeURIComponent('rest-pw/:@')}@backup.example/app`)
    assert.equal(t14.env.RESTIC_REST_PASSWORD, undefined)
    assert.equal(reveal(t14.env.RESTIC_PASSWORD), 'rp-1234')
    assert.ok(t14.env.RESTIC_CACHE_DIR === '/state/cache')
    for (const key of ['RESTIC_PASSWORD_FILE', 'RESTIC_PASSWORD_COMMAND', 'RESTIC_REPOSITORY_FILE']) assert.ok(key in t14.env && t14.env[key] === undefined, `${key} is cleared`)
  })

  test('capabilities by version', () => {
    assert.deepEqual(capabilities(parseResticVersion('restic 0.14.0')!), {stdinFromCommand: false, restCredentialsInEnv: false, restoreSubfolder: false})
    assert.deepEqual(capabilities(parseResticVersion('restic 0.17.3')!), {stdinFromCommand: true, restCredentialsInEnv: true, restoreSubfolder: true})
    assert.equal(parseResticVersion('something else'), undefined)
  })

  test('a SQLite database under a backed-up path is excluded with -wal/-shm/-journal; one elsewhere is not', () => {
    const cfg = {paths: [{path: '/rails/storage', exclude: ['*.tmp'], label: 'rails-storage'}]} as unknown as BackupConfig
    const dbs: ResolvedDatabase[] = [
      {name: 'a', adapter: 'sqlite', params: {}, path: '/rails/storage/production.sqlite3'},
      {name: 'b', adapter: 'sqlite', params: {}, path: '/rails/storage-other/x.sqlite3'},
      pg,
    ]
    assert.deepEqual(fileExcludes({config: cfg}, dbs).filter((e) => !e.includes('.kamal-backup-')), ['/rails/storage/**/*.tmp', '/rails/storage/production.sqlite3', '/rails/storage/production.sqlite3-wal', '/rails/storage/production.sqlite3-shm', '/rails/storage/production.sqlite3-journal'])
  })
})

describe('restic errors', () => {
  const result = (exitCode: number, stderr: string): ProcessResult => ({exitCode, signal: null, stdout: '', stderr, durationMs: 1, timedOut: false, interrupted: false})
  const spec: CommandSpec = {argv: ['restic', 'backup'], label: 'restic backup files'}
  const classify = (code: number, stderr: string, producer?: CommandSpec) => resticError(spec, result(code, stderr), new Redactor().add('hunter2-secret'), producer).code
  const cases: [string, number, string, string][] = [
    ['0.14 no repository', 1, 'Fatal: unable to open config file: stat /repo/config: no such file or directory\nIs there a repository at the following location?', 'restic/no-repository'],
    ['0.14 no repository on S3', 1, 'Fatal: unable to open config file: Stat: The specified key does not exist.', 'restic/no-repository'],
    ['0.18 no repository', 10, '{"message_type":"exit_error","code":10,"message":"Fatal: repository does not exist: unable to open config file"}', 'restic/no-repository'],
    ['0.14 wrong password', 1, 'Fatal: wrong password or no key found', 'restic/wrong-password'],
    ['0.18 wrong password', 12, 'Fatal: wrong password or no key found', 'restic/wrong-password'],
    ['0.14 locked', 1, 'unable to create lock in backend: repository is already locked exclusively by PID 1', 'restic/locked'],
    ['0.18 locked', 11, 'repo already locked', 'restic/locked'],
    ['disk full', 1, 'Fatal: unable to save snapshot: write /repo/data/ab: no space left on device', 'restic/disk-full'],
    ['REST 401', 1, 'Fatal: unable to open config file: unexpected HTTP response (401): 401 Unauthorized', 'restic/access-denied'],
    ['unreachable', 1, 'Fatal: unable to open repository: dial tcp 10.0.0.1:8000: connect: connection refused', 'restic/unreachable'],
  ]
  for (const [name, code, stderr, expected] of cases) test(name, () => assert.equal(classify(code, stderr), expected))

  test('a failed --stdin-from-command producer is a dump failure; an empty one is an empty dump', () => {
    const producer: CommandSpec = {argv: ['pg_dump'], label: 'pg_dump main'}
    assert.equal(classify(1, 'Fatal: unable to save snapshot: failed to save /x: Fatal: command failed: exit status 1', producer), 'dump/failed')
    assert.equal(classify(3, '{"message_type":"error","error":{"message":"failed to save /x.sql: read /x.sql: no data read"}}', producer), 'dump/empty')
  })

  test('messages are redacted and restic\'s JSON error lines become their message', () => {
    const error = resticError(spec, result(1, '{"message_type":"exit_error","code":1,"message":"Fatal: boom with hunter2-secret"}'), new Redactor().add('hunter2-secret'))
    assert.match(error.message, /Fatal: boom with \[REDACTED\]/)
    assert.doesNotMatch(error.message, /message_type/)
    const item = resticError(spec, result(1, '{"message_type":"error","error":{"message":"failed to save /x: command failed: exit status 1"},"during":"archival","item":"/x"}\nFatal: unable to save snapshot'), new Redactor(), {argv: ['pg_dump'], label: 'pg_dump main'})
    assert.match(item.message, /^pg_dump main failed; no snapshot was saved:\nerror: failed to save \/x: command failed: exit status 1\nFatal: unable to save snapshot$/)
  })
})
