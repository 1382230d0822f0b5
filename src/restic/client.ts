// Runs restic and turns what it prints into typed results and actionable errors. Knows the differences between
// restic 0.14 (Debian 12) and 0.17+ (exit codes 10/11/12, --stdin-from-command, REST credentials in env).
import {InterruptedError, KamalBackupError, type ErrorCode} from '../errors.js'
import {runChecked, type Executor} from '../exec/executor.js'
import {CommandFailedError, lastLines, type OpenDeadline, type StallDeadline, type ProcessResult, type RunOptions} from '../exec/local.js'
import type {CommandSpec} from '../exec/spec.js'
import type {Redactor} from '../redact.js'
import type {RetentionPolicy} from '../config/types.js'
import {resticArgv, type ResticTarget, type SnapshotTags} from './argv.js'
import {FULL_CACHE_STUCK_MS, watchFullCache} from './full-cache.js'

export interface ResticVersion {
  major: number
  minor: number
  patch: number
  text: string
}

export const MINIMUM_RESTIC = {major: 0, minor: 14, patch: 0}

export interface Snapshot {
  id: string
  short_id: string
  time: string
  hostname: string
  paths: string[]
  tags?: string[]
  /** A copied snapshot: the id it has in the repository it was copied from. */
  original?: string
  summary?: {total_bytes_processed?: number; data_added?: number; backup_start?: string; backup_end?: string}
}

export interface BackupSummary {
  snapshotId: string
  bytes: number
  dataAdded: number
  files: number
  durationSeconds: number
}

export interface ProgressUpdate {
  percent?: number
  bytesDone: number
  totalBytes?: number
  secondsElapsed?: number
}

export function parseResticVersion(text: string): ResticVersion | undefined {
  const match = /restic (\d+)\.(\d+)\.(\d+)/.exec(text)
  if (!match) return undefined
  return {major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), text: `${match[1]}.${match[2]}.${match[3]}`}
}

export function atLeast(v: ResticVersion, major: number, minor: number, patch = 0): boolean {
  return v.major !== major ? v.major > major : v.minor !== minor ? v.minor > minor : v.patch >= patch
}

/** What this restic can do; picked once per run from the version. */
export function capabilities(v: ResticVersion) {
  return {
    /** --stdin-from-command: restic saves nothing when the dump fails. */
    stdinFromCommand: atLeast(v, 0, 17),
    /** RESTIC_REST_USERNAME / RESTIC_REST_PASSWORD. */
    restCredentialsInEnv: atLeast(v, 0, 17),
    /** `restore snapshot:subfolder`. */
    restoreSubfolder: atLeast(v, 0, 17),
    /** --retry-lock: wait for a lock to be released. */
    retryLock: atLeast(v, 0, 16),
    /** restic repair index|packs|snapshots (0.14 has rebuild-index only). */
    repair: atLeast(v, 0, 16),
  }
}

export async function detectRestic(executor: Executor, bin: string, redactor?: Redactor): Promise<ResticVersion> {
  const result = await runChecked(executor, resticArgv.version({bin, env: {}, options: []}), redactor ? {redactor} : {})
  const version = parseResticVersion(result.stdout)
  if (!version) throw new KamalBackupError(`could not read the restic version from "${result.stdout.trim()}"`, {code: 'restic/version'})
  if (!atLeast(version, MINIMUM_RESTIC.major, MINIMUM_RESTIC.minor, MINIMUM_RESTIC.patch)) {
    throw new KamalBackupError(`restic ${version.text} is too old: kamal-backup needs restic 0.14 or newer`, {
      code: 'restic/too-old',
      suggestions: ['upgrade restic (the accessory image ships a current release)'],
    })
  }
  return version
}

/** How long restic's first call may go without a sign that the repository opened (default 60 s). */
export const DEFAULT_OPEN_TIMEOUT_MS = 60_000

/** How long restic may keep retrying a backend that stopped answering before it is stopped (default 300 s). */
export const DEFAULT_STALL_TIMEOUT_MS = 300_000

/** restic's retry notices (0.14 to 0.18): "Save(<data/…>) returned error, retrying after 1.2s: …", and the line
 *  that says an operation went through in the end. */
const RETRYING_LINE = /\) returned error, retrying after /
const RECOVERED_LINE = /\) operation successful after \d+ retries/

