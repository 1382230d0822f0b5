// What must stop a restore before anything changes — a SQLite writer, a missing tool, a read-only PostgreSQL
// database, schemas or publications the user cannot drop, a dump pg_restore cannot read, an unwritable file
// target, the app's open transactions — and what a failure after a change must say: which parts were restored,
// which are unchanged or partly restored, and the command that undoes it (which works).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {kb} from '../../support/cli.ts'
import {createMariaDatabase, createPostgresDatabase, freshRepo, lab, mariadb, psql, restic, run, tempDir, type TestDatabase} from '../../support/lab.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {backup, cli, readJson, runs, sqlite, writeApp, type App} from './support.ts'

/** A PostgreSQL database with two tables and a file directory, backed up once; then production moves on. */
async function pgApp(backupEnv: Record<string, string> = {}): Promise<{app: App; pg: TestDatabase; files: string; run: string}> {
  const pg = await createPostgresDatabase()
  await psql(pg.name, "CREATE TABLE users (id serial PRIMARY KEY, email text); INSERT INTO users(email) SELECT 'u' || g FROM generate_series(1, 50) g; CREATE TABLE posts (id int);", {as: 'app'})
  const dir = tempDir('failures')
  const files = join(dir, 'storage')
  mkdirSync(files)
  writeFileSync(join(files, 'a.txt'), 'backed up\n')
  const app = writeApp({dir, repo: freshRepo('0.18'), databases: [`  - {name: main, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`], paths: [files]})
  const id = await backup(app, backupEnv)
  writeFileSync(join(files, 'a.txt'), 'changed after the backup\n')
  await psql(pg.name, "INSERT INTO users(email) VALUES ('after the backup');", {as: 'app'})
  return {app, pg, files, run: id}
}

const userCount = (pg: TestDatabase) => psql(pg.name, 'SELECT count(*) FROM users', {as: 'app'})

/** A custom-format dump of `db`, made with the lab's pg_dump. */
function pgDump(db: TestDatabase): Buffer {
  return execFileSync(lab().bins.pgDump, ['--format=custom', '--compress=0', '--no-owner', '--no-privileges', '-h', db.host, '-p', String(db.port), '-U', db.user, db.name], {env: {...process.env, PGPASSWORD: db.password}})
}

/** Stores `dump` as database `main`'s snapshot of a run of its own (tagged the way a backup tags it). */
async function storeRun(app: App, runId: string, dump: Buffer, extraTags: string[] = []): Promise<void> {
  const file = join(app.dir, `${runId}.pgdump`)
  writeFileSync(file, dump)
  const tags = ['kamal-backup', `app:${app.app}`, `run:${runId}`, 'type:database', 'database:main', 'adapter:postgres', ...extraTags].flatMap((t) => ['--tag', t])
  const stored = await restic('0.18', ['backup', '--stdin', '--stdin-filename', `${app.app}.main.pgdump`, '--host', `kamal-backup-${app.app}`, ...tags], {repo: app.repo, input: dump})
  assert.equal(stored.code, 0, stored.stderr)
}

