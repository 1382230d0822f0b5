/**
 * Fixtures for the remote-execution tests: an app checkout whose config/deploy.yml points at the lab's OpenSSH
 * server, and the backup accessory as a real container on the "accessory host".
 *
 * The accessory host is the lab's sshd on 127.0.0.1:2222 (user kbdeploy); its `docker` is the real container engine
 * (podman with runc, run through sudo: see test/lab/up.sh). An accessory is started the way Kamal starts one: a named
 * container `<service>-backup` on the host network, from the image test/lab/image.sh builds from the repository's
 * Dockerfile, with its env as an env file, config/kamal-backup.yml mounted read-only where the image reads it, and
 * the image's command (`kamal-backup schedule` under tini) unless a test says otherwise. The lab's scratch space
 * ($KB_LAB/shared/tmp, where tempDir() makes directories) is mounted at the same path, so the data, repositories
 * and scratch files a test makes have the same paths inside and outside.
 *
 * The transport tests run the same image with kamal-backup replaced by fake-kamal-backup.mjs (an argv-echoing
 * stand-in steered by FAKE_* variables): the container, `docker exec` and sshd stay real; only the CLI is a stand-in.
 */
import {execFileSync, spawn} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kb, ROOT, type CliOptions, type CliResult} from '../../support/cli.ts'
import {lab, run, tempDir, uniqueName, type PostgresServer} from '../../support/lab.ts'
import {ACCESSORY_CONFIG_PATH} from '../../../src/config/types.ts'

export const FAKE_KAMAL_BACKUP = join(ROOT, 'test/integration/remote/fake-kamal-backup.mjs')
/** The accessory image (test/lab/image.sh builds it; scripts/test-all.sh runs that first). */
export const LAB_IMAGE = process.env.KB_IMAGE ?? 'localhost/kamal-backup:lab'
/** A Debian image without kamal-backup: an accessory booted with the wrong image. */
export const WRONG_IMAGE = 'localhost/kb-base:trixie'
/** Where the image installs the CLI (npm install -g). */
const CLI_DIR = '/usr/local/lib/node_modules/kamal-backup'
const FAKE_DIR = '/opt/kb-fake'
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

function podman(args: readonly string[], input?: string): string {
  try {
    return execFileSync('podman', args, {encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000, ...(input !== undefined && {input})})
  } catch (error) {
    const e = error as {stderr?: string; message: string}
    throw new Error(`podman ${args.join(' ')} failed: ${e.stderr || e.message}`)
  }
}

export interface AccessoryOptions {
  /** The accessory's environment (Kamal's env clear + secret): written to an env file, passed with --env-file. */
  env?: Record<string, string>
  /** config/kamal-backup.yml of the app: mounted read-only at the image's config path. */
  config?: string
  /** The working directory of the container (and of every `docker exec`). */
  workdir?: string
  /** More --volume specs (e.g. a directory mounted read-only over the scratch mount). */
  volumes?: string[]
  /** Default LAB_IMAGE. */
  image?: string
  /** Default: the image's own command (kamal-backup schedule); `fake` and the wrong image idle instead. */
  command?: string[]
  /** The image's CLI reports this version (its package.json and manifest mounted over the installed ones): an
   *  accessory running another release. */
  version?: string
  /** kamal-backup in the container is fake-kamal-backup.mjs (FAKE_* in env steer it). */
  fake?: boolean
  /** false: created, started, then stopped (an exited accessory). Default true. */
  running?: boolean
}

export interface Container {
  name: string
  /** Removes the container and runs a new one with these options (Kamal: edit deploy.yml, accessory reboot). */
  recreate(options: AccessoryOptions): void
  stop(): void
  start(): void
  remove(): void
  /** The command lines of the processes running in the container (`podman top`). */
  processes(): string[]
}

let fakeDir: string | undefined
/** fake-kamal-backup.mjs as /opt/kb-fake/kamal-backup, for the containers that use it. */
function fakeCliDir(): string {
  if (fakeDir) return fakeDir
  const dir = tempDir('fake-cli')
  copyFileSync(FAKE_KAMAL_BACKUP, join(dir, 'fake-kamal-backup.mjs'))
  writeFileSync(join(dir, 'kamal-backup'), `#!/bin/sh\nexec node ${FAKE_DIR}/fake-kamal-backup.mjs "$@"\n`)
  chmodSync(join(dir, 'kamal-backup'), 0o755)
  return (fakeDir = dir)
}