/** Lines restic prints on stdout before the repository is open (check, prune): not a sign of life. */
const PRE_OPEN_LINE = /^(using temporary cache|create (exclusive )?lock|repo already locked|\{"message_type":"exit_error")/

export interface ResticOptions {
  /** The deadline for the first repository-opening call; 0 disables it. */
  openTimeoutMs?: number
  /** How long a run of retries may last before the command is stopped; 0 disables it. */
  stallTimeoutMs?: number
  /** The backend, as shown in errors (credentials already redacted). */
  backend?: string
  /** How long a second attempt waits for a live lock to be released (restic ≥ 0.16's --retry-lock); 0: not at all. */
  lockWaitSeconds?: number
  /** Told of the stale locks removed to let a command through. */
  onStaleLocks?: (locks: readonly StaleLock[]) => void
}

/** A restic lock, as `restic cat lock` shows it. */
export interface StaleLock {
  id: string
  hostname: string | null
  pid: number | null
  exclusive: boolean
  created: string | null
}

/** "a stale restic lock (exclusive) of pid 4242 on host web-1, created 2026-12-07T06:02:03Z" */
export function describeLock(lock: StaleLock): string {
  const who = lock.pid !== null ? `pid ${lock.pid}${lock.hostname ? ` on host ${lock.hostname}` : ''}` : `id ${lock.id.slice(0, 8)}`
  return `a stale restic lock${lock.exclusive ? ' (exclusive)' : ''} of ${who}${lock.created ? `, created ${lock.created}` : ''}`
}

/** restic ≥ 0.16's global --retry-lock, before the command's own arguments. */
function waitingForLock(spec: CommandSpec, seconds: number | undefined): CommandSpec {
  if (!seconds) return spec
  const [bin, ...rest] = spec.argv
  return {...spec, argv: [bin, '--retry-lock', `${seconds}s`, ...rest] as CommandSpec['argv']}
}

/** A failed step whose snapshot restic saved anyway and that could not be forgotten: the run must remember it, so
 *  it is never counted (see failedSnapshotIds) and is forgotten later. */
export class LeftoverSnapshotError extends KamalBackupError {
  constructor(
    message: string,
    readonly snapshotId: string,
    suggestions: readonly string[],
    cause?: KamalBackupError,
  ) {
    super(message, {
      code: 'restic/leftover-snapshot',
      exitCode: cause?.exitCode ?? 1,
      suggestions: [`it is kept out of \`list\`, evidence and restores, and the next successful backup forgets it; or remove it now with \`restic forget ${snapshotId.slice(0, 8)}\``, ...suggestions],
      ...(cause && {cause}),
    })
    this.name = 'LeftoverSnapshotError'
  }
}

export class Restic {
  readonly caps: ReturnType<typeof capabilities>
  readonly openTimeoutMs: number
  readonly stallTimeoutMs: number
  /** Stale locks this instance removed (reported in the run's record). */
  readonly removedLocks: StaleLock[] = []
  #opened = false
  constructor(
    readonly executor: Executor,
    readonly target: ResticTarget,
    readonly version: ResticVersion,
    readonly redactor: Redactor,
    readonly signal?: AbortSignal,
    readonly options: ResticOptions = {},
  ) {
    this.caps = capabilities(version)
    this.openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
  }

  /** restic ≥ 0.17 retries a backend that accepts connections but answers garbage for 15 minutes, silently: until
   *  one call has shown the repository opens, each call must show a sign of life within the deadline. */
  protected openDeadline(): OpenDeadline | undefined {
    if (this.#opened || this.openTimeoutMs <= 0) return undefined
    return {ms: this.openTimeoutMs, opened: (line) => line.trim() !== '' && !PRE_OPEN_LINE.test(line)}
  }

  /** A backend that goes away mid-run: restic retries each operation for 15 minutes or more (measured: 0.14
   *  still retrying after 18 min, 0.18 after 20), silently to a scheduler. A run of retry lines that lasts the
   *  stall deadline with no recovery stops the command. */
  protected stallDeadline(): StallDeadline | undefined {
    if (this.stallTimeoutMs <= 0) return undefined
    return {ms: this.stallTimeoutMs, failing: (line) => RETRYING_LINE.test(line), recovered: (line) => RECOVERED_LINE.test(line)}
  }

  /** The watchdogs of a repository call, as run options. */
  protected deadlines(): Pick<RunOptions, 'openDeadline' | 'stallDeadline'> {
    const open = this.openDeadline()
    const stall = this.stallDeadline()
    return {...(open && {openDeadline: open}), ...(stall && {stallDeadline: stall})}
  }

  /** After a call: a timeout becomes the "not answering" error; anything restic answered proves it can talk. */
  protected settle(result: ProcessResult): void {
    if (result.openTimedOut) throw this.notAnswering()
    if (result.stalled) throw this.stalled()
    if (result.exitCode === 0 || result.stdout.length > 0) this.#opened = true
  }

  /** restic's cache (in the state directory unless RESTIC_CACHE_DIR says otherwise): a full one is a full state
   *  volume, not a full repository. */
  get cacheDir(): string | undefined {
    const dir = this.target.env.RESTIC_CACHE_DIR
    return typeof dir === 'string' ? dir : undefined
  }

  /** restic ≥ 0.17 stuck on a full cache (see full-cache.ts), stopped. */
  stuckOnFullCache(): KamalBackupError {
    return new KamalBackupError(`no space left on device in the state directory: restic could not write its cache (${this.cacheDir ?? 'RESTIC_CACHE_DIR'}) and stopped making progress; it was stopped after ${FULL_CACHE_STUCK_MS / 1000} s (restic 0.17 and later wait for ever there)`, {
      code: 'restic/disk-full',
      suggestions: [FREE_STATE_VOLUME],
    })
  }

  notAnswering(): KamalBackupError {
    const backend = this.options.backend ?? 'the restic repository'
    const seconds = Math.round(this.openTimeoutMs / 1000)
    return new KamalBackupError(this.redactor.redact(`the repository ${backend} cannot be reached or is not answering: restic could not open it within ${seconds} s`), {
      code: 'restic/unreachable',
      suggestions: [
        'check restic.repository (scheme, host, port and path) and that the server behind it is a restic backend (REST server, S3, SFTP) that is up',
        'a slow but working backend: raise the deadline with KAMAL_BACKUP_REPOSITORY_TIMEOUT=<seconds> in the accessory environment',
      ],
    })
  }

  stalled(): KamalBackupError {
    const backend = this.options.backend ?? 'the restic repository'
    const seconds = Math.round(this.stallTimeoutMs / 1000)
    return new KamalBackupError(this.redactor.redact(`the repository ${backend} stopped answering: restic kept retrying for ${seconds} s and was stopped`), {
      code: 'restic/unreachable',
      suggestions: [
        'check that the repository server is up and reachable from the accessory; the next run tries again',
        'a backend that is known to pause for longer: raise the limit with KAMAL_BACKUP_STALL_TIMEOUT=<seconds> in the accessory environment',
      ],
    })
  }

  /** One attempt; when restic finds the repository locked, the locks that are provably stale are removed (restic
   *  unlock: its holder's process is gone on this host, or the lock was not refreshed for 30 minutes; a live lock,
   *  or a fresh one of another host, is never touched) and the command tried again, on restic ≥ 0.16 waiting a
   *  while (--retry-lock) for a live lock to be released. A killed restic's lock then stops nothing. */
  async #recovering<T>(attempt: (waitSeconds?: number) => Promise<T>): Promise<T> {
    try {
      return await attempt()
    } catch (error) {
      if (!(error instanceof KamalBackupError && error.code === 'restic/locked')) throw error
      const removed = await this.removeStaleLocks().catch(() => [])
      const wait = this.caps.retryLock && (this.options.lockWaitSeconds ?? 0) > 0 ? this.options.lockWaitSeconds : undefined
      if (removed.length === 0 && wait === undefined) throw stillLocked(error)
      try {
        return await attempt(wait)
      } catch (again) {
        throw again instanceof KamalBackupError && again.code === 'restic/locked' ? stillLocked(again, wait) : again
      }
    }
  }

  /** `restic unlock`, reporting what it removed: the locks before and after, each described first. */
  async removeStaleLocks(): Promise<StaleLock[]> {
    const before = await this.#listLocks()
    if (before.length === 0) return []
    const described = await Promise.all(before.map((id) => this.#describeLock(id)))
    await this.#runOnce(resticArgv.unlock(this.target))
    const after = new Set(await this.#listLocks())
    const removed = described.filter((lock) => !after.has(lock.id))
    if (removed.length > 0) {
      this.removedLocks.push(...removed)
      this.options.onStaleLocks?.(removed)
    }
    return removed
  }

  /** The ids of the locks in the repository now. */
  locks(): Promise<string[]> {
    return this.#listLocks()
  }

  async #listLocks(): Promise<string[]> {
    const result = await this.#runOnce(resticArgv.listLocks(this.target))
    return result.stdout.split('\n').map((l) => l.trim()).filter((l) => /^[0-9a-f]{64}$/.test(l))
  }

  async #describeLock(id: string): Promise<StaleLock> {
    try {
      const result = await this.#runOnce(resticArgv.catLock(this.target, id))
      const lock = JSON.parse(result.stdout) as {time?: string; exclusive?: boolean; hostname?: string; pid?: number}
      return {id, hostname: lock.hostname ?? null, pid: lock.pid ?? null, exclusive: lock.exclusive === true, created: lock.time ?? null}
    } catch {
      return {id, hostname: null, pid: null, exclusive: false, created: null}
    }
  }

  /** Runs a repository command; failures become classified errors (a stale lock is removed and the command tried
   *  again). */
  async run(spec: CommandSpec, options: RunOptions = {}): Promise<ProcessResult> {
    return this.#recovering((wait) => this.#runOnce(waitingForLock(spec, wait), options))
  }

  async #runOnce(spec: CommandSpec, options: RunOptions = {}): Promise<ProcessResult> {
    const result = await this.executor.run(spec, {redactor: this.redactor, ...(this.signal && {signal: this.signal}), ...this.deadlines(), ...options})
    if (result.interrupted) throw new InterruptedError()
    this.settle(result)
    if (result.exitCode !== 0) throw resticError(spec, result, this.redactor, {version: this.version, cacheDir: this.cacheDir})
    return result
  }

  async snapshots(tags: readonly string[]): Promise<Snapshot[]> {
    const result = await this.run(resticArgv.snapshots(this.target, tags))
    const parsed = parseJson<Snapshot[] | null>(result.stdout, 'restic snapshots')
    // restic ANDs the tags of one --tag flag; check again here, so a restic quirk can never widen the set.
    return (parsed ?? []).filter((s) => tags.every((t) => s.tags?.includes(t)))
  }

  /** Is there a repository? Distinguishes "not initialised" from a wrong password or an unreachable server. */
  async exists(): Promise<boolean> {
    try {
      await this.run(resticArgv.catConfig(this.target))
      return true
    } catch (error) {
      if (error instanceof KamalBackupError && error.code === 'restic/no-repository') return false
      throw error
    }
  }

  async init(): Promise<void> {
    await this.run(resticArgv.init(this.target))
  }

  /** Creates this repository as a copy of `source`: the same chunker parameters. */
  async initCopy(source: ResticTarget): Promise<void> {
    await this.run(resticArgv.initCopy(this.target, source))
  }

  /** `restic copy` of these snapshots of `source` into this repository (restic skips those already there). */
  async copyFrom(source: ResticTarget, ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.run(resticArgv.copy(this.target, source, ids))
  }

  backupFromCommand(filename: string, snapshot: SnapshotTags, producer: CommandSpec, onProgress?: (p: ProgressUpdate) => void): Promise<BackupSummary> {
    return this.#recovering((wait) => this.#backupFromCommand(filename, snapshot, producer, onProgress, wait))
  }

  async #backupFromCommand(filename: string, snapshot: SnapshotTags, producer: CommandSpec, onProgress: ((p: ProgressUpdate) => void) | undefined, wait: number | undefined): Promise<BackupSummary> {
    const spec = waitingForLock(resticArgv.backupFromCommand(this.target, filename, snapshot, producer, process.env), wait)
    let summary: BackupSummary | undefined
    const watch = watchFullCache(this.cacheDir, this.signal)
    const result = await this.executor.run(spec, {
      redactor: this.redactor,
      ...(watch.signal && {signal: watch.signal}),
      ...this.deadlines(),
      // restic runs the dump as its child: signals reach the dump tool and its own children too.
      processGroup: true,
      onStdoutLine: (line) => {
        watch.line(line)
        summary = handleBackupLine(line, onProgress) ?? summary
      },
    }).finally(watch.stop)
    if (watch.stuck) throw await this.discard(summary, this.stuckOnFullCache())
    if (result.interrupted) throw await this.discard(summary, new InterruptedError())
    this.settle(result)
    if (result.exitCode !== 0) throw await this.discard(summary, resticError(spec, result, this.redactor, {producer, version: this.version, cacheDir: this.cacheDir}))
    return requireSummary(summary, spec)
  }

  /** A backup that failed after restic had saved its snapshot (0.18 saves one and exits 3 when the dump command
   *  produced no data; an unreadable file also exits 3): the snapshot goes, so a failed step never leaves one that
   *  `latest` could pick. If even that fails, the error says so (code restic/leftover-snapshot). */
  private async discard(summary: BackupSummary | undefined, error: KamalBackupError): Promise<KamalBackupError> {
    if (!summary) return error
    try {
      // Not tied to the abort signal: after an interrupt the cleanup still has to happen (it takes a second).
      const spec = resticArgv.forgetIds(this.target, [summary.snapshotId])
      const result = await this.executor.run(spec, {redactor: this.redactor, timeoutMs: 120_000})
      if (result.exitCode !== 0) throw resticError(spec, result, this.redactor, {version: this.version, cacheDir: this.cacheDir})
      const message = `${error.message}\n(the snapshot ${summary.snapshotId.slice(0, 8)} restic saved anyway was removed)`
      if (error instanceof InterruptedError) return new InterruptedError(message)
      return error.withMessage(message)
    } catch (forgetError) {
      return new LeftoverSnapshotError(
        `${error.message}\nrestic saved snapshot ${summary.snapshotId.slice(0, 8)} anyway, and it could not be removed: ${this.redactor.redact(forgetError instanceof Error ? forgetError.message : String(forgetError))}`,
        summary.snapshotId,
        error.suggestions,
        error,
      )
    }
  }

  /** restic < 0.17: the dump is piped in, and restic is interrupted (no snapshot) unless the dump succeeded. */
  backupPiped(filename: string, snapshot: SnapshotTags, producer: CommandSpec, onProgress?: (p: ProgressUpdate) => void): Promise<BackupSummary> {
    return this.#recovering((wait) => this.#backupPiped(filename, snapshot, producer, onProgress, wait))
  }

  async #backupPiped(filename: string, snapshot: SnapshotTags, producer: CommandSpec, onProgress: ((p: ProgressUpdate) => void) | undefined, wait: number | undefined): Promise<BackupSummary> {
    const consumer = waitingForLock(resticArgv.backupStdin(this.target, filename, snapshot), wait)
    let summary: BackupSummary | undefined
    const deadline = this.openDeadline()
    const stall = this.stallDeadline()
    const watch = watchFullCache(this.cacheDir, this.signal)
    const piped = await this.executor.pipe(producer, consumer, {
      commitOnProducerSuccess: true,
      redactor: this.redactor,
      ...(watch.signal && {signal: watch.signal}),
      ...(deadline && {consumerOpenDeadline: deadline}),
      ...(stall && {consumerStallDeadline: stall}),
      onConsumerStdoutLine: (line) => {
        watch.line(line)
        summary = handleBackupLine(line, onProgress) ?? summary
      },
    }).finally(watch.stop)
    const {producer: p, consumer: c} = piped
    if (watch.stuck) throw await this.discard(summary, this.stuckOnFullCache())
    if (p.interrupted || c.interrupted) throw await this.discard(summary, new InterruptedError())
    this.settle(c)
    // restic failing on its own (no repository, wrong password, a lock) closes the pipe: the dump then dies of
    // EPIPE/SIGPIPE/ECONNRESET, and that is a consequence, not the error to report. Only a restic that we stopped
    // because the dump had failed is the dump's fault.
    // (restic cannot see end-of-file before the dump succeeded, so a restic that exited without being stopped
    // failed by itself.)
    if (c.exitCode !== 0 && (!piped.consumerStopped || brokenPipe(p))) throw await this.discard(summary, resticError(consumer, c, this.redactor, {version: this.version, cacheDir: this.cacheDir}))
    if (p.exitCode !== 0) throw await this.discard(summary, dumpFailed(producer, p, this.redactor))
    if (c.exitCode !== 0) throw await this.discard(summary, resticError(consumer, c, this.redactor, {version: this.version, cacheDir: this.cacheDir}))
    return requireSummary(summary, consumer)
  }

  backupFile(filename: string, snapshot: SnapshotTags, file: string, onProgress?: (p: ProgressUpdate) => void): Promise<BackupSummary> {
    return this.#recovering((wait) => this.#backupFile(filename, snapshot, file, onProgress, wait))
  }

  async #backupFile(filename: string, snapshot: SnapshotTags, file: string, onProgress: ((p: ProgressUpdate) => void) | undefined, wait: number | undefined): Promise<BackupSummary> {
    const spec = waitingForLock(resticArgv.backupStdin(this.target, filename, snapshot), wait)
    let summary: BackupSummary | undefined
    const watch = watchFullCache(this.cacheDir, this.signal)
    const result = await this.executor.run(spec, {
      redactor: this.redactor,
      ...(watch.signal && {signal: watch.signal}),
      ...this.deadlines(),
      stdin: {file},
      onStdoutLine: (line) => {
        watch.line(line)
        summary = handleBackupLine(line, onProgress) ?? summary
      },
    }).finally(watch.stop)
    if (watch.stuck) throw await this.discard(summary, this.stuckOnFullCache())
    if (result.interrupted) throw await this.discard(summary, new InterruptedError())
    this.settle(result)
    if (result.exitCode !== 0) throw await this.discard(summary, resticError(spec, result, this.redactor, {version: this.version, cacheDir: this.cacheDir}))
    return requireSummary(summary, spec)
  }

  backupPaths(paths: readonly string[], excludes: readonly string[], snapshot: SnapshotTags, onProgress?: (p: ProgressUpdate) => void): Promise<BackupSummary> {
    return this.#recovering((wait) => this.#backupPaths(paths, excludes, snapshot, onProgress, wait))
  }

  async #backupPaths(paths: readonly string[], excludes: readonly string[], snapshot: SnapshotTags, onProgress: ((p: ProgressUpdate) => void) | undefined, wait: number | undefined): Promise<BackupSummary> {
    const spec = waitingForLock(resticArgv.backupPaths(this.target, paths, excludes, snapshot), wait)
    let summary: BackupSummary | undefined
    const watch = watchFullCache(this.cacheDir, this.signal)
    const result = await this.executor.run(spec, {
      redactor: this.redactor,
      ...(watch.signal && {signal: watch.signal}),
      ...this.deadlines(),
      onStdoutLine: (line) => {
        watch.line(line)
        summary = handleBackupLine(line, onProgress) ?? summary
      },
    }).finally(watch.stop)
    if (watch.stuck) throw await this.discard(summary, this.stuckOnFullCache())
    if (result.interrupted) throw await this.discard(summary, new InterruptedError())
    this.settle(result)
    // Exit 3: some files could not be read. The snapshot restic saved is incomplete: that is a failure here, and
    // the snapshot is removed so the run can never look complete.
    const storedAgain = result.exitCode === 3 && onlyStoredAgain(result.stderr)
    if (result.exitCode === 3 && !storedAgain) {
      throw await this.discard(
        summary,
        new KamalBackupError(`restic could not read some files: ${this.redactor.redact(lastLines(result.stderr, 5))}`, {
          code: 'restic/incomplete',
          suggestions: ['check the permissions of the backed-up paths inside the accessory'],
        }),
      )
    }
    if (result.exitCode !== 0 && !storedAgain) throw await this.discard(summary, resticError(spec, result, this.redactor, {version: this.version, cacheDir: this.cacheDir}))
    return requireSummary(summary, spec)
  }

  /** forget --prune for every group at once. Returns the ids restic kept (the visibility check for new ones). */
  async forget(tags: readonly string[], policy: RetentionPolicy, prune: boolean, keepTags: readonly string[] = []): Promise<{kept: string[]; removed: string[]}> {
    const result = await this.run(resticArgv.forget(this.target, tags, policy, prune, keepTags), {keepStdout: true})
    // restic 0.14 prints the JSON on the first line and prune's text after it.
    const first = result.stdout.split('\n').find((l) => l.trim().startsWith('['))
    const groups = first ? parseJson<{keep?: Snapshot[]; remove?: Snapshot[] | null}[] | null>(first, 'restic forget') ?? [] : []
    return {
      kept: groups.flatMap((g) => (g.keep ?? []).map((s) => s.id)),
      removed: groups.flatMap((g) => (g.remove ?? []).map((s) => s.id)),
    }
  }

  async forgetIds(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.run(resticArgv.forgetIds(this.target, ids))
  }

  async check(readDataSubset?: string): Promise<string> {
    const result = await this.run(resticArgv.check(this.target, readDataSubset))
    return result.stdout
  }

  /** After this process stopped restic on an interrupt: removes the lock restic may have left (restic 0.14 does when
   *  it is interrupted while it opens the repository; seen on a slow VM). `restic unlock` removes only stale locks,
   *  so a live one stays. Runs despite the abort (at most 5 s, within Docker's 10 s); failures are ignored. */
  async releaseAfterInterrupt(): Promise<void> {
    await this.executor.run(resticArgv.unlock(this.target), {redactor: this.redactor, signal: new AbortController().signal, timeoutMs: 5000}).catch(() => undefined)
  }

  async unlock(): Promise<string> {
    const result = await this.#runOnce(resticArgv.unlock(this.target))
    return (result.stdout + result.stderr).trim()
  }
}

