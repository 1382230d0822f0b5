// SQLite: a consistent copy through SQLite's online backup API (`.backup`), which reads the last committed state
// even while the app writes (WAL included).
import type {CommandSpec} from '../exec/spec.js'

/** The path goes inside a dot-command: refuse characters the sqlite3 shell would parse. */
export function assertSafeSqlitePath(path: string): void {
  if (/['"\n\r\\]/.test(path)) throw new Error(`unsupported character in SQLite path ${JSON.stringify(path)}`)
}

export function sqliteBackupSpec(database: string, copy: string, bin = 'sqlite3'): CommandSpec {
  assertSafeSqlitePath(copy)
  return {argv: [bin, '-bail', database, `.backup '${copy}'`], label: `sqlite3 .backup ${database}`}
}

export function sqliteQuickCheckSpec(database: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', '-readonly', database, 'PRAGMA quick_check;'], label: `sqlite3 quick_check ${database}`}
}

/** SQLite's backup API in reverse: refuses (busy/locked) while another connection writes, instead of corrupting. */
export function sqliteRestoreSpec(target: string, staged: string, bin = 'sqlite3'): CommandSpec {
  assertSafeSqlitePath(staged)
  return {argv: [bin, '-bail', target, `.restore '${staged}'`], label: `sqlite3 .restore ${target}`}
}

export function sqliteIntegritySpec(database: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', '-readonly', database, 'PRAGMA integrity_check;'], label: `sqlite3 integrity_check ${database}`}
}

export function sqliteTablesSpec(database: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', '-readonly', database, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1;"], label: `sqlite3 tables ${database}`}
}

/** Takes and releases SQLite's write lock (waiting up to 2 s for a writer to finish): fails with "database is
 *  locked" while another connection writes, and "readonly" when the file cannot be written. Changes nothing. */
export function sqliteLockProbeSpec(database: string, bin = 'sqlite3'): CommandSpec {
  return {argv: [bin, '-bail', '-cmd', '.timeout 2000', database, 'BEGIN IMMEDIATE; ROLLBACK;'], label: `sqlite3 write-lock probe ${database}`}
}