describe('refused before anything changes', () => {
  test('a SQLite writer holding the lock: refused in the preflight, before the safety backup and the files', async () => {
    const dir = tempDir('sqlite-busy')
    const storage = join(dir, 'storage')
    mkdirSync(storage)
    const db = join(storage, 'production.sqlite3')
    sqlite(db, "PRAGMA journal_mode=wal; CREATE TABLE items(name); INSERT INTO items VALUES ('backed up');")
    writeFileSync(join(storage, 'upload.txt'), 'backed up\n')
    const app = writeApp({dir, repo: freshRepo('0.18'), databases: [`  - {name: items, adapter: sqlite, path: ${db}}`], paths: [storage]})
    await backup(app)
    writeFileSync(join(storage, 'upload.txt'), 'changed\n')
    const runsBefore = (await runs(app)).length
    const writer = run(lab().bins.sqlite3, [db], {input: "BEGIN IMMEDIATE; INSERT INTO items VALUES ('in flight');\n.shell sleep 8\nCOMMIT;\n", timeoutMs: 30_000})
    await new Promise((r) => setTimeout(r, 500))
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--json'])
    await writer
    assert.equal(result.code, 1, result.stdout + result.stderr)
    const json = JSON.parse(result.stdout)
    assert.match(json.error, /is locked: another connection is writing to it; nothing was changed/)
    assert.deepEqual(json.steps.map((s: {name: string; status: string}) => `${s.name}:${s.status}`), ['preflight:failed'])
    assert.equal(readFileSync(join(storage, 'upload.txt'), 'utf8'), 'changed\n', 'the files were not replaced')
    assert.equal((await runs(app)).length, runsBefore, 'no safety backup was taken')
    assert.equal(sqlite(db, 'SELECT count(*) FROM items'), '2', 'the writer committed')
  })

  test('a database tool that is not installed: refused before the files are replaced', async () => {
    const dir = tempDir('no-sqlite3')
    mkdirSync(join(dir, 'db'))
    const db = join(dir, 'db', 'app.sqlite3')
    sqlite(db, 'CREATE TABLE t(x);')
    mkdirSync(join(dir, 'storage'))
    writeFileSync(join(dir, 'storage', 'a.txt'), 'backed up\n')
    const app = writeApp({dir, repo: freshRepo('0.18'), databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], paths: [join(dir, 'storage')]})
    await backup(app)
    writeFileSync(join(dir, 'storage', 'a.txt'), 'changed\n')
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup'], {env: {PATH: join(dir, 'empty-bin')}})
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /sqlite3 is not installed .*needed to restore database main; nothing was changed/)
    assert.equal(readFileSync(join(dir, 'storage', 'a.txt'), 'utf8'), 'changed\n')
  })

  test('the image\'s PostgreSQL client for this server without pg_restore: refused before the files are replaced', async () => {
    const {app, pg, files} = await pgApp()
    // A client root like the image's (<root>/<major>/bin), with the real pg_dump and psql but no pg_restore.
    const root = join(app.dir, 'clients')
    const major = lab().postgres.version.split('.')[0]!
    mkdirSync(join(root, major, 'bin'), {recursive: true})
    for (const tool of ['pg_dump', 'psql']) execFileSync('ln', ['-s', join(lab().postgres.binDir, tool), join(root, major, 'bin', tool)])
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup'], {env: {KAMAL_BACKUP_POSTGRES_CLIENT_ROOT: root}})
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, new RegExp(`${join(root, major, 'bin', 'pg_restore')} does not exist: it is needed to restore database main; nothing was changed`))
    assert.equal(readFileSync(join(files, 'a.txt'), 'utf8'), 'changed after the backup\n')
    assert.equal(await userCount(pg), '51')
  })

  test('an image whose only PostgreSQL client is 17 or newer, against an older server: pg_restore would fail on transaction_timeout; refused before the files are replaced', async () => {
    const {app, pg, files} = await pgApp()
    // A client root like the image's with major 17 only (the lab's own tools behind the name: the check is by major).
    const root = join(app.dir, 'clients-17')
    mkdirSync(join(root, '17', 'bin'), {recursive: true})
    for (const tool of ['pg_dump', 'pg_restore', 'psql']) execFileSync('ln', ['-s', join(lab().postgres.binDir, tool), join(root, '17', 'bin', tool)])
    const server = lab().postgres.version.split('.')[0]!
    assert.ok(Number(server) < 17, `the lab server is older than 17 (${server})`)
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup'], {env: {KAMAL_BACKUP_POSTGRES_CLIENT_ROOT: root}})
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, new RegExp(`pg_restore 17 cannot restore database main into PostgreSQL ${server}: .*transaction_timeout.*nothing was changed`))
    assert.equal(readFileSync(join(files, 'a.txt'), 'utf8'), 'changed after the backup\n')
    assert.equal(await userCount(pg), '51')
  })

  test('PostgreSQL: read-only sessions, and schemas or publications this user does not own, are refused before the files change', async () => {
    const {app, pg, files} = await pgApp()
    const refused = async (message: RegExp) => {
      const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup'])
      assert.equal(result.code, 1, result.stderr)
      assert.match(result.stderr, message)
      assert.match(result.stderr, /nothing was changed/)
      assert.equal(readFileSync(join(files, 'a.txt'), 'utf8'), 'changed after the backup\n')
      assert.equal(await userCount(pg), '51')
    }
    await psql('postgres', `ALTER DATABASE "${pg.name}" SET default_transaction_read_only = on;`)
    try {
      await refused(/sessions are read-only \(default_transaction_read_only is on\)/)
    } finally {
      await psql('postgres', `ALTER DATABASE "${pg.name}" RESET default_transaction_read_only;`)
    }
    await psql(pg.name, 'CREATE SCHEMA audit AUTHORIZATION postgres;')
    await refused(/does not own the schema\(s\) audit/)
    await psql(pg.name, 'DROP SCHEMA audit;')
    await psql(pg.name, 'CREATE PUBLICATION pub FOR TABLE users;')
    await refused(/does not own the publication pub/)
  })

  test('a dump this pg_restore cannot read (a newer archive version) is refused before the database is reset', async () => {
    const {app, pg} = await pgApp()
    const dump = pgDump(pg)
    assert.equal(dump.subarray(0, 5).toString('latin1'), 'PGDMP')
    dump[6] = 99 // archive format 1.99: written by a pg_dump from the future
    await storeRun(app, '20300101T000000Z', dump)
    const result = await cli(app, ['restore', 'production', '20300101T000000Z', '--confirm', app.app, '--no-safety-backup', '--database', 'main'])
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /was written by a newer pg_dump \(archive version 1\.99\) than this pg_restore can read.*nothing was changed/)
    assert.equal(await userCount(pg), '51', 'not reset')
  })

  test('a dump tagged as written by a newer pg_dump is read before the reset, and refused', async () => {
    const {app, pg} = await pgApp()
    const dump = pgDump(pg)
    dump[6] = 99
    await storeRun(app, '20300101T000000Z', dump, ['pg_dump:99'])
    const result = await cli(app, ['restore', 'production', '20300101T000000Z', '--confirm', app.app, '--no-safety-backup', '--database', 'main'])
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /was written by a newer pg_dump \(archive version 1\.99\).*nothing was changed/)
    assert.equal(await userCount(pg), '51', 'not reset')
  })

  test('with the image\'s clients, a dump is tagged with its pg_dump major and restored without being read twice', async () => {
    // The clients picked by major, as in the accessory image (KAMAL_BACKUP_POSTGRES_CLIENT_ROOT/<major>/bin).
    const root = dirname(dirname(lab().postgres.binDir))
    const major = lab().postgres.version.split('.')[0]!
    const {app, pg} = await pgApp({KAMAL_BACKUP_POSTGRES_CLIENT_ROOT: root})
    const tags = JSON.parse((await restic('0.18', ['snapshots', '--json', '--tag', 'database:main'], {repo: app.repo})).stdout).flatMap((s: {tags: string[]}) => s.tags)
    assert.ok(tags.includes(`pg_dump:${major}`), tags.join(' '))
    const calls = join(app.dir, 'restic-calls.log')
    const wrapper = join(app.dir, 'restic-wrapper')
    writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nexec '${lab().restic.find((r) => r.version === '0.18')!.bin}' "$@"\n`, {mode: 0o755})
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup', '--database', 'main'], {env: {KAMAL_BACKUP_RESTIC: wrapper, KAMAL_BACKUP_POSTGRES_CLIENT_ROOT: root}})
    assert.equal(result.code, 0, result.stderr)
    assert.equal(await userCount(pg), '50', 'restored')
    const dumps = readFileSync(calls, 'utf8').split('\n').filter((line) => / dump /.test(` ${line} `))
    assert.equal(dumps.length, 1, dumps.join('\n'))
  })

  test('an unwritable file target is refused before any database changes', async () => {
    const {app, pg, files} = await pgApp()
    execFileSync('chattr', ['+i', files])
    try {
      const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup'])
      assert.equal(result.code, 1, result.stderr)
      assert.match(result.stderr, /cannot restore files into .*storage: it must be an existing, writable directory \(EPERM\); nothing was changed/)
    } finally {
      execFileSync('chattr', ['-i', files])
    }
    assert.equal(await userCount(pg), '51')
    assert.equal(readFileSync(join(files, 'a.txt'), 'utf8'), 'changed after the backup\n')
  })
})

describe('a reset behind the app\'s open transaction times out instead of hanging', () => {
  test('PostgreSQL: after the files were replaced, the error says where production stands, and the undo command works', async () => {
    const {app, pg, files} = await pgApp()
    // The app, idle in a transaction that has read users: DROP SCHEMA ... CASCADE would wait for it forever.
    const holder = run(lab().bins.psql, ['-X', '-q', '-h', pg.host, '-p', String(pg.port), '-U', pg.user, pg.name], {env: {PGPASSWORD: pg.password}, input: 'BEGIN;\nSELECT count(*) FROM users;\n\\! sleep 12\nCOMMIT;\n', timeoutMs: 60_000})
    await new Promise((r) => setTimeout(r, 700))
    const started = Date.now()
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--json'], {env: {KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT: '2'}})
    assert.ok(Date.now() - started < 60_000)
    assert.equal(result.code, 1, result.stdout + result.stderr)
    const json = JSON.parse(result.stdout)
    assertMatchesSchema('restore.schema.json', json)
    assert.match(json.error, /database main is in use: another connection \(the app\?\) holds locks on its tables, and the reset gave up after waiting 2 s; nothing was dropped/)
    assert.match(json.suggestions.join('\n'), /kamal app stop/)
    assert.match(json.suggestions[0], /files .*storage: restored from the backup; database main \(.*\): unchanged/)
    const undo = json.safety_backup.undo_command as string
    assert.ok(json.suggestions.includes(`to go back to the state before this restore: ${undo}`), json.suggestions.join('\n'))
    assert.deepEqual(json.changes.map((c: {part: string; state: string}) => `${c.part}=${c.state}`), [`files:${files}=restored`, 'database:main=unchanged'])
    assert.equal(readFileSync(join(files, 'a.txt'), 'utf8'), 'backed up\n')
    assert.equal(await userCount(pg), '51', 'nothing was dropped')
    await holder
    // The record on disk says the same.
    const stored = readJson(join(app.state, 'last_restore.json'))
    assertMatchesSchema('restore.schema.json', stored)
    assert.equal(stored.status, 'failed')
    assert.deepEqual(stored.changes, json.changes)
    // Undo: the printed command, as printed.
    const args = undo.split(' ').slice(1)
    const undone = await kb(args, {cwd: app.dir, env: app.env})
    assert.equal(undone.code, 0, undone.stdout + undone.stderr)
    assert.equal(readFileSync(join(files, 'a.txt'), 'utf8'), 'changed after the backup\n')
    assert.equal(await userCount(pg), '51')
  })

  test('MariaDB: the LOCK TABLES probe times out before anything is dropped', async () => {
    const my = await createMariaDatabase()
    await mariadb(my.name, 'CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(50)); INSERT INTO users VALUES (1, "a"), (2, "b"); CREATE VIEW v AS SELECT id FROM users;')
    const app = writeApp({repo: freshRepo('0.18'), databases: [`  - {name: main, adapter: mysql, url: "mysql://${my.user}@${my.host}:${my.port}/${my.name}", password: {secret: MY_PW}}`], paths: []})
    await backup(app)
    await mariadb(my.name, 'INSERT INTO users VALUES (3, "after");')
    const holder = run(lab().bins.mariadb, ['--no-defaults', '-h', my.host, '-P', String(my.port), '-u', my.user, my.name], {env: {MYSQL_PWD: my.password}, input: 'START TRANSACTION; SELECT COUNT(*) FROM users; SELECT SLEEP(12); COMMIT;\n', timeoutMs: 60_000})
    await new Promise((r) => setTimeout(r, 700))
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup'], {env: {KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT: '2'}})
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /database main is in use: .* 2 s; nothing was dropped/)
    await holder
    assert.equal(await mariadb(my.name, 'SELECT COUNT(*) FROM users;'), '3')
    assert.equal(await mariadb(my.name, `SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE();`), '1', 'the view is still there')
    await mariadb('', `DROP DATABASE \`${my.name}\`;`)
  })
})

