/**
 * Typed access to the loopback test lab started by `bash test/lab/up.sh` (stopped by `bash test/lab/down.sh`).
 * Node built-ins only. Everything lives under $KB_LAB (default /tmp/kb-lab); up.sh writes $KB_LAB/env.json.
 *
 *   lab(): Lab                       the parsed env.json; throws "run `bash test/lab/up.sh`" when it is missing
 *   labAvailable(): boolean          env.json exists (use it for `{skip: ...}` if a test may run without the lab)
 *   resticBin(version)               /usr/bin/restic (0.14) or $KB_LAB/bin/restic-0.18
 *   RESTIC_VERSIONS                  ['0.14', '0.18'] — loop over it to test both
 *
 *   tempDir(prefix)                  new 0777 dir under $KB_LAB/shared/tmp (the remote user kbdeploy can use it too);
 *                                    down.sh deletes them all
 *   freshRepo(version, dir?)         `cp -a` of the version's template repository (password lab().resticPassword)
 *                                    to dir (default: a new tempDir); returns its path. Lab repos are group-shared
 *                                    (group kblab): root (the tests) and kbdeploy (over ssh/sftp) can both use them.
 *   prepareRepo(backend, version)    a ready, empty repository on 'local' | 'rest' | 'rest-auth' | 's3' | 'sftp':
 *                                    { repository, args, env, ... } to hand to restic (or to the CLI's config)
 *
 *   run(cmd, args, opts)             spawn with a deadline (default 60 s; SIGKILL to the whole process group),
 *                                    never throws on exit codes -> { code, signal, stdout, stderr, timedOut }
 *   runOk(cmd, args, opts)           the same, but throws (with stderr) unless the exit code is 0
 *   restic(version, args, opts)      run() with RESTIC_PASSWORD/RESTIC_CACHE_DIR set and a 120 s deadline. ALWAYS
 *                                    bound restic: 0.18 retries an unreachable backend (or a bad TLS cert) for 15 min.
 *   withTimeout(work, ms, what)      bound any promise; `work` may be a function receiving an AbortSignal
 *
 *   createPostgresDatabase(name?)    a new database owned by kbapp -> { name, user, password, url, urlWithPassword, ... }
 *   createMariaDatabase(name?)       a new database (user kb has ALL on *.*) -> same shape
 *   psql(db, sql, {as})              run SQL as the superuser (or as: 'app'), return stdout (-At: unaligned, tuples only)
 *   mariadb(db, sql)                 run SQL as kb, return stdout (-N -B: tab-separated, no headers)
 *   dropPostgresDatabase / dropMariaDatabase
 *   ssh(command, {via})              OpenSSH client as kbdeploy to sshd #1 ('direct') or through the jump host ('jump')
 *
 * Passwords reach psql/mariadb through PGPASSWORD/MYSQL_PWD in the child's environment, never argv.
 */
