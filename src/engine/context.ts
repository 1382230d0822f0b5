// Everything an engine command needs, built once per invocation: the validated config, where secrets come from,
// the redactor, progress output, the state directory, a clock and an abort signal (SIGINT/SIGTERM).
import {accessSync, constants, statSync} from 'node:fs'
import {resolve} from 'node:path'
import {connect} from 'node:net'
import {loadBackupConfig} from '../config/backup-config.js'
import {gemEnvReplacement} from '../config/gem.js'
import {throwOnErrors} from '../parse/findings.js'
import {DEFAULT_STATE_DIR, type BackupConfig, type DatabaseConfig, type RepositoryAccess} from '../config/types.js'
import {ConfigError, KamalBackupError} from '../errors.js'
import {localExecutor, type Executor} from '../exec/executor.js'
import type {Log} from '../log.js'
import {Secret, type Redactor} from '../redact.js'
import type {ResticTarget} from '../restic/argv.js'
import {DEFAULT_OPEN_TIMEOUT_MS, DEFAULT_STALL_TIMEOUT_MS, describeLock, detectRestic, Restic, type ResticVersion} from '../restic/client.js'
import type {Progress} from './progress.js'
import {environmentSecrets, resolvePassword, resolveValue, type SecretSource} from '../config/resolve.js'
import {RunEvents} from './events.js'
import {StateDir} from './state.js'

export interface Engine {
  config: BackupConfig
  env: NodeJS.ProcessEnv
  secrets: SecretSource
  redactor: Redactor
  log: Log
  progress: Progress
  /** Every process the engine starts goes through it (tests may pass a recording one). */
  exec: Executor
  /** What happens during a run, for whoever listens (the CLI prints failures; notifications, metrics). */
  events: RunEvents
  state: StateDir
  now: () => Date
  signal: AbortSignal
  resticBin: string
}

export interface EngineOptions {
  configFile: string
  cwd: string
  env: NodeJS.ProcessEnv
  log: Log
  progress: Progress
  signal: AbortSignal
  now?: () => Date
  secrets?: SecretSource
  exec?: Executor
  events?: RunEvents
  /** Overrides the state directory (a workstation keeps its own, under tmp/kamal-backup). */
  stateDir?: string
}

/** Loads and validates the config (every error becomes one clear error) and builds the engine context. */
export function createEngine(options: EngineOptions): Engine {
  const loaded = loadBackupConfig(options.configFile, options.cwd)
  for (const f of loaded.findings.filter((x) => x.severity === 'warning')) options.log.debug(`${f.file}:${f.line}: ${f.message}`)
  throwOnErrors(loaded.findings)
  const config = loaded.config!
  // An accessory still set up for the Ruby gem: its settings in the environment silently do nothing here.
  for (const [name, value] of Object.entries(options.env)) {
    const instead = value ? gemEnvReplacement(name) : undefined
    if (instead) options.log.warn(`${name} is set, but only the Ruby gem read it: kamal-backup ignores it; set ${instead} in ${config.file} (README "Switching from the Ruby gem")`)
  }
  return {
    config,
    env: options.env,
    secrets: options.secrets ?? environmentSecrets(options.env),
    redactor: options.log.redactor,
    log: options.log,
    progress: options.progress,
    exec: options.exec ?? localExecutor,
    events: options.events ?? new RunEvents(options.log),
    state: new StateDir(options.stateDir ?? stateDirectory(config, options.env, options.cwd)),
    now: options.now ?? (() => new Date()),
    signal: options.signal,
    resticBin: options.env.KAMAL_BACKUP_RESTIC ?? 'restic',
  }
}

export function stateDirectory(config: Pick<BackupConfig, 'statePath'>, env: NodeJS.ProcessEnv, cwd: string): string {
  return resolve(cwd, config.statePath ?? env.KAMAL_BACKUP_STATE_DIR ?? DEFAULT_STATE_DIR)
}

/** The restic environment: repository and password from the config (as secrets), backend settings, and a cache
 *  on the state volume. Inherited RESTIC_* settings are cleared so the config alone decides. */
export interface TargetOptions {
  /** Where the settings are in the config, for messages: `restic` (default) or `restic.copies[0]`. */
  where?: string
  /** REST credentials in the URL whatever restic's version: `restic copy` reaches two repositories from one
   *  process, and RESTIC_REST_USERNAME would apply to both. */
  restInUrl?: boolean
}

