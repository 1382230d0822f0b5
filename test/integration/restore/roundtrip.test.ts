// Restores against the real lab: PostgreSQL 15, MariaDB 10.11, SQLite (WAL) and files on a tmpfs mount point,
// backed up and restored by the built CLI with real restic. Every round trip compares a checksum of every
// table's rows before the backup and after the restore, and checks that objects existing only in the target are
// gone and that views, triggers, functions and routines work again.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kb, kbJson} from '../../support/cli.ts'
import {sqliteRowsChecksum} from './support.ts'
import {createMariaDatabase, createPostgresDatabase, dropMariaDatabase, dropPostgresDatabase, freshRepo, lab, mariadb, psql, resticBin, run, tempDir, uniqueName, type TestDatabase} from '../../support/lab.ts'

const PG_SETUP = `
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, name text);
CREATE TABLE posts (id serial PRIMARY KEY, user_id int REFERENCES users(id), title text, body text);
INSERT INTO users(email, name) SELECT 'user' || g || '@example.com', 'Ünïcode ' || g FROM generate_series(1, 500) g;
INSERT INTO posts(user_id, title, body) SELECT (g % 500) + 1, 'title ' || g, md5(g::text) FROM generate_series(1, 2000) g;
CREATE VIEW post_counts AS SELECT u.id, count(p.id) AS n FROM users u LEFT JOIN posts p ON p.user_id = u.id GROUP BY u.id;
CREATE FUNCTION slugify(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(replace(t, ' ', '-')) $$;
CREATE TABLE audit (id serial PRIMARY KEY, note text);
CREATE FUNCTION log_post() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit(note) VALUES ('post ' || NEW.id); RETURN NEW; END $$;
CREATE TRIGGER posts_audit AFTER INSERT ON posts FOR EACH ROW EXECUTE FUNCTION log_post();
CREATE SCHEMA reporting;
CREATE TABLE reporting.daily (day date PRIMARY KEY, n int);
INSERT INTO reporting.daily SELECT current_date - g, g FROM generate_series(1, 30) g;
`
const PG_TABLES = ['public.users', 'public.posts', 'public.audit', 'reporting.daily']

async function pgChecksums(db: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const table of PG_TABLES) out[table] = await psql(db, `SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM ${table} t;`, {as: 'app'})
  return out
}

const MY_SETUP = `
CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL, name VARCHAR(100)) DEFAULT CHARSET=utf8mb4;
CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT, total DECIMAL(10,2), FOREIGN KEY (user_id) REFERENCES users(id));
INSERT INTO users(email, name) SELECT CONCAT('user', seq, '@example.com'), CONCAT('Ünïcode ', seq) FROM seq_1_to_500;
INSERT INTO orders(user_id, total) SELECT (seq % 500) + 1, seq / 7 FROM seq_1_to_1500;
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100));
CREATE VIEW order_totals AS SELECT user_id, SUM(total) AS total FROM orders GROUP BY user_id;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit(note) VALUES (CONCAT('order ', NEW.id));
CREATE PROCEDURE add_user(IN e VARCHAR(100)) INSERT INTO users(email) VALUES (e);
CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM audit WHERE id < 0;
`
const MY_TABLES = ['users', 'orders', 'audit']

async function myChecksums(db: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const table of MY_TABLES) out[table] = await mariadb(db, `SELECT CONCAT(COUNT(*), ':', COALESCE(MD5(GROUP_CONCAT(CONCAT_WS('|', t.id, ${table === 'users' ? 't.email, t.name' : table === 'orders' ? 't.user_id, t.total' : 't.note'}) ORDER BY t.id SEPARATOR ',')), '')) FROM ${table} t;`)
  return out
}

function sqliteQuery(path: string, sql: string): string {
  return runOkSync(lab().bins.sqlite3, [path, sql])
}

function runOkSync(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, {encoding: 'utf8'}).trim()
}

interface App {
  dir: string
  config: string
  state: string
  env: Record<string, string>
  app: string
}