import {spawn, execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'

export type ResticVersion = '0.14' | '0.18'
export const RESTIC_VERSIONS: readonly ResticVersion[] = ['0.14', '0.18']
export type Backend = 'local' | 'rest' | 'rest-auth' | 's3' | 'sftp'
export const BACKENDS: readonly Backend[] = ['local', 'rest', 'rest-auth', 's3', 'sftp']

export interface Lab {
  version: 1
  root: string
  writtenAt: string
  restic: {version: ResticVersion; fullVersion: string; bin: string; template: string}[]
  resticPassword: string
  /** RESTIC_CACHE_DIR for restic runs from the tests (removed by down.sh) */
  resticCacheDir: string
  postgres: {
    host: string; port: number; socketDir: string; version: string; binDir: string
    superuser: string; superuserPassword: string; appUser: string; appPassword: string; dataDir: string
  }
  mariadb: {
    host: string; port: number; socket: string; version: string
    user: string; password: string; rootSocketUser: string; dataDir: string
  }
  ssh: {
    host: string; port: number; user: string; uid: number; gid: number; group: string; home: string
    privateKey: string; publicKey: string; knownHosts: string
    /** "SHA256:..." as printed by ssh-keygen -lf */
    hostKeyFingerprint: string; hostPublicKey: string
    /** ssh_config with Host kblab, kblab-jump and kblab-via-jump (BatchMode, strict host key checking) */
    config: string; alias: string; viaJumpAlias: string
    /** PATH of every session: remoteBin first */
    remotePath: string; clientVersion: string
  }
  jump: {host: string; port: number; user: string; hostKeyFingerprint: string; hostPublicKey: string; alias: string}
  rest: {
    noauth: {host: string; port: number; url: string; dir: string}
    auth: {host: string; port: number; url: string; urlWithCredentials: string; user: string; password: string; dir: string}
  }
  s3: {
    host: string; port: number; endpoint: string; bucket: string; url: string
    accessKeyId: string; secretAccessKey: string; caCert: string; dir: string
  }
  /** sftp repositories: `${urlPrefix}${root}/name` with `-o sftp.command=${command}` */
  sftp: {root: string; hostAlias: string; urlPrefix: string; command: string}
  /** a tmpfs mount point (restore-into-a-mount-point tests) */
  mountPoint: string
  /** mode 1777, shared with kbdeploy */
  shared: string
  /** where tempDir() creates its directories */
  tmp: string
  /** first on the PATH of every ssh session (the stand-in `docker` goes here) */
  remoteBin: string
  logs: string
  bins: {
    sqlite3: string; ssh: string; rclone: string; mariadb: string; mariadbDump: string
    psql: string; pgDump: string; pgRestore: string
  }
}

export function labRoot(): string {
  return process.env['KB_LAB'] || '/tmp/kb-lab'
}

/** The real tools that read generated deployment files, unpacked from Debian trixie by scripts/setup.sh --test:
 *  podman 5.4's quadlet generator (`QUADLET_UNIT_DIRS=DIR quadlet -dryrun`: exit 1 and the reason on stderr for a
 *  file it cannot convert) and Docker Compose v2.26 (`-f a -f b config`: merges, validates against the Compose
 *  Specification, needs no daemon; exit 15 invalid, 14 a missing file). */
export function checkers(): {quadlet: string; compose: string} {
  return {quadlet: join(labRoot(), 'quadlet/usr/libexec/podman/quadlet'), compose: join(labRoot(), 'bin/docker-compose-2')}
}

let cached: Lab | undefined

export function labAvailable(): boolean {
  return existsSync(join(labRoot(), 'env.json'))
}

export function lab(): Lab {
  if (cached) return cached
  const file = join(labRoot(), 'env.json')
  if (!existsSync(file)) {
    throw new Error(`The test lab is not running (${file} not found). Start it with: bash test/lab/up.sh`)
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Lab
  if (parsed.version !== 1 || typeof parsed.root !== 'string') {
    throw new Error(`${file} has an unexpected format; re-run: bash test/lab/up.sh`)
  }
  cached = parsed
  return parsed
}

export function resticBin(version: ResticVersion): string {
  const r = lab().restic.find((x) => x.version === version)
  if (!r) throw new Error(`restic ${version} is not in the lab (env.json)`)
  return r.bin
}

// ------------------------------------------------------------------------------------------------------------------
// processes with deadlines
// ------------------------------------------------------------------------------------------------------------------

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`)
    this.name = 'TimeoutError'
  }
}

/** Bound a promise. With a function, it gets an AbortSignal that fires at the deadline (so it can stop its work). */
export async function withTimeout<T>(
  work: Promise<T> | ((signal: AbortSignal) => Promise<T>),
  ms: number,
  what = 'operation',
): Promise<T> {
  const ac = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort(new TimeoutError(what, ms))
      reject(new TimeoutError(what, ms))
    }, ms)
  })
  try {
    return await Promise.race([typeof work === 'function' ? work(ac.signal) : work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

export interface RunOptions {
  /** merged over process.env */
  env?: Record<string, string | undefined>
  cwd?: string
  /** written to stdin, which is then closed (stdin is /dev/null-like when absent) */
  input?: string | Buffer
  /** default 60 000 */
  timeoutMs?: number
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
  /** for messages: the command line (no environment) */
  command: string
}

/**
 * Run a command with a deadline. The child gets its own process group, and the whole group is SIGKILLed at the
 * deadline (so `sh -c 'a | b'` leaves nothing behind). Never rejects for a non-zero exit; see runOk().
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000
  const command = [cmd, ...args].join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: {...process.env, ...opts.env},
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer = setTimeout(() => {
      timedOut = true
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        command,
      })
    })
    child.stdin.on('error', () => {}) // the child may exit without reading its input (EPIPE)
    child.stdin.end(opts.input ?? '')
  })
}

export function describeResult(r: RunResult): string {
  const how = r.timedOut ? 'timed out' : r.signal ? `was killed by ${r.signal}` : `exited ${r.code}`
  return `${r.command} ${how}\n--- stderr ---\n${r.stderr.trim()}\n--- stdout ---\n${r.stdout.slice(0, 2000).trim()}`
}

export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) throw new Error(describeResult(r))
  return r
}

/** Environment for restic from the tests: the lab's repository password and cache dir. */
export function resticEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const l = lab()
  return {RESTIC_PASSWORD: l.resticPassword, RESTIC_CACHE_DIR: l.resticCacheDir, ...extra}
}

export interface ResticOptions extends RunOptions {
  /** -r <repository> is prepended when given */
  repo?: string | RepoTarget
}

/** Run restic (bounded: default 120 s). A RepoTarget supplies -r, its backend args (--cacert, -o sftp.command) and env. */
export function restic(version: ResticVersion, args: readonly string[], opts: ResticOptions = {}): Promise<RunResult> {
  const {repo, ...rest} = opts
  const target = typeof repo === 'string' ? {repository: repo, args: [], env: {}} : repo
  const full = target ? ['-r', target.repository, ...target.args, ...args] : [...args]
  return run(resticBin(version), full, {
    ...rest,
    timeoutMs: rest.timeoutMs ?? 120_000,
    env: resticEnv({...target?.env, ...rest.env}),
  })
}

// ------------------------------------------------------------------------------------------------------------------
// directories and repositories
// ------------------------------------------------------------------------------------------------------------------

let counter = 0
/** A short name unique across concurrently running test processes: prefix_<pid>_<n>_<random>. */
export function uniqueName(prefix = 'kb'): string {
  counter += 1
  return `${prefix}_${process.pid}_${counter}_${randomBytes(3).toString('hex')}`
}

/** A new, empty, world-writable (0777) directory under $KB_LAB/shared/tmp; down.sh removes them all. */
export function tempDir(prefix: string): string {
  const safe = prefix.replace(/[^A-Za-z0-9._-]/g, '-')
  const dir = mkdtempSync(join(lab().tmp, `${safe}-`))
  chmodSync(dir, 0o777)
  return dir
}

/**
 * Copy the version's template repository (initialized once by up.sh, password lab().resticPassword) with `cp -a`,
 * which keeps the group-sharing modes. `dir` must not exist, or be an empty directory. Returns the repository path.
 */
export function freshRepo(version: ResticVersion, dir?: string): string {
  const template = lab().restic.find((r) => r.version === version)?.template
  if (!template || !existsSync(join(template, 'config'))) {
    throw new Error(`no restic ${version} template repository in the lab; re-run: bash test/lab/up.sh`)
  }
  const dest = dir ?? join(tempDir(`repo-${version}`), 'repo')
  if (existsSync(dest)) {
    if (!statSync(dest).isDirectory() || readdirSync(dest).length > 0) {
      throw new Error(`freshRepo: ${dest} exists and is not an empty directory`)
    }
    execFileSync('cp', ['-a', `${template}/.`, dest], {stdio: 'pipe'})
  } else {
    execFileSync('cp', ['-a', template, dest], {stdio: 'pipe'})
  }
  return dest
}

export interface RepoTarget {
  backend: Backend
  version: ResticVersion
  /** what goes after -r / into RESTIC_REPOSITORY (for rest-auth it carries the credentials: user:pass@) */
  repository: string
  /** extra restic args this backend needs: --cacert for s3, -o sftp.command=... for sftp */
  args: string[]
  /** extra environment: AWS keys for s3 */
  env: Record<string, string>
  /** the directory behind the repository (not for s3) */
  dir?: string
  /** rest-auth: the URL without credentials, and the credentials (RESTIC_REST_USERNAME/PASSWORD work on 0.18 only) */
  repositoryWithoutCredentials?: string
  credentials?: {user: string; password: string}
}

/**
 * An empty repository on the given backend, ready for `restic backup`. Template copies for local, REST and SFTP
 * (instant); `restic init` for S3 (s3rver keeps its own object layout; 2-4 s).
 */
export async function prepareRepo(backend: Backend, version: ResticVersion, name = uniqueName('repo')): Promise<RepoTarget> {
  const l = lab()
  switch (backend) {
    case 'local': {
      const dir = freshRepo(version)
      return {backend, version, repository: dir, args: [], env: {}, dir}
    }
    case 'rest': {
      const dir = freshRepo(version, join(l.rest.noauth.dir, name))
      return {backend, version, repository: `${l.rest.noauth.url}/${name}`, args: [], env: {}, dir}
    }
    case 'rest-auth': {
      const dir = freshRepo(version, join(l.rest.auth.dir, name))
      return {
        backend, version, dir,
        repository: `${l.rest.auth.urlWithCredentials}/${name}`,
        repositoryWithoutCredentials: `${l.rest.auth.url}/${name}`,
        credentials: {user: l.rest.auth.user, password: l.rest.auth.password},
        args: [], env: {},
      }
    }
    case 'sftp': {
      const dir = freshRepo(version, join(l.sftp.root, name))
      return {backend, version, repository: `${l.sftp.urlPrefix}${dir}`, args: ['-o', `sftp.command=${l.sftp.command}`], env: {}, dir}
    }
    case 's3': {
      const target: RepoTarget = {
        backend, version,
        repository: `${l.s3.url}/${name}`,
        args: ['--cacert', l.s3.caCert],
        env: {AWS_ACCESS_KEY_ID: l.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: l.s3.secretAccessKey},
      }
      const r = await restic(version, ['init', '-q'], {repo: target, timeoutMs: 60_000})
      if (r.code !== 0) throw new Error(`restic init on s3 failed: ${describeResult(r)}`)
      return target
    }
  }
}

// ------------------------------------------------------------------------------------------------------------------
// databases
// ------------------------------------------------------------------------------------------------------------------

export interface TestDatabase {
  name: string
  user: string
  password: string
  host: string
  port: number
  /** without the password (pass it separately, e.g. in an env var) */
  url: string
  urlWithPassword: string
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/

function checkIdent(name: string): string {
  if (!IDENT.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)} (want ${IDENT})`)
  return name
}