export function resticTarget(restic: RepositoryAccess, version: ResticVersion | undefined, engine: Pick<Engine, 'secrets' | 'redactor' | 'env' | 'resticBin' | 'state'>, databases: readonly DatabaseConfig[] = [], options: TargetOptions = {}): ResticTarget {
  const {secrets, redactor} = engine
  const where = options.where ?? 'restic'
  const env: Record<string, string | Secret | undefined> = {
    // restic never sees a database's password: libpq's and MySQL's variables, and the secrets the databases name.
    ...Object.fromEntries([...DATABASE_PASSWORD_VARIABLES, ...databaseSecretNames(databases)].map((name) => [name, undefined])),
    RESTIC_REPOSITORY: undefined,
    RESTIC_REPOSITORY_FILE: undefined,
    RESTIC_PASSWORD: undefined,
    RESTIC_PASSWORD_FILE: undefined,
    RESTIC_PASSWORD_COMMAND: undefined,
    ...(options.restInUrl && {RESTIC_REST_USERNAME: undefined, RESTIC_REST_PASSWORD: undefined}),
    RESTIC_CACHE_DIR: engine.env.RESTIC_CACHE_DIR ?? engine.state.file('cache'),
    // Snapshot times in one zone (string comparisons, `--time`), whatever the container's.
    TZ: 'UTC',
  }
  let repository = restic.repository ? resolveValue(restic.repository, `${where}.repository`, secrets, redactor, 'credentials') : undefined
  // The location is shown in evidence and run records: only its credentials are secret, even when the variable
  // holding it has a secret-looking name (RESTIC_REPOSITORY).
  if (repository !== undefined) redactor.addRepository(repository)
  if (restic.rest?.username || restic.rest?.password) {
    const user = restic.rest.username ? resolveValue(restic.rest.username, `${where}.rest.username`, secrets, redactor) : ''
    const password = restic.rest.password ? resolveValue(restic.rest.password, `${where}.rest.password`, secrets, redactor) : ''
    if (!options.restInUrl && (!version || version.major > 0 || version.minor >= 17)) {
      env.RESTIC_REST_USERNAME = user
      env.RESTIC_REST_PASSWORD = new Secret(password)
    } else if (repository && /^rest:https?:\/\//.test(repository)) {
      // restic < 0.17 reads REST credentials only from the URL; it stays in the environment, never on argv.
      repository = repository.replace(/^rest:(https?):\/\/(?:[^@/]*@)?/, (_m, scheme: string) => `rest:${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@`)
    }
  }
  if (repository !== undefined) env.RESTIC_REPOSITORY = new Secret(repository)
  if (restic.repositoryFile) env.RESTIC_REPOSITORY_FILE = restic.repositoryFile
  const password = restic.password
  if (password.kind === 'secret') env.RESTIC_PASSWORD = resolvePassword(password, `${where}.password`, secrets, redactor)
  else if (password.kind === 'file') env.RESTIC_PASSWORD_FILE = checkPasswordFile(password.path)
  else env.RESTIC_PASSWORD_COMMAND = password.command
  for (const [name, ref] of Object.entries(restic.env)) {
    const value = resolveValue(ref, `${where}.env.${name}`, secrets, redactor)
    env[name] = ref.kind === 'secret' ? new Secret(value) : value
  }
  return {bin: engine.resticBin, env, options: restic.options}
}

/** restic.password {file: ...}: readable and not empty, checked before anything runs (restic would only say
 *  "Fatal: ..." after a dump had started). */
export function checkPasswordFile(path: string): string {
  const fail = (why: string) =>
    new ConfigError(`the restic password file ${path} (restic.password) ${why}`, {
      code: 'config/password-file',
      suggestions: ['mount the password file into the accessory (accessories.<name>.files) readable by the kamal-backup process, or use password: {secret: RESTIC_PASSWORD}'],
    })
  try {
    accessSync(path, constants.R_OK)
    const stat = statSync(path)
    if (!stat.isFile()) throw fail('is not a file')
    if (stat.size === 0) throw fail('is empty')
  } catch (error) {
    if (error instanceof ConfigError) throw error
    throw fail(`cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`)
  }
  return path
}

/** The deadline for restic's first call to show the repository opened (KAMAL_BACKUP_REPOSITORY_TIMEOUT, seconds). */
export function openTimeoutMs(env: NodeJS.ProcessEnv): number {
  return secondsSetting(env, 'KAMAL_BACKUP_REPOSITORY_TIMEOUT', DEFAULT_OPEN_TIMEOUT_MS / 1000, 'the seconds restic may take to open the repository (default 60; 0 turns the deadline off)') * 1000
}

/** How long a command waits for a live restic lock (restic ≥ 0.16), after removing stale ones. */
export const DEFAULT_LOCK_WAIT_SECONDS = 120

