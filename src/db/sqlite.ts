// SQLite: a consistent copy through SQLite's online backup API (`.backup`), which reads the last committed state
// even while the app writes (WAL included); restored by staging the dump beside the target, checking it, and
// applying it with the backup API in reverse (`.restore`), which refuses while another connection writes.
import {DUMP_INHERITS} from './credentials.js'
import {accessSync, constants, existsSync, mkdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {InterruptedError, KamalBackupError} from '../errors.js'
import {runChecked} from '../exec/executor.js'
import {lastLines} from '../exec/local.js'
import type {CommandSpec} from '../exec/spec.js'
import {lines, missingTool, missingVerifyTool, nearestExisting, restoredTables, rowCounts, unverifiedDump, type DatabaseAdapter} from './adapter.js'
import {DATABASE_KINDS} from '../config/types.js'

/** The path goes inside a dot-command: refuse characters the sqlite3 shell would parse. */
/** A file name as one argument of a sqlite3 shell dot-command (.backup, .restore): single-quoted when it has no
 *  single quote, else double-quoted with \\ and \" escaped (the shell resolves backslashes there; measured with
 *  sqlite3 3.40). A line break cannot be expressed: the preflight refuses such paths (sqlitePathProblem). */
export function dotCommandArg(path: string): string {
  const problem = sqlitePathProblem(path)
  if (problem) throw new Error(`SQLite path ${JSON.stringify(path)}: ${problem}`)
  return path.includes("'") ? `"${path.replace(/[\\"]/g, (c) => `\\${c}`)}"` : `'${path}'`
}

/** Why the sqlite3 shell cannot be given this path, if it cannot. */
export function sqlitePathProblem(path: string): string | undefined {
  return /[\n\r\0]/.test(path) ? 'it contains a line break (or NUL), which the sqlite3 shell cannot take' : undefined
}

export function sqliteBackupSpec(database: string, copy: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', database, `.backup ${dotCommandArg(copy)}`], inheritEnv: DUMP_INHERITS, label: `sqlite3 .backup ${database}`}
}

export function sqliteQuickCheckSpec(database: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', '-readonly', database, 'PRAGMA quick_check;'], label: `sqlite3 quick_check ${database}`}
}

/** SQLite's backup API in reverse: refuses (busy/locked) while another connection writes, instead of corrupting. */
export function sqliteRestoreSpec(target: string, staged: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', target, `.restore ${dotCommandArg(staged)}`], label: `sqlite3 .restore ${target}`}
}

export function sqliteIntegritySpec(database: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', '-readonly', database, 'PRAGMA integrity_check;'], label: `sqlite3 integrity_check ${database}`}
}

/** Reads SQL from stdin (a count query over many tables outgrows an argument). */
export function sqliteQuerySpec(database: string, label: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', '-readonly', database], label: `sqlite3 ${label} ${database}`}
}

/** `<rows> <table>` for each table named: one statement. Without `count`, each is probed for one row (0 or 1). */
export function sqliteRowCountsSql(tables: readonly string[], count = true): string {
  const from = (t: string) => (count ? `"${t.replace(/"/g, '""')}"` : `(SELECT 1 FROM "${t.replace(/"/g, '""')}" LIMIT 1)`)
  return tables.map((t) => `SELECT count(*) || ' ' || '${t.replace(/'/g, "''")}' FROM ${from(t)}`).join('\nUNION ALL ') + ';\n'
}

export function sqliteTablesSpec(database: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', '-readonly', database, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1;"], label: `sqlite3 tables ${database}`}
}

/** Takes and releases SQLite's write lock (waiting up to 2 s for a writer to finish): fails with "database is
 *  locked" while another connection writes, and "readonly" when the file cannot be written. Changes nothing. */
export function sqliteLockProbeSpec(database: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', '-cmd', '.timeout 2000', database, 'BEGIN IMMEDIATE; ROLLBACK;'], label: `sqlite3 write-lock probe ${database}`}
}

/** The database file and the files SQLite keeps beside it. */
export function sqliteFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]
}