describe('paths the sqlite3 shell cannot take as they are', () => {
  test('a SQLite database in a directory with quotes and a backslash restores, files and all (it once failed after the files were replaced)', async () => {
    const dir = tempDir('quoted')
    const home = join(dir, `it's "quoted" \\ here`)
    const storage = join(dir, 'storage')
    mkdirSync(home)
    mkdirSync(storage)
    const db = join(home, 'production.sqlite3')
    sqlite(db, "CREATE TABLE items(name); INSERT INTO items VALUES ('backed up');")
    writeFileSync(join(storage, 'upload.txt'), 'backed up\n')
    const app = writeApp({dir, repo: freshRepo('0.18'), databases: [`  - {name: items, adapter: sqlite, path: ${JSON.stringify(db)}}`], paths: [storage]})
    await backup(app)
    sqlite(db, "INSERT INTO items VALUES ('after the backup');")
    writeFileSync(join(storage, 'upload.txt'), 'changed\n')
    const result = await cli(app, ['restore', 'production', '--confirm', app.app])
    assert.equal(result.code, 0, result.stdout + result.stderr)
    assert.equal(sqlite(db, 'SELECT count(*) FROM items'), '1')
    assert.equal(readFileSync(join(storage, 'upload.txt'), 'utf8'), 'backed up\n')
    assert.deepEqual(readdirSync(home).filter((f) => f.includes('kamal-backup')), [], 'no staged copy left beside it')
  })
})

