// The restic command builders (src/restic/argv.ts): every restic invocation, checked for the exact flags and for
// secrets travelling only in the environment, never in argv. Pure functions: specs are built and compared.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import type {ResolvedDatabase} from '../../../src/db/connection.ts'
import {pgDumpSpec} from '../../../src/db/postgres.ts'
import {resticTarget} from '../../../src/engine/context.ts'
import {environmentSecrets} from '../../../src/config/resolve.ts'
import {StateDir} from '../../../src/engine/state.ts'
import type {CommandSpec} from '../../../src/exec/spec.ts'
import {childEnvironment, displayCommand} from '../../../src/exec/spec.ts'
import {keepArgs, resticArgv, type ResticTarget} from '../../../src/restic/argv.ts'
import {Redactor, Secret} from '../../../src/redact.ts'
import type {ResticConfig} from '../../../src/config/types.ts'

const PASSWORD = 'repo-pass-1234'
const target: ResticTarget = {bin: 'restic', env: {RESTIC_PASSWORD: new Secret(PASSWORD), RESTIC_REPOSITORY: new Secret('rest:https://u:p4ss@host/repo')}, options: ['s3.storage-class=STANDARD_IA']}
const snapshot = {tags: ['kamal-backup', 'app:shop', 'run:20260101T000000Z', 'type:database', 'database:main', 'adapter:postgres'], host: 'kamal-backup-shop'}

function noSecretOnArgv(spec: CommandSpec, secrets: string[]) {
  for (const arg of spec.argv) for (const s of secrets) assert.ok(!arg.includes(s), `argv ${JSON.stringify(arg)} contains a secret`)
}

const pg: ResolvedDatabase = {name: 'main', adapter: 'postgres', host: 'db', port: 5432, user: 'app', database: 'app_production', params: {sslmode: 'require', connect_timeout: '5', bogus: 'x'}, password: new Secret('pg-secret-pw')}

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
    for (const spec of [resticArgv.backupStdin(target, 'x', at), resticArgv.backupFromCommand(target, 'x', at, producer, {PATH: '/usr/bin'}), resticArgv.backupPaths(target, ['/p'], [], at)]) {
      const i = spec.argv.indexOf('--time')
      assert.ok(i > 0 && i < spec.argv.indexOf('--tag'), `${spec.label}: --time before the tags`)
      assert.equal(spec.argv[i + 1], '2026-11-30 23:59:00')
    }
    const engine = {secrets: environmentSecrets({RP: 'rp-1234'}), redactor: new Redactor(), env: {}, resticBin: 'restic', state: new StateDir('/state')}
    const c = {repository: {kind: 'value', value: '/repo'}, password: {kind: 'secret', name: 'RP'}, env: {}, options: [], initIfMissing: false, checkAfterBackup: false, forgetAfterBackup: true, copies: []} as ResticConfig
    assert.equal(resticTarget(c, undefined, engine).env.TZ, 'UTC')
  })

  test('a dump read from stdin: --stdin, a flat file name, the host and one --tag per tag', () => {
    const spec = resticArgv.backupStdin({...target, options: []}, 'shop.main.pgdump', snapshot)
    assert.deepEqual(spec.argv, ['restic', 'backup', '--json', '--stdin', '--stdin-filename', 'shop.main.pgdump', '--host', 'kamal-backup-shop', ...snapshot.tags.flatMap((t) => ['--tag', t])])
  })

  test('--stdin-from-command: the producer after --, through env -i with only its own variables; no password either way', () => {
    const producer = pgDumpSpec(pg, {pg_dump: '/usr/lib/postgresql/16/bin/pg_dump', pg_restore: 'pg_restore', psql: 'psql'}, '/state/tmp/credentials-1/pgpass')
    const base = {PATH: '/usr/bin:/bin', HOME: '/root', RESTIC_PASSWORD: PASSWORD, AWS_SECRET_ACCESS_KEY: 'aws-secret', PGPASSWORD: 'pg-secret-pw'}
    const spec = resticArgv.backupFromCommand({...target, options: []}, 'shop.main.pgdump', snapshot, producer, base)
    const dash = spec.argv.indexOf('--')
    assert.ok(spec.argv.includes('--stdin-from-command'))
    assert.ok(spec.argv.indexOf('--stdin-from-command') < dash)
    const wrapped = spec.argv.slice(dash + 1)
    assert.deepEqual(wrapped.slice(0, 2), ['env', '-i'])
    assert.deepEqual(wrapped.slice(-producer.argv.length), [...producer.argv])
    const pairs = wrapped.slice(2, -producer.argv.length)
    assert.ok(pairs.includes('PATH=/usr/bin:/bin') && pairs.includes('HOME=/root') && pairs.includes('PGPASSFILE=/state/tmp/credentials-1/pgpass'), pairs.join(' '))
    assert.ok(!pairs.some((p) => /^(RESTIC_|AWS_|PGPASSWORD=)/.test(p)), pairs.join(' '))
    // restic's own environment: its credentials, not the dump's.
    const env = childEnvironment(spec, {})
    assert.equal(env.PGPASSWORD, undefined)
    assert.equal(env.RESTIC_PASSWORD, PASSWORD)
    noSecretOnArgv(spec, ['pg-secret-pw', PASSWORD, 'aws-secret'])
    // A producer carrying a secret in its environment is refused: it would end up on restic's command line.
    assert.throws(() => resticArgv.backupFromCommand(target, 'x', snapshot, {...producer, env: {...producer.env, PGPASSWORD: pg.password}}, base), /is a secret/)
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
