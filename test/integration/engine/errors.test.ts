// Each failure has a clear message and a non-zero exit, and is recorded: restic missing or too old, a repository
// that does not exist (with and without init_if_missing — which must never hide a wrong password, refused REST
// credentials or an unreachable server), a locked repository (the message names `kamal-backup unlock`, which then
// removes the stale lock), an unreachable database. Repository-level errors on restic 0.14 (classified by message)
// and 0.18 (by exit code).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {createMariaDatabase, dropMariaDatabase, freshRepo, lab, prepareRepo, RESTIC_VERSIONS, resticBin, resticEnv, tempDir, uniqueName} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, localRestic, mariaDatabaseLine, readState, repoLocks, repoSnapshots, script, writeApp, type App} from './support.ts'

function filesApp(version: '0.14' | '0.18', restic: string[], repo: App['repo'], extra: Partial<Parameters<typeof writeApp>[0]> = {}): App {
  const dir = tempDir('err-files')
  writeFileSync(join(dir, 'a.txt'), 'data\n')
  return writeApp({version, repo, paths: [`  - ${dir}`], restic, ...extra})
}

function assertRecordedFailure(app: App, step: string, message: RegExp) {
  const record = readState(app, 'last_backup.json')
  assertSchema('backup-run', record)
  assert.equal(record.status, 'failed')
  assert.equal(record.failed_step, step)
  assert.match(record.error, message)
}

describe('restic itself', () => {
  test('restic missing: a clear error, exit 1, recorded as a failed preflight', async () => {
    const app = filesApp('0.18', localRestic(freshRepo('0.18')), '/nonexistent')
    const r = await cli(app, ['backup', '--force'], {env: {KAMAL_BACKUP_RESTIC: '/nonexistent/bin/restic'}})
    assert.equal(r.code, 1)
    assert.match(r.stderr, /restic is not installed|not found/)
    assertRecordedFailure(app, 'preflight', /not installed|not found/)
  })

  test('restic too old: refused with the version found', async () => {
    const fake = script(tempDir('old-restic'), 'restic', 'echo "restic 0.9.6 compiled with go1.13 on linux/amd64"') // fault injector
    const app = filesApp('0.18', localRestic(freshRepo('0.18')), '/nonexistent')
    const r = await cli(app, ['backup', '--force'], {env: {KAMAL_BACKUP_RESTIC: fake}})
    assert.equal(r.code, 1)
    assert.match(r.stderr, /restic 0\.9\.6 is too old/)
  })
})

// The versions run side by side (each has its own repository, databases and state).
describe('repository errors, on each restic version', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    describe(`repository errors on restic ${version}`, () => {
      test('a repository that does not exist: a clear error without init_if_missing', async () => {
        const repo = join(tempDir('noinit'), 'repo')
        const app = filesApp(version, localRestic(repo), repo)
        const r = await cli(app, ['backup', '--force'])
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, /the restic repository does not exist yet/)
        assert.match(r.stderr, /init_if_missing/)
        assert.ok(!existsSync(join(repo, 'config')), 'nothing was created')
        assertRecordedFailure(app, 'files', /does not exist yet/)
      })

      test('init_if_missing creates a missing repository and backs up into it', async () => {
        const repo = join(tempDir('init'), 'repo')
        const app = filesApp(version, localRestic(repo, ['init_if_missing: true']), repo)
        const r = await cli(app, ['backup', '--force'])
        assert.equal(r.code, 0, r.stderr)
        assert.match(r.stderr, /creating it/)
        assert.equal((await repoSnapshots(app)).length, 1)
      })

      test('init_if_missing never hides a wrong repository password', async () => {
        const target = await prepareRepo('rest', version)
        const app = filesApp(version, [`repository: ${target.repository}`, 'password: {secret: RESTIC_PASSWORD}', 'init_if_missing: true'], target)
        const r = await cli(app, ['backup', '--force'], {env: {RESTIC_PASSWORD: 'not-the-repository-password'}})
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, /wrong password/)
        assert.doesNotMatch(r.stderr, /creating it/)
        assert.equal((await repoSnapshots(app)).length, 0)
      })

      test('a killed restic\'s lock (its process gone) is removed by the next command, which says so and goes on', async () => {
        const repo = freshRepo(version)
        const app = filesApp(version, localRestic(repo, ['retention: {keep_last: 3}']), repo)
        // A real restic holding a lock, then killed: its lock stays behind (stale: its process is gone).
        const killedRestic = async () => {
          const holder = spawn(resticBin(version), ['-r', repo, 'backup', '--stdin', '--stdin-filename', 'hold'], {env: {...process.env, ...resticEnv()}, stdio: ['pipe', 'ignore', 'ignore']})
          for (let i = 0; i < 100 && (await repoLocks(app)).length === 0; i++) await new Promise((r) => setTimeout(r, 100))
          holder.kill('SIGKILL')
          await new Promise((r) => holder.once('exit', r))
          assert.equal((await repoLocks(app)).length, 1, 'the killed restic left its lock')
          return holder.pid!
        }
        const pid = await killedRestic()
        const prune = await cli(app, ['prune'])
        assert.equal(prune.code, 0, prune.stderr)
        assert.match(prune.stderr, new RegExp(`removed a stale restic lock of pid ${pid} on host \\S+, created \\S+: its process is gone`))
        assert.deepEqual(await repoLocks(app), [])

        const second = await killedRestic()
        const {result, json} = await cliJson(app, ['backup', '--force'])
        assert.equal(result.code, 0, result.stderr)
        assert.equal(json.status, 'ok')
        assert.deepEqual(json.recoveries.length, 1)
        assert.match(json.recoveries[0], new RegExp(`removed a stale restic lock of pid ${second} `))
        assert.deepEqual(await repoLocks(app), [])
        assert.equal(readState(app, 'last_backup.json').recoveries.length, 1, 'recorded')

        // `unlock` still says what it did (nothing left to remove).
        const unlock = await cliJson(app, ['unlock'])
        assert.equal(unlock.result.code, 0, unlock.result.stderr)
        assertSchema('unlock', unlock.json)
        assert.equal(unlock.json.status, 'ok')
      })
    })
  }
})

