// `kamal-backup generate`, each runtime's files checked by the real tool that reads them, and run where this
// machine can run them:
// - systemd: `systemd-analyze verify` (systemd 252) on the service and timer; each OnCalendar= expanded by
//   `systemd-analyze calendar` fires exactly when backup.schedule does; the service's ExecStart, run with the unit's
//   Environment= and its env file, backs up a real podman volume (systemd is not PID 1 here, so the unit itself is
//   not started: its command line is).
// - Quadlet: podman 5.4's quadlet generator (Debian trixie, unpacked) converts the files; the podman run command it
//   generates is run (without the systemd-only options) on the lab's podman with the lab image: a real backup of a
//   volume mounted at /volumes/<name>, with the credentials as Podman secrets.
// - Compose: Docker Compose v2.26 (Debian trixie) merges the file with an app's compose.yaml and validates it.
// - Kubernetes: no API server can run here (Debian packages none); the manifests are validated with
//   kubernetes-models (validators built from Kubernetes 1.33's OpenAPI schemas), which does not reject unknown
//   fields: those are caught at compile time instead, src/generate/kubernetes.ts typing each object with the same
//   package's interfaces (npm run typecheck).
// - Proxmox: the vzdump hook script run with each phase and the variables vzdump sets; job-end backs the archive up.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parseAllDocuments} from 'yaml'
import {CronJob} from 'kubernetes-models/batch/v1/CronJob'
import {ConfigMap} from 'kubernetes-models/v1/ConfigMap'
import {PersistentVolumeClaim} from 'kubernetes-models/v1/PersistentVolumeClaim'
import {Secret} from 'kubernetes-models/v1/Secret'
import {kb, kbJson} from '../../support/cli.ts'
import {checkers, freshRepo, lab, prepareRepo, restic, resticBin, run, tempDir, uniqueName} from '../../support/lab.ts'
import {LAB_IMAGE, ROOT} from '../remote/fixture.ts'
import {nextRun, parseSchedule} from '../../../src/config/schedule.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'

const BIN = join(ROOT, 'bin/run.js')
const volumes: string[] = []
const secrets: string[] = []
const containers: string[] = []

