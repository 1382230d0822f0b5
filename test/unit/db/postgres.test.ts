// The PostgreSQL adapter's pure parts (src/db/postgres.ts): the pg_dump command and its PG* environment, and what
// pg_restore and the reset's state query print, read back. Specs are built and compared; no server.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import type {ResolvedDatabase} from '../../../src/db/connection.ts'
import {ignoredErrors, parsePostgresState, pgDumpSpec, pgRestoreSpec, postgresEnv, tableFromPgRestoreLine, tablesFromPgRestore, tocTableCount} from '../../../src/db/postgres.ts'
import {childEnvironment} from '../../../src/exec/spec.ts'
import {mysqlOptionContent, pgpassContent} from '../../../src/db/credentials.ts'
import {Secret} from '../../../src/redact.ts'

const pg: ResolvedDatabase = {name: 'main', adapter: 'postgres', host: 'db', port: 5432, user: 'app', database: 'app_production', params: {sslmode: 'require', connect_timeout: '5', bogus: 'x'}, password: new Secret('pg-secret-pw')}

describe('database dump commands', () => {
  test('pg_dump: custom format, no owner, no privileges; connection in PG* variables, the password in a file, nothing else inherited', () => {
    const spec = pgDumpSpec(pg, {pg_dump: 'pg_dump', pg_restore: 'pg_restore', psql: 'psql'}, '/state/tmp/credentials-1/pgpass')
    assert.deepEqual(spec.argv, ['pg_dump', '--format=custom', '--compress=0', '--no-owner', '--no-privileges'])
    const env = childEnvironment(spec, {PGSERVICE: 'evil', PGPASSFILE: '/x', PGHOST: 'elsewhere', PATH: '/usr/bin', RESTIC_PASSWORD: 'r', AWS_SECRET_ACCESS_KEY: 'a'})
    assert.equal(env.PGHOST, 'db')
    assert.equal(env.PGPORT, '5432')
    assert.equal(env.PGUSER, 'app')
    assert.equal(env.PGDATABASE, 'app_production')
    assert.equal(env.PGPASSWORD, undefined, 'the password is in the file')
    assert.equal(env.PGPASSFILE, '/state/tmp/credentials-1/pgpass')
    assert.equal(env.PGSSLMODE, 'require')
    assert.equal(env.PGCONNECT_TIMEOUT, '5')
    assert.equal(env.PGSERVICE, undefined, 'inherited settings cannot redirect the connection')
    assert.equal(env.PATH, '/usr/bin')
    assert.equal(env.RESTIC_PASSWORD, undefined, 'the repository\'s credentials are not the dump\'s')
    assert.equal(env.AWS_SECRET_ACCESS_KEY, undefined)
    assert.equal(postgresEnv(pg, 'other').PGDATABASE, 'other')
  })

  test('the password file: every connection, with : and \\ escaped as libpq reads them', () => {
    assert.equal(pgpassContent(new Secret('a:b\\c')), '*:*:*:*:a\\:b\\\\c\n')
    assert.equal(mysqlOptionContent(new Secret('q"x\\y')), '[client]\npassword="q\\"x\\\\y"\n')
  })
})

describe('what pg_restore says', () => {
  const stderr = ['pg_restore: connecting to database for restore', 'pg_restore: creating SCHEMA "reporting"', 'pg_restore: creating TABLE "public.users"', 'pg_restore: creating TABLE "reporting.daily"', 'pg_restore: creating TABLE "public.users"', 'pg_restore: processing data for table "public.users"', 'pg_restore: creating FK CONSTRAINT "public.posts posts_user_id_fkey"'].join('\n')

  test('the tables it created, once each, line by line or from its whole stderr', () => {
    assert.deepEqual(tablesFromPgRestore(stderr), ['public.users', 'reporting.daily'])
    assert.equal(tableFromPgRestoreLine('pg_restore: creating TABLE "public.we ird"'), 'public.we ird')
    assert.equal(tableFromPgRestoreLine('pg_restore: creating VIEW "public.v"'), undefined)
    assert.deepEqual(tablesFromPgRestore(''), [])
  })


  test('"errors ignored on restore: N"', () => {
    assert.equal(ignoredErrors('pg_restore: warning: errors ignored on restore: 3'), 3)
    assert.equal(ignoredErrors(stderr), 0)
  })

  test('table entries of pg_restore --list', () => {
    const toc = [';', '; Archive created at 2026-12-01 18:00:00 UTC', '215; 1259 16386 TABLE public users kbapp', '216; 1259 16390 TABLE reporting daily kbapp', '3390; 0 16386 TABLE DATA public users kbapp', '217; 1259 16400 VIEW public post_counts kbapp', '218; 1259 16410 FOREIGN TABLE public ft kbapp']
    assert.equal(toc.reduce((n, line) => n + tocTableCount(line), 0), 2)
  })

  test('what stops a reset: standby, read-only sessions, no CREATE, schemas owned by someone else', () => {
    assert.match(parsePostgresState('t|off|f|t|\n')!, /standby/)
    assert.match(parsePostgresState('f|on|f|t|\n')!, /read-only/)
    assert.match(parsePostgresState('f|off|f|f|\n')!, /CREATE privilege/)
    assert.match(parsePostgresState('f|off|f|t|audit, "Weird"\n')!, /does not own the schema\(s\) audit, "Weird"/)
    assert.match(parsePostgresState('f|off|f|t||publication pub, event trigger audit\n')!, /does not own the publication pub, event trigger audit/)
    assert.equal(parsePostgresState('f|off|f|t||\n'), undefined)
    assert.equal(parsePostgresState('f|off|f|t|\n'), undefined)
    assert.equal(parsePostgresState('f|off|t|f|other\n'), undefined, 'a superuser can do it anyway')
  })

  test('pg_restore waits at most the lock timeout and never hits a role\'s statement_timeout', () => {
    const spec = pgRestoreSpec({name: 'x', adapter: 'postgres', params: {}, database: 'x'}, {pg_dump: 'pg_dump', pg_restore: 'pg_restore', psql: 'psql'}, 'x', 7)
    assert.equal(spec.env?.PGOPTIONS, '-c lock_timeout=7000 -c statement_timeout=0')
  })
})
