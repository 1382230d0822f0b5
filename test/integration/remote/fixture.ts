/**
 * Fixtures for the remote-execution tests: an app checkout whose config/deploy.yml points at the lab's OpenSSH
 * server, and a "container" for the lab's stand-in `docker` (test/lab/fake-docker).
 *
 * Docker cannot run in the test environment, so the accessory host (sshd on 127.0.0.1:2222, user kbdeploy) has a
 * thin `docker` on its PATH that implements `docker exec` by running the command directly, in the environment the
 * test writes to $KB_LAB/shared/containers/<container>.env. Everything else is real: OpenSSH's sshd (and a second one
 * as a jump host), the built CLI inside the "container" (an "image" is a snapshot of dist/, so a test can give it
 * another version), restic and the databases.
 */
import {execFileSync, spawn} from 'node:child_process'
import {chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kb, ROOT, type CliOptions, type CliResult} from '../../support/cli.ts'
import {lab, tempDir, uniqueName} from '../../support/lab.ts'

export const FAKE_KAMAL_BACKUP = join(ROOT, 'test/integration/remote/fake-kamal-backup.mjs')

export function containersDir(): string {
  return join(lab().shared, 'containers')
}

/**
 * A copy of the built CLI, as an image would contain it: bin/kamal-backup runs it. `version` rewrites the
 * package version (and the manifest's) to simulate an accessory on another release. Copied under the build lock
 * so a concurrent `npm run build` cannot hand us half a dist/.
 */
export function makeImage(options: {version?: string} = {}): string {
  const dir = tempDir('image')
  execFileSync('flock', ['/tmp/kb-build.lock', 'cp', '-r', join(ROOT, 'bin'), join(ROOT, 'dist'), join(ROOT, 'schemas'), join(ROOT, 'package.json'), join(ROOT, 'oclif.manifest.json'), dir])
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  if (options.version) {
    for (const file of ['package.json', 'oclif.manifest.json']) {
      const path = join(dir, file)
      const json = JSON.parse(readFileSync(path, 'utf8'))
      json.version = options.version
      writeFileSync(path, JSON.stringify(json, null, 2))
    }
  }
  mkdirSync(join(dir, 'image-bin'))
  writeFileSync(join(dir, 'image-bin', 'kamal-backup'), `#!/bin/sh\nexec ${process.execPath} ${join(dir, 'bin', 'run.js')} "$@"\n`)
  execFileSync('chmod', ['-R', 'a+rX', dir])
  chmodSync(join(dir, 'image-bin', 'kamal-backup'), 0o755)
  return join(dir, 'image-bin')
}

/** An image whose kamal-backup is the argv-echoing stand-in (FAKE_* variables steer it). */
export function fakeImage(): string {
  const dir = tempDir('fake-image')
  writeFileSync(join(dir, 'kamal-backup'), `#!/bin/sh\nexec ${process.execPath} ${FAKE_KAMAL_BACKUP} "$@"\n`)
  chmodSync(join(dir, 'kamal-backup'), 0o755)
  return dir
}

export interface Container {
  name: string
  file: string
  write(env: Record<string, string>): void
  remove(): void
}

export function container(name: string, env: Record<string, string>): Container {
  const file = join(containersDir(), `${name}.env`)
  const c: Container = {
    name,
    file,
    write(values) {
      writeFileSync(file, Object.entries(values).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', {mode: 0o644})
      chmodSync(file, 0o644)
    },
    remove() {
      rmSync(file, {force: true})
    },
  }
  c.write(env)
  return c
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
