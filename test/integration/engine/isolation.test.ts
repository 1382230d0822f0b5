// Who sees which secret during a backup, read from /proc/<pid>/environ of the real processes: the dump tool
// (pg_dump, mariadb-dump) gets its own connection settings and a password file, never the repository's
// credentials; restic never gets a database password. On restic 0.14 (the dump piped in by kamal-backup) and 0.18
// (restic runs the dump itself, through `env -i`). The dump tool on PATH is a thin wrapper that records its own
// environment and that of every process of this app's restic (found by its app tag), then runs the real tool.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {createMariaDatabase, createPostgresDatabase, dropPostgresDatabase, freshRepo, lab, mariadb, psql, RESTIC_VERSIONS, tempDir, type TestDatabase} from '../../support/lab.ts'
import {cli, localRestic, mariaDatabaseLine, pgDatabaseLine, readState, script, writeApp} from './support.ts'

// Set in the CLI's environment, as an accessory might have them: none may reach the wrong process.
const AMBIENT = {AWS_SECRET_ACCESS_KEY: 'ambient-aws-secret', PGPASSWORD: 'ambient-pg-password', MYSQL_PWD: 'ambient-mysql-password'}

function recorder(dir: string, tool: string, real: string, appName: string): string {
  const out = join(dir, 'seen')
  return script(join(dir, 'bin'), tool, [
    `mkdir -p ${out}`,
    `tr '\\0' '\\n' < /proc/$$/environ > ${out}/dump.env`,
    `echo "$@" > ${out}/args`,
    `: > ${out}/restic.env`,
    'for p in /proc/[0-9]*; do',
    `  if tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q -- 'app:${appName}'; then`,
    `    echo "--- $(tr '\\0' ' ' < $p/cmdline | cut -c1-60)" >> ${out}/restic.env`,
    `    tr '\\0' '\\n' < $p/environ >> ${out}/restic.env 2>/dev/null`,
    '  fi',
    'done',
    `exec ${real} "$@"`,
  ].join('\n'))
}

const names = (env: string) => env.split('\n').map((line) => line.split('=')[0])

describe('the dump and restic each see only their own secrets', {concurrency: true}, () => {
  let pg: TestDatabase
  let my: TestDatabase
  before(async () => {
    pg = await createPostgresDatabase()
    await psql(pg.name, 'CREATE TABLE users (id int); INSERT INTO users VALUES (1), (2);', {as: 'app'})
    my = await createMariaDatabase()
    await mariadb(my.name, 'CREATE TABLE users (id int); INSERT INTO users VALUES (1), (2);')
  })
  after(async () => {
    await dropPostgresDatabase(pg.name).catch(() => {})
    await mariadb('', `DROP DATABASE IF EXISTS \`${my.name}\``).catch(() => {})
  })

  for (const version of RESTIC_VERSIONS) {
    for (const kind of ['postgres', 'mariadb'] as const) {
      test(`${kind} on restic ${version}`, async () => {
        const repo = freshRepo(version)
        const line = kind === 'postgres' ? pgDatabaseLine('main', pg) : mariaDatabaseLine('main', my)
        const app = writeApp({version, repo, prefix: `isolation-${kind}-${version}`, databases: [line], restic: localRestic(repo)})
        const dir = tempDir(`isolation-${kind}-${version}`)
        const tool = kind === 'postgres' ? 'pg_dump' : 'mariadb-dump'
        const real = kind === 'postgres' ? join(lab().postgres.binDir, 'pg_dump') : lab().bins.mariadbDump
        recorder(dir, tool, real, app.name)
        const r = await cli(app, ['backup', '--force'], {env: {...AMBIENT, PATH: `${join(dir, 'bin')}:${process.env.PATH}`}})
        assert.equal(r.code, 0, r.stderr)
        assert.equal(readState(app, 'last_backup.json').status, 'ok')

        const dumpEnv = readFileSync(join(dir, 'seen', 'dump.env'), 'utf8')
        const resticEnv = readFileSync(join(dir, 'seen', 'restic.env'), 'utf8')
        assert.match(resticEnv, /^--- \S*restic/m, `restic's process was found:\n${resticEnv}`)
        const databasePassword = kind === 'postgres' ? lab().postgres.appPassword : lab().mariadb.password
        // The dump: its connection settings and a password file; nothing of the repository, nothing ambient.
        for (const name of ['RESTIC_PASSWORD', 'RESTIC_REPOSITORY', 'AWS_SECRET_ACCESS_KEY', 'PG_PW', 'MY_PW', 'PGPASSWORD', 'MYSQL_PWD']) assert.ok(!names(dumpEnv).includes(name), `the dump saw ${name}`)
        for (const value of [lab().resticPassword, databasePassword, ...Object.values(AMBIENT)]) assert.ok(!dumpEnv.includes(value), 'a secret value is in the dump\'s environment')
        assert.ok(names(dumpEnv).includes('PATH'), dumpEnv)
        if (kind === 'postgres') assert.match(dumpEnv, /^PGPASSFILE=\S+pgpass$/m)
        // restic: its own credentials, never a database's.
        for (const name of [kind === 'postgres' ? 'PG_PW' : 'MY_PW', 'PGPASSWORD', 'MYSQL_PWD', 'PGPASSFILE']) assert.ok(!names(resticEnv).includes(name), `restic saw ${name}`)
        assert.ok(!resticEnv.includes(databasePassword), 'restic saw the database password')
        assert.ok(names(resticEnv).includes('RESTIC_PASSWORD'), 'restic has its password')
        // The password file is gone with the run.
        const args = readFileSync(join(dir, 'seen', 'args'), 'utf8')
        const passfile = kind === 'postgres' ? /^PGPASSFILE=(\S+)$/m.exec(dumpEnv)?.[1] : /^--defaults-file=(\S+) /.exec(args)?.[1]
        assert.ok(passfile, `the password file is named (${args.trim()})`)
        assert.equal(existsSync(passfile), false, `${passfile} was removed`)
      })
    }
  }
})
