// Choosing what a restore restores, end to end: --at, --database, --files, --no-files; `latest` and --at never
// picking the safety backup a restore took; the safety backup not postponing the next scheduled one; the record
// of every restore; the undo command's destination, config and limits; a failed --json result's suggestions;
// local targets only for what is restored; and restore staging directories never ending up in a backup.
import {before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kb} from '../../support/cli.ts'
import {createPostgresDatabase, freshRepo, psql, restic, tempDir, type TestDatabase} from '../../support/lab.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {backup, cli, historyLines, readJson, runs, sqlite, twoRuns, writeApp, type App, type TwoRuns} from './support.ts'

describe('--at, --database, --files, --no-files, and safety backups', {concurrency: false}, () => {
  let a: TestDatabase
  let b: TestDatabase
  let app: App
  let files: string
  let first: {id: string; time: string}
  let second: string
  const value = async (db: TestDatabase) => psql(db.name, 'SELECT v FROM t', {as: 'app'})
  const file = () => readFileSync(join(files, 'f.txt'), 'utf8').trim()
  const restore = (args: string[], env: Record<string, string> = {}) => cli(app, ['restore', 'production', '--confirm', app.app, '--json', ...args], {env: {KAMAL_BACKUP_OPERATOR: 'carol', ...env}})

  let setAll: TwoRuns['setAll']

  before(async () => {
    ;({a, b, app, files, first, second, setAll} = await twoRuns('selection'))
  })

  test('--at with --database: that database from the run at that time, nothing else', async () => {
    const result = await restore(['--at', first.time, '--database', 'a', '--no-safety-backup'])
    assert.equal(result.code, 0, result.stdout + result.stderr)
    const json = JSON.parse(result.stdout)
    assert.equal(json.run_id, first.id)
    assert.deepEqual(json.targets.files, [])
    assert.deepEqual([await value(a), await value(b), file()], ['1', '3', '3'])
  })

  test('--no-files: every database, not the files; --files alone: only the files', async () => {
    await setAll(3)
    const noFiles = await restore(['--no-files', '--no-safety-backup'])
    assert.equal(noFiles.code, 0, noFiles.stderr)
    assert.deepEqual([await value(a), await value(b), file()], ['2', '2', '3'])
    await setAll(3)
    const onlyFiles = await restore(['--files', '--no-safety-backup'])
    assert.equal(onlyFiles.code, 0, onlyFiles.stderr)
    assert.deepEqual([await value(a), await value(b), file()], ['3', '3', '2'])
  })

  test('after a restore with a safety backup, latest and --at still mean the newest regular run; the safety backup does not postpone the schedule', async () => {
    await setAll(3)
    const lastSuccess = readFileSync(join(app.state, 'last_successful_backup.json'), 'utf8')
    const restored = await restore(['--database', 'a'], {KAMAL_BACKUP_IN_ACCESSORY: '1', KAMAL_BACKUP_DESTINATION: 'staging', KAMAL_BACKUP_CONFIG_FILE: 'config/deploy.staging.yml'})
    assert.equal(restored.code, 0, restored.stdout + restored.stderr)
    const json = JSON.parse(restored.stdout)
    const safety = json.safety_backup.run_id as string
    assert.notEqual(safety, second)
    // The undo restores the same part, from the safety backup, with the accessory's destination and config.
    assert.equal(json.safety_backup.undo_command, `kamal-backup restore production ${safety} --confirm ${app.app} -c config/deploy.staging.yml -d staging --database a`)
    assert.equal(readFileSync(join(app.state, 'last_successful_backup.json'), 'utf8'), lastSuccess, 'last_successful_backup.json is the scheduled run\'s')
    const list = await runs(app)
    assert.equal(list.find((r) => r.id === safety)?.pre_restore, true)

    await setAll(4)
    const latest = await restore(['--no-safety-backup'])
    assert.equal(latest.code, 0, latest.stderr)
    assert.equal(JSON.parse(latest.stdout).run_id, second, 'latest is not the safety backup')
    const at = await restore(['--at', new Date(Date.now() + 60_000).toISOString(), '--no-safety-backup', '--database', 'b'])
    assert.equal(JSON.parse(at.stdout).run_id, second, '--at is not the safety backup either')
    const named = await restore([safety, '--no-safety-backup', '--database', 'a'])
    assert.equal(named.code, 0, named.stderr)
    assert.equal(JSON.parse(named.stdout).run_id, safety, 'named by its id, it is restored')
    assert.equal(await value(a), '3', 'the value the safety backup took')
  })

  test('every restore is recorded: last_restore.json and restores.jsonl, with operator, run, selection, targets, steps, changes', async () => {
    const history = historyLines(join(app.state, 'restores.jsonl'))
    assert.ok(history.length >= 6, `${history.length} records`)
    for (const record of history) assertMatchesSchema('restore.schema.json', record)
    const last = readJson(join(app.state, 'last_restore.json'))
    assert.deepEqual(last, history.at(-1))
    assert.equal(last.status, 'ok')
    assert.equal(last.operator, 'carol')
    assert.deepEqual(last.requested.databases, ['a'])
    assert.deepEqual(last.targets.databases.map((d: {name: string}) => d.name), ['a'])
    assert.deepEqual(last.changes.map((c: {part: string; state: string}) => `${c.part}=${c.state}`), ['database:a=restored'])
    assert.deepEqual(last.steps.map((s: {name: string; status: string}) => `${s.name}:${s.status}`), ['preflight:ok', 'safety-backup:skipped', 'database:a:ok'])
    assert.ok(last.steps.every((s: {status: string; duration_ms: number | null}) => s.status === 'skipped' || s.duration_ms !== null), 'timings')
    assert.ok(!JSON.stringify(history).includes(app.env.PG_PW!), 'no secret in the records')

    // evidence shows the last restore as recorded, and the history in short (newest first, who ran each)
    const evidence = await cli(app, ['evidence', '--json'])
    assert.equal(evidence.code, 0, evidence.stderr)
    const doc = JSON.parse(evidence.stdout)
    assertMatchesSchema('evidence.schema.json', doc)
    assert.deepEqual(doc.last_restore, last)
    assert.equal(doc.restores.count, history.length)
    assert.equal(doc.restores.ok, history.filter((r) => r.status === 'ok').length)
    assert.deepEqual(doc.restores.recent[0], {status: 'ok', scope: last.scope, finished_at: last.finished_at, run_id: last.run_id, duration_ms: last.duration_ms, operator: 'carol'})
  })

  test('a failed --json result carries the nearest complete runs', async () => {
    const result = await restore(['20200101T000000Z', '--no-safety-backup'])
    assert.equal(result.code, 1, result.stderr)
    const json = JSON.parse(result.stdout)
    assertMatchesSchema('restore.schema.json', json)
    assert.equal(json.status, 'failed')
    assert.match(json.error, /no run or snapshot "20200101T000000Z"/)
    assert.match(json.suggestions[0], new RegExp(`^complete runs: .*${first.id}`))
  })
})