const FREE_STATE_VOLUME = 'free space on the state volume (or point RESTIC_CACHE_DIR at a larger one); the next run saves a complete run again, and what the failed one saved is forgotten'

/** A lock that is still there after the stale ones were removed: live, or another host's and younger than 30 min. */
function stillLocked(error: KamalBackupError, waitedSeconds?: number): KamalBackupError {
  const waited = waitedSeconds ? `, and it was not released within ${waitedSeconds} s` : ''
  return new KamalBackupError(`${error.message}\n(restic unlock removed no lock: this one is held by a running restic, or by another host and not yet 30 minutes old${waited})`, {
    code: 'restic/locked',
    exitCode: error.exitCode,
    cause: error,
    suggestions: [
      'wait for the other restic (PID and host above: a prune or check from a laptop?) to finish, then run the command again',
      'if that process is gone, its lock goes stale 30 minutes after it was last refreshed, and the next run removes it; `kamal-backup unlock` does the same now',
    ],
  })
}

/** restic ≥ 0.17 after a repair (repair index, repair packs): a file whose blobs the index lost is read and stored
 *  again in full, reported as an error, and the backup exits 3; the snapshot is whole. (0.14 reports those errors
 *  with an empty message: they cannot be told from an unreadable file, so its run fails once.) */
