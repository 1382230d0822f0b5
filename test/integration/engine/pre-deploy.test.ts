// Restore points before deploys (`backup --reason deploy`, what the pre-deploy hook runs) on real repositories of
// both restic versions: tagged type:pre-deploy and deploy-version:<v>, listed "before deploy <v>", never the
// scheduled run (last_successful_backup, status freshness), not copied to restic.copies, kept by their own
// retention (backup.pre_deploy_keep) and neither counted nor removed by restic.retention, and restorable by run id.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {freshRepo, RESTIC_VERSIONS, restic, tempDir, type ResticVersion} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, localRestic, readState, repoSnapshots, writeApp, type App} from './support.ts'

const sqlite = (db: string, sql: string) => execFileSync('sqlite3', [db, sql], {encoding: 'utf8'}).trim()

function setup(version: ResticVersion): {app: App; db: string; copy: string; file: string} {
  const dir = tempDir('predeploy')
  const db = join(dir, 'app.sqlite3')
  sqlite(db, 'CREATE TABLE t (v TEXT); INSERT INTO t VALUES (\'r1\');')
  mkdirSync(join(dir, 'files'))
  writeFileSync(join(dir, 'files', 'a.txt'), 'r1')
  const repo = freshRepo(version)
  const copy = join(dir, 'copy')
  const app = writeApp({
    version,
    repo,
    databases: [`  - {name: main, adapter: sqlite, path: ${db}}`],
    paths: [`  - ${join(dir, 'files')}`],
    // keep_last 2: with restore points counted by the policy, the two newest would be restore points and the
    // scheduled runs would go.
    restic: localRestic(repo, ['retention: {keep_last: 2}', 'copies:', `  - {name: usb, repository: ${copy}, password: {secret: RESTIC_PASSWORD}, init_if_missing: true}`]),
    extra: ['backup: {schedule: 1d, pre_deploy_keep: 2}'],
  })
  return {app, db, copy, file: join(dir, 'files', 'a.txt')}
}

async function runIds(app: App): Promise<string[]> {
  const {result, json} = await cliJson(app, ['list'])
  assert.equal(result.code, 0, result.stderr)
  return json.map((r: {id: string}) => r.id)
}

async function backup(app: App, args: string[]): Promise<any> {
  const {result, json} = await cliJson(app, ['backup', ...args])
  assert.equal(result.code, 0, result.stdout + result.stderr)
  assertSchema('backup-run', json)
  assert.equal(json.status, 'ok', JSON.stringify(json.steps))
  return json
}