async function podman(args: string[]): Promise<string> {
  const r = await run('podman', args, {timeoutMs: 120_000})
  assert.equal(r.code, 0, `podman ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

async function podmanVolume(files: Record<string, string>): Promise<{name: string; dir: string}> {
  const name = uniqueName('kbgen')
  await podman(['volume', 'create', name])
  volumes.push(name)
  const dir = await podman(['volume', 'inspect', '--format', '{{.Mountpoint}}', name])
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content)
  return {name, dir}
}

after(async () => {
  for (const c of containers) await run('podman', ['rm', '-f', '--time', '0', c])
  for (const v of volumes) await run('podman', ['volume', 'rm', '-f', v])
  for (const s of secrets) await run('podman', ['secret', 'rm', s])
})

/** An app directory with kamal-backup.yml (the given lines after `app:`), and the generate command for it. */
function app(lines: string[]): {dir: string; name: string; config: string; generate: (args: string[]) => ReturnType<typeof kb>} {
  const dir = tempDir('generate')
  const name = uniqueName('gen').replace(/_/g, '-')
  const config = join(dir, 'kamal-backup.yml')
  writeFileSync(config, [`app: ${name}`, ...lines].join('\n') + '\n')
  return {dir, name, config, generate: (args) => kb(['generate', ...args, '--backup-config', config], {cwd: dir})}
}

/** `Key=value` lines of one unit file, by key (a key may repeat). */
function unitKeys(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!])
  }
  return out
}

async function verifyUnits(files: string[]): Promise<{code: number | null; stderr: string}> {
  const r = await run('systemd-analyze', ['verify', '--man=no', ...files], {timeoutMs: 60_000})
  return {code: r.code, stderr: r.stderr.trim()}
}

/** The next `n` times (ms) an OnCalendar= set fires after `base`, by systemd itself. */
async function systemdElapses(specs: string[], base: Date, n: number): Promise<number[]> {
  const times = new Set<number>()
  for (const spec of specs) {
    const r = await run('systemd-analyze', ['calendar', `--base-time=${base.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`, `--iterations=${n}`, spec])
    assert.equal(r.code, 0, `${spec}: ${r.stderr}`)
    for (const m of r.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)) times.add(Date.parse(`${m[1]!.replace(' ', 'T')}Z`))
  }
  return [...times].sort((a, b) => a - b).slice(0, n)
}

describe('generate systemd', {concurrency: true}, () => {
  test('the units pass systemd-analyze verify; a broken copy does not (the checker can fail)', async () => {
    const a = app(['paths: [/srv/data]', 'restic: {repository: {secret: RESTIC_REPOSITORY}, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}'])
    const out = join(a.dir, 'units')
    const r = await a.generate(['systemd', '--out', out, '--bin', BIN])
    assert.equal(r.code, 0, r.stderr)
    const unit = `kamal-backup-${a.name}`
    assert.deepEqual(readdirSync(out).sort(), [`${unit}.env.example`, `${unit}.service`, `${unit}.timer`])
    const files = [join(out, `${unit}.service`), join(out, `${unit}.timer`)]
    assert.deepEqual(await verifyUnits(files), {code: 0, stderr: ''})
    const service = unitKeys(readFileSync(files[0]!, 'utf8'))
    assert.deepEqual(service.get('User'), ['kamal-backup'])
    assert.deepEqual(service.get('AmbientCapabilities'), ['CAP_DAC_READ_SEARCH'])
    assert.deepEqual(service.get('ProtectSystem'), ['strict'])
    assert.deepEqual(service.get('ReadWritePaths'), [`/var/lib/kamal-backup/${a.name}`])
    assert.deepEqual(service.get('NoNewPrivileges'), ['true'])
    const timer = unitKeys(readFileSync(files[1]!, 'utf8'))
    assert.deepEqual(timer.get('Persistent'), ['true'])
    assert.ok(timer.get('RandomizedDelaySec'))
    // No value anywhere: the env template names the secrets only.
    assert.equal(readFileSync(join(out, `${unit}.env.example`), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).join(' '), 'RESTIC_PASSWORD= RESTIC_REPOSITORY=')

    writeFileSync(files[1]!, readFileSync(files[1]!, 'utf8').replace(/^OnCalendar=.*$/m, 'OnCalendar=every tuesday-ish'))
    const broken = await verifyUnits(files)
    assert.notEqual(broken.code, 0)
    assert.match(broken.stderr, /calendar/i)
  })

  test('with a SQLite database the service runs as root and may write only the database\'s directory beside its state', async () => {
    const a = app(['databases: [{name: main, adapter: sqlite, path: /srv/shop/db/production.sqlite3}]', 'paths: [/srv/shop/uploads]', 'restic: {repository: /srv/repo, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}'])
    const out = join(a.dir, 'units')
    assert.equal((await a.generate(['systemd', '--out', out, '--bin', BIN])).code, 0)
    const unit = `kamal-backup-${a.name}`
    const service = unitKeys(readFileSync(join(out, `${unit}.service`), 'utf8'))
    assert.deepEqual(service.get('User'), ['root'])
    assert.deepEqual(service.get('ReadWritePaths'), [`/var/lib/kamal-backup/${a.name}`, '/srv/shop/db'])
    assert.match(readFileSync(join(out, `${unit}.service`), 'utf8'), /# Root: SQLite writes its WAL index beside the database it reads \(\/srv\/shop\/db\)/)
    assert.deepEqual(await verifyUnits([join(out, `${unit}.service`), join(out, `${unit}.timer`)]), {code: 0, stderr: ''})
  })

  for (const schedule of ['6h', '1d', '30m', '1w', '1h', '15 2 * * 1-5', '0 3 1,15 * 1', '@monthly', '*/20 9-17 * 1,6 *']) {
    test(`backup.schedule "${schedule}": the timer fires when the schedule does (systemd-analyze calendar)`, async () => {
      const a = app([`paths: [/srv/data]`, 'restic: {repository: /srv/repo, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}', `backup: {schedule: "${schedule}"}`])
      const {result, json} = await kbJson(['generate', 'systemd', '--backup-config', a.config], {cwd: a.dir})
      assert.equal(result.code, 0, result.stderr)
      const timer = json.files.find((f: {name: string}) => f.name.endsWith('.timer')).content as string
      const specs = unitKeys(timer).get('OnCalendar')!
      const base = new Date('2026-02-26T10:07:00Z')
      const n = 12
      const parsed = parseSchedule(schedule)
      // What the timer must keep: the cron itself, or, for an interval, as many runs per period at one minute.
      const expected: number[] = []
      if (parsed.kind === 'cron') {
        let t = base
        for (let i = 0; i < n; i++) expected.push((t = nextRun(parsed, t)).getTime())
      }
      const actual = await systemdElapses(specs, base, n)
      assert.equal(actual.length, n)
      if (parsed.kind === 'cron') assert.deepEqual(actual.map((t) => new Date(t).toISOString()), expected.map((t) => new Date(t).toISOString()))
      else for (let i = 1; i < n; i++) assert.equal(actual[i]! - actual[i - 1]!, parsed.seconds * 1000, `${schedule}: every ${parsed.seconds} s (${specs.join(' | ')})`)
    })
  }

  test('an interval no calendar can keep is refused, naming the cron to write', async () => {
    const a = app(['paths: [/srv/data]', 'restic: {repository: /srv/repo, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}', 'backup: {schedule: 5h}'])
    const r = await a.generate(['systemd'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /"5h" is an interval a calendar cannot keep/)
    assert.match(r.stderr, /cron expression/)
  })

  test('the service\'s ExecStart, with the unit\'s environment and env file, backs up a podman volume (host mode)', async () => {
    const storage = await podmanVolume({'invoice.pdf': 'an invoice\n', 'avatar.png': 'a picture\n'})
    const repo = freshRepo('0.18')
    const a = app([`paths:`, `  - {volume: ${storage.name}, runtime: podman}`, `restic: {repository: ${repo}, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}`])
    const out = join(a.dir, 'units')
    assert.equal((await a.generate(['systemd', '--out', out, '--bin', BIN, '--host-config', a.config])).code, 0)
    const unit = `kamal-backup-${a.name}`
    const service = unitKeys(readFileSync(join(out, `${unit}.service`), 'utf8'))
    assert.deepEqual(service.get('User'), ['root'], 'resolving a volume of root\'s podman needs root')
    assert.deepEqual(await verifyUnits([join(out, `${unit}.service`), join(out, `${unit}.timer`)]), {code: 0, stderr: ''})
    // The env file as the operator fills it in, at the path the unit reads.
    const envFile = service.get('EnvironmentFile')![0]!
    const template = readFileSync(join(out, `${unit}.env.example`), 'utf8')
    assert.match(template, /^RESTIC_PASSWORD=$/m)
    const filled = Object.fromEntries(template.split('\n').filter((l) => /^[A-Z_]+=$/.test(l)).map((l) => [l.slice(0, -1), lab().resticPassword]))
    const environment = Object.fromEntries(service.get('Environment')!.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
    assert.equal(environment.KAMAL_BACKUP_CONFIG, a.config)
    assert.equal(envFile, `/etc/kamal-backup/${a.name}.env`)
    // systemd would create StateDirectory=; here the state goes to a temporary directory instead of /var/lib.
    const state = join(a.dir, 'state')
    const [program, ...args] = service.get('ExecStart')![0]!.split(' ')
    const r = await run(program!, args, {env: {...environment, ...filled, KAMAL_BACKUP_STATE_DIR: state, RESTIC_CACHE_DIR: join(state, 'cache'), KAMAL_BACKUP_RESTIC: resticBin('0.18'), KAMAL_BACKUP_IN_ACCESSORY: undefined}, timeoutMs: 120_000})
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const record = JSON.parse(readFileSync(join(state, 'last_backup.json'), 'utf8'))
    assert.equal(record.trigger, 'scheduled')
    assert.deepEqual(record.volumes, [{name: storage.name, runtime: 'podman', path: storage.dir}])
    const ls = await restic('0.18', ['ls', '--json', 'latest'], {repo})
    assert.match(ls.stdout, /invoice\.pdf/)
  })
})

describe('generate quadlet', () => {
  before(async () => {
    assert.ok(existsSync(checkers().quadlet), `the quadlet generator is missing: bash scripts/setup.sh --test (${checkers().quadlet})`)
  })

  test('the quadlet generator converts the files; an unknown key fails it (the checker can fail)', async () => {
    const a = app(['databases:', '  - {name: queue, adapter: sqlite, path: /srv/app/db/queue.sqlite3}', 'paths:', '  - {volume: app_storage}', '  - /srv/app/uploads', 'restic: {repository_file: /etc/kamal-backup/app.repository, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}'])
    const out = join(a.dir, 'quadlet')
    assert.equal((await a.generate(['quadlet', '--out', out])).code, 0)
    const r = await run(checkers().quadlet, ['-dryrun'], {env: {QUADLET_UNIT_DIRS: out}})
    assert.equal(r.code, 0, r.stderr)
    const exec = /---[^\n]*-backup\.service---[\s\S]*?^ExecStart=(.*)$/m.exec(r.stdout)?.[1]
    assert.ok(exec, r.stdout)
    for (const mount of ['/etc/kamal-backup/' + a.name + '.yml:/app/config/kamal-backup.yml:ro', `${a.name}-backup-state:/var/lib/kamal-backup`, 'app_storage:/volumes/app_storage:ro', '/srv/app/uploads:/srv/app/uploads:ro', '/srv/app/db:/srv/app/db', '/etc/kamal-backup/app.repository:/etc/kamal-backup/app.repository:ro']) {
      assert.ok(exec.includes(` -v ${mount} `), `ExecStart mounts ${mount}: ${exec}`)
    }
    assert.ok(exec.includes(`--secret ${a.name}-restic-password,type=env,target=RESTIC_PASSWORD`), exec)
    assert.match(exec, /ghcr\.io\/kamal-backup\/kamal-backup:\d+\.\d+$/)

    writeFileSync(join(out, `${a.name}-backup.container`), readFileSync(join(out, `${a.name}-backup.container`), 'utf8').replace('Image=', 'Imaage='))
    const broken = await run(checkers().quadlet, ['-dryrun'], {env: {QUADLET_UNIT_DIRS: out}})
    assert.notEqual(broken.code, 0)
    assert.match(broken.stderr, /unsupported key 'Imaage'/)
  })

  test('the podman run it generates backs up a volume at /volumes/<name> in the lab image, with Podman secrets', async () => {
    const storage = await podmanVolume({'report.pdf': 'a report\n'})
    const target = await prepareRepo('rest', '0.18')
    const a = app(['paths:', `  - {volume: ${storage.name}, runtime: podman}`, 'restic: {repository: {secret: RESTIC_REPOSITORY}, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}'])
    const out = join(a.dir, 'quadlet')
    assert.equal((await a.generate(['quadlet', '--out', out, '--image', LAB_IMAGE, '--host-config', a.config])).code, 0)
    const dry = await run(checkers().quadlet, ['-dryrun'], {env: {QUADLET_UNIT_DIRS: out}})
    assert.equal(dry.code, 0, dry.stderr)
    const exec = /---[^\n]*-backup\.service---[\s\S]*?^ExecStart=(.*)$/m.exec(dry.stdout)![1]!
    // Each secret as the install comment says: typed into `podman secret create`, never into a file.
    for (const [name, value] of [[`${a.name}-restic-password`, lab().resticPassword], [`${a.name}-restic-repository`, target.repository]] as const) {
      // Through a shell pipe, as typed (podman takes `-` only from a pipe, not from Node's socket stdin).
      const created = await run('sh', ['-c', 'printf %s "$VALUE" | podman secret create "$NAME" -'], {env: {VALUE: value, NAME: name}})
      assert.equal(created.code, 0, created.stderr)
      secrets.push(name)
    }
    // systemd-only options out (no systemd here: --cidfile=%t, --sdnotify, --cgroups=split, -d); one run, not the scheduler.
    const argv = exec.split(' ').slice(1).filter((x) => !/^--cidfile=|^--sdnotify=|^--cgroups=|^-d$|^--replace$/.test(x))
    const container = `${a.name}-backup`
    containers.push(container)
    volumes.push(`${a.name}-backup-state`)
    const r = await run('podman', [...argv.slice(0, -1), '--label', 'kamal-backup.lab=1', LAB_IMAGE, 'kamal-backup', 'backup', '--force', '--json'], {timeoutMs: 180_000})
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const record = JSON.parse(r.stdout)
    assert.equal(record.status, 'ok')
    assert.deepEqual(record.volumes, [{name: storage.name, runtime: 'mounted', path: `/volumes/${storage.name}`}])
    const snapshots = JSON.parse((await restic('0.18', ['snapshots', '--json', '--tag', 'type:files'], {repo: target})).stdout)
    assert.deepEqual(snapshots[0].paths, [`/volumes/${storage.name}`])
    assert.ok(snapshots[0].tags.includes(`path:volume-${storage.name}`), 'the same label as a host-mode backup of the volume')
    assert.ok(!r.stdout.includes(lab().resticPassword) && !r.stderr.includes(lab().resticPassword))

    // README "Podman Quadlet" restore: a one-off container with the same mounts read-write (here confirmed by
    // --confirm instead of typing on a terminal). The scheduler's read-only mount could not take it.
    writeFileSync(join(storage.dir, 'report.pdf'), 'damaged\n')
    const readWrite = argv.slice(0, -1).map((x) => x.replace(`:/volumes/${storage.name}:ro`, `:/volumes/${storage.name}`))
    assert.notDeepEqual(readWrite, argv.slice(0, -1), 'the generated unit mounts the volume read-only')
    const restored = await run('podman', [...readWrite, '--label', 'kamal-backup.lab=1', LAB_IMAGE, 'kamal-backup', 'restore', 'production', '--confirm', a.name, '--no-safety-backup'], {timeoutMs: 180_000})
    assert.equal(restored.code, 0, restored.stdout + restored.stderr)
    assert.equal(readFileSync(join(storage.dir, 'report.pdf'), 'utf8'), 'a report\n')
  })
})

describe('generate quadlet --oneshot', () => {
  test('a one-run container and its timer: quadlet converts it, systemd-analyze verifies the service it makes with the timer, validate --timer agrees', async () => {
    const a = app(['paths:', '  - {volume: app_storage}', 'restic: {repository: {secret: RESTIC_REPOSITORY}, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}', 'backup: {schedule: "20 4 * * *"}'])
    const out = join(a.dir, 'quadlet')
    const r = await a.generate(['quadlet', '--oneshot', '--out', out])
    assert.equal(r.code, 0, r.stderr)
    const name = `${a.name}-backup`
    assert.deepEqual(readdirSync(out).sort(), [`${name}-state.volume`, `${name}.container`, `${name}.timer`])
    // The quadlet generator writes the real units into a directory (as systemd runs it), then systemd verifies them.
    const units = join(a.dir, 'units')
    mkdirSync(units)
    const made = await run(checkers().quadlet, [units], {env: {QUADLET_UNIT_DIRS: out}})
    assert.equal(made.code, 0, made.stderr)
    const service = readFileSync(join(units, `${name}.service`), 'utf8')
    assert.match(service, /^Type=oneshot$/m)
    const exec = /^ExecStart=(.*)$/m.exec(service)![1]!
    assert.match(exec, / kamal-backup backup --on-schedule$/)
    assert.doesNotMatch(exec, / -d | --sdnotify/, 'a one-shot run is not detached')
    writeFileSync(join(units, `${name}.timer`), readFileSync(join(out, `${name}.timer`), 'utf8'))
    assert.deepEqual(await verifyUnits([join(units, `${name}.service`), join(units, `${name}.timer`)]), {code: 0, stderr: ''})
    const checked = await kbJson(['validate', '--backup-config', a.config, '--timer', join(out, `${name}.timer`), '--no-host-checks'], {cwd: a.dir})
    assert.equal(checked.result.code, 0, JSON.stringify(checked.json.findings))
    const refused = await a.generate(['systemd', '--oneshot'])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /--oneshot is for quadlet/)
  })
})

describe('generate compose', () => {
  test('Docker Compose merges the file with the app\'s compose.yaml and validates it; an unknown key fails (the checker can fail)', async () => {
    const a = app(['paths:', '  - {volume: shop_storage}', 'restic: {repository: {secret: RESTIC_REPOSITORY}, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}'])
    const out = join(a.dir, 'compose')
    assert.equal((await a.generate(['compose', '--out', out])).code, 0)
    writeFileSync(join(out, 'compose.yaml'), 'services:\n  web:\n    image: shop\n    volumes: [storage:/rails/storage]\nvolumes:\n  storage: {}\n')
    writeFileSync(join(out, 'kamal-backup.env'), readFileSync(join(out, 'kamal-backup.env.example'), 'utf8'))
    writeFileSync(join(out, 'kamal-backup.yml'), readFileSync(a.config, 'utf8'))
    const compose = (file: string) => run(checkers().compose, ['-p', 'shop', '-f', 'compose.yaml', '-f', file, 'config', '--format', 'json'], {cwd: out})
    const r = await compose('compose.kamal-backup.yaml')
    assert.equal(r.code, 0, r.stderr)
    const merged = JSON.parse(r.stdout)
    assert.deepEqual(Object.keys(merged.services).sort(), ['backup', 'web'], 'the restore service is only in its profile')
    const withRestore = await run(checkers().compose, ['-p', 'shop', '-f', 'compose.yaml', '-f', 'compose.kamal-backup.yaml', '--profile', 'restore', 'config', '--format', 'json'], {cwd: out})
    assert.equal(withRestore.code, 0, withRestore.stderr)
    const restoreMounts = JSON.parse(withRestore.stdout).services.restore.volumes.map((v: {source: string; target: string; read_only?: boolean}) => `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`)
    assert.ok(restoreMounts.includes('shop_storage:/volumes/shop_storage'), `a restore writes: ${restoreMounts.join(' ')}`)
    const mounts = merged.services.backup.volumes.map((v: {source: string; target: string; read_only?: boolean}) => `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`)
    assert.ok(mounts.includes('shop_storage:/volumes/shop_storage:ro'), mounts.join(' '))
    assert.ok(mounts.includes(`${out}/kamal-backup.yml:/app/config/kamal-backup.yml:ro`), mounts.join(' '))
    assert.equal(merged.volumes.shop_storage.external, true, 'the volume keeps its real name')
    assert.equal(merged.volumes.storage.name, 'shop_storage', 'which is the app\'s volume')

    writeFileSync(join(out, 'broken.yaml'), readFileSync(join(out, 'compose.kamal-backup.yaml'), 'utf8').replace('restart:', 'restartt:'))
    const broken = await compose('broken.yaml')
    assert.equal(broken.code, 15, broken.stderr)
    assert.match(broken.stderr, /restartt/)
  })
})

describe('generate kubernetes', () => {
  test('the CronJob, ConfigMap, claim and Secret template are valid Kubernetes 1.33 objects; a wrong field fails validation', async () => {
    const a = app(['paths:', '  - {volume: shop-storage}', '  - /srv/shop/uploads', 'restic: {repository: {secret: RESTIC_REPOSITORY}, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}', 'backup: {schedule: "30 2 * * *"}'])
    const out = join(a.dir, 'k8s')
    assert.equal((await a.generate(['kubernetes', '--out', out])).code, 0)
    const name = `${a.name}-kamal-backup`
    const docs = parseAllDocuments(readFileSync(join(out, `${name}.yaml`), 'utf8')).map((d) => d.toJS())
    const [configMap, claim, cronJob] = docs
    new ConfigMap(configMap).validate()
    new PersistentVolumeClaim(claim).validate()
    new CronJob(cronJob).validate()
    assert.equal(configMap.data['kamal-backup.yml'], readFileSync(a.config, 'utf8'), 'the ConfigMap holds the config as written')
    assert.equal(cronJob.spec.schedule, '30 2 * * *')
    assert.equal(cronJob.spec.concurrencyPolicy, 'Forbid')
    assert.ok(cronJob.spec.startingDeadlineSeconds > 0)
    assert.ok(cronJob.spec.jobTemplate.spec.backoffLimit >= 1)
    const pod = cronJob.spec.jobTemplate.spec.template.spec
    assert.deepEqual(pod.containers[0].command, ['kamal-backup', 'backup', '--on-schedule'])
    assert.deepEqual(pod.containers[0].envFrom, [{secretRef: {name: `${name}-secrets`}}])
    const byName = new Map(pod.volumes.map((v: {name: string}) => [v.name, v]))
    for (const m of pod.containers[0].volumeMounts) assert.ok(byName.has(m.name), `mount ${m.name} has a volume`)
    assert.ok(pod.volumes.some((v: any) => v.persistentVolumeClaim?.claimName === 'shop-storage' && v.persistentVolumeClaim.readOnly === true))
    assert.ok(pod.volumes.some((v: any) => v.hostPath?.path === '/srv/shop/uploads'))
    assert.ok(pod.containers[0].volumeMounts.some((m: any) => m.mountPath === '/volumes/shop-storage' && m.readOnly === true))
    const [secret] = parseAllDocuments(readFileSync(join(out, `${name}-secret.yaml`), 'utf8')).map((d) => d.toJS())
    new Secret(secret).validate()
    assert.deepEqual(secret.stringData, {RESTIC_PASSWORD: '', RESTIC_REPOSITORY: ''}, 'names, never values')

    const broken = structuredClone(cronJob)
    broken.spec.concurrencyPolicy = 3
    assert.throws(() => new CronJob(broken).validate(), /concurrencyPolicy/)
  })
})

describe('generate proxmox', () => {
  test('the vzdump hook, run with each phase and vzdump\'s variables: archives outside paths: fail the job; job-end backs them up', async () => {
    const dumpDir = join(tempDir('vzdump'), 'dump')
    mkdirSync(dumpDir)
    const repo = freshRepo('0.18')
    const a = app([`paths: [${dumpDir}]`, `restic: {repository: ${repo}, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}`])
    const out = join(a.dir, 'proxmox')
    assert.equal((await a.generate(['proxmox', '--out', out, '--bin', BIN, '--host-config', a.config])).code, 0)
    const hook = join(out, 'kamal-backup-vzdump-hook')
    assert.equal(statSync(hook).mode & 0o777, 0o755)
    assert.equal(readFileSync(join(out, 'vzdump.conf.snippet'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).join(), 'script: /usr/local/bin/kamal-backup-vzdump-hook')
    const envFile = join(a.dir, 'app.env')
    writeFileSync(envFile, `# filled in by the operator\nRESTIC_PASSWORD=${lab().resticPassword}\n`, {mode: 0o600})
    const vzdump = {DUMPDIR: dumpDir, STOREID: 'local', VMTYPE: 'lxc', HOSTNAME: 'ct105', LOGFILE: join(dumpDir, 'vzdump-lxc-105.log'), KAMAL_BACKUP_ENV_FILE: envFile, KAMAL_BACKUP_RESTIC: resticBin('0.18'), KAMAL_BACKUP_STATE_DIR: join(a.dir, 'state'), RESTIC_PASSWORD: undefined}
    const phase = (args: string[], env: Record<string, string | undefined> = {}) => run(hook, args, {env: {...vzdump, ...env}, timeoutMs: 120_000})
    for (const p of [['job-start'], ['backup-start', 'snapshot', '105'], ['pre-stop', 'stop', '105'], ['log-end', 'snapshot', '105']]) {
      const r = await phase(p)
      assert.equal(r.code, 0, `${p.join(' ')}: ${r.stderr}`)
    }
    const archive = join(dumpDir, 'vzdump-lxc-105-2026_12_07-02_00_00.tar.zst')
    writeFileSync(archive, 'a container archive\n')
    const ended = await phase(['backup-end', 'snapshot', '105'], {TARGET: archive})
    assert.equal(ended.code, 0, ended.stderr)
    const old = await phase(['backup-end', 'snapshot', '105'], {TARFILE: archive}) // PVE before 7 named it TARFILE
    assert.equal(old.code, 0, old.stderr)
    const elsewhere = await phase(['backup-end', 'snapshot', '106'], {TARGET: '/var/lib/vz/dump/vzdump-qemu-106.vma.zst'})
    assert.equal(elsewhere.code, 1)
    assert.match(elsewhere.stderr, /not a file|not under a path kamal-backup backs up/)
    const aborted = await phase(['backup-abort', 'snapshot', '107'])
    assert.equal(aborted.code, 0)
    assert.match(aborted.stderr, /no kamal-backup run for this job/)
    const jobEnd = await phase(['job-end'])
    assert.equal(jobEnd.code, 0, jobEnd.stdout + jobEnd.stderr)
    assert.ok(!jobEnd.stdout.includes(lab().resticPassword) && !jobEnd.stderr.includes(lab().resticPassword))
    const ls = await restic('0.18', ['ls', 'latest'], {repo})
    assert.match(ls.stdout, /vzdump-lxc-105-2026_12_07-02_00_00\.tar\.zst/)
  })

  test('a config with no directory is refused: the archives would never reach the repository', async () => {
    const a = app(['databases: [{name: main, adapter: sqlite, path: /srv/app.sqlite3}]', 'restic: {repository: /srv/repo, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}'])
    const r = await a.generate(['proxmox'])
    // The SQLite file's directory is mounted for the containers but is not backed up as files: only paths: count.
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /backs up no directory, so the archives vzdump writes would never reach the repository/)
    assert.match(r.stderr, /\/var\/lib\/vz\/dump/)
  })
})

