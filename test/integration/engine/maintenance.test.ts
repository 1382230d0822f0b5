// The other accessory commands on a real repository: check (with --read-data-subset), prune, unlock, version
// --json, backup's enabled/--force logic; and a small backup + list on each remote backend (REST with credentials,
// S3 over HTTPS, SFTP), so the repository settings of the config (restic.rest, restic.env, restic.options) reach
// restic the way each version needs them. Every --json output is validated against its schema.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {copyFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kbJson} from '../../support/cli.ts'
import {freshRepo, lab, prepareRepo, run, tempDir, type Backend, type ResticVersion} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, localRestic, readState, repoSnapshots, writeApp, type App} from './support.ts'

function smallApp(version: ResticVersion, restic: string[], repo: App['repo'], extra: string[] = [], env: Record<string, string> = {}): App {
  const dir = tempDir('maint')
  mkdirSync(join(dir, 'files'))
  writeFileSync(join(dir, 'files', 'a.bin'), Buffer.alloc(100_000, 9))
  return writeApp({version, repo, paths: [`  - ${join(dir, 'files')}`], restic, extra, env})
}

describe('check, prune, unlock, version', {concurrency: false}, () => {
  const repo = freshRepo('0.18')
  const app = smallApp('0.18', localRestic(repo, ['retention: {keep_last: 1}', 'forget_after_backup: false']), repo, ['backup: {schedule: 1d, enabled: false}'])

  test('backup.enabled: false skips unless forced', async () => {
    const {result, json} = await cliJson(app, ['backup'])
    assert.equal(result.code, 0)
    assertSchema('backup-run', json)
    assert.equal(json.status, 'skipped')
    assert.equal(json.reason, 'disabled')
    assert.equal((await repoSnapshots(app)).length, 0)
    for (let i = 0; i < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1100))
      const forced = await cliJson(app, ['backup', '--force'])
      assert.equal(forced.result.code, 0, forced.result.stderr)
      assertSchema('backup-run', forced.json)
      assert.deepEqual(forced.json.steps.map((s: {name: string}) => s.name), ['files', 'verify'], 'forget_after_backup: false verifies the snapshots instead')
    }
    assert.equal((await repoSnapshots(app)).length, 2)
  })

  test('check --read-data-subset reads data and is recorded', async () => {
    const {result, json} = await cliJson(app, ['check', '--read-data-subset', '50%'])
    assert.equal(result.code, 0, result.stderr)
    assertSchema('check', json)
    assert.equal(json.status, 'ok')
    assert.equal(json.read_data_subset, '50%')
    assert.match(json.output, /no errors were found/)
    assert.deepEqual(readState(app, 'last_check.json'), json)
    const text = await cli(app, ['check'])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /repository check ok/)
    // What restic would refuse is a usage error before the repository is opened: nothing is recorded.
    const recorded = readState(app, 'last_check.json')
    for (const bad of ['0%', '150%', '1/0']) {
      const refused = await cli(app, ['check', '--read-data-subset', bad])
      assert.equal(refused.code, 2, refused.stderr)
      assert.match(refused.stderr, /--read-data-subset: /)
    }
    assert.deepEqual(readState(app, 'last_check.json'), recorded, 'the refused checks recorded nothing')
  })

  test('prune applies the retention policy per group', async () => {
    const {result, json} = await cliJson(app, ['prune'])
    assert.equal(result.code, 0, result.stderr)
    assertSchema('prune', json)
    assert.equal(json.removed, 1)
    assert.equal(json.kept, 1)
    assert.equal((await repoSnapshots(app)).length, 1)
    assertSchema('prune', readState(app, 'last_prune.json'))
  })

  test('unlock with nothing to unlock', async () => {
    const {result, json} = await cliJson(app, ['unlock'])
    assert.equal(result.code, 0, result.stderr)
    assertSchema('unlock', json)
  })

  test('a failing check exits 1 and is recorded as failed', async () => {
    const broken = smallApp('0.18', localRestic(repo), repo, [], {RESTIC_PASSWORD: 'wrong-password-here'})
    const r = await cli(broken, ['check'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /wrong password/)
    const record = readState(broken, 'last_check.json')
    assertSchema('check', record)
    assert.equal(record.status, 'failed')
  })

  test('version --json reports restic and the database tools', async () => {
    const {result, json} = await kbJson(['version', '--local'], {env: {KAMAL_BACKUP_RESTIC: app.env.KAMAL_BACKUP_RESTIC}})
    assert.equal(result.code, 0, result.stderr)
    assertSchema('version', json)
    assert.match(json.tools.restic, /^restic 0\.18\./)
    assert.match(json.tools.sqlite3 ?? '', /^3\./)
  })
})