function onlyStoredAgain(stderr: string): boolean {
  const errors = stderr.split('\n').filter((line) => line.startsWith('{"message_type":"error"'))
  return errors.length > 0 && errors.every((line) => /not found in the repository index; storing the file again/.test(line))
}

function handleBackupLine(line: string, onProgress?: (p: ProgressUpdate) => void): BackupSummary | undefined {
  if (!line.startsWith('{')) return undefined
  let message: Record<string, unknown>
  try {
    message = JSON.parse(line) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (message.message_type === 'status') {
    onProgress?.({
      bytesDone: Number(message.bytes_done ?? 0),
      ...(typeof message.total_bytes === 'number' && {totalBytes: message.total_bytes}),
      ...(typeof message.percent_done === 'number' && {percent: message.percent_done}),
      ...(typeof message.seconds_elapsed === 'number' && {secondsElapsed: message.seconds_elapsed}),
    })
    return undefined
  }
  if (message.message_type === 'summary' && typeof message.snapshot_id === 'string') {
    return {
      snapshotId: message.snapshot_id,
      bytes: Number(message.total_bytes_processed ?? 0),
      dataAdded: Number(message.data_added ?? 0),
      files: Number(message.total_files_processed ?? 0),
      durationSeconds: Number(message.total_duration ?? 0),
    }
  }
  return undefined
}

function requireSummary(summary: BackupSummary | undefined, spec: CommandSpec): BackupSummary {
  if (!summary) throw new KamalBackupError(`${spec.label} finished without reporting a snapshot`, {code: 'restic/no-snapshot'})
  return summary
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T
  } catch {
    throw new KamalBackupError(`${what} printed something that is not JSON: ${text.slice(0, 200)}`, {code: 'restic/bad-output'})
  }
}

