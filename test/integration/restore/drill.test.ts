// Drills against the real lab: a production drill into scratch targets (PostgreSQL scratch database, SQLite
// scratch file, scratch files directory) with the operator's check, and a local drill from an app checkout into
// development targets. Every record is validated against schemas/output/drill.schema.json, and checked for the
// things a security review reads: status, operator, run, timings, verification, and no secrets.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, kb, kbJson} from '../../support/cli.ts'
import {createPostgresDatabase, dropPostgresDatabase, freshRepo, lab, psql, resticBin, tempDir, uniqueName, type TestDatabase} from '../../support/lab.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'

const sqlite = (path: string, sql: string) => execFileSync(lab().bins.sqlite3, [path, sql], {encoding: 'utf8'}).trim()

function secretsIn(text: string): string[] {
  return [lab().resticPassword, lab().postgres.appPassword].filter((s) => text.includes(s))
}

describe('drill production', {concurrency: false}, () => {
  let pg: TestDatabase
  let dir: string
  let config: string
  let state: string
  let filesDir: string
  let sqlitePath: string
  let scratch: string
  let env: Record<string, string>
  const app = uniqueName('drill')
  const cli = (args: string[], extraEnv: Record<string, string> = {}) => kb([...args, '--local', '--backup-config', config], {cwd: dir, env: {...env, ...extraEnv}})

  before(async () => {
    pg = await createPostgresDatabase()
    await psql(pg.name, `CREATE TABLE users (id serial PRIMARY KEY, email text); INSERT INTO users(email) SELECT 'u' || g FROM generate_series(1, 500) g; CREATE TABLE posts (id int);`, {as: 'app'})
    dir = tempDir('drill')
    filesDir = join(dir, 'storage')
    mkdirSync(join(filesDir, 'blobs'), {recursive: true})
    writeFileSync(join(filesDir, 'blobs', 'one.bin'), Buffer.alloc(12_345, 1))
    writeFileSync(join(filesDir, 'two.txt'), 'two\n')
    // The live SQLite database in a directory of its own: a scratch directory may not be inside it.
    mkdirSync(join(dir, 'db'))
    sqlitePath = join(dir, 'db', 'queue.sqlite3')
    sqlite(sqlitePath, 'CREATE TABLE jobs(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO jobs(name) VALUES (\'a\'), (\'b\');')
    state = join(dir, 'state')
    config = join(dir, 'kamal-backup.yml')
    scratch = `${pg.name}_scratch`
    writeFileSync(config, [
      `app: ${app}`,
      'databases:',
      `  - {name: main, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`,
      `  - {name: queue, adapter: sqlite, path: ${sqlitePath}}`,
      'paths:',
      `  - ${filesDir}`,
      'restic:',
      `  repository: ${freshRepo('0.14')}`,
      '  password: {secret: RESTIC_PASSWORD}',
      '  retention: {keep_last: 5}',
      `state: {path: ${state}}`,
      'drill: {check_env: [RAILS_ENV]}',
    ].join('\n') + '\n')
    env = {RESTIC_PASSWORD: lab().resticPassword, PG_PW: lab().postgres.appPassword, KAMAL_BACKUP_RESTIC: resticBin('0.14'), KAMAL_BACKUP_OPERATOR: 'alice@laptop'}
    const backup = await cli(['backup', '--force'])
    assert.equal(backup.code, 0, backup.stdout + backup.stderr)
  })

  after(async () => {
    await dropPostgresDatabase(pg.name).catch(() => {})
    await dropPostgresDatabase(scratch).catch(() => {})
  })

  test('--dry-run: the run, the scratch targets and the checks a drill runs first (the dump\'s table of contents read); nothing created, nothing recorded', async () => {
    const scratchFiles = join(dir, 'dry-run-files')
    const scratchSqlite = join(dir, 'dry-run.sqlite3')
    const args = ['drill', 'production', '--database', scratch, '--sqlite-path', scratchSqlite, '--files', scratchFiles, '--check', 'exit 1', '--dry-run']
    const text = await cli(args)
    assert.equal(text.code, 0, text.stdout + text.stderr)
    assert.match(text.stdout, /✔ dry run: drill production could proceed now; nothing was changed/)
    assert.match(text.stdout, new RegExp(`database main → 127\\.0\\.0\\.1:\\d+/${scratch}\n`))
    assert.ok(text.stdout.includes(`files    ${filesDir} → ${scratchFiles} (a scratch directory, emptied first)`), text.stdout)
    assert.doesNotMatch(text.stdout, /safety/)
    assert.match(text.stdout, /ok +database main: pg_restore reads the dump \(its table of contents lists 2 tables\)/)
    assert.match(text.stdout, /not checked by a dry run: .*the --check command is not run/)
    const json = await cli([...args, '--json'])
    assert.equal(json.code, 0, json.stderr)
    const plan = JSON.parse(json.stdout)
    assertMatchesSchema('restore-plan.schema.json', plan)
    assert.equal(plan.kind, 'drill-plan')
    assert.equal(plan.scope, 'production')
    assert.equal(plan.status, 'ok')
    assert.equal(plan.safety_backup, false)
    assert.deepEqual(plan.targets.databases.map((d: {name: string}) => d.name), ['main', 'queue'])
    assert.deepEqual(plan.targets.files, [{from: filesDir, to: scratchFiles}])
    assert.ok(plan.checks.length >= 6 && plan.checks.every((c: {status: string}) => c.status === 'ok'), JSON.stringify(plan.checks))
    assert.equal(existsSync(scratchFiles), false, 'the scratch directory is not created')
    assert.equal(existsSync(scratchSqlite), false)
    assert.equal(await psql('postgres', `SELECT count(*) FROM pg_database WHERE datname = '${scratch}'`), '0', 'the scratch database is not created')
    assert.equal(existsSync(join(state, 'last_restore_drill.json')), false, 'no drill record')
    assert.equal(existsSync(join(state, 'drills.jsonl')), false)
    assert.deepEqual(secretsIn(text.stdout + text.stderr + json.stdout + json.stderr), [])
  })

  test('--dry-run with a scratch PostgreSQL database the user may not create (no CREATEDB): that check fails, exit 1, nothing created', async () => {
    const role = uniqueName('kbnocreate')
    const password = `pw-${uniqueName('x')}`
    await psql('postgres', `CREATE ROLE "${role}" LOGIN NOCREATEDB PASSWORD '${password}';`)
    const other = join(dir, 'nocreatedb.yml')
    try {
      writeFileSync(other, readFileSync(config, 'utf8').replace(pg.url, pg.url.replace(`${lab().postgres.appUser}@`, `${role}@`)).replace('{secret: PG_PW}', '{secret: NOCREATE_PW}'))
      const missing = `${pg.name}_nocreate`
      const r = await kb(['drill', 'production', '--database', missing, '--only-database', 'main', '--dry-run', '--json', '--local', '--backup-config', other], {cwd: dir, env: {...env, NOCREATE_PW: password}})
      assert.equal(r.code, 1, r.stdout + r.stderr)
      const plan = JSON.parse(r.stdout)
      assertMatchesSchema('restore-plan.schema.json', plan)
      assert.equal(plan.status, 'failed')
      assert.match(plan.error, /may not create databases \(no CREATEDB\); nothing was changed/)
      assert.equal(plan.checks.at(-1).status, 'failed')
      assert.equal(await psql('postgres', `SELECT count(*) FROM pg_database WHERE datname = '${missing}'`), '0')
      assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), 'the password is not shown')
    } finally {
      await psql('postgres', `DROP ROLE IF EXISTS "${role}";`)
    }
  })

  test('restores into scratch targets, verifies, runs the check, and records the drill', async () => {
    // The scratch directory of an earlier drill (it carries the drill's marker), with a stale file left in it.
    const scratchFiles = join(dir, 'drill-files')
    mkdirSync(scratchFiles, {recursive: true})
    writeFileSync(join(scratchFiles, '.kamal-backup-drill'), 'created by kamal-backup drill production\n')
    writeFileSync(join(scratchFiles, 'stale.txt'), 'a stale file must never make a drill pass\n')
    const check = `${lab().bins.psql} "$KAMAL_BACKUP_DRILL_MAIN_URL" -Atc 'SELECT count(*) FROM users'; echo "files in $KAMAL_BACKUP_DRILL_FILES"; echo "pw=$RESTIC_PASSWORD"; echo "database_url=[$DATABASE_URL] main=[$MAIN_DATABASE_URL] queue=[$QUEUE_DATABASE_URL]"`
    // Production's own DATABASE_URL is in the environment (as in the accessory): the check must never see it.
    const result = await cli(['drill', 'production', '--database', scratch, '--sqlite-path', join(dir, 'drill.sqlite3'), '--files', scratchFiles, '--check', check, '--yes', '--json'], {DATABASE_URL: pg.url, QUEUE_DATABASE_URL: `sqlite3:${sqlitePath}`})
    assert.equal(result.code, 0, result.stdout + result.stderr)
    const record = JSON.parse(result.stdout)
    assertMatchesSchema('drill.schema.json', record)
    assert.equal(record.status, 'ok')
    assert.equal(record.scope, 'production')
    assert.equal(record.operator, 'alice@laptop')
    assert.equal(record.verification.passed, true)
    assert.deepEqual(record.databases.map((d: {name: string; missing_tables: string[]}) => [d.name, d.missing_tables]), [['main', []], ['queue', []]])
    assert.deepEqual(record.databases.find((d: {name: string}) => d.name === 'main').tables_restored, ['public.posts', 'public.users'])
    assert.equal(record.files[0].files, 2)
    assert.equal(record.files[0].bytes, 12_345 + 4)
    assert.equal(record.files[0].expected_bytes, record.files[0].bytes)
    assert.ok(record.duration_ms > 0 && record.steps.every((s: {duration_ms: number | null}) => s.duration_ms !== null))
    assert.match(record.verification.check.output, /^500$/m, 'the check ran against the scratch database')
    // Two databases, none named primary: no DATABASE_URL at all; one variable per database, each the scratch one.
    assert.match(record.verification.check.output, new RegExp(`^database_url=\\[\\] main=\\[postgres://.*@127\\.0\\.0\\.1:${lab().postgres.port}/${scratch}\\] queue=\\[sqlite3:${join(dir, 'drill.sqlite3')}\\]$`, 'm'))
    assert.deepEqual(secretsIn(result.stdout + result.stderr), [], 'no secret in the output (the check printed one)')

    assert.equal(await psql(scratch, 'SELECT count(*) FROM users', {as: 'app'}), '500')
    assert.equal(await psql(pg.name, 'SELECT count(*) FROM users', {as: 'app'}), '500', 'the source is untouched')
    assert.equal(sqlite(join(dir, 'drill.sqlite3'), 'SELECT count(*) FROM jobs'), '2')
    assert.deepEqual(readdirSync(scratchFiles).sort(), ['.kamal-backup-drill', 'blobs', 'two.txt'], 'the stale file is gone, the marker stays')

    const stored = JSON.parse(readFileSync(join(state, 'last_restore_drill.json'), 'utf8'))
    assertMatchesSchema('drill.schema.json', stored)
    assert.equal(stored.run_id, record.run_id)
    assert.deepEqual(secretsIn(readFileSync(join(state, 'last_restore_drill.json'), 'utf8') + readFileSync(join(state, 'drills.jsonl'), 'utf8')), [])
  })

  test('the check gets a clean environment: no credential of this process, and a bare psql cannot reach production', async () => {
    const envFile = join(dir, 'check-env.txt')
    // As in an accessory: production's libpq and MySQL variables, cloud keys and the repository password are set.
    const production = {PGHOST: '127.0.0.1', PGPORT: String(lab().postgres.port), PGUSER: lab().postgres.appUser, PGPASSWORD: lab().postgres.appPassword, PGDATABASE: pg.name, MYSQL_PWD: 'mysql-secret-value', AWS_SECRET_ACCESS_KEY: 'aws-secret-value', RAILS_ENV: 'production'}
    const check = `env > ${envFile}; ${lab().bins.psql} -Atc 'SELECT count(*) FROM users'`
    const result = await cli(['drill', 'production', '--database', scratch, '--sqlite-path', join(dir, 'drill.sqlite3'), '--skip-files', '--check', check, '--yes', '--json'], production)
    const seen = readFileSync(envFile, 'utf8')
    const names = seen.split('\n').map((line) => line.split('=')[0])
    for (const name of ['RESTIC_PASSWORD', 'PG_PW', 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'MYSQL_PWD', 'AWS_SECRET_ACCESS_KEY', 'KAMAL_BACKUP_RESTIC']) assert.ok(!names.includes(name), `the check saw ${name}`)
    for (const value of [lab().resticPassword, 'mysql-secret-value', 'aws-secret-value']) assert.ok(!seen.includes(value), 'a secret value reached the check')
    assert.ok(names.includes('PATH') && names.includes('KAMAL_BACKUP_DRILL_MAIN_URL') && names.includes('MAIN_DATABASE_URL'), seen)
    assert.match(seen, /^RAILS_ENV=production$/m, 'drill.check_env passes RAILS_ENV through')
    // psql with no connection arguments has nothing of production's to go on: it fails, and so does the drill.
    assert.equal(result.code, 1, result.stdout + result.stderr)
    const record = JSON.parse(result.stdout)
    assert.notEqual(record.verification.check.exit_code, 0)
    assert.doesNotMatch(record.verification.check.output, /^500$/m, 'the check never counted production\'s users')
  })

  test('a failing check fails the drill (exit 1), which is still printed and recorded', async () => {
    const historyBefore = readFileSync(join(state, 'drills.jsonl'), 'utf8').trim().split('\n').length
    const result = await cli(['drill', 'production', '--database', scratch, '--sqlite-path', join(dir, 'drill.sqlite3'), '--skip-files', '--check', 'echo nope; exit 3', '--yes', '--json'])
    assert.equal(result.code, 1, result.stdout + result.stderr)
    const record = JSON.parse(result.stdout)
    assertMatchesSchema('drill.schema.json', record)
    assert.equal(record.status, 'failed')
    assert.equal(record.verification.check.exit_code, 3)
    assert.match(record.error, /check command exited with 3/)
    const history = readFileSync(join(state, 'drills.jsonl'), 'utf8').trim().split('\n')
    assert.equal(history.length, historyBefore + 1)
    assert.equal(JSON.parse(history.at(-1)!).status, 'failed')
    const evidence = await kbJson(['evidence', '--local', '--backup-config', config], {cwd: dir, env})
    assert.equal(evidence.json.last_restore_drill.status, 'failed')
    assert.deepEqual([evidence.json.restore_drills.count, evidence.json.restore_drills.ok, evidence.json.restore_drills.failed], [historyBefore + 1, 1, historyBefore])
    // The progress line says the check failed (it once said "done").
    const text = await cli(['drill', 'production', '--database', scratch, '--sqlite-path', join(dir, 'drill.sqlite3'), '--skip-files', '--check', 'echo nope; exit 3', '--yes'])
    assert.equal(text.code, 1)
    assert.match(text.stderr, /check: echo nope; exit 3: failed \(/)
    // drill.check_env names RAILS_ENV, which this environment does not set: said, not silently dropped.
    assert.match(text.stderr, /drill\.check_env names RAILS_ENV, which is not set here: the check runs without it/)
    assert.doesNotMatch(text.stderr + text.stdout, /check: echo nope; exit 3: done/)
  })

  test('a scratch target that is a live source, looks like production, or overlaps live files is refused (exit 2) and not recorded', async () => {
    const historyBefore = readFileSync(join(state, 'drills.jsonl'), 'utf8')
    const cases: [string[], RegExp][] = [
      [['--database', pg.name, '--sqlite-path', join(dir, 'x.sqlite3')], /is a configured source database/],
      [['--database', 'prod_copy', '--sqlite-path', join(dir, 'x.sqlite3')], /looks like a production database/],
      [['--database', scratch, '--sqlite-path', sqlitePath], /is a configured source database/],
      [['--database', scratch, '--sqlite-path', join(dir, 'x.sqlite3'), '--files', join(filesDir, 'blobs')], /is inside the backed-up path/],
      [['--sqlite-path', join(dir, 'x.sqlite3')], /needs a scratch database/],
    ]
    for (const [args, message] of cases) {
      const result = await cli(['drill', 'production', ...args, '--yes'])
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, message)
    }
    assert.equal(readFileSync(join(state, 'drills.jsonl'), 'utf8'), historyBefore)
    assert.equal(await psql(pg.name, 'SELECT count(*) FROM users', {as: 'app'}), '500')
  })
})

