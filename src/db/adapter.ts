// What kamal-backup does that depends on the kind of database, as one interface. Each kind is one module that
// implements it (postgres.ts, mysql.ts, sqlite.ts) and is registered in index.ts; the engine asks the adapter
// (`databaseAdapter(db.adapter)`) and never branches on the kind itself. A new kind is a new module, its entry in
// the config schema (schemas/kamal-backup.schema.json, DATABASE_KINDS in config/types.ts) and its tests.
//
// Adapters build argv (never a shell string) and run it through the Executor they are given, so their flows can
// be tested with a recording executor as well as against real servers. They know nothing of restic: a restore
// reads the dump through a DumpSource the engine hands them.
import {existsSync} from 'node:fs'
import {dirname} from 'node:path'
import {InterruptedError, KamalBackupError, UsageError} from '../errors.js'
import type {Executor} from '../exec/executor.js'
import {lastLines, type ProcessResult} from '../exec/local.js'
import type {Argv, CommandSpec} from '../exec/spec.js'
import type {Redactor} from '../redact.js'
import type {Adapter} from '../config/types.js'
import {describeDatabase, type ResolvedDatabase} from './connection.js'
import type {DatabaseRestore, TableRows} from '../documents.js'

/** What an adapter may use: processes through the executor, the environment (PATH, client locations), the run's
 *  abort signal, and the redactor for anything it puts in an error. The engine context satisfies it. */
export interface DbContext {
  exec: Executor
  env: NodeJS.ProcessEnv
  signal: AbortSignal
  redactor: Redactor
}

/** A database to restore into. */
export interface DatabaseTarget {
  /** The database's name in kamal-backup.yml (its snapshot group). */
  name: string
  target: ResolvedDatabase
  /** Scratch targets (a drill's) may be created when missing; production and local targets never are. */
  scratch: boolean
}

/** What a backup stores for one database: the stdout of a command (streamed into restic, never to disk), or a
 *  consistent copy in a file, removed by `cleanup` once it is stored. */
export type Dump = {kind: 'stream'; spec: CommandSpec; tags: string[]; cleanup?(): void} | {kind: 'file'; path: string; cleanup(): void}

/** A database's dump in the repository, as a restore reads it: the `restic dump` that streams it, its snapshot,
 *  and what a failure of restic means. */
export interface DumpSource {
  spec: CommandSpec
  /** The snapshot's tags (PostgreSQL: `pg_dump:<major>`, which pg_dump wrote it). */
  tags: readonly string[]
  shortId: string
  /** restic's own failure, classified (its stderr, its exit code). */
  error(result: ProcessResult): KamalBackupError
  /** restic was stopped by a broken pipe (the client gave up): the lock it left is stale and goes. */
  releaseLock(): Promise<void>
}

export interface RestoreOptions {
  lockTimeoutSeconds: number
  tablesInToc: number | null
  /** Count each restored table's rows (a drill); otherwise probe each for one row (`restored` is then 0 or 1). */
  countRows: boolean
  mark: MarkPart
}

/** Where a part of a restore stands, as it changes (the record on disk follows it). */
export type MarkPart = (state: 'restored' | 'partial', note?: string) => void

/** Runs one preflight check and records it (the dry run lists every check, passed or failed). `done` names a
 *  passed check by what it found. */
export type RecordCheck = <T>(name: string, work: () => T | Promise<T>, done?: (result: T) => string) => Promise<T>

export interface DatabaseAdapter {
  readonly kind: Adapter
  /** A server reached by URL, or a file (SQLite), as config/types.ts DATABASE_KINDS says. Decides how a target is
   *  named (a drill's --database or --sqlite-path; a local target's url or path) and judged. */
  readonly location: 'server' | 'file'
  /** The dump's file name extension in the snapshot (`<app>.<name>.<extension>`). */
  readonly extension: string
  /** What the preflight checks for a target of this kind, in words (the dry run's check list). */
  readonly preflightTitle: string

  // ---- the database itself --------------------------------------------------------------------------------------
  /** The files the database is (SQLite: the file and its -wal/-shm/-journal): kept out of the file snapshot and
   *  preserved when a directory around them is restored. None for a server. */
  files(db: ResolvedDatabase): string[]
  /** The URL a drill's check gets for a restored database (Rails' DATABASE_URL forms). */
  connectionUrl(db: ResolvedDatabase): string
  /** An example of a local target entry, for suggestions (`url: ...`, `path: storage/development.sqlite3`). */
  readonly localExample: string