describe('a restore whose verification fails', () => {
  test('tables of the dump missing after the restore: failed (exit 1), named, recorded, with the undo command, which works', async () => {
    const dir = tempDir('unverified')
    const storage = join(dir, 'storage')
    mkdirSync(storage)
    const db = join(storage, 'production.sqlite3')
    sqlite(db, "CREATE TABLE items(name); INSERT INTO items VALUES ('backed up'); CREATE TABLE audit(what); INSERT INTO audit VALUES ('kept');")
    const app = writeApp({dir, repo: freshRepo('0.18'), databases: [`  - {name: items, adapter: sqlite, path: ${db}}`], paths: []})
    await backup(app)
    sqlite(db, "INSERT INTO items VALUES ('after the backup');")
    // A stand-in for whatever removes a table while a restore runs (a migration, an app process): sqlite3 on PATH
    // runs the real one, and after applying a restore to the target drops the table audit there.
    const bin = join(dir, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'sqlite3'), `#!/bin/bash\n'${lab().bins.sqlite3}' "$@"; rc=$?\nif [[ $rc == 0 && "\${@: -1}" == .restore* ]]; then '${lab().bins.sqlite3}' "$2" 'DROP TABLE audit;'; fi\nexit $rc\n`, {mode: 0o755})
    const result = await cli(app, ['restore', 'production', '--confirm', app.app], {env: {PATH: `${bin}:${process.env.PATH}`}})
    assert.equal(result.code, 1, result.stdout + result.stderr)
    assert.match(result.stderr, /the restore finished, but its verification failed: database items is missing tables: audit/)
    const record = readJson(join(app.state, 'last_restore.json'))
    assert.equal(record.status, 'failed')
    assert.deepEqual(record.databases[0].missing_tables, ['audit'])
    const undo = /to go back to the state before this restore: (kamal-backup restore production \S+ --confirm \S+ --local --backup-config \S+)/.exec(result.stderr)
    assert.ok(undo, result.stderr)
    const undone = await kb(undo[1]!.split(' ').slice(1), {cwd: app.dir, env: app.env})
    assert.equal(undone.code, 0, undone.stdout + undone.stderr)
    assert.equal(sqlite(db, 'SELECT count(*) FROM audit'), '1', 'the undo brought the table back')
    assert.equal(sqlite(db, 'SELECT count(*) FROM items'), '2', 'and the rows written after the backup')
  })
})