describe('generate --check and output', () => {
  test('--check passes on fresh files, fails naming a stale or missing one (with the diff), and writes nothing', async () => {
    const a = app(['paths: [/srv/data]', 'restic: {repository: {secret: RESTIC_REPOSITORY}, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}'])
    const out = join(a.dir, 'deploy')
    assert.equal((await a.generate(['systemd', '--out', out])).code, 0)
    const fresh = await a.generate(['systemd', '--out', out, '--check'])
    assert.equal(fresh.code, 0, fresh.stderr)
    assert.match(fresh.stdout, /3 files in .* match kamal-backup\.yml/)
    // The config changes (a new schedule): the committed timer is stale.
    writeFileSync(a.config, readFileSync(a.config, 'utf8') + 'backup: {schedule: "0 4 * * *"}\n')
    const unit = `kamal-backup-${a.name}`
    rmSync(join(out, `${unit}.env.example`))
    const stale = await kbJson(['generate', 'systemd', '--out', out, '--check', '--backup-config', a.config], {cwd: a.dir})
    assert.equal(stale.result.code, 1)
    assert.deepEqual(stale.json.stale.map((s: {name: string}) => s.name), [`${unit}.timer`])
    assert.match(stale.json.stale[0].diff, /^-OnCalendar=.*\n\+OnCalendar=\*-\*-\* 04:00:00 UTC$/m)
    assert.deepEqual(stale.json.missing, [`${unit}.env.example`])
    assertMatchesSchema('generate.schema.json', stale.json)
    assert.ok(!existsSync(join(out, `${unit}.env.example`)), '--check writes nothing')
    const human = await a.generate(['systemd', '--out', out, '--check'])
    assert.match(human.stdout, new RegExp(`${unit}\\.timer is stale: regenerate with kamal-backup generate systemd --out`))
  })

  test('a config with errors: the located error, exit 1, nothing written', async () => {
    const a = app(['paths: [{volume: x, path: /srv/x}]', 'restic: {repository: /srv/repo, password: {secret: RESTIC_PASSWORD}}'])
    const out = join(a.dir, 'never')
    const r = await a.generate(['compose', '--out', out])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /kamal-backup\.yml:2:\d+.*gives both path "\/srv\/x" and volume "x"/)
    assert.ok(!existsSync(out))
  })

  test('without --out the files are printed; --json has each file', async () => {
    const a = app(['paths: [/srv/data]', 'restic: {repository: /srv/repo, password: {secret: RESTIC_PASSWORD}, retention: {keep_daily: 7}}'])
    const printed = await a.generate(['quadlet'])
    assert.equal(printed.code, 0)
    assert.match(printed.stdout, new RegExp(`==> ${a.name}-backup\\.container <==\\n# Generated by`))
    const {json} = await kbJson(['generate', 'kubernetes', '--backup-config', a.config], {cwd: a.dir})
    assert.deepEqual(json.files.map((f: {name: string}) => f.name), [`${a.name}-kamal-backup.yaml`, `${a.name}-kamal-backup-secret.yaml`])
    assert.equal(json.out, null)
    assertMatchesSchema('generate.schema.json', json)
    assert.doesNotMatch(printed.stderr, /deploy\.yml/)
    // In a Kamal app the accessory runs the schedule already: said, on stderr, and the files still made.
    mkdirSync(join(a.dir, 'config'))
    writeFileSync(join(a.dir, 'config', 'deploy.yml'), 'service: x\n')
    const inKamal = await a.generate(['quadlet'])
    assert.equal(inKamal.code, 0)
    assert.match(inKamal.stderr, /config\/deploy\.yml is here: with Kamal, the backup accessory already runs kamal-backup schedule/)
  })
})
