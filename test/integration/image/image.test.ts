// The accessory image, built from the repository's Dockerfile by test/lab/image.sh (podman, bases made locally from
// Debian packages and the npm registry's Node: no registry is reachable here), run the way Kamal runs an accessory:
// a named container on the host network with a named volume and bind mounts, kamal-backup.yml mounted read-only
// where the image reads it, secrets from an env file, `kamal-backup schedule` under tini. Real podman + runc, real
// restic and sqlite3 inside the image; nothing stands in.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from '../../support/cli.ts'
import {freshRepo, lab, run, tempDir, uniqueName, type RunResult} from '../../support/lab.ts'
import {ACCESSORY_CONFIG_PATH, DEFAULT_STATE_DIR} from '../../../src/config/types.ts'

const IMAGE = process.env.KB_IMAGE ?? 'localhost/kamal-backup:lab'
const podman = (args: string[], opts: {input?: string; timeoutMs?: number} = {}): Promise<RunResult> => run('podman', args, {timeoutMs: 120_000, ...opts})

/** The Dockerfile's default for an ARG. */
function dockerfileArg(name: string): string {
  const match = new RegExp(`^ARG ${name}=(\\S+)`, 'm').exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))
  assert.ok(match, `the Dockerfile has ARG ${name}=...`)
  return match[1]!
}

/** A value test/lab/image.sh passes (the lab's build arguments). */
function labBuildValue(name: string): string {
  const match = new RegExp(`^${name}=(\\S+)`, 'm').exec(readFileSync(join(ROOT, 'test/lab/image.sh'), 'utf8'))
  assert.ok(match, `test/lab/image.sh sets ${name}`)
  return match[1]!
}

before(async () => {
  const inspect = await podman(['image', 'inspect', IMAGE, '--format', '{{.Id}}'])
  assert.equal(inspect.code, 0, `the image ${IMAGE} is built by test/lab/image.sh (scripts/test-all.sh runs it): ${inspect.stderr}`)
})

describe('the accessory image', () => {
  test('version --json inside the image: the pinned restic, the Node of its base, the bundled clients', async () => {
    const result = await podman(['run', '--rm', IMAGE, 'kamal-backup', 'version', '--json', '--local'])
    assert.equal(result.code, 0, result.stderr)
    const version = JSON.parse(result.stdout)
    const resticVersion = dockerfileArg('RESTIC_DEB_VERSION').replace(/-.*$/, '')
    assert.match(version.tools.restic, new RegExp(`^restic ${resticVersion.replace(/\./g, '\\.')} `), 'restic is the pinned .deb')
    assert.equal(version.node, `v${labBuildValue('NODE_VERSION')}`, 'Node is the base image\'s')
    assert.equal(version.version, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, 'the CLI is this checkout, packed')
    // The lab builds with trixie's own PostgreSQL client (17); the published build's PGDG set is checked by the
    // Dockerfile's own build step (each pg_dump --version) and test/unit/image/dockerfile.test.ts.
    assert.match(version.tools.pg_dump, /^pg_dump \(PostgreSQL\) 17\./)
    assert.match(version.tools.pg_dump, /\/usr\/lib\/postgresql\/17\/bin\/pg_dump|PostgreSQL/)
    for (const tool of ['mysql_dump', 'sqlite3', 'rclone']) assert.ok(version.tools[tool] && !/not found/i.test(version.tools[tool]), `${tool}: ${version.tools[tool]}`)
    const tini = await podman(['run', '--rm', IMAGE, 'cat', '/proc/1/cmdline'])
    assert.match(tini.stdout, /tini/, 'tini is PID 1 (the entrypoint)')
  })

  describe('run like a Kamal accessory', () => {
    const name = `${uniqueName('kbimg')}-backup`
    const volume = `${name}_state`
    after(async () => {
      await podman(['rm', '-f', name]).catch(() => undefined)
      await podman(['volume', 'rm', '-f', volume]).catch(() => undefined)
    })

    test('schedule backs up at once, exec reaches it (list), and `stop` ends it cleanly within the grace period, leaving no lock', async () => {
      const dir = tempDir('image')
      const storage = join(dir, 'storage')
      mkdirSync(storage)
      await run(lab().bins.sqlite3, [join(storage, 'production.sqlite3'), "CREATE TABLE items(name); INSERT INTO items VALUES ('in the image');"])
      writeFileSync(join(storage, 'upload.txt'), 'a file\n')
      const repo = freshRepo('0.18')
      const config = join(dir, 'kamal-backup.yml')
      writeFileSync(config, ['app: imagetest', 'databases:', '  - {name: primary, adapter: sqlite, path: /rails/storage/production.sqlite3}', 'paths:', '  - /rails/storage', 'restic:', '  repository: /backups/repo', '  password: {secret: RESTIC_PASSWORD}', '  retention: {keep_last: 5}', 'backup: {schedule: 1d}', ''].join('\n'))
      // Kamal writes an accessory's secret env file 0600 and passes it with --env-file.
      const envFile = join(dir, 'backup.env')
      writeFileSync(envFile, `RESTIC_PASSWORD=${lab().resticPassword}\n`)
      chmodSync(envFile, 0o600)
      const started = await podman(['run', '--detach', '--name', name, '--network', 'host', '--env-file', envFile, '--volume', `${volume}:${DEFAULT_STATE_DIR}`, '--volume', `${storage}:/rails/storage`, '--volume', `${repo}:/backups/repo`, '--volume', `${config}:${ACCESSORY_CONFIG_PATH}:ro`, '--label', `service=${name}`, IMAGE])
      assert.equal(started.code, 0, started.stderr)

      // No backup yet: the scheduler runs one at once (list may show it incomplete while it runs).
      let runs: {id: string; complete: boolean}[] = []
      for (let i = 0; i < 90 && !runs.some((r) => r.complete); i++) {
        const list = await podman(['exec', '-i', name, 'kamal-backup', 'list', '--json'])
        if (list.code === 0) runs = JSON.parse(list.stdout)
        if (!runs.some((r) => r.complete)) await new Promise((r) => setTimeout(r, 1000))
      }
      assert.equal(runs.length, 1, (await podman(['logs', name])).stderr)
      assert.equal(runs[0]!.complete, true)

      const t0 = Date.now()
      const stopped = await podman(['stop', '--time', '20', name])
      assert.equal(stopped.code, 0, stopped.stderr)
      assert.ok(Date.now() - t0 < 15_000, `stopped in ${Date.now() - t0} ms, before the grace period ran out (SIGKILL)`)
      const state = await podman(['inspect', name, '--format', '{{.State.ExitCode}}'])
      assert.equal(state.stdout.trim(), '0', 'schedule exits 0 on SIGTERM (through tini)')
      const locks = await run(lab().restic.find((r) => r.version === '0.18')!.bin, ['list', 'locks', '--no-lock', '-r', repo], {env: {RESTIC_PASSWORD: lab().resticPassword}})
      assert.equal(locks.code, 0, locks.stderr)
      assert.equal(locks.stdout.trim(), '', 'no restic lock left behind')
    })
  })
})
