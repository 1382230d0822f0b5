// The pre-deploy hook of `kamal-backup hooks install`, run the way Kamal runs it: the executable file itself
// (#!/bin/sh), from the app checkout (a copy of examples/sample-app), with Kamal's KAMAL_* variables, the built CLI
// on PATH. KAMAL_BACKUP_HOOK_ARGS points its backup at a local repository here (`--local --backup-config`), with
// real restic and a real SQLite database: a backup that succeeds (the run tagged and listed "before deploy <v>"),
// one that fails (the hook exits 1: the deploy stops; with KAMAL_BACKUP_HOOK_OPTIONAL=1 it exits 0 and says so),
// and a validate that fails (no backup is taken). An existing hook runs too, before the block.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, kb, ROOT} from '../../support/cli.ts'
import {freshRepo, tempDir} from '../../support/lab.ts'
import {runKamalHook, type HookRun} from '../../support/kamal-hook.ts'
import {cliJson, localRestic, readHistory, repoSnapshots, writeApp, type App} from './support.ts'

/** Kamal's hook environment (kamal-config.md: the KAMAL_* tags), the app's own (state, restic), PATH with the CLI. */
function runHook(checkout: string, bin: string, app: App, kamal: Record<string, string>, extra: Record<string, string | undefined> = {}): Promise<HookRun> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries({...app.env, CI: undefined, ...extra})) if (v !== undefined) env[k] = v
  Object.assign(env, {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: process.env.HOME ?? '/root',
    KAMAL_RECORDED_AT: new Date().toISOString(),
    KAMAL_PERFORMER: 'alice',
    KAMAL_SERVICE: 'sample',
    KAMAL_HOSTS: '192.0.2.10',
    KAMAL_COMMAND: 'deploy',
    KAMAL_BACKUP_HOOK_ARGS: `--local --backup-config ${app.config}`,
    ...kamal,
  })
  return runKamalHook(checkout, env)
}

function setup(): {checkout: string; bin: string; app: App; db: string} {
  const dir = tempDir('hooks')
  const checkout = join(dir, 'sample-app')
  cpSync(join(ROOT, 'examples', 'sample-app'), checkout, {recursive: true})
  // A destination, as `kamal deploy -d staging` reads it: its overlay and its own secrets file.
  writeFileSync(join(checkout, 'config', 'deploy.staging.yml'), 'servers:\n  web:\n    - 192.0.2.20\naccessories:\n  backup:\n    host: 192.0.2.20\n')
  cpSync(join(checkout, '.kamal', 'secrets'), join(checkout, '.kamal', 'secrets.staging'))
  // The team's own hook, which must keep running.
  mkdirSync(join(checkout, '.kamal', 'hooks'))
  writeFileSync(join(checkout, '.kamal', 'hooks', 'pre-deploy'), '#!/bin/sh\necho "own hook ran for $KAMAL_PERFORMER" >> "$(dirname "$0")/own-hook.log"\n', {mode: 0o755})
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  symlinkSync(BIN, join(bin, 'kamal-backup'))
  const db = join(dir, 'app.sqlite3')
  execFileSync('sqlite3', [db, "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('before');"])
  const repo = freshRepo('0.18')
  const app = writeApp({version: '0.18', repo, databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], restic: localRestic(repo)})
  return {checkout, bin, app, db}
}