export const sqlite: DatabaseAdapter = {
  kind: 'sqlite',
  location: DATABASE_KINDS.sqlite.location,
  extension: 'sqlite3',
  preflightTitle: 'its directory writable, no writer holding the lock',
  localExample: 'path: storage/development.sqlite3',

  files: (db) => sqliteFiles(db.path!),
  connectionUrl: (db) => `sqlite3:${db.path}`,

  checkSource(db) {
    if (!isFile(db.path!)) {
      throw new KamalBackupError(`SQLite database ${db.path} (${db.name}) does not exist`, {code: 'backup/source-missing', suggestions: ['check databases[].path, and that the app volume is mounted into the accessory at the same path']})
    }
  },

  /** SQLite's online backup into a temporary copy in the scratch directory, checked; removed once stored. */
  async dump(ctx, db, {scratchDir, runId}) {
    mkdirSync(scratchDir, {recursive: true})
    const copy = `${scratchDir}/${runId}-${db.name}.sqlite3`
    // The copy is in WAL mode like its source: the read-only quick_check leaves empty -wal/-shm files behind.
    const cleanup = () => {
      for (const file of sqliteFiles(copy)) rmSync(file, {force: true})
    }
    try {
      await runChecked(ctx.exec, sqliteBackupSpec(db.path!, copy), {redactor: ctx.redactor, signal: ctx.signal})
      const check = await runChecked(ctx.exec, sqliteQuickCheckSpec(copy), {redactor: ctx.redactor, signal: ctx.signal})
      if (check.stdout.trim() !== 'ok') {
        throw new KamalBackupError(`the SQLite copy of ${db.name} fails its integrity check: ${check.stdout.trim().slice(0, 300)}`, {code: 'dump/failed', suggestions: ['the source database may be corrupt: run PRAGMA integrity_check on it']})
      }
    } catch (error) {
      cleanup()
      throw error
    }
    return {kind: 'file', path: copy, cleanup}
  },

  assertRestoreTools(ctx, t) {
    if (!ctx.exec.which('sqlite3', ctx.env.PATH)) throw missingTool('sqlite3', `restore database ${t.name}`)
  },

  async preflight(ctx, t, {dryRun}) {
    const db = t.target
    const dir = dirname(db.path!)
    const problem = sqlitePathProblem(db.path!)
    if (problem) throw new KamalBackupError(`cannot restore SQLite database ${JSON.stringify(db.path)}: ${problem}; nothing was changed`, {code: 'restore/target-not-writable', suggestions: ['restore into a path without line breaks']})
    try {
      // A restore creates the directory; a dry run only checks that the nearest existing parent would let it.
      if (dryRun && !existsSync(dir)) accessSync(nearestExisting(dir), constants.W_OK)
      else {
        mkdirSync(dir, {recursive: true})
        const probe = join(dir, `.kamal-backup-write-test-${process.pid}`)
        writeFileSync(probe, '')
        rmSync(probe)
      }
    } catch (error) {
      throw new KamalBackupError(`cannot restore SQLite database ${db.path}: ${dir} is not writable (${(error as NodeJS.ErrnoException).code}); nothing was changed`, {code: 'restore/target-not-writable'})
    }
    if (!existsSync(db.path!)) return
    // The restore applies the backup through SQLite's backup API, which refuses while another connection writes:
    // find that out now, not after the files were replaced.
    const probe = await ctx.exec.run(sqliteLockProbeSpec(db.path!), {signal: ctx.signal, timeoutMs: 60_000})
    if (probe.interrupted) throw new InterruptedError()
    if (probe.exitCode !== 0) {
      const locked = /locked|busy/i.test(probe.stderr)
      throw new KamalBackupError(`SQLite database ${db.path} (${t.name}) ${locked ? 'is locked: another connection is writing to it' : `cannot be written: ${lastLines(probe.stderr, 2)}`}; nothing was changed (the database is unchanged)`, {
        code: locked ? 'database/busy' : 'restore/target-not-writable',
        suggestions: locked ? ['stop the app (or its writers: kamal app stop, or maintenance mode) and restore again'] : ["check the file's permissions and that its volume is mounted read-write"],
      })
    }
  },

  stagingSpace: (db, bytes) => (bytes > 0 ? [{path: dirname(db.path!), bytes}] : []),

  /** Staged beside the target (same filesystem), checked, then applied through SQLite's backup API. */
  async restore(ctx, t, dump, {countRows, mark}) {
    const target = t.target.path!
    const staged = join(dirname(target), `.${basename(target)}.kamal-backup-restore-${process.pid}`)
    try {
      const written = await ctx.exec.toFile(dump.spec, staged, {signal: ctx.signal})
      if (written.interrupted) throw new InterruptedError()
      if (written.exitCode !== 0) throw dump.error(written)
      const integrity = async (file: string) => (await runChecked(ctx.exec, sqliteIntegritySpec(file), {signal: ctx.signal, redactor: ctx.redactor})).stdout.trim()
      // Each table with its rows: the staged copy is the dump, so its counts are exact.
      const tables = async (file: string, count = true) => {
        const names = lines((await runChecked(ctx.exec, sqliteTablesSpec(file), {signal: ctx.signal})).stdout)
        if (names.length === 0) return new Map<string, number | null>()
        return rowCounts((await runChecked(ctx.exec, sqliteQuerySpec(file, 'count rows'), {stdin: {text: sqliteRowCountsSql(names, count)}, signal: ctx.signal, redactor: ctx.redactor})).stdout)
      }
      const check = await integrity(staged)
      if (check !== 'ok') throw new KamalBackupError(`the restored SQLite copy fails its integrity check: ${check.slice(0, 300)}`, {code: 'restore/failed'})
      const dumped = await tables(staged)
      const applied = await ctx.exec.run(sqliteRestoreSpec(target, staged), {signal: ctx.signal})
      if (applied.interrupted) throw new InterruptedError()
      if (applied.exitCode !== 0) {
        const locked = /locked|busy/i.test(applied.stderr)
        throw new KamalBackupError(`SQLite refused to restore ${target}${locked ? ': another connection is writing to it' : ''} (${lastLines(applied.stderr, 2)}); the database is unchanged`, {
          code: locked ? 'database/busy' : 'restore/failed',
          suggestions: locked ? ['stop the app (or its writers) and restore again'] : [],
        })
      }
      mark('restored')
      const after = await integrity(target)
      if (after !== 'ok') {
        mark('partial', 'it was restored, but fails its integrity check')
        throw new KamalBackupError(`${target} fails its integrity check after the restore: ${after.slice(0, 300)}`, {code: 'restore/failed'})
      }
      const restored = await tables(target, countRows)
      return restoredTables(dumped, restored, countRows, {integrity: 'ok'})
    } finally {
      for (const file of sqliteFiles(staged)) rmSync(file, {force: true})
    }
  },

  async verifyDumpFile(ctx, file) {
    if (!ctx.exec.which('sqlite3', ctx.env.PATH)) throw missingVerifyTool('sqlite3')
    const checked = await ctx.exec.run(sqliteIntegritySpec(file), {signal: ctx.signal})
    if (checked.interrupted) throw new InterruptedError()
    const answer = checked.stdout.trim()
    if (checked.exitCode !== 0 || answer !== 'ok') throw unverifiedDump(file, 'sqlite3 PRAGMA integrity_check', (answer || lastLines(checked.stderr, 3) || `exit ${checked.exitCode}`).slice(0, 300))
    return 'sqlite3 integrity_check: ok'
  },

  verify: (restored) => (restored.integrity === 'ok' ? [] : ['failed its integrity check']),
  dryRunLimits: () => [],
  versionCommands: async () => ({sqlite3: ['sqlite3', '--version']}),
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

