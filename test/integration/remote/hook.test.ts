// The production pre-deploy hook (`hooks install`, no KAMAL_BACKUP_HOOK_ARGS) end to end: Kamal's way of running
// it (the executable, from the checkout, KAMAL_* set) → validate here → `backup --reason deploy -d staging` over the
// lab's real sshd → the CLI inside the accessory container (the image built from this repository) → restic and
// SQLite there. A stopped accessory fails the backup: the hook exits 1 (the deploy stops), or 0 with
// KAMAL_BACKUP_HOOK_OPTIONAL=1.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN} from '../../support/cli.ts'
import {freshRepo, lab, resticBin, tempDir} from '../../support/lab.ts'
import {runKamalHook, type HookRun} from '../../support/kamal-hook.ts'
import {accessory, cli, remoteApp, type Container, type RemoteApp} from './fixture.ts'

function runHook(app: RemoteApp, bin: string, kamal: Record<string, string>): Promise<HookRun> {
  return runKamalHook(app.dir, {PATH: `${bin}:${process.env.PATH}`, HOME: app.home, KAMAL_PERFORMER: 'alice', KAMAL_SERVICE: app.service, KAMAL_HOSTS: '127.0.0.1', KAMAL_COMMAND: 'deploy', KAMAL_RECORDED_AT: new Date().toISOString(), ...kamal})
}

describe('the pre-deploy hook against the real accessory, over SSH', {concurrency: false}, () => {
  let app: RemoteApp
  let box: Container
  let repo: string
  let bin: string

  before(() => {
    const data = tempDir('hook-data')
    mkdirSync(join(data, 'storage'), {recursive: true})
    writeFileSync(join(data, 'storage', 'a.txt'), 'hello\n')
    execFileSync(lab().bins.sqlite3, [join(data, 'storage', 'production.sqlite3'), "CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('x');"])
    execFileSync('chmod', ['-R', 'a+rwX', data])
    repo = freshRepo('0.18')
    execFileSync('chmod', ['-R', 'a+rwX', repo])
    app = remoteApp({
      // What validate wants of the accessory: the config uploaded, the data and the state on volumes.
      hostLines: ['host: 127.0.0.1', 'files:', '  - config/kamal-backup.yml:/app/config/kamal-backup.yml:ro', 'volumes:', `  - "${data}:${data}"`, `  - "${repo}:${repo}"`],
      destinations: {staging: 'servers:\n  web:\n    - 127.0.0.1\n'},
      backupConfig: [
        'databases:',
        `  - {name: primary, adapter: sqlite, path: ${join(data, 'storage', 'production.sqlite3')}}`,
        'paths:',
        `  - ${join(data, 'storage')}`,
        'restic:',
        `  repository: ${repo}`,
        '  password: {secret: RESTIC_PASSWORD}',
        '  retention: {keep_daily: 7}',
        `state: {path: ${join(data, 'state')}}`,
        'backup: {enabled: false}',
        '',
      ].join('\n'),
    })
    mkdirSync(join(app.dir, '.kamal'), {recursive: true})
    writeFileSync(join(app.dir, '.kamal', 'secrets.staging'), `RESTIC_PASSWORD=${lab().resticPassword}\n`)
    bin = tempDir('hook-bin')
    symlinkSync(BIN, join(bin, 'kamal-backup'))
    box = accessory(app.containerName, {env: {RESTIC_PASSWORD: lab().resticPassword}, config: app.config})
  })

  after(() => box?.remove())

  test('hooks install, then a deploy to staging: validate, then a restore point in the accessory, listed "before deploy"', async () => {
    const installed = await cli(app, ['hooks', 'install'])
    assert.equal(installed.code, 0, installed.stderr)
    const r = await runHook(app, bin, {KAMAL_VERSION: '0123456789abcdef0123456789abcdef01234567', KAMAL_DESTINATION: 'staging'})
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /✔ valid: accessory "backup"/)
    assert.match(r.stdout, /backup run \d{8}T\d{6}Z \(a restore point before deploy 0123456789abcdef0123456789abcdef01234567\) ok/)
    const snapshots = JSON.parse(execFileSync(resticBin('0.18'), ['-r', repo, 'snapshots', '--json', '--no-cache', '--no-lock'], {env: {...process.env, RESTIC_PASSWORD: lab().resticPassword}, encoding: 'utf8'})) as {tags: string[]; hostname: string}[]
    assert.equal(snapshots.length, 2)
    for (const s of snapshots) {
      assert.ok(s.tags.includes('type:pre-deploy') && s.tags.includes('deploy-version:0123456789abcdef0123456789abcdef01234567'), s.tags.join())
      assert.equal(s.hostname, `kamal-backup-${app.app}-pre-deploy`)
    }
    const list = await cli(app, ['list', '-d', 'staging'])
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, /\[before deploy 0123456789abcdef0123456789abcdef01234567\]/)
  })

  test('the accessory is down: the backup fails, the hook exits 1 (the deploy stops); KAMAL_BACKUP_HOOK_OPTIONAL=1 exits 0 and says so', async () => {
    box.stop()
    try {
      const failed = await runHook(app, bin, {KAMAL_VERSION: 'v2', KAMAL_DESTINATION: 'staging'})
      assert.equal(failed.code, 1, failed.stdout + failed.stderr)
      assert.match(failed.stderr, /the restore point before this deploy failed: the deploy stops/)
      const optional = await runHook(app, bin, {KAMAL_VERSION: 'v2', KAMAL_DESTINATION: 'staging', KAMAL_BACKUP_HOOK_OPTIONAL: '1'})
      assert.equal(optional.code, 0, optional.stdout + optional.stderr)
      assert.match(optional.stderr, /FAILED; deploying anyway \(KAMAL_BACKUP_HOOK_OPTIONAL=1\)/)
    } finally {
      box.start()
    }
  })
})