function writeApp(options: {databases: string[]; paths: string[]; repo: string; version?: '0.14' | '0.18'; extra?: string}): App {
  const dir = tempDir('restore')
  const app = uniqueName('rt')
  const state = join(dir, 'state')
  const config = join(dir, 'kamal-backup.yml')
  writeFileSync(
    config,
    [
      `app: ${app}`,
      ...(options.databases.length > 0 ? ['databases:', ...options.databases] : []),
      ...(options.paths.length > 0 ? ['paths:', ...options.paths.map((p) => `  - ${p}`)] : []),
      'restic:',
      `  repository: ${options.repo}`,
      '  password: {secret: RESTIC_PASSWORD}',
      '  retention: {keep_last: 20}',
      `state: {path: ${state}}`,
      options.extra ?? '',
    ].join('\n') + '\n',
  )
  const env = {
    RESTIC_PASSWORD: lab().resticPassword,
    PG_PW: lab().postgres.appPassword,
    MY_PW: lab().mariadb.password,
    KAMAL_BACKUP_RESTIC: resticBin(options.version ?? '0.18'),
  }
  return {dir, config, state, env, app}
}

const cli = (app: App, args: string[], extra: {env?: Record<string, string | undefined>; input?: string} = {}) =>
  kb([...args, '--local', '--backup-config', app.config], {cwd: app.dir, env: {...app.env, ...extra.env}, ...(extra.input !== undefined && {input: extra.input})})

