// Row counts: a restore and a drill count each table's rows in the dump (PostgreSQL: the dump's COPY data, counted
// from a copy of the stream as it is restored; SQLite: the staged copy; MariaDB: whether the dump has INSERTs for
// it) and in the restored database: a drill counts them, a restore probes each table for one row (a count reads
// the whole table). A table the dump had rows for that is empty afterwards fails a restore (exit 1, named, the undo
// command on screen); a drill also fails on fewer rows than the dump.
//
// What empties a table after the restore is a stand-in for "something removed the rows while the restore ran" (an
// app process, a migration): a wrapper on PATH that runs the real client and, once the real one has restored the
// database, deletes rows there with the real client. Everything else is real: restic, the servers, the clients.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {createMariaDatabase, createPostgresDatabase, dropMariaDatabase, freshRepo, lab, mariadb, psql, tempDir, uniqueName, type TestDatabase} from '../../support/lab.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {backup, cli, readJson, sqlite, writeApp, type App} from './support.ts'

/** A directory with `name` in it: runs the real client, then (when it succeeded and `when` matches its arguments)
 *  the real client again with `sql` against the same database and environment. */
function wrapper(dir: string, name: string, real: string, when: string, followUp: string): string {
  const bin = join(dir, `bin-${name}`)
  mkdirSync(bin, {recursive: true})
  writeFileSync(join(bin, name), `#!/bin/bash\n'${real}' "$@"; rc=$?\nif [[ $rc == 0 && " $* " == ${when} ]]; then ${followUp}; fi\nexit $rc\n`, {mode: 0o755})
  return `${bin}:${process.env.PATH}`
}

async function pgApp(): Promise<{app: App; pg: TestDatabase}> {
  const pg = await createPostgresDatabase()
  await psql(pg.name, "CREATE TABLE users (id serial PRIMARY KEY, email text); INSERT INTO users(email) SELECT 'u' || g FROM generate_series(1, 50) g; CREATE TABLE posts (id int); CREATE TABLE \"Odd Name\" (v text); INSERT INTO \"Odd Name\" VALUES (E'two\\nlines'), ('tab\there');", {as: 'app'})
  const app = writeApp({dir: tempDir('rows'), repo: freshRepo('0.18'), databases: [`  - {name: main, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`], paths: []})
  await backup(app)
  return {app, pg}
}

/** pg_restore that, after restoring into a database (--dbname=…), runs `sql` there with psql. */
const pgDeleting = (app: App, sql: string) => wrapper(app.dir, 'pg_restore', lab().bins.pgRestore, '*" --dbname="*', `db=$(printf '%s\\n' "$@" | sed -n 's/^--dbname=//p'); '${lab().bins.psql}' -X -q -d "$db" -c '${sql}'`)

describe('PostgreSQL: rows counted in the dump and after the restore', () => {
  test('a restore reports the dump\'s rows (a value with a line break is one row) and probes the tables; one emptied during the restore fails it, with the undo', async () => {
    const {app, pg} = await pgApp()
    const ok = await cli(app, ['restore', 'production', '--confirm', app.app, '--json'])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    const report = JSON.parse(ok.stdout)
    assertMatchesSchema('restore.schema.json', report)
    assert.deepEqual(report.databases[0].rows, [
      {table: 'public.Odd Name', in_dump: 2, restored: 1},
      {table: 'public.posts', in_dump: 0, restored: 0},
      {table: 'public.users', in_dump: 50, restored: 1},
    ])
    assert.equal(report.databases[0].rows_restored, 'probed')
    assert.deepEqual(report.databases[0].empty_tables, [])

    const failed = await cli(app, ['restore', 'production', '--confirm', app.app], {env: {PATH: pgDeleting(app, 'DELETE FROM users')}})
    assert.equal(failed.code, 1, failed.stdout + failed.stderr)
    assert.match(failed.stderr, /the restore finished, but its verification failed: database main has no rows in tables the dump had rows for: public\.users/)
    assert.match(failed.stdout + failed.stderr, /EMPTY public\.users \(the dump had rows\)/)
    assert.match(failed.stderr, /to go back to the state before this restore: kamal-backup restore production \S+ --confirm/)
    const record = readJson(join(app.state, 'last_restore.json'))
    assert.equal(record.status, 'failed')
    assert.deepEqual(record.databases[0].empty_tables, ['public.users'])
    assert.equal(await psql(pg.name, 'SELECT count(*) FROM users', {as: 'app'}), '0', 'the stand-in did empty it')
  })

  test('a drill counts the rows; one with rows lost in the scratch database fails on fewer rows than the dump', async () => {
    const {app} = await pgApp()
    const scratch = uniqueName('kbs_rows')
    const ok = await cli(app, ['drill', 'production', '--database', scratch, '--skip-files', '--check', 'true', '--yes'])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, /database main → .*: 3 tables, 52 rows/)
    const result = await cli(app, ['drill', 'production', '--database', scratch, '--skip-files', '--check', 'true', '--yes', '--json'], {env: {PATH: pgDeleting(app, 'DELETE FROM users WHERE id > 20')}})
    assert.equal(result.code, 1, result.stderr)
    const record = JSON.parse(result.stdout)
    assertMatchesSchema('drill.schema.json', record)
    assert.equal(record.verification.passed, false)
    assert.match(record.error, /database main has fewer rows than the dump in: public\.users \(20 of 50\)/)
    await psql('postgres', `DROP DATABASE IF EXISTS ${scratch}`)
  })
})