/** SQL as the PostgreSQL superuser (default) or as kbapp; returns stdout of `psql -X -qAt` (ON_ERROR_STOP). */
export async function psql(db: string, sql: string, opts: {as?: 'superuser' | 'app'; timeoutMs?: number; server?: PostgresServer} = {}): Promise<string> {
  const pg = opts.server ?? lab().postgres
  const app = opts.as === 'app'
  const r = await run(join(pg.binDir, 'psql'), ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-h', pg.host, '-p', String(pg.port),
    '-U', app ? pg.appUser : pg.superuser, '-d', db, '-f', '-'], {
    input: sql,
    timeoutMs: opts.timeoutMs ?? 60_000,
    env: {PGPASSWORD: app ? pg.appPassword : pg.superuserPassword, PGCONNECT_TIMEOUT: '10', PGSSLMODE: 'disable'},
  })
  if (r.code !== 0) throw new Error(`psql -d ${db} failed: ${describeResult(r)}`)
  return r.stdout.replace(/\n$/, '')
}

/** A PostgreSQL server the tests use: the lab's, or another one with the same users (a PostgreSQL 17 container). */
export type PostgresServer = Pick<Lab['postgres'], 'host' | 'port' | 'binDir' | 'superuser' | 'superuserPassword' | 'appUser' | 'appPassword'>