/** The dump died because its reader went away. */
function brokenPipe(result: ProcessResult): boolean {
  return result.signal === 'SIGPIPE' || /EPIPE|Broken pipe|ECONNRESET|Connection reset|Errcode: 32|could not write to output file/i.test(result.stderr)
}

function dumpFailed(producer: CommandSpec, result: ProcessResult, redactor: Redactor): KamalBackupError {
  const status = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`
  const tail = redactor.redact(lastLines(result.stderr, 6))
  return new KamalBackupError(`${producer.label ?? producer.argv[0]} ${status}; no snapshot was saved${tail ? `:\n${tail}` : ''}`, {
    code: 'dump/failed',
    suggestions: dumpSuggestions(tail),
  })
}

function dumpSuggestions(stderr: string): string[] {
  if (/password authentication failed|Access denied|authentication failed/i.test(stderr)) return ['check the database password secret passed to the accessory']
  if (/could not connect|Can't connect|Connection refused|could not translate host name|Unknown MySQL server host|No such host/i.test(stderr)) {
    return ['check the database URL host and port; from the accessory, the database accessory is reachable by its container name on the kamal network']
  }
  if (/server version mismatch|aborting because of server version mismatch/i.test(stderr)) return ['pg_dump is older than the server: use the accessory image, which ships clients for every supported PostgreSQL major']
  if (/does not exist|Unknown database/i.test(stderr)) return ['check the database name in the URL']
  return []
}

/** What restic said about a failed call, readable: restic ≥ 0.18's JSON error lines become their message, and a Go
 *  stack trace (restic 0.14 prints one for some fatal errors, e.g. a lock it cannot write) is left out unless DEBUG
 *  is set. */
export function resticStderr(stderr: string, options: {keepStackTrace?: boolean} = {}): string {
  // Its per-item errors ({"message_type":"error","error":{"message":...},"item":...}) become "error: <message>".
  const readable = stderr.replace(/^\{"message_type":"(exit_error|error)".*$/gm, (line) => {
    try {
      const parsed = JSON.parse(line) as {message?: string; error?: {message?: string}}
      return parsed.error?.message !== undefined ? `error: ${parsed.error.message}` : String(parsed.message ?? line)
    } catch {
      return line
    }
  })
  if (options.keepStackTrace) return readable
  const lines = readable.split('\n')
  const frame = (line: string | undefined) => line !== undefined && /^\t\S+\.(go|s):\d+/.test(line)
  // A goroutine dump (SIGQUIT) also ends with the registers ("rip    0x40f16e") after "PC=0x… m=0 sigcode=0".
  const noise = (line: string) => /^goroutine \d+ (gp=\S+ m=\S+ )?\[|^PC=0x[0-9a-f]+ m=\d+|^(r[a-z0-9]+|rflags|[cfg]s)\s+0x[0-9a-f]+$/.test(line)
  return lines.filter((line, i) => !frame(line) && !(frame(lines[i + 1]) && !/\s/.test(line)) && !noise(line)).join('\n')
}

/** Data restic could not read back: a pack file missing, cut short or corrupt (check, restore, dump). */
const DAMAGED = /repository contains errors|pack size does not match calculated size from index|packs from index missing in repo|ReadFull\(<data\/[0-9a-f]+>\): (unexpected EOF|file is too short|open .*no such file|.*does not exist)|StreamPack: ReadFull|ciphertext verification failed|pack [0-9a-f]{64}: (does not exist|unexpected file size)/

/** What to do about damage, with the commands this restic has (repair arrived in 0.16) and the packs check named. */
export function damageSuggestions(stderr: string, version?: ResticVersion): string[] {
  const guide = 'read restic\'s troubleshooting guide first: https://restic.readthedocs.io/en/stable/077_troubleshooting.html'
  const where = 'in the accessory, where the repository and its password are set'
  const after = 'then run `kamal-backup backup` for a complete new run and `kamal-backup check --read-data-subset 100%` until it passes; until then restore an earlier run (`kamal-backup list`, then --run <id>) if the latest is damaged'
  const packs = [...new Set([...stderr.matchAll(/restic repair packs ([0-9a-f ]+)/g)].flatMap((m) => m[1]!.trim().split(/\s+/)))]
  if (version && !atLeast(version, 0, 16)) {
    return [guide, `${where}: \`restic rebuild-index\`, then \`restic check\` to see which snapshots are damaged and \`restic forget <id>\` them (restic 0.16 or newer can repair: \`restic repair packs\`, \`restic repair snapshots --forget\`)`, after]
  }
  const repair = packs.length > 0 ? `\`restic repair packs ${packs.join(' ')}\`, then \`restic repair snapshots --forget\`` : '`restic repair index`, `restic check --read-data` to find the damaged packs, `restic repair packs <ids>` and `restic repair snapshots --forget`'
  return [guide, `${where}: ${repair}`, after]
}