  // ---- backup -----------------------------------------------------------------------------------------------------
  /** Refuses a source that cannot be dumped, before anything is written (SQLite: the file must exist). */
  checkSource(db: ResolvedDatabase): void
  /** What to store for one database. `scratchDir` is a directory for a temporary copy (removed on every path). */
  dump(ctx: DbContext, db: ResolvedDatabase, options: {scratchDir: string; runId: string}): Promise<Dump>

  // ---- restore ----------------------------------------------------------------------------------------------------
  /** Throws when a tool the restore needs is not installed. */
  assertRestoreTools(ctx: DbContext, t: DatabaseTarget): void
  /** Reachable, writable, not locked by a writer, not a standby; a scratch database created when missing (not in
   *  a dry run, which only checks that it could be). Changes nothing else. */
  preflight(ctx: DbContext, t: DatabaseTarget, options: {dryRun: boolean}): Promise<void>
  /** Room a restore needs on this machine beside the target, for `bytes` of dump (SQLite stages a copy). */
  stagingSpace(db: ResolvedDatabase, bytes: number): {path: string; bytes: number}[]
  /** Before anything changes: whether this client can read the dump (PostgreSQL). With `tableOfContents` it
   *  reads it even when the snapshot's tags already tell (a drill counts its tables). Returns the tables its table
   *  of contents lists, when read. */
  inspectDump?(ctx: DbContext, t: DatabaseTarget, dump: DumpSource, options: {tableOfContents: boolean; check: RecordCheck}): Promise<number | undefined>
  /** Replaces the target's contents with the dump's, and reports what the dump had and what the target has now. */
  restore(ctx: DbContext, t: DatabaseTarget, dump: DumpSource, options: RestoreOptions): Promise<DatabaseRestore>

  // ---- dump -------------------------------------------------------------------------------------------------------
  /** `dump --verify`: reads a dump written to `file` back with this kind's own tool before it is kept (PostgreSQL:
   *  pg_restore --list; SQLite: PRAGMA integrity_check; MySQL: the dump's closing lines). Throws `dump/unverified`
   *  when it cannot be read, `exec/not-found` naming the tool when that is missing. Returns what was read. */
  verifyDumpFile(ctx: DbContext, file: string): Promise<string>

  // ---- drills and evidence ------------------------------------------------------------------------------------------
  /** Problems in a restored database that only this kind knows to look for (missing tables are checked for every
   *  kind). */
  verify(restored: DatabaseRestore): string[]
  /** What a dry run of a drill cannot find out for this kind without changing something. */
  dryRunLimits(scope: 'production' | 'local'): string[]
  /** This kind's tools and how to ask their version (name → argv), for `version --json` and evidence.
   *  `databases`: the configured databases of this kind (PostgreSQL names the pg_dump the first one would use). */
  versionCommands(ctx: DbContext, databases: readonly ResolvedDatabase[]): Promise<Record<string, Argv>>
  /** Facts for the versions list that are not a version (the PostgreSQL client majors in the image). */
  versionNotes?(env: NodeJS.ProcessEnv): Record<string, string>
}

// ---- shared by the adapters -----------------------------------------------------------------------------------------

/** Seconds a database reset waits for the app's locks (KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT, default 30). */
export function lockTimeoutSeconds(env: NodeJS.ProcessEnv): number {
  const raw = env.KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT
  if (raw === undefined || raw === '') return 30
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1 || value > 86_400) {
    throw new UsageError(`KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT=${raw} must be a whole number of seconds (1 to 86400)`)
  }
  return value
}

export function missingTool(tool: string, why: string): KamalBackupError {
  return new KamalBackupError(`${tool} ${tool.includes('/') ? 'does not exist' : 'is not installed (not found on PATH)'}: it is needed to ${why}; nothing was changed`, {
    code: 'exec/not-found',
    suggestions: [`install ${tool} here (the kamal-backup accessory image ships it)`],
  })
}

/** A dump that its own tool cannot read back (`dump --verify`). */
export function unverifiedDump(file: string, tool: string, why: string): KamalBackupError {
  return new KamalBackupError(`${tool} cannot read the dump written to ${file}: ${why}`, {
    code: 'dump/unverified',
    suggestions: ['the dump was not kept: run the dump again; if it fails the same way, check the run with `kamal-backup drill production`'],
  })
}