export async function createPostgresDatabase(name = uniqueName('kbt'), server?: PostgresServer): Promise<TestDatabase> {
  const pg = server ?? lab().postgres
  checkIdent(name)
  await psql('postgres', `CREATE DATABASE "${name}" OWNER "${pg.appUser}";`, {...(server && {server})})
  const base = `${pg.host}:${pg.port}/${name}`
  return {
    name, user: pg.appUser, password: pg.appPassword, host: pg.host, port: pg.port,
    url: `postgres://${pg.appUser}@${base}`,
    urlWithPassword: `postgres://${pg.appUser}:${encodeURIComponent(pg.appPassword)}@${base}`,
  }
}

export async function dropPostgresDatabase(name: string, server?: PostgresServer): Promise<void> {
  await psql('postgres', `DROP DATABASE IF EXISTS "${checkIdent(name)}" WITH (FORCE);`, {...(server && {server})})
}

/** SQL as the MariaDB user kb over TCP; returns stdout of `mariadb -N -B`. db '' = no default database. */
export async function mariadb(db: string, sql: string, opts: {timeoutMs?: number} = {}): Promise<string> {
  const my = lab().mariadb
  const args = ['--no-defaults', '--connect-timeout=10', '-h', my.host, '-P', String(my.port), '-u', my.user, '-N', '-B']
  if (db) args.push(db)
  const r = await run(lab().bins.mariadb, args, {input: sql, timeoutMs: opts.timeoutMs ?? 60_000, env: {MYSQL_PWD: my.password}})
  if (r.code !== 0) throw new Error(`mariadb ${db} failed: ${describeResult(r)}`)
  return r.stdout.replace(/\n$/, '')
}

