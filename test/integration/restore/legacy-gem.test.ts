// A repository written by the Ruby gem (crmne/kamal-backup), made here with real restic and the gem's argv as
// ../shared/reference/anchor-kamal-backup.md §4 records it: host <app>-backup, tags kamal-backup, app:, type:,
// database:, adapter:, path:, no run: tag; dumps under databases/<app>/<db>/<adapter>.<ext> (restic 0.14, as the
// gem ran before --stdin-from-command; restic 0.18.0 cannot make directories for --stdin-filename), and the 0.2
// layout (databases/<app>/<adapter>/..., no database: tag). Then list, restore production and drill production
// read it as they read ours, and retention keeps the newest of it.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {createPostgresDatabase, dropPostgresDatabase, freshRepo, lab, psql, resticBin, run, tempDir, uniqueName, type TestDatabase} from '../../support/lab.ts'
import {kb} from '../../support/cli.ts'
import {backup, cli, runs, sqlite, writeApp, type App} from './support.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('a repository the Ruby gem wrote', {concurrency: false}, () => {
  let app: App
  let pg: TestDatabase
  let data: string
  let db: string
  let host: string

  /** `restic backup` as the gem runs it (restic 0.14), with the dump on stdin. */
  async function gemBackup(args: string[], input?: Buffer) {
    const result = await run(resticBin('0.14'), ['-r', app.repo, '--no-cache', 'backup', '--host', host, ...args], {env: {RESTIC_PASSWORD: lab().resticPassword}, ...(input && {input}), timeoutMs: 120_000})
    assert.equal(result.code, 0, result.stderr)
  }
  const tags = (...more: string[]) => ['kamal-backup', `app:${app.app}`, ...more].flatMap((t) => ['--tag', t])

  /** One scheduled run of the gem: the databases in config order, then the files. */
  async function gemRun(options: {layout: 'current' | '0.2'}) {
    const dump = execFileSync(join(lab().postgres.binDir, 'pg_dump'), ['--format=custom', '--no-owner', '--no-privileges'], {env: {...process.env, PGHOST: lab().postgres.host, PGPORT: String(lab().postgres.port), PGUSER: lab().postgres.appUser, PGPASSWORD: lab().postgres.appPassword, PGDATABASE: pg.name}, maxBuffer: 64 << 20})
    const pgFile = options.layout === 'current' ? `databases/${app.app}/main/postgres.pgdump` : `databases/${app.app}/postgres/${app.app}-20250101.pgdump`
    await gemBackup(['--stdin', '--stdin-filename', pgFile, ...tags('type:database', ...(options.layout === 'current' ? ['database:main'] : []), 'adapter:postgres')], dump)
    const copy = join(tempDir('gem-sqlite'), 'copy.sqlite3')
    sqlite(db, `.backup '${copy}'`)
    await gemBackup(['--stdin', '--stdin-filename', options.layout === 'current' ? `databases/${app.app}/primary/sqlite.sqlite3` : `databases/${app.app}/sqlite/${app.app}.sqlite3`, ...tags('type:database', ...(options.layout === 'current' ? ['database:primary'] : []), 'adapter:sqlite')], readFileSync(copy))
    await gemBackup([join(data, 'storage'), ...tags('type:files', `path:${join(data, 'storage').replace(/^\/+/, '').replace(/[^A-Za-z0-9_.-]+/g, '-')}`)])
  }

  before(async () => {
    pg = await createPostgresDatabase()
    await psql(pg.name, "CREATE TABLE notes (id serial PRIMARY KEY, body text); INSERT INTO notes(body) SELECT 'gem ' || g FROM generate_series(1, 50) g;", {as: 'app'})
    data = tempDir('gem-data')
    mkdirSync(join(data, 'storage', 'uploads'), {recursive: true})
    db = join(data, 'storage', 'production.sqlite3')
    sqlite(db, "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items(name) VALUES ('one'), ('two');")
    writeFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'from the gem\n')
    app = writeApp({
      repo: freshRepo('0.14'),
      version: '0.18',
      databases: [`  - {name: main, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`, `  - {name: primary, adapter: sqlite, path: ${db}}`],
      paths: [join(data, 'storage')],
    })
    host = `${app.app}-backup`
  })
  after(async () => {
    if (pg) await dropPostgresDatabase(pg.name).catch(() => {})
  })

  let older = ''
  let newer = ''

  test('list: the gem\'s runs, grouped by host and order, shown as legacy and complete (0.2 layout too)', async () => {
    await gemRun({layout: '0.2'})
    await sleep(1100) // run ids have 1 s resolution
    await psql(pg.name, "INSERT INTO notes(body) VALUES ('second run');", {as: 'app'})
    await gemRun({layout: 'current'})
    const listed = await cli(app, ['list', '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    const doc = JSON.parse(listed.stdout)
    assertMatchesSchema('list.schema.json', doc)
    assert.equal(doc.length, 2, listed.stdout)
    assert.ok(doc.every((r: {legacy: boolean; complete: boolean; snapshots: unknown[]}) => r.legacy && r.complete && r.snapshots.length === 3), listed.stdout)
    ;[newer, older] = doc.map((r: {id: string}) => r.id)
    // The accessory may still carry the gem's environment: each variable only it read is named, with its key.
    const text = await cli(app, ['list'], {env: {BACKUP_SCHEDULE_SECONDS: '3600', RESTIC_KEEP_DAILY: '14'}})
    assert.match(text.stdout, new RegExp(`${newer} .*\\[legacy\\]`))
    assert.match(text.stderr, /BACKUP_SCHEDULE_SECONDS is set, but only the Ruby gem read it: kamal-backup ignores it; set backup\.schedule in /)
    assert.match(text.stderr, /RESTIC_KEEP_DAILY is set, .* set restic\.retention\.keep_daily in /)
  })

  test('restore production restores the latest legacy run: both databases and the files', async () => {
    await psql(pg.name, 'DELETE FROM notes;', {as: 'app'})
    sqlite(db, 'DELETE FROM items;')
    writeFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'changed\n')
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup', '--json'])
    assert.equal(result.code, 0, result.stdout + result.stderr)
    assert.equal(JSON.parse(result.stdout).run_id, newer)
    assert.equal(await psql(pg.name, 'SELECT count(*) FROM notes;', {as: 'app'}), '51')
    assert.equal(sqlite(db, 'SELECT count(*) FROM items;'), '2')
    assert.equal(readFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'utf8'), 'from the gem\n')
  })

  test('drill production of the older run (the 0.2 layout): restored into scratch targets and verified', async () => {
    const scratch = tempDir('gem-drill')
    const scratchDb = `${pg.name}_drill`
    try {
      const result = await cli(app, ['drill', 'production', older, '--yes', '--json', '--database', scratchDb, '--sqlite-path', join(scratch, 'drill.sqlite3'), '--files', join(scratch, 'files')])
      assert.equal(result.code, 0, result.stdout + result.stderr)
      const record = JSON.parse(result.stdout)
      assert.equal(record.status, 'ok')
      assert.equal(record.run_id, older)
      assert.equal(await psql(scratchDb, 'SELECT count(*) FROM notes;', {as: 'app'}), '50', 'the older run has the first 50 notes')
    } finally {
      await psql('postgres', `DROP DATABASE IF EXISTS "${scratchDb}" WITH (FORCE);`).catch(() => {})
    }
  })

  test('restore local and drill local from a checkout whose kamal-backup.local.yml is the gem\'s, migrated first', async () => {
    const dev = await createPostgresDatabase(`${uniqueName('kbt')}_development`)
    try {
      const checkout = tempDir('gem-checkout')
      // A Rails checkout: config/, and storage/ and tmp/ that exist.
      for (const dir of ['config', 'storage', 'tmp']) mkdirSync(join(checkout, dir))
      writeFileSync(join(checkout, 'config', 'kamal-backup.yml'), readFileSync(app.config, 'utf8'))
      // The gem's local file: adapters repeated, database: for the SQLite file, restore_from paired with plain paths.
      writeFileSync(join(checkout, 'config', 'kamal-backup.local.yml'), [
        '# my laptop',
        'databases:',
        `  - {name: main, adapter: postgres, url: "${dev.url}", password: {secret: PG_PW}}`,
        '  - name: primary',
        '    adapter: sqlite',
        '    database: tmp/dev.sqlite3',
        'restore_from:',
        `  - ${join(data, 'storage')}`,
        'paths:',
        '  - storage',
        '',
      ].join('\n'))
      const env = {...app.env, RAILS_ENV: '', RACK_ENV: ''}
      const refused = await kb(['restore', 'local', '--yes'], {cwd: checkout, env})
      assert.equal(refused.code, 1, 'the gem\'s local file is not read as it is')
      assert.match(refused.stdout + refused.stderr, /config\/gem-format|the Ruby gem's format/)
      const migrated = await kb(['migrate', '--write'], {cwd: checkout, env})
      assert.equal(migrated.code, 0, migrated.stderr)
      const restored = await kb(['restore', 'local', '--yes', '--json'], {cwd: checkout, env})
      assert.equal(restored.code, 0, restored.stdout + restored.stderr)
      assert.equal(JSON.parse(restored.stdout).run_id, newer, 'the latest complete run is the gem\'s newer one')
      assert.equal(await psql(dev.name, 'SELECT count(*) FROM notes;', {as: 'app'}), '51')
      assert.equal(sqlite(join(checkout, 'tmp', 'dev.sqlite3'), 'SELECT count(*) FROM items;'), '2')
      assert.equal(readFileSync(join(checkout, 'storage', 'uploads', 'a.txt'), 'utf8'), 'from the gem\n')
      const drilled = await kb(['drill', 'local', older, '--yes', '--json'], {cwd: checkout, env})
      assert.equal(drilled.code, 0, drilled.stdout + drilled.stderr)
      assert.equal(JSON.parse(drilled.stdout).status, 'ok')
      assert.equal(await psql(dev.name, 'SELECT count(*) FROM notes;', {as: 'app'}), '50', 'the older run, into the development targets')
    } finally {
      await dropPostgresDatabase(dev.name).catch(() => {})
    }
  })

  test('after switching: our run is latest; retention thins the gem\'s snapshots as their own group and keeps its newest run', async () => {
    const ours = await backup(app)
    const all = await runs(app)
    assert.equal(all[0]!.id, ours)
    const prune = await cli(app, ['prune'])
    assert.equal(prune.code, 0, prune.stdout + prune.stderr)
    writeFileSync(app.config, readFileSync(app.config, 'utf8').replace('retention: {keep_last: 20}', 'retention: {keep_last: 1}'))
    const thin = await cli(app, ['prune'])
    assert.equal(thin.code, 0, thin.stdout + thin.stderr)
    const left = (await runs(app)) as unknown as {id: string; legacy: boolean; complete: boolean; missing: string[]}[]
    // Retention groups by host and path: the gem's snapshots (host <app>-backup) never count against ours, and the
    // newest of each of their paths stays. The 0.2 layout's dumps have paths of their own, so they stay too; its
    // files snapshot shares its path with the newer run's and goes, as keep_last 1 says.
    assert.deepEqual(left.map((r) => [r.id, r.legacy, r.complete, r.missing]), [[ours, false, true, []], [newer, true, true, []], [older, true, false, ['files']]], JSON.stringify(left, null, 2))
  })
})