describe('restore points before deploys (backup --reason deploy)', {concurrency: 2}, () => {
  for (const version of RESTIC_VERSIONS) {
    test(`restic ${version}: tagged, listed, not the scheduled run, own retention, restorable by id`, async () => {
      const {app, db, copy, file} = setup(version)
      const r1 = (await backup(app, ['--force'])).run_id
      sqlite(db, "UPDATE t SET v = 'r2'")
      const r2 = (await backup(app, ['--force'])).run_id
      const points: string[] = []
      for (const v of ['v1', 'v2', 'v3']) {
        sqlite(db, `UPDATE t SET v = '${v}'`)
        writeFileSync(file, v)
        const json = await backup(app, ['--reason', 'deploy', '--deploy-version', v])
        assert.equal(json.trigger, 'pre-deploy')
        assert.equal(json.deploy_version, v)
        assert.deepEqual(json.steps.map((s: {name: string}) => s.name), ['database:main', 'files', 'forget'], 'its own retention, no check, no copy')
        assert.equal(json.copies, undefined)
        points.push(json.run_id)
      }
      // Not the scheduled run: the next due time and freshness still go by r2.
      assert.equal(readState(app, 'last_successful_backup.json').run_id, r2)
      assert.equal(readState(app, 'last_backup.json').run_id, points[2])
      const status = await cliJson(app, ['status'])
      assertSchema('status', status.json)
      assert.equal(status.json.latest_complete_run.id, r2, 'status freshness ignores restore points')
      // Tags and their own snapshot host, seen by restic itself.
      const snaps = await repoSnapshots(app)
      const ofRun = (id: string) => snaps.filter((s) => s.tags?.includes(`run:${id}`))
      assert.equal(ofRun(points[0]!).length, 0, 'pre_deploy_keep 2: the oldest restore point was forgotten')
      for (const [i, id] of points.slice(1).entries()) {
        const tagged = ofRun(id)
        assert.equal(tagged.length, 2)
        for (const s of tagged) {
          assert.ok(s.tags!.includes('type:pre-deploy') && s.tags!.includes(`deploy-version:v${i + 2}`), JSON.stringify(s.tags))
          assert.equal(s.hostname, `kamal-backup-${app.name}-pre-deploy`)
        }
      }
      assert.ok(ofRun(r1).every((s) => s.hostname === `kamal-backup-${app.name}`))
      // list: "before deploy <version>", and the --json fields.
      const list = await cliJson(app, ['list'])
      assertSchema('list', list.json)
      const v3 = list.json.find((r: {id: string}) => r.id === points[2])
      assert.equal(v3.pre_deploy, true)
      assert.equal(v3.deploy_version, 'v3')
      assert.equal(list.json.find((r: {id: string}) => r.id === r2).pre_deploy, false)
      assert.equal(list.json.find((r: {id: string}) => r.id === r2).deploy_version, null)
      const text = await cli(app, ['list'])
      assert.match(text.stdout, new RegExp(`${points[2]} .*\\[before deploy v3\\]`))
      assert.doesNotMatch(text.stdout, new RegExp(`${r2} .*before deploy`))
      // `latest` is the newest complete run, a restore point included (decision: it is a whole backup of production).
      const plan = await cliJson(app, ['restore', 'production', '--dry-run', '--no-safety-backup'])
      assert.equal(plan.result.code, 0, plan.result.stderr)
      assert.equal(plan.json.run.id, points[2])

      // A scheduled run after them: keep_last 2 keeps r2 and r3 (restore points neither counted nor removed), r1 goes.
      sqlite(db, "UPDATE t SET v = 'r3'")
      writeFileSync(file, 'r3')
      const r3 = (await backup(app, ['--force'])).run_id
      assert.deepEqual(await runIds(app), [r3, points[2], points[1], r2])
      assert.equal(readState(app, 'last_successful_backup.json').run_id, r3)
      // Only the scheduled runs went to the copy.
      const copied = await restic(version, ['snapshots', '--json', '--no-lock'], {repo: copy})
      assert.equal(copied.code, 0, copied.stderr)
      const copiedRuns = new Set((JSON.parse(copied.stdout) as {tags: string[]}[]).map((s) => s.tags.find((t) => t.startsWith('run:'))))
      assert.ok(copiedRuns.has(`run:${r3}`) && copiedRuns.has(`run:${r2}`), [...copiedRuns].join())
      for (const id of points) assert.ok(!copiedRuns.has(`run:${id}`), `restore point ${id} was copied`)

      // restore production names a restore point by its run id; its plan says what the run is.
      const dry = await cliJson(app, ['restore', 'production', points[1]!, '--dry-run'])
      assert.equal(dry.result.code, 0, dry.result.stderr)
      assertSchema('restore-plan', dry.json)
      assert.equal(dry.json.run.pre_deploy, 'v2')
      const shown = await cli(app, ['restore', 'production', points[1]!, '--dry-run'])
      assert.match(shown.stdout, new RegExp(`run +${points[1]}.*\\[before deploy v2\\]`))
      const restored = await cliJson(app, ['restore', 'production', points[1]!, '--confirm', app.name, '--no-safety-backup'])
      assert.equal(restored.result.code, 0, restored.result.stderr)
      assert.equal(sqlite(db, 'SELECT v FROM t'), 'v2')
      assert.equal(readFileSync(file, 'utf8'), 'v2')

      // prune applies backup.pre_deploy_keep too (lowered to 1 here), and the regular policy as before.
      writeFileSync(app.config, readFileSync(app.config, 'utf8').replace('pre_deploy_keep: 2', 'pre_deploy_keep: 1'))
      const pruned = await cliJson(app, ['prune'])
      assert.equal(pruned.result.code, 0, pruned.result.stderr)
      assertSchema('prune', pruned.json)
      assert.match(pruned.json.output, /restore points before deploys beyond backup.pre_deploy_keep \(1\) forgotten/)
      assert.deepEqual(await runIds(app), [r3, points[2], r2])
    })
  }

  test('forget_after_backup: false: a restore point only verifies its snapshots; `prune` applies backup.pre_deploy_keep', async () => {
    const repo = freshRepo('0.18')
    const dir = tempDir('predeploy-noforget')
    mkdirSync(join(dir, 'files'))
    writeFileSync(join(dir, 'files', 'a.txt'), 'a')
    const app = writeApp({version: '0.18', repo, paths: [`  - ${join(dir, 'files')}`], restic: localRestic(repo, ['retention: {keep_last: 5}', 'forget_after_backup: false']), extra: ['backup: {pre_deploy_keep: 1}']})
    const first = await backup(app, ['--reason', 'deploy', '--deploy-version', 'v1'])
    const second = await backup(app, ['--reason', 'deploy', '--deploy-version', 'v2'])
    assert.deepEqual(second.steps.map((s: {name: string}) => s.name), ['files', 'verify'])
    assert.deepEqual(await runIds(app), [second.run_id, first.run_id])
    const pruned = await cliJson(app, ['prune'])
    assert.equal(pruned.result.code, 0, pruned.result.stderr)
    assert.deepEqual(await runIds(app), [second.run_id])
  })

  test('--deploy-version must be tag-safe and needs --reason; --reason takes only deploy (exit 2, nothing run)', async () => {
    const {app} = setup('0.18')
    for (const args of [['--reason', 'deploy', '--deploy-version', 'a,b'], ['--reason', 'deploy', '--deploy-version', '-x'], ['--deploy-version', 'v1'], ['--reason', 'later']]) {
      const r = await cli(app, ['backup', ...args])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    }
    assert.equal((await repoSnapshots(app)).length, 0)
  })
})