export async function createMariaDatabase(name = uniqueName('kbt')): Promise<TestDatabase> {
  const my = lab().mariadb
  checkIdent(name)
  await mariadb('', `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4;`)
  const base = `${my.host}:${my.port}/${name}`
  return {
    name, user: my.user, password: my.password, host: my.host, port: my.port,
    url: `mysql://${my.user}@${base}`,
    urlWithPassword: `mysql://${my.user}:${encodeURIComponent(my.password)}@${base}`,
  }
}

export async function dropMariaDatabase(name: string): Promise<void> {
  await mariadb('', `DROP DATABASE IF EXISTS \`${checkIdent(name)}\`;`)
}

// ------------------------------------------------------------------------------------------------------------------
// ssh (OpenSSH client; for baselines and for checking what happened on the "remote" side)
// ------------------------------------------------------------------------------------------------------------------

/** Run a command as kbdeploy on sshd #1, directly or through the jump host. Bounded (default 30 s). */
export function ssh(command: string, opts: RunOptions & {via?: 'direct' | 'jump'} = {}): Promise<RunResult> {
  const l = lab()
  const {via, ...rest} = opts
  const host = via === 'jump' ? l.ssh.viaJumpAlias : l.ssh.alias
  return run(l.bins.ssh, ['-F', l.ssh.config, host, command], {...rest, timeoutMs: rest.timeoutMs ?? 30_000})
}
