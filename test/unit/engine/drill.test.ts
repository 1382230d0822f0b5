// The drill's pure logic (src/engine/drill.ts): the environment its --check command gets, and the verification
// problems a restored drill's report shows.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {checkEnvironment, verificationProblems} from '../../../src/engine/drill.ts'
import {databaseProblems} from '../../../src/engine/restore.ts'
import {Secret} from '../../../src/redact.ts'
import type {DatabaseReport} from '../../../src/documents.ts'

describe('the drill check\'s environment', () => {
  const pg = {name: 'main', adapter: 'postgres' as const, host: 'db', port: 5432, user: 'app', password: new Secret('pw'), database: 'drill_main', params: {}}
  const lite = {name: 'queue', adapter: 'sqlite' as const, params: {}, path: '/scratch/queue.sqlite3'}
  const inherited = {DATABASE_URL: 'postgres://prod/app', QUEUE_DATABASE_URL: 'sqlite3:/rails/queue.sqlite3', CACHE_DATABASE_URL: 'x', PATH: '/bin'}

  test('several databases: the inherited *DATABASE_URL are removed; one variable per database; no DATABASE_URL', () => {
    const env = checkEnvironment([{name: 'main', db: pg}, {name: 'queue', db: lite}], [], inherited)
    assert.equal('DATABASE_URL' in env && env.DATABASE_URL, undefined)
    assert.equal(env.CACHE_DATABASE_URL, undefined)
    assert.ok('CACHE_DATABASE_URL' in env, 'removed, not just left alone')
    assert.equal(env.MAIN_DATABASE_URL, 'postgres://app:pw@db:5432/drill_main')
    assert.equal(env.KAMAL_BACKUP_DRILL_MAIN_URL, 'postgres://app:pw@db:5432/drill_main')
    assert.equal(env.QUEUE_DATABASE_URL, 'sqlite3:/scratch/queue.sqlite3')
    assert.equal(env.PATH, undefined, 'other variables are inherited as they are')
  })

  test('DATABASE_URL for the only database, or the one named primary; the files directory', () => {
    assert.equal(checkEnvironment([{name: 'main', db: pg}], [{from: '/d', to: '/scratch/files'}], inherited).DATABASE_URL, 'postgres://app:pw@db:5432/drill_main')
    assert.equal(checkEnvironment([{name: 'primary', db: pg}, {name: 'queue', db: lite}], [], inherited).DATABASE_URL, 'postgres://app:pw@db:5432/drill_main')
    assert.equal(checkEnvironment([], [{from: '/d', to: '/scratch/files'}], {}).KAMAL_BACKUP_DRILL_FILES, '/scratch/files')
    assert.equal(checkEnvironment([], [{from: '/a', to: '/scratch/files/a'}, {from: '/b', to: '/scratch/files/b'}], {}).KAMAL_BACKUP_DRILL_FILES, '/scratch/files')
  })
})

describe('drill verification', () => {
  const db = (over: Partial<DatabaseReport>): DatabaseReport => ({name: 'main', adapter: 'postgres', snapshot: 's', target: 't', tables_in_dump: ['public.a'], tables_restored: ['public.a'], missing_tables: [], tables_in_toc: 1, integrity: null, ...over})
  test('missing tables, SQLite integrity, and table lists that cannot vouch for anything', () => {
    assert.deepEqual(verificationProblems([db({})]), [])
    assert.match(verificationProblems([db({missing_tables: ['public.b']})]).join(), /missing tables: public.b/)
    assert.match(verificationProblems([db({adapter: 'sqlite', integrity: null, tables_in_toc: null})]).join(), /integrity check/)
    assert.match(verificationProblems([db({tables_in_dump: [], tables_in_toc: 3})]).join(), /lists 3 tables, but only 0 could be checked/)
    assert.match(verificationProblems([db({adapter: 'mysql', tables_in_dump: [], tables_in_toc: null})]).join(), /table list is empty, but 1 tables were restored/)
  })

  test('rows: a table the dump filled that is empty fails restores and drills; fewer rows fail only a drill; an uncounted dump fails both', () => {
    const rows = (inDump: number | null, restored: number | null) => ({rows: [{table: 'public.a', in_dump: inDump, restored}], rows_restored: 'counted' as const})
    assert.deepEqual(verificationProblems([db({...rows(5, 5), empty_tables: []})]), [])
    assert.deepEqual(databaseProblems([db({...rows(5, 0), empty_tables: ['public.a']})]), ['database main has no rows in tables the dump had rows for: public.a'])
    assert.deepEqual(verificationProblems([db({...rows(5, 3), empty_tables: []})]), ['database main has fewer rows than the dump in: public.a (3 of 5)'])
    assert.deepEqual(databaseProblems([db({...rows(5, 3), empty_tables: []})]), [], 'a production restore: the app may be deleting rows again')
    assert.deepEqual(verificationProblems([db({...rows(null, 3), empty_tables: []})]), [], 'MySQL: "some rows" and some rows')
    assert.deepEqual(verificationProblems([db({...rows(5, null), empty_tables: []})]), [], 'a table this user cannot read is not counted as empty')
    assert.deepEqual(verificationProblems([db({...rows(5, 1), rows_restored: 'probed', empty_tables: []})]), [], 'a probe finds one row: not "fewer"')
    assert.match(databaseProblems([db({rows_unknown: 'counting the dump\'s rows failed (exit 2): boom'})]).join(), /exit 2\): boom, so its rows cannot be checked/)
  })

  test('a drill that restored 0 tables or 0 files proves nothing: a failed verification', () => {
    assert.deepEqual(verificationProblems([db({tables_in_dump: [], tables_restored: [], tables_in_toc: 0})]), ['database main: the drill restored 0 tables, so it proves nothing about it'])
    assert.deepEqual(verificationProblems([db({})], [{from: '/rails/storage', files: 0}]), ['files /rails/storage: the drill restored 0 files, so it proves nothing about them'])
    assert.deepEqual(verificationProblems([db({})], [{from: '/rails/storage', files: 3}]), [])
  })
})
