// A full backup run on real restic 0.14 and 0.18 against the lab's PostgreSQL 15 and MariaDB 10.11 (tables, a
// view, a trigger, a function/routine), a SQLite database in WAL mode with a writer holding a transaction open,
// and a directory with per-path excludes. Everything is asserted in the repository itself with restic: exact tags,
// stable paths and host, the contents of each dump, what the file snapshot leaves out; then retention per group,
// check, the run records in the state directory, `list`, `evidence` and the due logic.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {createMariaDatabase, createPostgresDatabase, dropMariaDatabase, dropPostgresDatabase, freshRepo, lab, mariadb, psql, restic, resticBin, resticEnv, RESTIC_VERSIONS, run, tempDir, type TestDatabase} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, localRestic, mariaDatabaseLine, pgDatabaseLine, readHistory, readState, repoLocks, repoSnapshots, script, writeApp, type App, type RepoSnapshot} from './support.ts'

const PG_SETUP = `
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);
INSERT INTO users(email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 300) g;
CREATE VIEW user_count AS SELECT count(*) AS n FROM users;
CREATE TABLE audit (id serial PRIMARY KEY, note text);
CREATE FUNCTION log_user() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit(note) VALUES ('user ' || NEW.id); RETURN NEW; END $$;
CREATE TRIGGER users_audit AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION log_user();
`
const MY_SETUP = `
CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, total DECIMAL(10,2));
INSERT INTO orders(total) SELECT seq / 7 FROM seq_1_to_300;
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100));
CREATE VIEW order_sum AS SELECT SUM(total) AS total FROM orders;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit(note) VALUES (CONCAT('order ', NEW.id));
CREATE PROCEDURE add_order(IN t DECIMAL(10,2)) INSERT INTO orders(total) VALUES (t);
CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
`