describe('SQLite: the staged copy is the dump, counted exactly', () => {
  test('rows emptied after the restore was applied fail it', async () => {
    const dir = tempDir('rows-sqlite')
    mkdirSync(join(dir, 'storage'))
    const db = join(dir, 'storage', 'production.sqlite3')
    sqlite(db, "CREATE TABLE items(name); INSERT INTO items VALUES ('a'), ('b'), ('c'); CREATE TABLE tags(name);")
    const app = writeApp({dir, repo: freshRepo('0.18'), databases: [`  - {name: items, adapter: sqlite, path: ${db}}`], paths: []})
    await backup(app)
    const ok = await cli(app, ['restore', 'production', '--confirm', app.app, '--json'])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.deepEqual(JSON.parse(ok.stdout).databases[0].rows, [
      {table: 'items', in_dump: 3, restored: 1},
      {table: 'tags', in_dump: 0, restored: 0},
    ])
    const path = wrapper(dir, 'sqlite3', lab().bins.sqlite3, '*" .restore "*', `'${lab().bins.sqlite3}' "$2" 'DELETE FROM items;'`)
    const failed = await cli(app, ['restore', 'production', '--confirm', app.app], {env: {PATH: path}})
    assert.equal(failed.code, 1, failed.stdout + failed.stderr)
    assert.match(failed.stderr, /database items has no rows in tables the dump had rows for: items/)
    assert.equal(sqlite(db, 'SELECT count(*) FROM items'), '0')
  })
})

describe('MariaDB: the dump\'s INSERTs say which tables had rows', () => {
  const made: string[] = []
  after(async () => {
    for (const name of made) await dropMariaDatabase(name).catch(() => {})
  })

  test('a restore reports rows (in the dump: "some" as null); a table emptied during the restore fails it', async () => {
    const my = await createMariaDatabase()
    made.push(my.name)
    await mariadb(my.name, "CREATE TABLE users (id INT PRIMARY KEY, email TEXT); INSERT INTO users SELECT seq, CONCAT('u', seq) FROM seq_1_to_40; CREATE TABLE posts (id INT);")
    const app = writeApp({dir: tempDir('rows-maria'), repo: freshRepo('0.14'), version: '0.14', databases: [`  - {name: shop, adapter: mysql, url: "${my.url}", password: {secret: MY_PW}}`], paths: []})
    await backup(app)
    const ok = await cli(app, ['restore', 'production', '--confirm', app.app, '--json'])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.deepEqual(JSON.parse(ok.stdout).databases[0].rows, [
      {table: 'posts', in_dump: 0, restored: 0},
      {table: 'users', in_dump: null, restored: 1},
    ])
    // The restore's client is the one given the lock timeout and no --batch (the queries around it use --batch).
    const path = wrapper(app.dir, 'mariadb', lab().bins.mariadb, '*" --init-command="*', `[[ " $* " != *" --batch "* ]] && '${lab().bins.mariadb}' "$@" <<< 'DELETE FROM users;' 2>/dev/null`)
    const failed = await cli(app, ['restore', 'production', '--confirm', app.app], {env: {PATH: path}})
    assert.equal(failed.code, 1, failed.stdout + failed.stderr)
    assert.match(failed.stderr, /database shop has no rows in tables the dump had rows for: users/)
    assert.equal(await mariadb(my.name, 'SELECT COUNT(*) FROM users'), '0')
  })
})