/** Classifies a failed restic call by exit code (0.17+) and message (0.14 and later). */
export function resticError(spec: CommandSpec, result: ProcessResult, redactor: Redactor, context: {producer?: CommandSpec | undefined; version?: ResticVersion | undefined; cacheDir?: string | undefined} = {}): KamalBackupError {
  const {producer, version, cacheDir} = context
  const stderr = resticStderr(result.stderr, {keepStackTrace: Boolean(process.env.DEBUG)})
  const tail = redactor.redact(lastLines(stderr, 6))
  const code = result.exitCode
  const make = (errorCode: ErrorCode, message: string, suggestions: string[]) => {
    const error = new CommandFailedError(spec, {...result, stderr}, redactor, message, suggestions)
    Object.defineProperty(error, 'code', {value: errorCode})
    return error
  }
  if (code === 10 || /repository does not exist|unable to open config file: (stat .*no such file|<config\/> does not exist|Stat: The specified key does not exist|Lstat: file does not exist)/.test(stderr)) {
    return make('restic/no-repository', 'the restic repository does not exist yet', ['set restic.init_if_missing: true to create it on the first backup, or run `restic init` once', 'check restic.repository if it should exist already'])
  }
  if (code === 12 || /wrong password or no key found/.test(stderr)) {
    return make('restic/wrong-password', 'restic could not open the repository: wrong password', ['check the RESTIC_PASSWORD secret (restic.password) for this destination'])
  }
  // Before "locked": a full disk makes restic fail to write its lock file ("unable to create lock in backend").
  if (/no space left on device|disk quota exceeded/i.test(stderr)) {
    if (cacheDir && stderr.includes(cacheDir)) {
      return make('restic/disk-full', `no space left on device in the state directory: restic could not write its cache (${cacheDir})${tail ? `:\n${tail}` : ''}`, [FREE_STATE_VOLUME])
    }
    return make('restic/disk-full', `no space left on device${tail ? `:\n${tail}` : ''}`, ['free space where the repository (or restic\'s cache in the state directory) lives; the next run saves a complete run again, and what the failed one saved is forgotten'])
  }
  if (code === 11 || /repository is already locked|unable to create lock/.test(stderr)) {
    return make('restic/locked', `the repository is locked by another restic process${tail ? `:\n${tail}` : ''}`, ['if no other backup, check or prune is running, remove the stale lock with `kamal-backup unlock`'])
  }
  if (producer && /command failed|exit status \d+|signal: /.test(stderr)) {
    return make('dump/failed', `${producer.label ?? producer.argv[0]} failed; no snapshot was saved${tail ? `:\n${tail}` : ''}`, dumpSuggestions(stderr))
  }
  if (DAMAGED.test(stderr)) {
    const what = /repository contains errors/.test(stderr) ? 'restic check found errors: the repository is damaged' : 'restic could not read data back: the repository is damaged (a pack file is missing or broken)'
    return make('restic/damaged', `${what}${tail ? `:\n${tail}` : ''}`, damageSuggestions(stderr, version))
  }
  if (/401 Unauthorized|403 Forbidden|AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|permission denied/i.test(stderr)) {
    return make('restic/access-denied', `the repository refused access${tail ? `:\n${tail}` : ''}`, ['check the repository credentials (restic.rest, or the AWS_* secrets in restic.env)'])
  }
  if (/connection refused|no such host|i\/o timeout|network is unreachable|dial tcp|TLS handshake|x509:|connection reset|(?<!unexpected )\bEOF\b/i.test(stderr) && !producer) {
    return make('restic/unreachable', `the repository server cannot be reached${tail ? `:\n${tail}` : ''}`, ['check restic.repository and that the server is up and reachable from here'])
  }
  if (/snapshot is empty|no data read/.test(stderr)) {
    return make('dump/empty', `${producer?.label ?? 'the dump'} produced no data; no snapshot was saved`, ['check that the database exists and the dump tool works in the accessory'])
  }
  return make('restic/failed', `${spec.label ?? 'restic'} failed (exit ${code ?? result.signal})${tail ? `:\n${tail}` : ''}`, [])
}