describe('the pre-deploy hook, run as Kamal runs it', {concurrency: false}, () => {
  const {checkout, bin, app} = setup()
  const hook = join(checkout, '.kamal', 'hooks', 'pre-deploy')
  const ownLog = join(checkout, '.kamal', 'hooks', 'own-hook.log')
  const version = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678_uncommitted_4f2a9c'

  test('hooks install appends to the existing hook, keeps it executable; a second install changes nothing', async () => {
    const own = readFileSync(hook, 'utf8')
    const first = await kb(['hooks', 'install', '--json'], {cwd: checkout})
    assert.equal(first.code, 0, first.stderr)
    assert.equal(JSON.parse(first.stdout).status, 'appended')
    const text = readFileSync(hook, 'utf8')
    assert.ok(text.startsWith(own), 'the existing hook is kept as it was, first')
    const second = await kb(['hooks', 'install', '--json'], {cwd: checkout})
    assert.equal(JSON.parse(second.stdout).status, 'unchanged')
    assert.equal(readFileSync(hook, 'utf8'), text)
    execFileSync('dash', ['-n', hook])
  })

  test('a deploy to a destination: validate -d, then a backup tagged type:pre-deploy and the version, listed "before deploy"', async () => {
    const r = await runHook(checkout, bin, app, {KAMAL_VERSION: version, KAMAL_SERVICE_VERSION: `sample@${version.slice(0, 7)}`, KAMAL_DESTINATION: 'staging'})
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, new RegExp(`a restore point before deploying ${version} to staging`))
    assert.match(r.stdout, /valid: accessory "backup", container sample-backup on 192\.0\.2\.20/, 'validate read the staging destination')
    assert.match(r.stdout, new RegExp(`backup run \\d{8}T\\d{6}Z \\(a restore point before deploy ${version}\\) ok`))
    assert.match(readFileSync(ownLog, 'utf8'), /own hook ran for alice/)
    const snaps = await repoSnapshots(app)
    assert.equal(snaps.length, 1)
    assert.ok(snaps[0]!.tags!.includes('type:pre-deploy') && snaps[0]!.tags!.includes(`deploy-version:${version}`), JSON.stringify(snaps[0]!.tags))
    const list = await cliJson(app, ['list'])
    assert.equal(list.json[0].deploy_version, version)
    assert.equal(readHistory(app).at(-1).trigger, 'pre-deploy')
    assert.equal(existsSync(join(app.state, 'last_successful_backup.json')), false, 'not the scheduled run')
  })

  test('without a destination and with a version a tag cannot hold: no -d, the version made tag-safe', async () => {
    const r = await runHook(checkout, bin, app, {KAMAL_VERSION: 'v1.2 beta/3,x'})
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /container sample-backup on 192\.0\.2\.10/)
    assert.match(r.stdout, /before deploy v1\.2_beta_3_x\) ok/)
    const text = (await kb(['list', '--local', '--backup-config', app.config], {cwd: app.dir, env: app.env})).stdout
    assert.match(text, /\[before deploy v1\.2_beta_3_x\]/)
  })

  test('a failed backup stops the deploy (exit 1); KAMAL_BACKUP_HOOK_OPTIONAL=1 deploys anyway and says so', async () => {
    const before = (await repoSnapshots(app)).length
    const failed = await runHook(checkout, bin, app, {KAMAL_VERSION: 'bad1'}, {RESTIC_PASSWORD: 'not-the-password'})
    assert.equal(failed.code, 1, failed.stdout + failed.stderr)
    assert.match(failed.stderr, /the restore point before this deploy failed: the deploy stops/)
    assert.equal(readHistory(app).at(-1).status, 'failed')
    assert.equal(readHistory(app).at(-1).trigger, 'pre-deploy')
    const optional = await runHook(checkout, bin, app, {KAMAL_VERSION: 'bad2'}, {RESTIC_PASSWORD: 'not-the-password', KAMAL_BACKUP_HOOK_OPTIONAL: '1'})
    assert.equal(optional.code, 0, optional.stdout + optional.stderr)
    assert.match(optional.stderr, /the restore point before this deploy FAILED; deploying anyway \(KAMAL_BACKUP_HOOK_OPTIONAL=1\)/)
    assert.equal((await repoSnapshots(app)).length, before, 'nothing saved')
  })

  test('a checkout that fails validate: the deploy stops before any backup', async () => {
    const secrets = join(checkout, '.kamal', 'secrets')
    const original = readFileSync(secrets, 'utf8')
    writeFileSync(secrets, original.replace(/^RESTIC_PASSWORD=.*$/m, ''))
    try {
      const runs = readHistory(app).length
      const r = await runHook(checkout, bin, app, {KAMAL_VERSION: 'v9'})
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stdout + r.stderr, /kamal\/secret-missing/)
      assert.equal(readHistory(app).length, runs, 'no backup was attempted')
    } finally {
      writeFileSync(secrets, original)
    }
  })
})