/** A number of seconds from the environment (0 or more). */
function secondsSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, what: string): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const seconds = Number(raw)
  if (!Number.isFinite(seconds) || seconds < 0) throw new ConfigError(`${name}=${raw} is not a number of seconds`, {code: 'config/invalid', suggestions: [`set it to ${what}`]})
  return seconds
}

const DATABASE_PASSWORD_VARIABLES = ['PGPASSWORD', 'PGPASSFILE', 'MYSQL_PWD']

/** The variables the databases' {secret: NAME} references name (a URL can carry a password too). */
function databaseSecretNames(databases: readonly DatabaseConfig[]): string[] {
  const refs = databases.flatMap((db) => [db.url, db.password])
  return refs.flatMap((ref) => (ref?.kind === 'secret' ? [ref.name] : []))
}

/** The repository, ready to use: restic found and recent enough, the backend reachable. */
export async function openRepository(engine: Engine, restic: RepositoryAccess = engine.config.restic, options: TargetOptions = {}): Promise<Restic> {
  const version = await detectRestic(engine.exec, engine.resticBin, engine.redactor)
  const target = resticTarget(restic, version, engine, engine.config.databases, options)
  const repository = target.env.RESTIC_REPOSITORY
  if (repository instanceof Secret) await probeBackend(repository.reveal(), engine.redactor)
  const backend = repository instanceof Secret ? engine.redactor.redact(repository.reveal()) : restic.repositoryFile ? `in ${restic.repositoryFile}` : undefined
  return new Restic(engine.exec, target, version, engine.redactor, engine.signal, {
    openTimeoutMs: openTimeoutMs(engine.env),
    stallTimeoutMs: secondsSetting(engine.env, 'KAMAL_BACKUP_STALL_TIMEOUT', DEFAULT_STALL_TIMEOUT_MS / 1000, 'the seconds restic may keep retrying a repository that stopped answering (default 300; 0: no limit)') * 1000,
    lockWaitSeconds: secondsSetting(engine.env, 'KAMAL_BACKUP_LOCK_WAIT', DEFAULT_LOCK_WAIT_SECONDS, 'the seconds a command may wait for another restic to release its lock (default 120; 0: fail at once)'),
    onStaleLocks: (locks) => {
      for (const lock of locks) engine.log.warn(`removed ${describeLock(lock)}: its process is gone (or it was not refreshed for 30 minutes)`)
    },
    ...(backend !== undefined && {backend}),
  })
}

/** restic ≥ 0.17 retries an unreachable backend for 15 minutes; a TCP connect tells us in seconds. */
export async function probeBackend(repository: string, redactor: Redactor, timeoutMs = 10_000): Promise<void> {
  const match = /^(?:rest|s3):(https?):\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?/.exec(repository) ?? /^sftp:(?:[^@:]*@)?(\[[^\]]+\]|[^:/]+):/.exec(repository)
  if (!match) return
  const [scheme, host, port] = repository.startsWith('sftp:') ? ['ssh', match[1]!, '22'] : [match[1]!, match[2]!, match[3] ?? (match[1] === 'https' ? '443' : '80')]
  const hostname = host.replace(/^\[|\]$/g, '')
  if (repository.startsWith('sftp:') && !hostname.includes('.') && hostname !== 'localhost') return // an ssh_config alias
  await new Promise<void>((resolvePromise, reject) => {
    const socket = connect({host: hostname, port: Number(port), timeout: timeoutMs})
    const fail = (reason: string) => {
      socket.destroy()
      reject(
        new KamalBackupError(redactor.redact(`the repository server ${hostname}:${port} cannot be reached (${reason})`), {
          code: 'restic/unreachable',
          suggestions: ['check restic.repository, DNS, and that the server is up and reachable from here'],
        }),
      )
    }
    socket.once('connect', () => {
      socket.destroy()
      resolvePromise()
    })
    socket.once('timeout', () => fail(`no answer within ${timeoutMs / 1000} s`))
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message))
    void scheme
  })
}

export function repositoryDisplay(engine: Pick<Engine, 'config' | 'secrets' | 'redactor'>, where = 'restic', r: RepositoryAccess = engine.config.restic): string {
  if (r.repositoryFile) return `file ${r.repositoryFile}`
  if (!r.repository) return '(not set)'
  try {
    const value = resolveValue(r.repository, `${where}.repository`, engine.secrets, engine.redactor, 'credentials')
    return engine.redactor.addRepository(value).redact(value)
  } catch {
    return r.repository.kind === 'secret' ? `{secret: ${r.repository.name}} (not set here)` : '(unknown)'
  }
}