const versionDirs = new Map<string, string>()
/** package.json and oclif.manifest.json of the image's CLI, rewritten to say `version`. */
function versionOverlay(image: string, version: string): string {
  const key = `${image} ${version}`
  const known = versionDirs.get(key)
  if (known) return known
  const dir = tempDir('cli-version')
  for (const file of ['package.json', 'oclif.manifest.json']) {
    const json = JSON.parse(podman(['run', '--rm', '--entrypoint', 'cat', image, `${CLI_DIR}/${file}`]))
    json.version = version
    writeFileSync(join(dir, file), JSON.stringify(json, null, 2))
    chmodSync(join(dir, file), 0o644)
  }
  versionDirs.set(key, dir)
  return dir
}

function runArgs(name: string, options: AccessoryOptions): string[] {
  const image = options.image ?? LAB_IMAGE
  const env = {...options.env}
  const volumes = [`${lab().tmp}:${lab().tmp}`]
  if (options.fake) {
    volumes.push(`${fakeCliDir()}:${FAKE_DIR}:ro`)
    env.PATH ??= `${FAKE_DIR}:${IMAGE_PATH}`
  }
  if (options.config) volumes.push(`${options.config}:${ACCESSORY_CONFIG_PATH}:ro`)
  if (options.version) {
    const overlay = versionOverlay(image, options.version)
    for (const file of ['package.json', 'oclif.manifest.json']) volumes.push(`${join(overlay, file)}:${CLI_DIR}/${file}:ro`)
  }
  volumes.push(...(options.volumes ?? []))
  // Kamal writes an accessory's env to a 0600 file on the host and passes it with --env-file.
  const envFile = join(tempDir('accessory-env'), `${name}.env`)
  for (const [key, value] of Object.entries(env)) if (/[\n\r]/.test(value) || key.startsWith('KB_FAKE_')) throw new Error(`accessory env ${key}: not a value an env file can hold`)
  writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''), {mode: 0o600})
  const idle = options.fake || image === WRONG_IMAGE ? ['sleep', 'infinity'] : []
  return [
    'run', '--detach', '--name', name, '--network', 'host', '--label', `service=${name}`, '--label', 'kamal-backup.lab=1',
    '--env-file', envFile, ...volumes.flatMap((v) => ['--volume', v]),
    ...(options.workdir ? ['--workdir', options.workdir] : []),
    image, ...(options.command ?? idle),
  ]
}

/** Runs the backup accessory `name` (`<service>-backup`) as Kamal would, replacing any container of that name. */
export function accessory(name: string, options: AccessoryOptions = {}): Container {
  const c: Container = {
    name,
    recreate(next) {
      podman(['rm', '--force', '--time', '0', '--ignore', name])
      podman(runArgs(name, next))
      if (next.running === false) c.stop()
    },
    stop() {
      podman(['stop', '--time', '5', name])
    },
    start() {
      podman(['start', name])
    },
    remove() {
      try {
        podman(['rm', '--force', '--time', '0', '--ignore', name])
      } catch {
        // Best effort in after() hooks; down.sh removes whatever a crashed test left (label kamal-backup.lab=1).
      }
    },
    processes() {
      return podman(['top', name, 'args']).split('\n').slice(1).map((l) => l.trim()).filter(Boolean)
    },
  }
  c.recreate(options)
  return c
}

/** The PostgreSQL 17 server image test/lab/image.sh builds (trixie's postgresql-17). */
export const POSTGRES_17_IMAGE = 'localhost/kb-postgres:17'

/** A free TCP port on 127.0.0.1 (bound, then released). */
async function freePort(): Promise<number> {
  const {createServer} = await import('node:net')
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}

/**
 * A PostgreSQL 17 server in a container on the host network, with the lab server's users and passwords: the
 * accessory image's PostgreSQL client is trixie's 17, which restores only into 17 and later (the published image
 * ships a client per major). The lab's psql (15) is its client from the tests.
 */