describe('backends refusing or missing', () => {
  test('init_if_missing never hides refused REST credentials', async () => {
    const name = uniqueName('norepo')
    const app = filesApp('0.18', [`repository: ${lab().rest.auth.url}/${name}`, 'password: {secret: RESTIC_PASSWORD}', 'rest: {username: kbrest, password: {secret: REST_PW}}', 'init_if_missing: true'], '/nonexistent', {env: {REST_PW: 'wrong-rest-password'}})
    const r = await cli(app, ['backup', '--force'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /refused access|401|Unauthorized/)
    assert.doesNotMatch(r.stderr, /creating it/)
    assert.ok(!existsSync(join(lab().rest.auth.dir, name)), 'no repository was created')
  })

  test('init_if_missing never hides an unreachable server, and says so within seconds', async () => {
    const app = filesApp('0.18', ['repository: rest:http://127.0.0.1:9/nothing-listens-here', 'password: {secret: RESTIC_PASSWORD}', 'init_if_missing: true'], '/nonexistent')
    const started = Date.now()
    const r = await cli(app, ['backup', '--force'], {timeoutMs: 60_000})
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /cannot be reached/)
    assert.doesNotMatch(r.stderr, /creating it/)
    assert.ok(Date.now() - started < 20_000, 'no 15-minute retry loop')
  })
})

describe('databases', () => {
  test('an unreachable database: the dump fails with a suggestion, exit 1, recorded', async () => {
    const repo = freshRepo('0.18')
    const dir = tempDir('dbdown')
    mkdirSync(join(dir, 'files'))
    const app = writeApp({
      version: '0.18',
      repo,
      databases: ['  - {name: main, adapter: postgres, url: "postgres://kbapp@127.0.0.1:9/nothing", password: {secret: PG_PW}}'],
      restic: localRestic(repo),
    })
    const r = await cli(app, ['backup', '--force'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /failed at step database:main/)
    assert.match(r.stderr, /Connection refused|could not connect/i)
    assert.match(r.stderr, /check the database URL host and port/)
    assertRecordedFailure(app, 'database:main', /Connection refused|could not connect/i)
    assert.equal((await repoSnapshots(app)).length, 0)
  })

  test('MariaDB with a wrong password on restic 0.14 (piped dump): no snapshot, exit 1, the suggestion', async () => {
    const my = await createMariaDatabase()
    try {
      const repo = freshRepo('0.14')
      const app = writeApp({version: '0.14', repo, databases: [mariaDatabaseLine('shop', my)], restic: localRestic(repo), env: {MY_PW: 'wrong-mariadb-password'}})
      const r = await cli(app, ['backup', '--force'])
      assert.equal(r.code, 1)
      assert.match(r.stderr, /failed at step database:shop/)
      assert.match(r.stderr, /Access denied/)
      assert.match(r.stderr, /check the database password/)
      assertRecordedFailure(app, 'database:shop', /Access denied/)
      assert.equal((await repoSnapshots(app)).length, 0)
    } finally {
      await dropMariaDatabase(my.name).catch(() => {})
    }
  })

  test('evidence still reports, with the repository error, when the repository cannot be opened (and exits 3)', async () => {
    const repo = freshRepo('0.18')
    const app = writeApp({version: '0.18', repo, databases: ['  - {name: lite, adapter: sqlite, path: /nonexistent/app.sqlite3}'], restic: localRestic(repo), env: {RESTIC_PASSWORD: 'not-the-password'}})
    const r = await cli(app, ['evidence'])
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, /the repository cannot be opened: restic could not open the repository: wrong password/)
    const doc = JSON.parse(r.stdout)
    assertSchema('evidence', doc)
    assert.match(doc.repository_error, /wrong password/)
    assert.equal(doc.latest_complete_run, null)
    assert.equal(doc.latest_backup_age.status, 'missing')
  })

  test('a SQLite database file that does not exist fails before anything is written', async () => {
    const repo = freshRepo('0.18')
    const app = writeApp({version: '0.18', repo, databases: ['  - {name: lite, adapter: sqlite, path: /nonexistent/app.sqlite3}'], restic: localRestic(repo)})
    const r = await cli(app, ['backup', '--force'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /SQLite database \/nonexistent\/app.sqlite3 \(lite\) does not exist/)
    assertRecordedFailure(app, 'preflight', /does not exist/)
  })
})
