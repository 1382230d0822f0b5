// `dump --local`: restic on this machine, the lab's real PostgreSQL, MariaDB and SQLite, real repositories. The
// file must be byte for byte what `restic dump` of the same snapshot gives; it is written atomically (an existing
// FILE refused without --force; a failed --verify leaves nothing); each export is recorded in dumps.jsonl and
// summarised by evidence.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {createMariaDatabase, createPostgresDatabase, dropMariaDatabase, dropPostgresDatabase, freshRepo, lab, mariadb, psql, restic, tempDir, type TestDatabase} from '../../support/lab.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {assertSchema, cli, cliJson, localRestic, mariaDatabaseLine, pgDatabaseLine, readHistory, repoSnapshots, writeApp, type App} from './support.ts'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** `restic dump` of a database's snapshot in the latest run, read by restic itself. */
async function resticDump(app: App, database: string): Promise<{bytes: Buffer; snapshot: string}> {
  const snapshot = (await repoSnapshots(app)).filter((s) => s.tags?.includes(`database:${database}`)).sort((a, b) => (a.time < b.time ? 1 : -1))[0]!
  const out = execFileSync(app.env.KAMAL_BACKUP_RESTIC!, ['-r', app.repo as string, 'dump', snapshot.id, snapshot.paths[0]!], {env: {...process.env, RESTIC_PASSWORD: lab().resticPassword}, maxBuffer: 1 << 30})
  return {bytes: out, snapshot: snapshot.id}
}