describe('restore local --database', () => {
  test('needs a local target only for the database it restores', async () => {
    const prod = await createPostgresDatabase()
    const dev = await createPostgresDatabase(`${prod.name}_development`)
    await psql(prod.name, 'CREATE TABLE t (v int); INSERT INTO t VALUES (42);', {as: 'app'})
    const checkout = tempDir('local-db')
    mkdirSync(join(checkout, 'config'))
    const queue = join(checkout, 'server-queue.sqlite3')
    sqlite(queue, 'CREATE TABLE jobs(x);')
    const app = writeApp({dir: checkout, repo: freshRepo('0.18'), databases: [`  - {name: primary, adapter: postgres, url: "${prod.url}", password: {secret: PG_PW}}`, `  - {name: queue, adapter: sqlite, path: ${queue}}`], paths: []})
    await backup(app)
    writeFileSync(join(checkout, 'config', 'kamal-backup.local.yml'), `databases:\n  - {name: primary, url: "${dev.url}", password: {secret: PG_PW}}\n`)
    const env = {...app.env, RAILS_ENV: ''}
    const all = await kb(['restore', 'local', '--yes', '--backup-config', app.config], {cwd: checkout, env})
    assert.equal(all.code, 1, all.stderr)
    assert.match(all.stderr, /no local target for database "queue"/)
    const one = await kb(['restore', 'local', '--database', 'primary', '--yes', '--backup-config', app.config], {cwd: checkout, env})
    assert.equal(one.code, 0, one.stdout + one.stderr)
    assert.equal(await psql(dev.name, 'SELECT v FROM t', {as: 'app'}), '42')
    const record = readJson(join(checkout, 'tmp', 'kamal-backup', 'last_restore.json'))
    assert.equal(record.scope, 'local')
    assert.equal(record.status, 'ok')
  })
})

describe('restore staging directories', () => {
  test('left behind by a killed restore, they are not part of the next file backup', async () => {
    const dir = tempDir('staging-excluded')
    const storage = join(dir, 'storage')
    mkdirSync(join(storage, '.kamal-backup-restore-4242-1700000000000-0', 'storage'), {recursive: true})
    writeFileSync(join(storage, '.kamal-backup-restore-4242-1700000000000-0', 'storage', 'copy.bin'), 'a staged copy\n')
    writeFileSync(join(storage, '.db.sqlite3.kamal-backup-restore-4242'), 'a staged database\n')
    writeFileSync(join(storage, 'real.txt'), 'real\n')
    const app = writeApp({dir, repo: freshRepo('0.18'), databases: [], paths: [storage]})
    await backup(app)
    const ls = await restic('0.18', ['ls', '--json', 'latest'], {repo: app.repo})
    assert.equal(ls.code, 0, ls.stderr)
    const paths = ls.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l).path).filter(Boolean)
    assert.ok(paths.includes(join(storage, 'real.txt')), paths.join('\n'))
    assert.deepEqual(paths.filter((p: string) => p.includes('kamal-backup-restore')), [])
  })
})