describe('retention and failed runs', () => {
  test('a failed run\'s partial snapshots never push complete runs out of keep_last', async () => {
    const dir = tempDir('partial')
    const db = join(dir, 'app.sqlite3')
    const good = join(dir, 'good.sqlite3')
    mkdirSync(join(dir, 'files'))
    writeFileSync(join(dir, 'files', 'a.txt'), 'a\n')
    const made = await run(lab().bins.sqlite3, [good, 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'])
    assert.equal(made.code, 0, made.stderr)
    copyFileSync(good, db)
    const repo = freshRepo('0.18')
    const app = writeApp({version: '0.18', repo, databases: [`  - {name: lite, adapter: sqlite, path: ${db}}`], paths: [`  - ${join(dir, 'files')}`], restic: localRestic(repo, ['retention: {keep_last: 2}'])})
    const pause = () => new Promise((r) => setTimeout(r, 1100))
    const first = await cliJson(app, ['backup', '--force'])
    assert.equal(first.json.status, 'ok', first.result.stderr)
    // Fault injector: the database file is replaced by garbage, so the dump step fails and only the files are saved.
    writeFileSync(db, 'this is not a SQLite database, and it is long enough to be read as a header'.repeat(20))
    for (let i = 0; i < 2; i++) {
      await pause()
      const failed = await cliJson(app, ['backup', '--force'])
      assert.equal(failed.json.status, 'failed')
      assert.equal(failed.json.failed_step, 'database:lite')
    }
    assert.equal((await cliJson(app, ['list'])).json.filter((r: {complete: boolean}) => !r.complete).length, 2, 'the failed runs\' files are kept for now')
    copyFileSync(good, db)
    await pause()
    const last = await cliJson(app, ['backup', '--force'])
    assert.equal(last.json.status, 'ok', last.result.stderr)
    const {json: runs} = await cliJson(app, ['list'])
    assert.deepEqual(runs.map((r: {id: string; complete: boolean}) => [r.id, r.complete]), [[last.json.run_id, true], [first.json.run_id, true]], 'keep_last: 2 keeps the two complete runs whole')
    assert.deepEqual(readState(app, 'partial_snapshots.json'), {snapshots: []})
  })
})

const BACKENDS: {backend: Backend; version: ResticVersion}[] = [
  {backend: 'rest-auth', version: '0.14'},
  {backend: 'rest-auth', version: '0.18'},
  {backend: 's3', version: '0.18'},
  {backend: 'sftp', version: '0.14'},
]

describe('backends', {concurrency: true}, () => {
  for (const {backend, version} of BACKENDS) {
    test(`a backup and list on ${backend} with restic ${version}`, async () => {
      const target = await prepareRepo(backend, version)
      const l = lab()
      let restic: string[]
      const env: Record<string, string> = {}
      if (backend === 'rest-auth') {
        restic = [`repository: ${target.repositoryWithoutCredentials}`, 'rest: {username: kbrest, password: {secret: REST_PASSWORD}}']
        env.REST_PASSWORD = l.rest.auth.password
      } else if (backend === 's3') {
        restic = [`repository: ${target.repository}`, 'env: {AWS_ACCESS_KEY_ID: {secret: S3_KEY}, AWS_SECRET_ACCESS_KEY: {secret: S3_SECRET}, RESTIC_CACERT: ' + l.s3.caCert + '}']
        env.S3_KEY = l.s3.accessKeyId
        env.S3_SECRET = l.s3.secretAccessKey
      } else {
        restic = [`repository: ${target.repository}`, `options: [${JSON.stringify(target.args[1])}]`]
      }
      const app = smallApp(version, [...restic, 'password: {secret: RESTIC_PASSWORD}', 'retention: {keep_last: 3}'], target, [], env)
      const backup = await cli(app, ['backup', '--force'])
      assert.equal(backup.code, 0, backup.stderr)
      const {result, json} = await cliJson(app, ['list'])
      assert.equal(result.code, 0, result.stderr)
      assertSchema('list', json)
      assert.equal(json.length, 1)
      assert.equal(json[0].complete, true)
      const snapshots = await repoSnapshots(app)
      assert.equal(snapshots.length, 1)
      assert.equal(snapshots[0]!.id, json[0].snapshots[0].id)
    })
  }
})