describe('restore production: exact round trips', {concurrency: false}, () => {
  let pg: TestDatabase
  let my: TestDatabase
  let app: App
  let sqlitePath: string
  let filesDir: string
  let original: {pg: Record<string, string>; my: Record<string, string>; sqlite: Record<string, string>; files: string[]}
  // Every row of every SQLite table, each value as SQLite quotes it (blobs and reals included).
  const sqliteChecksums = () => ({items: sqliteRowsChecksum(sqlitePath, 'items'), item_log: sqliteRowsChecksum(sqlitePath, 'item_log')})
  let backupRun: string

  before(async () => {
    pg = await createPostgresDatabase()
    my = await createMariaDatabase()
    await psql(pg.name, PG_SETUP, {as: 'app'})
    await mariadb(my.name, MY_SETUP)
    const dir = tempDir('rt-data')
    filesDir = join(dir, 'storage')
    mkdirSync(join(filesDir, 'uploads', 'ab'), {recursive: true})
    writeFileSync(join(filesDir, 'uploads', 'ab', 'photo.bin'), Buffer.alloc(200_000, 7))
    writeFileSync(join(filesDir, 'uploads', 'note.txt'), 'hello\n')
    sqlitePath = join(filesDir, 'production.sqlite3')
    sqliteQuery(sqlitePath, "PRAGMA journal_mode=wal; CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB); WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 1000) INSERT INTO items(name, price, data) SELECT 'item ' || n, n / 7.0, randomblob(16) FROM s;")
    sqliteQuery(sqlitePath, "CREATE VIEW cheap_items AS SELECT id, name FROM items WHERE price < 10; CREATE TABLE item_log(id INTEGER PRIMARY KEY, note TEXT); CREATE TRIGGER items_log AFTER INSERT ON items BEGIN INSERT INTO item_log(note) VALUES ('item ' || NEW.id); END; INSERT INTO items(name, price) VALUES ('logged 1', 1), ('logged 2', 2);")
    app = writeApp({
      repo: freshRepo('0.18'),
      databases: [
        `  - {name: main, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`,
        `  - {name: shop, adapter: mysql, url: "mysql://${my.user}@${my.host}:${my.port}/${my.name}", password: {secret: MY_PW}}`,
        `  - {name: items, adapter: sqlite, path: ${sqlitePath}}`,
      ],
      paths: [filesDir],
    })
    original = {pg: await pgChecksums(pg.name), my: await myChecksums(my.name), sqlite: sqliteChecksums(), files: readdirSync(join(filesDir, 'uploads')).sort()}
    const backup = await cli(app, ['backup', '--force'])
    assert.equal(backup.code, 0, backup.stderr)
    const list = await kbJson(['list', '--local', '--backup-config', app.config], {cwd: app.dir, env: app.env})
    backupRun = list.json[0].id
    assert.equal(list.json[0].complete, true)
  })

  after(async () => {
    await dropPostgresDatabase(pg.name).catch(() => {})
    await dropMariaDatabase(my.name).catch(() => {})
  })

  test('a production restore brings back exactly the backed-up data and removes target-only objects', async () => {
    // Damage production: changed rows, objects that exist only in the target, dropped objects, changed files.
    await psql(pg.name, `UPDATE users SET email = 'changed'; DELETE FROM posts WHERE id > 100; CREATE TABLE only_in_target (x int); CREATE SCHEMA extra; CREATE TABLE extra.t (x int); DROP VIEW post_counts;`, {as: 'app'})
    await mariadb(my.name, `UPDATE users SET email = 'changed'; CREATE TABLE only_in_target (x INT); DROP VIEW order_totals; DROP PROCEDURE add_user;
      CREATE VIEW only_view AS SELECT 1 AS one; CREATE PROCEDURE only_proc() SELECT 1; CREATE FUNCTION only_fn() RETURNS INT DETERMINISTIC RETURN 1;
      CREATE EVENT only_event ON SCHEDULE EVERY 1 DAY DO SELECT 1; CREATE SEQUENCE only_seq;`)
    sqliteQuery(sqlitePath, "DELETE FROM items WHERE id > 10; UPDATE item_log SET note = 'changed'; DROP VIEW cheap_items; DROP TRIGGER items_log; CREATE TABLE only_in_target(x); CREATE VIEW only_view AS SELECT 1;")
    writeFileSync(join(filesDir, 'uploads', 'note.txt'), 'overwritten\n')
    writeFileSync(join(filesDir, 'uploads', 'new-file.txt'), 'should disappear\n')

    const result = await cli(app, ['restore', 'production', backupRun, '--confirm', app.app, '--json'])
    assert.equal(result.code, 0, result.stdout + result.stderr)
    const json = JSON.parse(result.stdout)
    assert.equal(json.status, 'ok')
    assert.equal(json.run_id, backupRun)

    assert.deepEqual(await pgChecksums(pg.name), original.pg)
    assert.equal(await psql(pg.name, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_target' OR table_schema = 'extra';`, {as: 'app'}), '0')
    assert.equal(await psql(pg.name, `SELECT n FROM post_counts WHERE id = 1;`, {as: 'app'}), '4')
    assert.equal(await psql(pg.name, `SELECT slugify('Hello World');`, {as: 'app'}), 'hello-world')
    await psql(pg.name, `INSERT INTO posts(user_id, title) VALUES (1, 'after restore');`, {as: 'app'})
    assert.equal(await psql(pg.name, `SELECT count(*) FROM audit WHERE note LIKE 'post %';`, {as: 'app'}), '1', 'the trigger fires again')

    assert.deepEqual(await myChecksums(my.name), original.my)
    assert.equal(await mariadb(my.name, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'only_in_target';`), '0')
    assert.equal(await mariadb(my.name, `SELECT ROUND(total) FROM order_totals WHERE user_id = 2;`), String(Math.round([1, 501, 1001].reduce((a, n) => a + Math.round((n / 7) * 100) / 100, 0))))
    assert.equal(await mariadb(my.name, `SELECT double_it(21);`), '42')
    await mariadb(my.name, `CALL add_user('proc@example.com'); INSERT INTO orders(user_id, total) VALUES (1, 1);`)
    assert.equal(await mariadb(my.name, `SELECT COUNT(*) FROM audit;`), '1', 'the trigger fires again')
    assert.equal(await mariadb(my.name, `SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME = 'nightly';`), '1')
    // Objects that existed only in the target: a view, routines, an event and a sequence, not just a table.
    assert.equal(await mariadb(my.name, `SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'only_view';`), '0')
    assert.equal(await mariadb(my.name, `SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME IN ('only_proc', 'only_fn');`), '0')
    assert.equal(await mariadb(my.name, `SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME = 'only_event';`), '0')
    assert.equal(await mariadb(my.name, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'only_seq';`), '0')

    assert.deepEqual(sqliteChecksums(), original.sqlite)
    assert.equal(sqliteQuery(sqlitePath, "SELECT count(*) FROM sqlite_master WHERE name IN ('only_in_target', 'only_view')"), '0')
    assert.equal(sqliteQuery(sqlitePath, 'SELECT count(*) FROM cheap_items'), '71', 'the view works again')
    sqliteQuery(sqlitePath, "INSERT INTO items(name, price) VALUES ('after restore', 3)")
    assert.equal(sqliteQuery(sqlitePath, "SELECT note FROM item_log ORDER BY id DESC LIMIT 1"), `item ${sqliteQuery(sqlitePath, 'SELECT max(id) FROM items')}`, 'the trigger fires again')
    assert.equal(sqliteQuery(sqlitePath, 'PRAGMA integrity_check'), 'ok')
    assert.deepEqual(readdirSync(join(filesDir, 'uploads')).sort(), original.files)
    assert.equal(readFileSync(join(filesDir, 'uploads', 'note.txt'), 'utf8'), 'hello\n')
    assert.equal(statSync(join(filesDir, 'uploads', 'ab', 'photo.bin')).size, 200_000)
  })

  test('the safety backup exists, and restoring it undoes the restore', async () => {
    await psql(pg.name, `UPDATE users SET name = 'before second restore' WHERE id = 1;`, {as: 'app'})
    const changed = await pgChecksums(pg.name)
    const result = await cli(app, ['restore', 'production', backupRun, '--confirm', app.app, '--json'])
    assert.equal(result.code, 0, result.stdout + result.stderr)
    const json = JSON.parse(result.stdout)
    const safety = json.safety_backup.run_id as string
    assert.equal(json.safety_backup.status, 'ok')
    // Run with --local from here, so the undo runs with --local and the same config (and restores everything).
    assert.equal(json.safety_backup.undo_command, `kamal-backup restore production ${safety} --confirm ${app.app} --local --backup-config ${app.config}`)
    assert.deepEqual(await pgChecksums(pg.name), original.pg)
    const list = await kbJson(['list', '--local', '--backup-config', app.config], {cwd: app.dir, env: app.env})
    const safetyRun = list.json.find((r: {id: string}) => r.id === safety)
    assert.ok(safetyRun?.complete && safetyRun.pre_restore, 'the safety run is complete and tagged pre-restore')
    const undo = await cli(app, ['restore', 'production', safety, '--confirm', app.app, '--no-safety-backup'])
    assert.equal(undo.code, 0, undo.stdout + undo.stderr)
    assert.deepEqual(await pgChecksums(pg.name), changed)
  })

  test('a SQLite restore while another connection holds a write lock fails and leaves the data unchanged', async () => {
    sqliteQuery(sqlitePath, "INSERT INTO items(name) VALUES ('written after the backup')")
    const before = sqliteQuery(sqlitePath, 'SELECT count(*) FROM items')
    // A writer holding BEGIN IMMEDIATE for 8 s.
    const writer = run(lab().bins.sqlite3, [sqlitePath], {input: "BEGIN IMMEDIATE; INSERT INTO items(name) VALUES ('in flight');\n.shell sleep 8\nCOMMIT;\n", timeoutMs: 30_000})
    await new Promise((r) => setTimeout(r, 500))
    const result = await cli(app, ['restore', 'production', backupRun, '--confirm', app.app, '--database', 'items', '--no-files', '--no-safety-backup'])
    assert.equal(result.code, 1, result.stdout + result.stderr)
    assert.match(result.stderr, /another connection is writing to it/)
    assert.match(result.stderr, /the database is unchanged/)
    await writer
    assert.equal(Number(sqliteQuery(sqlitePath, 'SELECT count(*) FROM items')), Number(before) + 1, 'the writer committed, nothing was overwritten')
  })

  test('restoring without confirmation, with --yes, or with the wrong app name is refused before anything changes', async () => {
    await psql(pg.name, `UPDATE users SET name = 'must survive' WHERE id = 2;`, {as: 'app'})
    const marker = await pgChecksums(pg.name)
    const runsBefore = (await kbJson(['list', '--local', '--backup-config', app.config], {cwd: app.dir, env: app.env})).json.length
    for (const args of [[], ['--yes'], ['--confirm', 'not-the-app']]) {
      const result = await cli(app, ['restore', 'production', backupRun, ...args])
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.doesNotMatch(result.stderr, /\bat \w+ \(/, 'no stack trace')
    }
    assert.deepEqual(await pgChecksums(pg.name), marker)
    const list = await kbJson(['list', '--local', '--backup-config', app.config], {cwd: app.dir, env: app.env})
    assert.equal(list.json.length, runsBefore, 'no safety backup was taken by the refused attempts')
  })
})

describe('latest never mixes runs', () => {
  test('when the newest run is incomplete, latest is the previous complete run, for every database', async () => {
    const pg = await createPostgresDatabase()
    const other = await createPostgresDatabase()
    try {
      await psql(pg.name, 'CREATE TABLE t (v int); INSERT INTO t VALUES (1);', {as: 'app'})
      await psql(other.name, 'CREATE TABLE t (v int); INSERT INTO t VALUES (1);', {as: 'app'})
      const app = writeApp({
        repo: freshRepo('0.18'),
        databases: [`  - {name: a, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`, `  - {name: b, adapter: postgres, url: "${other.url}", password: {secret: PG_PW}}`],
        paths: [],
      })
      assert.equal((await cli(app, ['backup', '--force'])).code, 0)
      const first = (await kbJson(['list', '--local', '--backup-config', app.config], {cwd: app.dir, env: app.env})).json[0].id
      await psql(pg.name, 'UPDATE t SET v = 2;', {as: 'app'})
      await psql(other.name, 'UPDATE t SET v = 2;', {as: 'app'})
      // Second run: database b fails (its password is wrong for that run), so the run is incomplete.
      writeFileSync(app.config, readFileSync(app.config, 'utf8').replace(`url: "${other.url}", password: {secret: PG_PW}`, `url: "${other.url}", password: {secret: WRONG_PW}`))
      const failed = await cli(app, ['backup', '--force'], {env: {WRONG_PW: 'definitely-wrong'}})
      assert.equal(failed.code, 1)
      writeFileSync(app.config, readFileSync(app.config, 'utf8').replace('{secret: WRONG_PW}', '{secret: PG_PW}'))
      const runs = (await kbJson(['list', '--local', '--backup-config', app.config], {cwd: app.dir, env: app.env})).json
      assert.equal(runs.length, 2)
      assert.equal(runs[0].complete, false)
      assert.deepEqual(runs[0].missing, ['database:b'])
      await psql(pg.name, 'UPDATE t SET v = 3;', {as: 'app'})
      await psql(other.name, 'UPDATE t SET v = 3;', {as: 'app'})
      const restored = await cli(app, ['restore', 'production', 'latest', '--confirm', app.app, '--no-safety-backup', '--json'])
      assert.equal(restored.code, 0, restored.stdout + restored.stderr)
      assert.equal(JSON.parse(restored.stdout).run_id, first)
      assert.equal(await psql(pg.name, 'SELECT v FROM t;', {as: 'app'}), '1', 'database a comes from the complete run, not the newer partial one')
      assert.equal(await psql(other.name, 'SELECT v FROM t;', {as: 'app'}), '1')
      // Asking for the incomplete run by id is a clear error listing the complete runs.
      const refused = await cli(app, ['restore', 'production', runs[0].id, '--confirm', app.app, '--no-safety-backup'])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, new RegExp(`run ${runs[0].id} is incomplete \\(missing: database:b\\)`))
      assert.match(refused.stderr, new RegExp(`complete runs: ${first}`))
    } finally {
      await dropPostgresDatabase(pg.name).catch(() => {})
      await dropPostgresDatabase(other.name).catch(() => {})
    }
  })
})

describe('files on a mount point', () => {
  test('a restore into a directory that is a mount point keeps the mount and replaces its contents', async () => {
    const mount = lab().mountPoint
    const mounted = () => readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mount)
    assert.ok(mounted(), `${mount} is a mount point in the lab`)
    for (const name of readdirSync(mount)) rmSync(join(mount, name), {recursive: true, force: true})
    mkdirSync(join(mount, 'variants'))
    writeFileSync(join(mount, 'variants', 'a.txt'), 'original a\n')
    writeFileSync(join(mount, 'top.txt'), 'original top\n')
    const app = writeApp({repo: freshRepo('0.14'), version: '0.14', databases: [], paths: [mount]})
    const backup = await cli(app, ['backup', '--force'])
    assert.equal(backup.code, 0, backup.stdout + backup.stderr)
    const device = statSync(mount).dev
    writeFileSync(join(mount, 'top.txt'), 'changed\n')
    writeFileSync(join(mount, 'extra.txt'), 'extra\n')
    rmSync(join(mount, 'variants'), {recursive: true})
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup'])
    assert.equal(result.code, 0, result.stdout + result.stderr)
    assert.ok(mounted(), 'still mounted')
    assert.equal(statSync(mount).dev, device)
    assert.deepEqual(readdirSync(mount).sort(), ['top.txt', 'variants'])
    assert.equal(readFileSync(join(mount, 'top.txt'), 'utf8'), 'original top\n')
    assert.equal(readFileSync(join(mount, 'variants', 'a.txt'), 'utf8'), 'original a\n')
    for (const name of readdirSync(mount)) rmSync(join(mount, name), {recursive: true, force: true})
  })
})


describe('preflight', () => {
  test('an unreachable database stops the restore before the files or any database change', async () => {
    const pg = await createPostgresDatabase()
    try {
      await psql(pg.name, 'CREATE TABLE t (v int); INSERT INTO t VALUES (1);', {as: 'app'})
      const dir = tempDir('preflight-files')
      writeFileSync(join(dir, 'a.txt'), 'backed up\n')
      const app = writeApp({
        repo: freshRepo('0.18'),
        databases: [`  - {name: main, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`, `  - {name: gone, adapter: postgres, url: "postgres://kbapp@127.0.0.1:${lab().postgres.port}/${pg.name}", password: {secret: PG_PW}}`],
        paths: [dir],
      })
      const backup = await cli(app, ['backup', '--force'])
      assert.equal(backup.code, 0, backup.stdout + backup.stderr)
      // The second database's server goes away (a closed port), and production moves on.
      writeFileSync(app.config, readFileSync(app.config, 'utf8').replace(`127.0.0.1:${lab().postgres.port}/${pg.name}"`, `127.0.0.1:1/${pg.name}"`))
      writeFileSync(join(dir, 'a.txt'), 'changed after the backup\n')
      await psql(pg.name, 'INSERT INTO t VALUES (2);', {as: 'app'})
      const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup', '--json'])
      assert.equal(result.code, 1, result.stdout + result.stderr)
      const json = JSON.parse(result.stdout)
      assert.deepEqual(json.steps.map((s: {name: string; status: string}) => `${s.name}:${s.status}`), ['preflight:failed'])
      assert.match(json.error, /gone|127\.0\.0\.1:1/)
      assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'changed after the backup\n', 'files untouched')
      assert.equal(await psql(pg.name, 'SELECT count(*) FROM t', {as: 'app'}), '2', 'databases untouched')
    } finally {
      await dropPostgresDatabase(pg.name).catch(() => {})
    }
  })
})