// The versions run side by side (each has its own repository, databases and state).
describe('a backup run on each restic version', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    describe(`backup on restic ${version}`, {concurrency: false}, () => {
      let pg: TestDatabase
      let my: TestDatabase
      let app: App
      let files: string
      let sqlite: string
      let writer: ChildProcess
      let firstRun: string
      let resticLog: string

      before(async () => {
        pg = await createPostgresDatabase()
        my = await createMariaDatabase()
        await psql(pg.name, PG_SETUP, {as: 'app'})
        await mariadb(my.name, MY_SETUP)
        const dir = tempDir(`bk-${version}`)
        files = join(dir, 'storage')
        mkdirSync(join(files, 'uploads', 'cache'), {recursive: true})
        writeFileSync(join(files, 'uploads', 'photo.bin'), Buffer.alloc(50_000, 3))
        writeFileSync(join(files, 'uploads', 'debug.log'), 'excluded by pattern\n')
        writeFileSync(join(files, 'uploads', 'cache', 'tmp.bin'), 'excluded directory\n')
        sqlite = join(files, 'production.sqlite3')
        await run(lab().bins.sqlite3, [sqlite, "PRAGMA journal_mode=wal; CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT); WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 200) INSERT INTO items(name) SELECT 'item ' || n FROM s;"])
        // A writer holding a transaction open, with an uncommitted row: the backup must not see it, nor wait for it.
        writer = spawn(lab().bins.sqlite3, [sqlite], {stdio: ['pipe', 'ignore', 'ignore']})
        writer.stdin!.write("BEGIN IMMEDIATE; INSERT INTO items(name) VALUES ('uncommitted');\n")
        await new Promise((r) => setTimeout(r, 300))
        assert.ok(existsSync(`${sqlite}-wal`), 'the WAL file exists while the writer is open')
        const repo = freshRepo(version)
        // Counts restic invocations (argv only) and execs the real one.
        resticLog = join(dir, 'restic-calls.log')
        const wrapper = script(join(dir, 'bin'), 'restic', `printf '%s\\n' "$*" >> '${resticLog}'\nexec '${resticBin(version)}' "$@"`)
        app = writeApp({
          version,
          repo,
          databases: [pgDatabaseLine('main', pg), mariaDatabaseLine('shop', my), `  - {name: items, adapter: sqlite, path: ${sqlite}}`],
          paths: [`  - {path: ${files}, exclude: ["*.log", "${files}/uploads/cache"]}`],
          restic: localRestic(repo, ['retention: {keep_last: 1}', 'check_after_backup: true']),
          extra: ['backup: {schedule: 1d}'],
          env: {KAMAL_BACKUP_RESTIC: wrapper},
        })
      })

      after(async () => {
        writer?.kill('SIGKILL')
        await dropPostgresDatabase(pg.name).catch(() => {})
        await dropMariaDatabase(my.name).catch(() => {})
      })

      test('one snapshot per database and one for the files, with the exact tags, stable paths and host', async () => {
        const r = await cli(app, ['backup', '--force'])
        assert.equal(r.code, 0, r.stderr)
        const snapshots = await repoSnapshots(app)
        assert.equal(snapshots.length, 4, JSON.stringify(snapshots, null, 2))
        const runIds = new Set(snapshots.map((s) => s.tags!.find((t) => t.startsWith('run:'))))
        assert.equal(runIds.size, 1, 'every snapshot carries the same run id')
        const runTag = [...runIds][0]!
        firstRun = runTag.slice(4)
        assert.match(firstRun, /^\d{8}T\d{6}Z$/)
        const byGroup = (tag: string) => snapshots.find((s) => s.tags!.includes(tag))!
        const expectTags = (s: RepoSnapshot, tags: string[]) => assert.deepEqual([...s.tags!].sort(), ['kamal-backup', `app:${app.name}`, runTag, ...tags].sort())
        expectTags(byGroup('database:main'), ['type:database', 'database:main', 'adapter:postgres'])
        expectTags(byGroup('database:shop'), ['type:database', 'database:shop', 'adapter:mysql'])
        expectTags(byGroup('database:items'), ['type:database', 'database:items', 'adapter:sqlite'])
        const label = files.replace(/^\/+/, '').replace(/[^A-Za-z0-9_.-]+/g, '-')
        expectTags(byGroup('type:files'), ['type:files', `path:${label}`])
        for (const s of snapshots) assert.equal(s.hostname, `kamal-backup-${app.name}`)
        assert.deepEqual(byGroup('database:main').paths, [`/${app.name}.main.pgdump`])
        assert.deepEqual(byGroup('database:shop').paths, [`/${app.name}.shop.sql`])
        assert.deepEqual(byGroup('database:items').paths, [`/${app.name}.items.sqlite3`])
        assert.deepEqual(byGroup('type:files').paths, [files])
        assert.deepEqual(await repoLocks(app), [], 'no lock left behind')
        // At most (databases + 3) calls that open the repository, not counting init and check.
        const calls = readFileSync(resticLog, 'utf8').trim().split('\n').filter((c) => !/^(version|check)\b/.test(c))
        assert.ok(calls.length <= 3 + 3, `${calls.length} repository calls:\n${calls.join('\n')}`)
        assert.equal(calls.filter((c) => /^forget\b/.test(c)).length, 1, 'one forget --prune serves every group')
      })

      test('each dump holds the real data; the SQLite copy has the committed state only', async () => {
        const snapshots = await repoSnapshots(app)
        const dump = async (group: string, path: string) => {
          const s = snapshots.find((x) => x.tags!.includes(group))!
          const out = join(tempDir('dump'), 'out')
          // Binary-safe: restic writes the file itself through the shell's redirection.
          const r = await run('sh', ['-c', 'exec "$0" -r "$1" dump "$2" "$3" > "$4"', resticBin(version), app.repo as string, s.id, path, out], {env: resticEnv(), timeoutMs: 60_000})
          assert.equal(r.code, 0, r.stderr)
          return {text: readFileSync(out, 'latin1'), file: out}
        }
        const pgDump = await dump('database:main', `/${app.name}.main.pgdump`)
        assert.ok(pgDump.text.startsWith('PGDMP'), 'a pg_dump custom-format archive')
        const listing = await run(join(lab().postgres.binDir, 'pg_restore'), ['--list', pgDump.file])
        assert.equal(listing.code, 0, listing.stderr)
        for (const object of ['TABLE public users', 'VIEW public user_count', 'FUNCTION public log_user', 'TRIGGER public users users_audit', 'TABLE DATA public users']) {
          assert.ok(listing.stdout.includes(object), `the dump lists ${object}`)
        }
        const myDump = (await dump('database:shop', `/${app.name}.shop.sql`)).text
        for (const needle of ['CREATE TABLE `orders`', 'CREATE TABLE `audit`', 'order_sum', 'TRIGGER orders_audit', 'PROCEDURE `add_order`', 'FUNCTION `double_it`', 'INSERT INTO `orders`']) {
          assert.ok(myDump.includes(needle), `the MariaDB dump contains ${needle}`)
        }
        const copy = await dump('database:items', `/${app.name}.items.sqlite3`)
        const rows = await run(lab().bins.sqlite3, [copy.file, "SELECT count(*), sum(name = 'uncommitted') FROM items; PRAGMA integrity_check;"])
        assert.equal(rows.stdout.trim(), '200|0\nok')
        assert.deepEqual(readdirSync(join(app.state, 'tmp')), [], 'the temporary SQLite copy is removed')
      })

      test('the file snapshot honours per-path excludes and leaves out the SQLite database with -wal/-shm/-journal', async () => {
        const s = (await repoSnapshots(app)).find((x) => x.tags!.includes('type:files'))!
        const r = await restic(version, ['ls', s.id], {repo: app.repo})
        assert.equal(r.code, 0, r.stderr)
        const listed = r.stdout.split('\n').filter((l) => l.startsWith('/'))
        assert.ok(listed.includes(join(files, 'uploads', 'photo.bin')))
        for (const gone of ['uploads/debug.log', 'uploads/cache', 'production.sqlite3', 'production.sqlite3-wal', 'production.sqlite3-shm']) {
          assert.ok(!listed.includes(join(files, gone)), `${gone} is not in the file snapshot`)
        }
      })

      test('the run is recorded in the state directory, with every step and snapshot', async () => {
        const record = readState(app, 'last_backup.json')
        assertSchema('backup-run', record)
        assert.equal(record.status, 'ok')
        assert.equal(record.run_id, firstRun)
        assert.equal(record.restic_version, lab().restic.find((r) => r.version === version)!.fullVersion)
        assert.deepEqual(record.steps.map((s: {name: string; status: string}) => `${s.name}=${s.status}`), ['database:main=ok', 'database:shop=ok', 'database:items=ok', 'files=ok', 'forget=ok', 'check=ok'])
        assert.deepEqual(record.snapshots.map((s: {group: string}) => s.group), ['database:main', 'database:shop', 'database:items', 'files'])
        assert.deepEqual(readState(app, 'last_successful_backup.json'), record)
        assert.equal(readHistory(app).length, 1)
        assert.equal(readState(app, 'last_check.json').status, 'ok')
      })

      test('not due without --force; a second forced run and retention keep one snapshot per group', async () => {
        const skipped = await cli(app, ['backup'])
        assert.equal(skipped.code, 0, skipped.stderr)
        assert.match(skipped.stdout, /not due: last successful backup .* next due /)
        const {json: skippedJson} = await cliJson(app, ['backup'])
        assertSchema('backup-run', skippedJson)
        assert.equal(skippedJson.status, 'skipped')
        assert.equal(skippedJson.reason, 'not_due')
        assert.equal((await repoSnapshots(app)).length, 4, 'nothing was backed up')

        await new Promise((r) => setTimeout(r, 1100)) // run ids have one-second resolution
        const {result, json} = await cliJson(app, ['backup', '--force'])
        assert.equal(result.code, 0, result.stderr)
        assertSchema('backup-run', json)
        assert.equal(json.status, 'ok')
        assert.notEqual(json.run_id, firstRun)
        // keep_last: 1 per group (host + paths): the first run is gone from every group, the second one is whole.
        const snapshots = await repoSnapshots(app)
        assert.equal(snapshots.length, 4)
        for (const s of snapshots) assert.ok(s.tags!.includes(`run:${json.run_id}`), `${s.paths} belongs to the second run`)
        assert.equal(readHistory(app).length, 2, 'runs.jsonl holds the two runs (a skip is not a run)')
      })

      test('list --json and evidence show the latest complete run and validate against their schemas', async () => {
        const {result, json} = await cliJson(app, ['list'])
        assert.equal(result.code, 0, result.stderr)
        assertSchema('list', json)
        assert.equal(json.length, 1)
        assert.equal(json[0].complete, true)
        assert.deepEqual(json[0].snapshots.map((s: {group: string}) => s.group), ['database:main', 'database:shop', 'database:items', 'files'])
        for (const s of json[0].snapshots) assert.ok(typeof s.bytes === 'number' && s.bytes > 0, `size of ${s.group}`)
        const text = await cli(app, ['list'])
        assert.equal(text.code, 0)
        assert.match(text.stdout, new RegExp(`${json[0].id} .* complete`))
        const evidence = await cli(app, ['evidence'])
        assert.equal(evidence.code, 0, evidence.stderr)
        const doc = JSON.parse(evidence.stdout)
        assertSchema('evidence', doc)
        assert.equal(doc.latest_complete_run.id, json[0].id)
        assert.equal(doc.latest_backup_age.status, 'ok')
        assert.equal(doc.last_backup_run.status, 'ok')
        assert.equal(doc.last_check.status, 'ok')
        assert.equal(doc.repository_error, null)
      })
    })
  }
})