/** The tool `dump --verify` needs is not installed here. */
export function missingVerifyTool(tool: string): KamalBackupError {
  return new KamalBackupError(`${tool} is not installed (not found on PATH): --verify reads the dump back with it; the dump was not kept`, {
    code: 'exec/not-found',
    suggestions: [`install ${tool} on this machine, or run the dump without --verify`],
  })
}

export function unreachable(db: ResolvedDatabase, result: ProcessResult, redactor: Redactor): KamalBackupError {
  return new KamalBackupError(redactor.redact(`cannot connect to ${db.adapter} database "${db.name}" at ${describeDatabase(db)}: ${lastLines(result.stderr, 3) || `exit ${result.exitCode}`}`), {
    code: 'database/unreachable',
    suggestions: ['check the URL, password and that the server is reachable from here'],
  })
}

export function databaseInUse(t: DatabaseTarget, seconds: number, dropped: boolean): KamalBackupError {
  return new KamalBackupError(`database ${t.name} is in use: another connection (the app?) holds locks on its tables, and the reset gave up after waiting ${seconds} s; ${dropped ? 'some of its objects may already be dropped' : 'nothing was dropped'}`, {
    code: 'database/in-use',
    suggestions: ['stop the app first (kamal app stop, or maintenance mode), then restore again', 'KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT=<seconds> waits longer'],
  })
}

/** Both ends of a restore pipe must succeed. A client that failed early kills `restic dump` with SIGPIPE, which
 *  leaves a stale lock behind: it is released (restic unlock removes only stale locks). */
export async function checkStream(ctx: DbContext, dump: DumpSource, producer: ProcessResult, consumer: ProcessResult): Promise<void> {
  if (producer.interrupted || consumer.interrupted) throw new InterruptedError()
  if (consumer.exitCode !== 0) {
    if (producer.exitCode !== 0) await dump.releaseLock().catch(() => undefined)
    throw new KamalBackupError(ctx.redactor.redact(`restoring failed (exit ${consumer.exitCode ?? consumer.signal}): ${lastLines(consumer.stderr, 6)}`), {
      code: 'restore/failed',
      suggestions: ['the target may be partly restored; fix the cause and restore again (or restore the safety backup)'],
    })
  }
  if (producer.exitCode !== 0) throw dump.error(producer)
}

/** What a restore reports of a database's tables: which the dump had and the target has now, which are missing,
 *  and each dumped table's rows in both (`inDump`: rows per table, null for "some"; `restored`: rows per table of
 *  the target, null when it could not be read). A table the dump had rows for that is empty now fails the restore. */
export function restoredTables(inDump: ReadonlyMap<string, number | null>, restored: ReadonlyMap<string, number | null>, counted: boolean, extra: Partial<DatabaseRestore> = {}): DatabaseRestore {
  const dumped = [...inDump.keys()].sort()
  const rows: TableRows[] = dumped.filter((table) => restored.has(table)).map((table) => ({table, in_dump: inDump.get(table)!, restored: restored.get(table)!}))
  const empty = rows.filter((r) => r.restored === 0 && (r.in_dump === null || r.in_dump > 0)).map((r) => r.table)
  return {
    tables_in_dump: dumped,
    tables_restored: [...restored.keys()].sort(),
    missing_tables: dumped.filter((table) => !restored.has(table)),
    integrity: null,
    rows,
    rows_restored: counted ? 'counted' : 'probed',
    empty_tables: empty,
    ...extra,
  }
}

/** `<count> <name>` lines (a count query's answer; `-` for a table this user may not read) as a map. */
export function rowCounts(text: string): Map<string, number | null> {
  const counts = new Map<string, number | null>()
  for (const line of text.split('\n')) {
    const match = /^(\d+|-) (.+)$/.exec(line)
    if (match) counts.set(match[2]!, match[1] === '-' ? null : Number(match[1]))
  }
  return counts
}

/** Non-empty trimmed lines (a client's one-name-per-line answer). */
export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

/** The nearest existing directory at or above `path`: what a dry run checks instead of creating `path`. */
export function nearestExisting(path: string): string {
  let current = path
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current)
  return current
}