describe('a failure inside pg_restore', () => {
  test('fails the restore; the database is reported partly restored, with the undo command, which brings it back', async () => {
    const {app, pg} = await pgApp()
    // A dump whose table of contents is intact but whose data is cut short: pg_restore fails half-way.
    const dump = pgDump(pg)
    await storeRun(app, '20300101T000000Z', dump.subarray(0, dump.length - 200))
    const result = await cli(app, ['restore', 'production', '20300101T000000Z', '--confirm', app.app, '--database', 'main'])
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /restoring failed \(exit 1\)/)
    assert.match(result.stderr, /database main \(.*\): PARTLY restored \(it was reset, and the dump was being loaded/)
    // Every database, no files: what this restore touched, and only that.
    const undo = /to go back to the state before this restore: (kamal-backup restore production \S+ --confirm \S+ --local --backup-config \S+ --no-files)/.exec(result.stderr)
    assert.ok(undo, result.stderr)
    const undone = await kb(undo[1]!.split(' ').slice(1), {cwd: app.dir, env: app.env})
    assert.equal(undone.code, 0, undone.stdout + undone.stderr)
    assert.equal(await userCount(pg), '51', 'the data from before the restore, as the safety backup took it')
  })

  test('a publication in the database no longer breaks the restore (the reset drops it; the dump creates it again)', async () => {
    const {app, pg} = await pgApp()
    await psql(pg.name, 'CREATE PUBLICATION pub FOR TABLE users;', {as: 'app'})
    await backup(app)
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup', '--database', 'main'])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(await psql(pg.name, 'SELECT pubname FROM pg_publication', {as: 'app'}), 'pub')
  })
})