describe('dump --local', {concurrency: false}, () => {
  let pg: TestDatabase
  let my: TestDatabase
  let app: App
  let dir: string

  before(async () => {
    pg = await createPostgresDatabase()
    await psql(pg.name, "CREATE TABLE notes (id serial PRIMARY KEY, body text); INSERT INTO notes(body) SELECT 'note ' || g FROM generate_series(1, 500) g;", {as: 'app'})
    my = await createMariaDatabase()
    await mariadb(my.name, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT); INSERT INTO items VALUES (1, 'one'), (2, 'two');")
    dir = tempDir('dump-local')
    const sqliteFile = join(dir, 'app.sqlite3')
    execFileSync(lab().bins.sqlite3, [sqliteFile, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('a'), ('b');"])
    const repo = freshRepo('0.18')
    app = writeApp({
      version: '0.18',
      repo,
      restic: localRestic(repo),
      databases: [pgDatabaseLine('primary', pg), mariaDatabaseLine('shop', my), `  - {name: cache, adapter: sqlite, path: ${sqliteFile}}`],
      extra: ['backup: {enabled: false}'],
      env: {KAMAL_BACKUP_OPERATOR: 'dump-tester'},
    })
    const backup = await cli(app, ['backup', '--force'])
    assert.equal(backup.code, 0, backup.stderr)
  })

  after(async () => {
    if (pg) await dropPostgresDatabase(pg.name).catch(() => {})
    if (my) await dropMariaDatabase(my.name).catch(() => {})
  })

  for (const database of ['primary', 'shop', 'cache']) {
    test(`${database}: the file is byte for byte restic dump of the same snapshot; --json matches its schema; --verify reads it back`, async () => {
      const file = join(dir, `${database}.dump`)
      const {result, json} = await cliJson(app, ['dump', '--database', database, '-o', file, '--verify'])
      assert.equal(result.code, 0, result.stderr)
      assertSchema('dump', json)
      const expected = await resticDump(app, database)
      const written = readFileSync(file)
      assert.equal(sha256(written), sha256(expected.bytes))
      assert.equal(json.snapshot_id, expected.snapshot)
      assert.equal(json.bytes, written.length)
      assert.equal(json.checked.size, 'equal', 'restic 0.18 records the size')
      assert.match(json.checked.verify, database === 'primary' ? /pg_restore --list: 1 table/ : database === 'cache' ? /integrity_check: ok/ : /ends with the dump footer/)
      assert.deepEqual(readdirSync(dir).filter((n) => n.includes('kamal-backup-dump')), [], 'no temporary file left')
    })
  }

  test('several databases and no --database: a usage error naming them; -o - with --json or --verify refused', async () => {
    const none = await cli(app, ['dump', '-o', join(dir, 'x')])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /backs up 3 databases: say which with --database \(primary, shop, cache\)/)
    const json = await cli(app, ['dump', '--database', 'cache', '-o', '-', '--json'])
    assert.equal(json.code, 2)
    assert.equal(json.stdout.includes('SQLite'), false)
    const verify = await cli(app, ['dump', '--database', 'cache', '-o', '-', '--verify'])
    assert.equal(verify.code, 2)
    assert.match(verify.stderr, /--verify needs -o FILE/)
  })

  test('an existing FILE is refused without --force (unchanged, exit 2), replaced with it', async () => {
    const file = join(dir, 'existing.sqlite3')
    writeFileSync(file, 'keep me')
    const refused = await cli(app, ['dump', '--database', 'cache', '-o', file])
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /exists: not overwriting it without --force/)
    assert.equal(readFileSync(file, 'utf8'), 'keep me')
    const forced = await cli(app, ['dump', '--database', 'cache', '-o', file, '--force'])
    assert.equal(forced.code, 0, forced.stderr)
    assert.equal(sha256(readFileSync(file)), sha256((await resticDump(app, 'cache')).bytes))
  })

  test('-o - streams the same bytes on stdout, and nothing else', async () => {
    const r = await cli(app, ['dump', '--database', 'primary', '-o', '-'])
    assert.equal(r.code, 0, r.stderr)
    // kb() decodes stdout as UTF-8: compare the SQLite-free PostgreSQL archive through latin1-safe hashing instead.
    const raw = execFileSync(process.execPath, [join(import.meta.dirname, '../../../bin/run.js'), 'dump', '--database', 'primary', '-o', '-', '--local', '--backup-config', app.config], {cwd: app.dir, env: {...process.env, ...definedEnv(app.env)}, maxBuffer: 1 << 30})
    assert.equal(sha256(raw), sha256((await resticDump(app, 'primary')).bytes))
    assert.match(r.stderr, /streamed \d+ bytes of database primary/)
  })

  test('a dump its own tool cannot read: --verify fails (dump/unverified), FILE is not written, the temporary file is gone', async () => {
    // A complete run whose only database snapshot is not a PostgreSQL archive: made with restic itself, tagged as
    // kamal-backup tags a run (a corrupted or foreign backup, not a test hook in the product).
    const repo = freshRepo('0.18')
    const bad = writeApp({version: '0.18', repo, restic: localRestic(repo), databases: [pgDatabaseLine('primary', pg)], extra: ['backup: {enabled: false}']})
    const tags = ['kamal-backup', `app:${bad.name}`, 'run:20261201T030000Z', 'type:database', 'database:primary', 'adapter:postgres']
    const made = await restic('0.18', ['backup', '--stdin', '--stdin-filename', `${bad.name}.primary.pgdump`, '--host', `kamal-backup-${bad.name}`, ...tags.flatMap((t) => ['--tag', t])], {repo, input: 'PGDMP this is not an archive\n'})
    assert.equal(made.code, 0, made.stderr)
    const file = join(dir, 'bad.pgdump')
    const r = await cli(bad, ['dump', '-o', file, '--verify'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /pg_restore --list cannot read the dump/)
    assert.equal(existsSync(file), false)
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('kamal-backup-dump')), [])
    // Without --verify the same bytes are written: the size matches, only the tool can tell.
    const plain = await cli(bad, ['dump', '-o', file])
    assert.equal(plain.code, 0, plain.stderr)
    assert.equal(readFileSync(file, 'utf8'), 'PGDMP this is not an archive\n')
  })

  test('each export is in dumps.jsonl (operator, run, database, bytes); evidence shows the count and the last', async () => {
    const records = readHistory(app, 'dumps.jsonl')
    assert.ok(records.length >= 5, `${records.length} records`)
    for (const record of records) assertMatchesSchema('dump.schema.json#/definitions/record', record)
    const last = records.at(-1)
    assert.equal(last.status, 'ok')
    assert.equal(last.operator, 'dump-tester')
    const {result, json} = await cliJson(app, ['evidence'])
    assert.ok(result.code === 0 || result.code === 1, result.stderr)
    assertSchema('evidence', json)
    assert.equal(json.dumps.count, records.length)
    assert.deepEqual(json.dumps.last, last)
  })
})

function definedEnv(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>
}