export async function startPostgres17(): Promise<PostgresServer & {version: string; stop(): void}> {
  const pg = lab().postgres
  const name = uniqueName('kbpg17').replace(/_/g, '-')
  const port = await freePort()
  const envFile = join(tempDir('pg17-env'), 'env')
  writeFileSync(envFile, `POSTGRES_PASSWORD=${pg.superuserPassword}\nAPP_USER=${pg.appUser}\nAPP_PASSWORD=${pg.appPassword}\nPGPORT=${port}\n`, {mode: 0o600})
  podman(['run', '--detach', '--name', name, '--network', 'host', '--label', 'kamal-backup.lab=1', '--env-file', envFile, POSTGRES_17_IMAGE])
  const server = {...pg, superuser: 'postgres', port, host: '127.0.0.1'}
  const stop = () => {
    try {
      podman(['rm', '--force', '--time', '0', name])
    } catch {
      // best effort (down.sh removes lab containers)
    }
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    const probe = await run(join(pg.binDir, 'psql'), ['-X', '-qAt', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-c', 'SHOW server_version_num'], {env: {PGPASSWORD: pg.superuserPassword, PGCONNECT_TIMEOUT: '2'}, timeoutMs: 10_000})
    if (probe.code === 0 && /^17\d{4}$/.test(probe.stdout.trim())) return {...server, version: probe.stdout.trim(), stop}
    if (Date.now() > deadline) {
      const logs = (() => { try { return podman(['logs', name]) } catch { return '' } })()
      stop()
      throw new Error(`PostgreSQL 17 did not come up on 127.0.0.1:${port}: ${probe.stderr} ${logs}`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
}

/**
 * The sshd session process serving a `docker exec` into `container` (the lab's docker is `sudo podman`, so the
 * exec's ancestors are sudo, then the session). Killing it drops that one SSH connection under the client, as a
 * network failure would; other sessions (other tests) are untouched. Undefined while no such exec runs.
 */
export function sshdSessionOf(container: string, match: (args: string) => boolean = () => true): number | undefined {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], {encoding: 'utf8'}).split('\n').flatMap((line) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line)
    return m ? [{pid: Number(m[1]), ppid: Number(m[2]), args: m[3]!}] : []
  })
  const byPid = new Map(rows.map((r) => [r.pid, r]))
  const exec = rows.find((r) => /\bpodman exec\b/.test(r.args) && !r.args.startsWith('sudo') && r.args.split(' ').includes(container) && match(r.args))
  for (let p = exec; p; p = byPid.get(p.ppid)) if (p.args.startsWith('sshd:')) return p.pid
  return undefined
}

export interface RemoteApp {
  /** The app checkout (cwd of the local CLI). */
  dir: string
  /** HOME of the local CLI (its ~/.ssh/known_hosts). */
  home: string
  service: string
  /** `<service>-backup` */
  containerName: string
  /** Where config/kamal-backup.yml is also read by the accessory (KAMAL_BACKUP_CONFIG). */
  config: string
  app: string
}

export interface AppOptions {
  /** Extra lines for the ssh: section of deploy.yml (indented by two spaces). */
  ssh?: string[]
  host?: string
  /** Replaces the whole accessory host line(s), e.g. `hosts: [a, b]`. */
  hostLines?: string[]
  /** kamal-backup.yml body after app: */
  backupConfig?: string
  /** known_hosts content for HOME (default: the lab's sshd key, so no "permanently added" note). */
  knownHosts?: string
  /** Destination files to create: name → deploy.<name>.yml content. */
  destinations?: Record<string, string>
}

export function remoteApp(options: AppOptions = {}): RemoteApp {
  const l = lab()
  const dir = tempDir('remote-app')
  const home = join(dir, 'home')
  mkdirSync(join(home, '.ssh'), {recursive: true})
  writeFileSync(join(home, '.ssh', 'known_hosts'), options.knownHosts ?? `[127.0.0.1]:${l.ssh.port} ${l.ssh.hostPublicKey}\n`)
  const service = uniqueName('svc').replace(/_/g, '-')
  const app = service
  mkdirSync(join(dir, 'config'), {recursive: true})
  const ssh = ['  user: kbdeploy', `  port: ${l.ssh.port}`, `  keys: [${l.ssh.privateKey}]`, '  keys_only: true', '  config: false', ...(options.ssh ?? [])]
  writeFileSync(
    join(dir, 'config', 'deploy.yml'),
    [
      `service: ${service}`,
      'image: example/app',
      'servers:',
      '  web:',
      `    - ${options.host ?? '127.0.0.1'}`,
      'ssh:',
      ...ssh,
      'accessories:',
      '  backup:',
      '    image: ghcr.io/kamal-backup/kamal-backup:0.1',
      ...(options.hostLines ?? [`    host: ${options.host ?? '127.0.0.1'}`]).map((l) => (l.startsWith('    ') ? l : `    ${l}`)),
      '    env:',
      '      secret: [RESTIC_PASSWORD]',
      '',
    ].join('\n'),
  )
  for (const [name, body] of Object.entries(options.destinations ?? {})) writeFileSync(join(dir, 'config', `deploy.${name}.yml`), body)
  const config = join(dir, 'config', 'kamal-backup.yml')
  writeFileSync(config, `app: ${app}\n${options.backupConfig ?? 'restic:\n  repository: /nonexistent\n  password: {secret: RESTIC_PASSWORD}\n'}`)
  return {dir, home, service, containerName: `${service}-backup`, config, app}
}

/** Runs the built CLI in the app checkout as a workstation would: its own HOME, no agent, no lab env leaking. */
export function cli(app: RemoteApp, args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return kb(args, {
    ...options,
    cwd: app.dir,
    env: {HOME: app.home, SSH_AUTH_SOCK: undefined, KAMAL_BACKUP_CONFIG: undefined, KAMAL_BACKUP_IN_ACCESSORY: undefined, KAMAL_BACKUP_REMOTE_CLIENT: undefined, RESTIC_PASSWORD: undefined, ...options.env},
  })
}

export {ROOT}

export interface RawResult {
  code: number | null
  /** stdout exactly as received, bytes. */
  stdout: Buffer
  stderr: string
}

/** Like cli(), but stdout is kept as bytes (for byte-for-byte comparisons), and `onStderr` sees stderr as it
 *  arrives (to act mid-command: kill a connection, send SIGINT). */
export function cliRaw(app: RemoteApp, args: readonly string[], options: {env?: Record<string, string | undefined>; onStderr?: (soFar: string, child: import('node:child_process').ChildProcess) => void; timeoutMs?: number} = {}): Promise<RawResult> {
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', HOME: app.home, SSH_AUTH_SOCK: undefined, KAMAL_BACKUP_CONFIG: undefined, KAMAL_BACKUP_IN_ACCESSORY: undefined, KAMAL_BACKUP_REMOTE_CLIENT: undefined, RESTIC_PASSWORD: undefined, ...options.env}
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {cwd: app.dir, env, stdio: ['ignore', 'pipe', 'pipe']})
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
      options.onStderr?.(stderr, child)
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout: Buffer.concat(out), stderr})
    })
  })
}