describe('drill local and restore local from an app checkout', {concurrency: false}, () => {
  let prod: TestDatabase
  let dev: TestDatabase
  let checkout: string
  let env: Record<string, string>
  const app = uniqueName('local')

  before(async () => {
    prod = await createPostgresDatabase()
    dev = await createPostgresDatabase(`${uniqueName('kbt')}_development`)
    await psql(prod.name, `CREATE TABLE users (id int); INSERT INTO users SELECT generate_series(1, 42);`, {as: 'app'})
    await psql(dev.name, `CREATE TABLE scratch_only (id int);`, {as: 'app'})
    checkout = tempDir('checkout')
    const prodFiles = join(checkout, 'server-storage')
    mkdirSync(prodFiles)
    writeFileSync(join(prodFiles, 'avatar.png'), 'png\n')
    mkdirSync(join(checkout, 'config'))
    writeFileSync(join(checkout, 'config', 'kamal-backup.yml'), [
      `app: ${app}`,
      'databases:',
      `  - {name: primary, adapter: postgres, url: "${prod.url}", password: {secret: PG_PW}}`,
      'paths:',
      `  - ${prodFiles}`,
      'restic:',
      `  repository: ${freshRepo('0.18')}`,
      '  password: {secret: RESTIC_PASSWORD}',
      '  retention: {keep_last: 5}',
      `state: {path: ${join(checkout, 'server-state')}}`,
    ].join('\n') + '\n')
    writeFileSync(join(checkout, 'config', 'kamal-backup.local.yml'), [
      'databases:',
      `  - {name: primary, url: "${dev.url}", password: {secret: PG_PW}}`,
      'paths:',
      `  - {from: ${prodFiles}, to: storage}`,
    ].join('\n') + '\n')
    env = {RESTIC_PASSWORD: lab().resticPassword, PG_PW: lab().postgres.appPassword, KAMAL_BACKUP_RESTIC: resticBin('0.18'), RAILS_ENV: '', RACK_ENV: ''}
    const backup = await kb(['backup', '--force', '--local'], {cwd: checkout, env})
    assert.equal(backup.code, 0, backup.stdout + backup.stderr)
  })

  after(async () => {
    await dropPostgresDatabase(prod.name).catch(() => {})
    await dropPostgresDatabase(dev.name).catch(() => {})
  })

  test('refuses in a production environment, and without a terminal or --yes', async () => {
    const inProduction = await kb(['drill', 'local', '--yes'], {cwd: checkout, env: {...env, RAILS_ENV: 'production'}})
    assert.equal(inProduction.code, 2, inProduction.stderr)
    assert.match(inProduction.stderr, /RAILS_ENV=production/)
    const noTty = await kb(['restore', 'local'], {cwd: checkout, env})
    assert.equal(noTty.code, 2, noTty.stderr)
    assert.match(noTty.stderr, /--yes/)
    assert.equal(await psql(dev.name, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'scratch_only'`, {as: 'app'}), '1', 'nothing changed')
    assert.equal(existsSync(join(checkout, 'storage')), false)
  })

  test('a local target that looks like production is refused', async () => {
    const local = join(checkout, 'config', 'kamal-backup.local.yml')
    const original = readFileSync(local, 'utf8')
    try {
      writeFileSync(local, original.replace(dev.url, prod.url.replace(prod.name, 'myapp_production')))
      const result = await kb(['restore', 'local', '--yes'], {cwd: checkout, env})
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, /looks like production/)
    } finally {
      writeFileSync(local, original)
    }
  })

  test('restore local --dry-run and drill local --dry-run: the plan and its checks, without --yes; a missing files target fails its check; nothing changed, nothing recorded', async () => {
    const records = join(checkout, 'tmp', 'kamal-backup')
    // restic's cache (tmp/kamal-backup/cache) may appear: a cache, not a record.
    const recordNames = () => (existsSync(records) ? readdirSync(records).filter((n) => n !== 'cache').sort() : [])
    const recordsBefore = recordNames()
    const restore = await kb(['restore', 'local', '--dry-run', '--json'], {cwd: checkout, env})
    assert.equal(restore.code, 1, restore.stdout + restore.stderr)
    const failed = JSON.parse(restore.stdout)
    assertMatchesSchema('restore-plan.schema.json', failed)
    assert.equal(failed.kind, 'restore-plan')
    assert.equal(failed.scope, 'local')
    assert.match(failed.error, new RegExp(`cannot restore files into ${join(checkout, 'storage')}: it must be an existing, writable directory`))
    const noFiles = await kb(['restore', 'local', '--no-files', '--dry-run'], {cwd: checkout, env})
    assert.equal(noFiles.code, 0, noFiles.stdout + noFiles.stderr)
    assert.match(noFiles.stdout, /✔ dry run: restore local could proceed now; nothing was changed/)
    assert.match(noFiles.stdout, new RegExp(`database primary → 127\\.0\\.0\\.1:\\d+/${dev.name}\n`))
    assert.doesNotMatch(noFiles.stdout, /safety/)
    const drill = await kb(['drill', 'local', '--no-files', '--dry-run', '--json'], {cwd: checkout, env})
    assert.equal(drill.code, 0, drill.stdout + drill.stderr)
    const plan = JSON.parse(drill.stdout)
    assertMatchesSchema('restore-plan.schema.json', plan)
    assert.equal(plan.kind, 'drill-plan')
    assert.equal(plan.scope, 'local')
    assert.ok(plan.checks.some((c: {name: string}) => /table of contents lists/.test(c.name)), 'a drill reads the dump\'s table of contents')
    const inProduction = await kb(['drill', 'local', '--dry-run'], {cwd: checkout, env: {...env, RAILS_ENV: 'production'}})
    assert.equal(inProduction.code, 2, inProduction.stderr)
    assert.match(inProduction.stderr, /RAILS_ENV=production/)
    assert.equal(await psql(dev.name, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'scratch_only'`, {as: 'app'}), '1', 'nothing changed')
    assert.equal(existsSync(join(checkout, 'storage')), false)
    assert.deepEqual(recordNames(), recordsBefore, 'no record written')
  })

  test('drill local restores into the development targets and records the drill in tmp/kamal-backup', async () => {
    mkdirSync(join(checkout, 'storage'))
    writeFileSync(join(checkout, 'storage', 'local-only.txt'), 'replaced by the restore\n')
    const result = await kb(['drill', 'local', '--yes', '--json'], {cwd: checkout, env: {...env, USER: 'bob', KAMAL_BACKUP_OPERATOR: ''}})
    assert.equal(result.code, 0, result.stdout + result.stderr)
    const record = JSON.parse(result.stdout)
    assertMatchesSchema('drill.schema.json', record)
    assert.equal(record.scope, 'local')
    assert.equal(record.operator, 'bob')
    assert.equal(await psql(dev.name, 'SELECT count(*) FROM users', {as: 'app'}), '42')
    assert.equal(await psql(dev.name, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'scratch_only'`, {as: 'app'}), '0')
    assert.deepEqual(readdirSync(join(checkout, 'storage')), ['avatar.png'])
    assert.equal(readFileSync(join(checkout, 'storage', 'avatar.png'), 'utf8'), 'png\n')
    const stored = JSON.parse(readFileSync(join(checkout, 'tmp', 'kamal-backup', 'last_restore_drill.json'), 'utf8'))
    assert.equal(stored.run_id, record.run_id)
  })

  test('restore local --json matches its schema', async () => {
    await psql(dev.name, 'DELETE FROM users', {as: 'app'})
    const result = await kb(['restore', 'local', '--yes', '--json'], {cwd: checkout, env})
    assert.equal(result.code, 0, result.stdout + result.stderr)
    const json = JSON.parse(result.stdout)
    assertMatchesSchema('restore.schema.json', json)
    assert.equal(json.scope, 'local')
    assert.equal(json.safety_backup, null)
    assert.equal(await psql(dev.name, 'SELECT count(*) FROM users', {as: 'app'}), '42')
  })
})

describe('restore local without kamal-backup.local.yml', () => {
  test('a single SQLite database goes into the development database of config/database.yml; files are never inferred', async () => {
    const checkout = tempDir('rails')
    mkdirSync(join(checkout, 'config'))
    mkdirSync(join(checkout, 'storage'))
    const server = join(checkout, 'server')
    mkdirSync(server)
    const production = join(server, 'production.sqlite3')
    sqlite(production, "CREATE TABLE posts(id INTEGER PRIMARY KEY, title TEXT); INSERT INTO posts(title) VALUES ('from production');")
    writeFileSync(join(server, 'upload.txt'), 'upload\n')
    writeFileSync(join(checkout, 'config', 'database.yml'), [
      'default: &default',
      '  adapter: sqlite3',
      '  pool: 5',
      'development:',
      '  <<: *default',
      '  database: storage/development.sqlite3',
      'production:',
      '  <<: *default',
      '  database: storage/production.sqlite3',
    ].join('\n') + '\n')
    writeFileSync(join(checkout, 'config', 'kamal-backup.yml'), [
      `app: ${uniqueName('rails')}`,
      'databases:',
      `  - {name: primary, adapter: sqlite, path: ${production}}`,
      'paths:',
      `  - ${server}`,
      'restic:',
      `  repository: ${freshRepo('0.14')}`,
      '  password: {secret: RESTIC_PASSWORD}',
      '  retention: {keep_last: 3}',
      `state: {path: ${join(checkout, 'server-state')}}`,
    ].join('\n') + '\n')
    const env = {RESTIC_PASSWORD: lab().resticPassword, KAMAL_BACKUP_RESTIC: resticBin('0.14'), RAILS_ENV: ''}
    const backup = await kb(['backup', '--force', '--local'], {cwd: checkout, env})
    assert.equal(backup.code, 0, backup.stdout + backup.stderr)
    const result = await kb(['restore', 'local', '--yes'], {cwd: checkout, env})
    assert.equal(result.code, 0, result.stdout + result.stderr)
    assert.match(result.stderr, /files from .*server are not restored: no local target/)
    assert.equal(sqlite(join(checkout, 'storage', 'development.sqlite3'), 'SELECT title FROM posts'), 'from production')
    assert.deepEqual(readdirSync(join(checkout, 'storage')), ['development.sqlite3'], 'no files were restored anywhere')
  })
})

describe('drill production: verification that does not go vacuous, and Ctrl-C', {concurrency: false}, () => {
  let pg: TestDatabase
  let dir: string
  let config: string
  let env: Record<string, string>
  const scratchName = () => `${pg.name}_s`
  const cli = (args: string[]) => kb([...args, '--local', '--backup-config', config], {cwd: dir, env})

  before(async () => {
    pg = await createPostgresDatabase()
    // 1500 tables with long names: pg_restore --verbose writes far more than the 64 KiB of stderr kept for errors.
    await psql(pg.name, `DO $$ BEGIN FOR i IN 1..1500 LOOP EXECUTE format('CREATE TABLE t_with_a_long_name_filling_verbose_output_%s (id int PRIMARY KEY, v text)', i); END LOOP; END $$;`, {as: 'app'})
    dir = tempDir('drill-large')
    config = join(dir, 'kamal-backup.yml')
    writeFileSync(config, [`app: ${uniqueName('large')}`, 'databases:', `  - {name: main, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`, 'restic:', `  repository: ${freshRepo('0.18')}`, '  password: {secret: RESTIC_PASSWORD}', '  retention: {keep_last: 5}', `state: {path: ${join(dir, 'state')}}`].join('\n') + '\n')
    env = {RESTIC_PASSWORD: lab().resticPassword, PG_PW: lab().postgres.appPassword, KAMAL_BACKUP_RESTIC: resticBin('0.18')}
    const backup = await cli(['backup', '--force'])
    assert.equal(backup.code, 0, backup.stdout + backup.stderr)
  })

  after(async () => {
    await dropPostgresDatabase(pg.name).catch(() => {})
    await dropPostgresDatabase(scratchName()).catch(() => {})
  })

  test('every one of 1500 tables is checked: the table list is collected line by line, and matches the dump\'s table of contents', async () => {
    const result = await cli(['drill', 'production', '--database', scratchName(), '--yes', '--json'])
    assert.equal(result.code, 0, result.stdout.slice(0, 3000) + result.stderr)
    const record = JSON.parse(result.stdout)
    const db = record.databases[0]
    assert.equal(db.tables_in_toc, 1500)
    assert.equal(db.tables_in_dump.length, 1500)
    assert.equal(db.tables_restored.length, 1500)
    assert.deepEqual(db.missing_tables, [])
  })

  test('Ctrl-C during the check: exit 130, and the drill is still recorded as interrupted', async () => {
    const {spawn} = await import('node:child_process')
    const child = spawn(process.execPath, [BIN, 'drill', 'production', '--database', scratchName(), '--check', 'sleep 60', '--yes', '--local', '--backup-config', config], {cwd: dir, env: {...process.env, ...env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    let sent = false
    let sentAt = 0
    child.stdout.resume()
    child.stderr.on('data', (d) => {
      stderr += d
      if (!sent && /check: sleep 60/.test(stderr)) {
        sent = true
        setTimeout(() => {
          sentAt = Date.now()
          child.kill('SIGINT')
        }, 300)
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    clearTimeout(timer)
    assert.ok(sent, stderr)
    assert.equal(code, 130, stderr)
    assert.ok(Date.now() - sentAt < 20_000, 'the check (and what it started) was stopped, not waited for')
    const record = JSON.parse(readFileSync(join(dir, 'state', 'last_restore_drill.json'), 'utf8'))
    assertMatchesSchema('drill.schema.json', record)
    assert.equal(record.status, 'failed')
    assert.equal(record.error, 'interrupted')
  })
})
