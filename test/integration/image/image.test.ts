// The accessory image, built from the repository's Dockerfile by test/lab/image.sh (podman, bases made locally from
// Debian packages and the npm registry's Node: no registry is reachable here), run the way Kamal runs an accessory:
// a named container on the host network with a named volume and bind mounts, kamal-backup.yml mounted read-only
// where the image reads it, secrets from an env file, `kamal-backup schedule` under tini. Real podman + runc, real
// restic and sqlite3 inside the image; nothing stands in.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {isAbsolute, join, resolve} from 'node:path'
import {kb, ROOT} from '../../support/cli.ts'
import {freshRepo, lab, run, tempDir, uniqueName, type RunResult} from '../../support/lab.ts'
import {ACCESSORY_CONFIG_PATH, DEFAULT_STATE_DIR} from '../../../src/config/types.ts'
import {loadModel} from '../../../src/remote/target.ts'

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
      writeFileSync(config, ['app: imagetest', 'databases:', '  - {name: primary, adapter: sqlite, path: /rails/storage/production.sqlite3}', 'paths:', '  - /rails/storage', 'restic:', '  repository: /backups/repo', '  password: {secret: RESTIC_PASSWORD}', '  retention: {keep_last: 5}', 'backup: {schedule: 10m}', ''].join('\n'))
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

  describe('Kamal\'s lifecycle, from an app\'s deploy.yml', {concurrency: false}, () => {
    const cleanups: (() => Promise<unknown>)[] = []
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
    })

    /** examples/sample-app with its own service and volume names, the repository a host directory mounted at
     *  /backups, and `edit` applied to deploy.yml. */
    function sampleApp(edit: (deploy: string) => string = (d) => d) {
      const dir = tempDir('kamal-app')
      cpSync(join(ROOT, 'examples/sample-app'), dir, {recursive: true})
      const service = uniqueName('kbk').replace(/_/g, '-')
      const repoDir = tempDir('kamal-repo')
      freshRepo('0.18', join(repoDir, 'repo'))
      const deployFile = join(dir, 'config/deploy.yml')
      const deploy = readFileSync(deployFile, 'utf8').replace('service: sample', `service: ${service}`).replaceAll('sample_', `${service}_`)
        .replace(`      - "${service}_backup_state:/var/lib/kamal-backup"`, `      - "${service}_backup_state:/var/lib/kamal-backup"\n      - "${repoDir}:/backups"`)
      writeFileSync(deployFile, edit(deploy))
      // Every 10 minutes, so the scheduler's jitter (1% of the interval) is seconds, not the minute a day gets.
      const configFile = join(dir, 'config/kamal-backup.yml')
      writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('schedule: 1d', 'schedule: 10m'))
      const secrets = {RESTIC_REPOSITORY: '/backups/repo', RESTIC_PASSWORD: lab().resticPassword}
      writeFileSync(join(dir, '.kamal/secrets'), Object.entries(secrets).map(([k, v]) => `${k}=${v}`).join('\n') + '\n')
      return {dir, service, container: `${service}-backup`, repo: join(repoDir, 'repo'), storageVolume: `${service}_storage`, secrets}
    }

    /** Fills the app's storage volume as the app would have: its two SQLite databases and some uploads. */
    async function appData(volume: string, megabytes: number) {
      await podman(['volume', 'create', volume])
      cleanups.push(() => podman(['volume', 'rm', '-f', volume]))
      const script = `sqlite3 /v/production.sqlite3 "CREATE TABLE posts(title); INSERT INTO posts VALUES ('hello');" && sqlite3 /v/production_queue.sqlite3 "CREATE TABLE jobs(name);" && mkdir -p /v/uploads && head -c ${megabytes}000000 /dev/urandom > /v/uploads/big.bin`
      const filled = await podman(['run', '--rm', '--volume', `${volume}:/v`, '--entrypoint', 'sh', IMAGE, '-c', script])
      assert.equal(filled.code, 0, filled.stderr)
    }

    /**
     * `kamal accessory boot backup`, as thinly as possible: Kamal is not installed here, so this runs the container
     * Kamal would run from the app's deploy.yml as our reader reads it — the name, the volumes, the uploaded files
     * (mounted from the checkout instead of Kamal's copy on the host), the clear env, the secrets as an env file, the
     * service label — from the lab image instead of the registry's, on the host network instead of Kamal's.
     */
    async function boot(app: ReturnType<typeof sampleApp>): Promise<void> {
      const accessory = loadModel({cwd: app.dir, env: {}, flags: {}}).accessory
      const envFile = join(tempDir('kamal-env'), 'backup.env')
      writeFileSync(envFile, Object.entries(app.secrets).map(([k, v]) => `${k}=${v}\n`).join(''), {mode: 0o600})
      const files = accessory.files.map((f) => `${isAbsolute(f.local) ? f.local : resolve(app.dir, f.local)}:${f.remote}${f.options ? `:${f.options}` : ''}`)
      const volumes = accessory.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`)
      const clear = Object.entries(accessory.env.clear ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`])
      const started = await podman(['run', '--detach', '--name', accessory.container, '--network', 'host', '--restart', 'unless-stopped', '--log-opt', 'max-size=10m',
        '--env-file', envFile, ...clear, ...[...files, ...volumes].flatMap((v) => ['--volume', v]), '--label', `service=${accessory.container}`, '--label', 'kamal-backup.lab=1', IMAGE])
      assert.equal(started.code, 0, started.stderr)
      cleanups.push(() => podman(['rm', '-f', accessory.container]))
    }

    const exec = (container: string, args: string[]) => podman(['exec', '-i', container, 'kamal-backup', ...args], {input: ''})

    test('a volume mounted at the wrong path: validate names the line, and the backup in the container refuses to run', async () => {
      const app = sampleApp((d) => d.replace(/"(\S+)_storage:\/rails\/storage"\n(\s+- "\S+_backup_state)/, '"$1_storage:/rails/storge"\n$2'))
      assert.match(readFileSync(join(app.dir, 'config/deploy.yml'), 'utf8'), /_storage:\/rails\/storge"/, 'the accessory mounts the volume at a mistyped path')
      const validate = await kb(['validate'], {cwd: app.dir})
      assert.equal(validate.code, 1, validate.stdout + validate.stderr)
      const paths = readFileSync(join(app.dir, 'config/kamal-backup.yml'), 'utf8').split('\n').findIndex((l) => l.trim() === '- /rails/storage') + 1
      assert.match(validate.stdout + validate.stderr, new RegExp(`config/kamal-backup\\.yml:${paths}:\\d+.*path /rails/storage is not inside any volume or directory of accessory "backup"`))

      // Booted anyway: the scheduler's first backup fails, and so does one asked for; nothing reaches the repository.
      await appData(app.storageVolume, 1)
      await boot(app)
      const backup = await exec(app.container, ['backup', '--force'])
      assert.equal(backup.code, 1, backup.stdout + backup.stderr)
      assert.match(backup.stderr, /ERROR preflight: SQLite database \/rails\/storage\/production\.sqlite3 \(primary\) does not exist/)
      assert.match(backup.stderr, /the app volume is mounted into the accessory at the same path/)
      let logs = ''
      const reported = /production\.sqlite3 \(primary\) does not exist/
      for (let i = 0; i < 60 && !reported.test(logs); i++) {
        logs = (await podman(['logs', app.container])).stderr
        if (!reported.test(logs)) await new Promise((r) => setTimeout(r, 500))
      }
      assert.match(logs, reported, 'the scheduler\'s own run reports it')
      const snapshots = await run(lab().restic.find((r) => r.version === '0.18')!.bin, ['snapshots', '--json', '--no-lock', '-r', app.repo], {env: {RESTIC_PASSWORD: lab().resticPassword}})
      assert.equal(snapshots.code, 0, snapshots.stderr)
      assert.deepEqual(JSON.parse(snapshots.stdout), [], 'no snapshot: a failed run never becomes latest')
    })

    test('kamal accessory reboot in the middle of a backup: the container stops in its grace period and the next one backs up, no lock in its way', async () => {
      const app = sampleApp()
      await appData(app.storageVolume, 200)
      assert.deepEqual(await kbValidate(app.dir), {code: 0}, 'the app\'s config is valid')
      await boot(app)
      // The scheduler backs up at once (no backup yet): wait until restic reads the big file.
      let processes = ''
      for (let i = 0; i < 120 && !/restic .*backup.*\/rails\/storage/.test(processes); i++) {
        processes = (await podman(['top', app.container, 'args'])).stdout
        if (!/restic .*backup.*\/rails\/storage/.test(processes)) await new Promise((r) => setTimeout(r, 250))
      }
      assert.match(processes, /restic .*backup.*\/rails\/storage/, (await podman(['logs', app.container])).stderr)

      // kamal accessory reboot: docker container stop, docker container prune/rm, docker run.
      const t0 = Date.now()
      const stopped = await podman(['container', 'stop', app.container])
      const stopMs = Date.now() - t0
      assert.equal(stopped.code, 0, stopped.stderr)
      assert.ok(stopMs < 10_000, `stopped in ${stopMs} ms, within Docker's default 10 s grace (no SIGKILL)`)
      assert.equal((await podman(['inspect', app.container, '--format', '{{.State.ExitCode}}'])).stdout.trim(), '0')
      const firstLogs = (await podman(['logs', app.container])).stderr
      assert.equal((await podman(['rm', app.container])).code, 0)
      await boot(app)

      // The new container's scheduler catches up the interrupted backup; restic finds no lock in its way.
      let runs: {id: string; complete: boolean}[] = []
      for (let i = 0; i < 240 && !runs.some((r) => r.complete); i++) {
        const list = await exec(app.container, ['list', '--json'])
        if (list.code === 0) runs = JSON.parse(list.stdout)
        if (!runs.some((r) => r.complete)) await new Promise((r) => setTimeout(r, 500))
      }
      assert.ok(runs.some((r) => r.complete), `a complete run after the reboot:\n${firstLogs}\n---\n${(await podman(['logs', app.container])).stderr}`)
      // The run goes on after its snapshots (forget, check): wait for its end, when restic is no longer running.
      for (let i = 0; i < 240 && /restic/.test((await podman(['top', app.container, 'args'])).stdout); i++) await new Promise((r) => setTimeout(r, 500))
      const logs = (await podman(['logs', app.container])).stderr
      assert.match(logs, /backup ok: run \d{8}T\d{6}Z/, logs)
      assert.match(firstLogs, /SIGTERM/, `the first container was stopped mid-backup:\n${firstLogs}`)
      assert.doesNotMatch(logs, /locked/i)
      const status = JSON.parse((await exec(app.container, ['status', '--json'])).stdout)
      assert.equal(status.latest_complete_run.id, runs.find((r) => r.complete)!.id)
      const locks = await run(lab().restic.find((r) => r.version === '0.18')!.bin, ['list', 'locks', '--no-lock', '-r', app.repo], {env: {RESTIC_PASSWORD: lab().resticPassword}})
      assert.equal(locks.code, 0, locks.stderr)
      assert.equal(locks.stdout.trim(), '', 'no restic lock left by the interrupted run')
    })

    async function kbValidate(dir: string): Promise<{code: number | null; output?: string}> {
      const result = await kb(['validate'], {cwd: dir})
      return result.code === 0 ? {code: 0} : {code: result.code, output: result.stdout + result.stderr}
    }
  })
})
