// `restore production --dry-run` here (--local; in the accessory it is the same code): it resolves the run exactly
// as the restore does, runs the checks that change nothing, prints the plan, and leaves production, the repository
// and the records as they were. And `--expect-run`: a restore whose selection now resolves to another run than the
// one confirmed is refused, exit 2, nothing changed.
import {before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {psql, type TestDatabase} from '../../support/lab.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {cli, runs, twoRuns, type App, type TwoRuns} from './support.ts'

describe('restore production --dry-run and --expect-run', {concurrency: false}, () => {
  let a: TestDatabase
  let b: TestDatabase
  let app: App
  let files: string
  let first: {id: string; time: string}
  let second: string

  /** Everything a restore changes or leaves behind: the data, the runs, the records, the names in the target
   *  directory and the state directory, the repository's locks. */
  const footprint = async () => {
    const read = (name: string) => (existsSync(join(app.state, name)) ? readFileSync(join(app.state, name), 'utf8') : null)
    return {
      a: await psql(a.name, 'SELECT v FROM t', {as: 'app'}),
      b: await psql(b.name, 'SELECT v FROM t', {as: 'app'}),
      files: readdirSync(files).sort().map((n) => `${n}=${readFileSync(join(files, n), 'utf8')}`),
      runs: (await runs(app)).map((r) => r.id),
      state: readdirSync(app.state).filter((n) => n !== 'cache' && n !== 'tmp').sort(),
      lastRestore: read('last_restore.json'),
      restores: read('restores.jsonl'),
      locks: readdirSync(join(app.repo, 'locks')),
    }
  }
  const dryRun = (args: string[], env: Record<string, string> = {}) => cli(app, ['restore', 'production', '--dry-run', ...args], {env})

  let setAll: TwoRuns['setAll']

  before(async () => {
    ;({a, b, app, files, first, second, setAll} = await twoRuns('dry-run'))
  })

  test('the plan: the run the restore would resolve, its parts and targets, the safety backup, every check passed; nothing changed, no record, no lock', async () => {
    const start = await footprint()
    const text = await dryRun([])
    assert.equal(text.code, 0, text.stdout + text.stderr)
    assert.match(text.stdout, /✔ dry run: restore production could proceed now; nothing was changed/)
    assert.match(text.stdout, new RegExp(`run +${second}, taken \\S+ \\(\\d+ (s|min) ago\\)`))
    assert.match(text.stdout, new RegExp(`database a → 127\\.0\\.0\\.1:\\d+/${a.name}\\n`))
    assert.match(text.stdout, new RegExp(`files +${files} → ${files}`))
    assert.match(text.stdout, /safety +yes/)
    assert.match(text.stdout, /ok +database b: pg_restore reads the dump/)
    assert.match(text.stdout, /not checked by a dry run: the safety backup is not taken/)
    assert.ok(!(text.stdout + text.stderr).includes(app.env.PG_PW!), 'no secret in the output')

    const json = await dryRun(['--json', '--no-safety-backup'])
    assert.equal(json.code, 0, json.stderr)
    const plan = JSON.parse(json.stdout)
    assertMatchesSchema('restore-plan.schema.json', plan)
    assert.equal(plan.status, 'ok')
    assert.equal(plan.run.id, second)
    assert.deepEqual(plan.run.snapshots.map((s: {group: string}) => s.group), ['database:a', 'database:b', 'files'])
    assert.deepEqual(plan.targets.databases.map((d: {name: string}) => d.name), ['a', 'b'])
    assert.deepEqual(plan.targets.files, [{from: files, to: files}])
    assert.equal(plan.safety_backup, false)
    assert.deepEqual(plan.checks.filter((c: {status: string}) => c.status !== 'ok'), [])
    assert.deepEqual(await footprint(), start, 'nothing changed and nothing was left behind')
  })

  test('the selection resolves exactly as the restore resolves it: --at and --database', async () => {
    const json = await dryRun(['--json', '--at', first.time, '--database', 'a'])
    assert.equal(json.code, 0, json.stderr)
    const plan = JSON.parse(json.stdout)
    assert.equal(plan.run.id, first.id)
    assert.deepEqual(plan.targets, {databases: [{name: 'a', target: plan.targets.databases[0].target}], files: []})
    assert.deepEqual(plan.run.snapshots.map((s: {group: string}) => s.group), ['database:a'])
    const restored = await cli(app, ['restore', 'production', '--confirm', app.app, '--json', '--no-safety-backup', '--at', first.time, '--database', 'a'])
    assert.equal(restored.code, 0, restored.stderr)
    const result = JSON.parse(restored.stdout)
    assert.equal(result.run_id, plan.run.id)
    assert.deepEqual(result.targets, plan.targets)
    await setAll(3)
  })

  test('a failing check: exit 1, the plan with the failed check, nothing changed; bad arguments: exit 2', async () => {
    const start = await footprint()
    execFileSync('chattr', ['+i', files])
    try {
      const text = await dryRun([])
      assert.equal(text.code, 1, text.stdout + text.stderr)
      assert.match(text.stdout, /✖ dry run: restore production cannot proceed: cannot restore files into .*storage/)
      assert.match(text.stdout, new RegExp(`FAILED {2}files ${files}: a writable directory: .*\\(EPERM\\)`))
      assert.match(text.stderr, /Error: cannot restore files into/)
      const json = await dryRun(['--json'])
      assert.equal(json.code, 1, json.stderr)
      const plan = JSON.parse(json.stdout)
      assertMatchesSchema('restore-plan.schema.json', plan)
      assert.equal(plan.status, 'failed')
      assert.equal(plan.run.id, second, 'the run it would have restored')
      assert.equal(plan.checks.at(-1).status, 'failed')
      assert.match(plan.error, /cannot restore files into/)
    } finally {
      execFileSync('chattr', ['-i', files])
    }
    const unknown = await dryRun(['--database', 'nope'])
    assert.equal(unknown.code, 2, unknown.stderr)
    assert.match(unknown.stderr, /no database "nope" in the configuration/)
    const wrongApp = await dryRun(['--confirm', 'not-the-app'])
    assert.equal(wrongApp.code, 2, wrongApp.stderr)
    assert.match(wrongApp.stderr, /--confirm not-the-app does not match the app name/)
    const noRun = await dryRun(['20200101T000000Z'])
    assert.equal(noRun.code, 1, noRun.stderr)
    assert.match(noRun.stderr, /no run or snapshot "20200101T000000Z"/)
    assert.deepEqual(await footprint(), start)
  })

  test('another command holding the run lock fails the dry run (a restore now would be refused), and the dry run leaves the lock alone', async () => {
    const lock = join(app.state, 'kamal-backup.lock')
    const holder = JSON.stringify({pid: process.pid, start: null, hostname: (await import('node:os')).hostname(), command: 'backup', started_at: new Date().toISOString()})
    writeFileSync(lock, holder)
    try {
      const result = await dryRun([])
      assert.equal(result.code, 1, result.stdout + result.stderr)
      assert.match(result.stdout, /FAILED {2}no other kamal-backup command holds the run lock: another kamal-backup backup is running/)
      assert.equal(readFileSync(lock, 'utf8'), holder)
    } finally {
      execFileSync('rm', ['-f', lock])
    }
  })

  test('--expect-run naming another run than the selection resolves to (a backup finished since the confirmation): refused, exit 2, nothing changed', async () => {
    const start = await footprint()
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--expect-run', first.id], {env: {KAMAL_BACKUP_IN_ACCESSORY: '1', KAMAL_BACKUP_DESTINATION: 'production'}})
    assert.equal(result.code, 2, result.stdout + result.stderr)
    assert.match(result.stderr, new RegExp(`the latest complete backup run changed since it was confirmed: it is now run ${second} \\(\\S+\\), not run ${first.id}; a backup finished`))
    assert.match(result.stderr, new RegExp(`to restore the run you confirmed: kamal-backup restore production ${first.id} -d production\\n`))
    assert.doesNotMatch(result.stderr, /safety backup/)
    assert.deepEqual(await footprint(), start, 'no safety backup, no record, nothing restored')
    const same = await cli(app, ['restore', 'production', '--confirm', app.app, '--expect-run', second, '--no-safety-backup', '--database', 'b', '--json'])
    assert.equal(same.code, 0, same.stderr)
    assert.equal(JSON.parse(same.stdout).run_id, second)
    assert.equal(await psql(b.name, 'SELECT v FROM t', {as: 'app'}), '2')
  })
})