describe('several paths', () => {
  test('every path is staged before any is replaced: Ctrl-C while the second downloads leaves the first untouched, and the record says so', async () => {
    const dir = tempDir('two-paths')
    const small = join(dir, 'small')
    const big = join(dir, 'big')
    mkdirSync(small)
    mkdirSync(big)
    writeFileSync(join(small, 'a.txt'), 'backed up\n')
    execFileSync('sh', ['-c', `head -c 200000000 /dev/urandom > ${join(big, 'big.bin')}`])
    const app = writeApp({dir, repo: freshRepo('0.18'), databases: [], paths: [small, big]})
    await backup(app)
    writeFileSync(join(small, 'a.txt'), 'changed\n')
    const {spawn} = await import('node:child_process')
    const {BIN} = await import('../../support/cli.ts')
    const child = spawn(process.execPath, [BIN, 'restore', 'production', '--confirm', app.app, '--no-safety-backup', '--local', '--backup-config', app.config], {cwd: dir, env: {...process.env, ...app.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    let sent = false
    child.stdout.resume()
    child.stderr.on('data', (d) => {
      stderr += d
      if (!sent && stderr.includes(`download ${big}`)) {
        sent = true
        setTimeout(() => child.kill('SIGINT'), 300)
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    clearTimeout(timer)
    assert.ok(sent, stderr)
    assert.equal(code, 130, stderr)
    assert.equal(readFileSync(join(small, 'a.txt'), 'utf8'), 'changed\n', 'the first path was staged, not replaced')
    assert.deepEqual(readdirSync(small), ['a.txt'], 'and its staging directory is gone')
    const record = readJson(join(app.state, 'last_restore.json'))
    assertMatchesSchema('restore.schema.json', record)
    assert.equal(record.status, 'failed')
    assert.equal(record.error, 'interrupted')
    assert.deepEqual(record.changes.map((c: {state: string}) => c.state), ['unchanged', 'unchanged'])
    assert.deepEqual(record.steps.map((s: {name: string; status: string}) => `${s.name}:${s.status}`), ['preflight:ok', `stage:${small}:ok`, `stage:${big}:failed`])
  })
})