/** Runs `kamal-backup <args>` in the app checkout on a real pseudo-terminal (`script`), as an operator would, and
 *  answers each typed-confirmation prompt once it is on the screen: `answer(n, screen)` returns the answer to prompt
 *  n (0: the app name, 1: RESTORE PRODUCTION) and may do other work first (a backup while the operator reads). */
export function onTerminal(app: RemoteApp, args: string, answer: (prompt: number, screen: string) => Promise<string> | string, options: {timeoutMs?: number} = {}): Promise<{code: number | null; screen: string}> {
  // /bin/sh and env -u as in the tty tests (no CI, no BASH_ENV); the lab's variables do not leak in.
  const env = Object.fromEntries(
    Object.entries({...process.env, HOME: app.home, SSH_AUTH_SOCK: undefined, CI: undefined, NO_COLOR: '1', BASH_ENV: undefined, ENV: undefined, TERM: 'xterm', SHELL: '/bin/sh', KAMAL_BACKUP_IN_ACCESSORY: undefined, KAMAL_BACKUP_CONFIG: undefined, KAMAL_BACKUP_REMOTE_CLIENT: undefined, RESTIC_PASSWORD: undefined}).filter(([, v]) => v !== undefined),
  ) as Record<string, string>
  const prompts = [/Type the app name \([^)]*\) to continue: /, /Type RESTORE PRODUCTION to continue: /]
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', `exec env -u CI ${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'bin', 'run.js'))} ${args}`, '/dev/null'], {cwd: app.dir, env, stdio: ['pipe', 'pipe', 'pipe']})
    let screen = ''
    let next = 0
    let busy = false
    const onData = (d: Buffer) => {
      screen += d
      // Answer each prompt only once it is shown: the terminal must not hold both lines for the first read.
      if (busy || next >= prompts.length || !prompts[next]!.test(screen)) return
      busy = true
      const n = next++
      Promise.resolve()
        .then(() => answer(n, screen))
        .then(
          (text) => {
            busy = false
            child.stdin.write(text + '\r')
          },
          (error) => {
            // A failed assertion in `answer`: stop the CLI (nothing was confirmed) and report it.
            child.kill('SIGKILL')
            reject(error)
          },
        )
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, screen})
    })
  })
}
