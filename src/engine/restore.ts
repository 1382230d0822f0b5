// Restoring a run: files first (staged on the target's own filesystem, verified, then the target's *contents*
// replaced, so a Docker volume's mount point stays), then each database (reset, then `restic dump` streamed into
// the client through an OS pipe; SQLite staged, checked, applied with the backup API). Nothing is changed before
// every target has been checked, and every exit code in every pipe is checked.
import {mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, lstatSync, existsSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {errorMessage, isKamalBackupError, KamalBackupError} from '../errors.js'
import {lastLines, runChecked, runProcess, type ProcessResult} from '../exec/local.js'
import {runToFile, streamInto} from '../exec/pipeline.js'
import type {CommandSpec} from '../exec/spec.js'
import {describeDatabase, type ResolvedDatabase} from '../db/connection.js'
import {MYSQL_INVENTORY_SQL, MYSQL_TABLE_SCANNER, MYSQL_TABLES_SQL, mysqlClientSpec, mysqlDropStatements, mysqlTools, tablesFromScanner} from '../db/mysql.js'
import {ignoredErrors, POSTGRES_RESET_SQL, POSTGRES_TABLES_SQL, pgRestoreSpec, postgresTools, psqlSpec, tablesFromPgRestore} from '../db/postgres.js'
import {sqliteIntegritySpec, sqliteRestoreSpec, sqliteTablesSpec} from '../db/sqlite.js'
import {resticArgv} from '../restic/argv.js'
import {resticError, type Restic} from '../restic/client.js'
import type {Redactor} from '../redact.js'
import type {Engine} from './context.js'
import {bytes, count} from './progress.js'
import {databaseGroup, FILES_GROUP, selectRun, type Run, type RunSnapshot} from './runs.js'

export interface RestoreSelection {
  /** `latest`, a run id or a snapshot id. */
  snapshot?: string
  at?: Date
  /** Restrict to these databases (by name). */
  databases?: string[]
  /** false: skip the files; true: require them. */
  files?: boolean
}

export interface DatabaseTarget {
  /** The database's name in kamal-backup.yml (its snapshot group). */
  name: string
  target: ResolvedDatabase
  /** Scratch targets may be created when missing; production and local targets never are. */
  scratch: boolean
}

export interface FileTarget {
  /** The backed-up path. */
  from: string
  /** The directory whose contents are replaced (or, for a drill, filled). */
  to: string
}

export interface RestorePlanInput {
  selection: RestoreSelection
  databases: DatabaseTarget[]
  files: FileTarget[]
  /** Drills restore files into an emptied scratch directory; restores replace a target's contents. */
  filesMode: 'replace' | 'scratch'
  /** Files that must survive a content replacement (SQLite databases living under a restored path). */
  preserve: string[]
}

export interface StepReport {
  name: string
  status: 'ok' | 'failed' | 'skipped'
  duration_ms: number | null
  error?: string
}

export interface FilesReport {
  snapshot: string
  from: string
  to: string
  files: number
  bytes: number
  expected_files: number
  expected_bytes: number
}

export interface DatabaseReport {
  name: string
  adapter: string
  snapshot: string
  target: string
  tables_in_dump: string[]
  tables_restored: string[]
  missing_tables: string[]
  integrity: 'ok' | null
}

export interface RestoreReport {
  run_id: string | null
  run_time: string | null
  files: FilesReport[]
  databases: DatabaseReport[]
  steps: StepReport[]
}

export function emptyRestoreReport(): RestoreReport {
  return {run_id: null, run_time: null, files: [], databases: [], steps: []}
}

/** Picks the run and the parts of it to restore. Restricting to parts allows a run whose other parts are missing. */
export function planRun(runs: Run[], selection: RestoreSelection, databaseNames: string[], wantFiles: boolean): {run: Run; databases: string[]; files: RunSnapshot | undefined} {
  const restricted = selection.databases !== undefined || selection.files !== undefined
  let run: Run
  try {
    run = selectRun(runs, {...(selection.snapshot !== undefined && {snapshot: selection.snapshot}), ...(selection.at !== undefined && {at: selection.at})})
  } catch (error) {
    const partial = restricted && isKamalBackupError(error) && error.code === 'incomplete-run' ? runs.find((r) => r.id === selection.snapshot || r.snapshots.some((s) => s.id.startsWith(selection.snapshot ?? '\0'))) : undefined
    if (!partial) throw error
    run = partial
  }
  for (const name of selection.databases ?? []) {
    if (!databaseNames.includes(name)) throw new KamalBackupError(`no database "${name}" in the configuration`, {code: 'usage', exitCode: 2, suggestions: [`databases: ${databaseNames.join(', ')}`]})
  }
  const databases = (selection.databases ?? databaseNames).filter((name) => databaseNames.includes(name))
  const missing = databases.filter((name) => !run.snapshots.some((s) => s.group === databaseGroup(name)))
  if (missing.length > 0) throw new KamalBackupError(`run ${run.id} has no snapshot of database ${missing.join(', ')}`, {code: 'incomplete-run'})
  const filesSnapshot = run.snapshots.find((s) => s.group === FILES_GROUP)
  if (selection.files === true && !filesSnapshot) throw new KamalBackupError(`run ${run.id} has no file snapshot`, {code: 'incomplete-run'})
  return {run, databases, files: selection.files === false || !wantFiles ? undefined : filesSnapshot}
}

export async function restoreRun(engine: Engine, restic: Restic, run: Run, input: RestorePlanInput & {databaseNames: string[]; filesSnapshot: RunSnapshot | undefined}, report: RestoreReport): Promise<void> {
  report.run_id = run.id
  report.run_time = run.time
  const step = async <T>(name: string, title: string, work: () => Promise<T>, done?: (result: T) => string): Promise<T> => {
    const entry: StepReport = {name, status: 'failed', duration_ms: null}
    report.steps.push(entry)
    const started = Date.now()
    try {
      const result = await engine.progress.task(title, work, done)
      entry.status = 'ok'
      return result
    } catch (error) {
      entry.error = engine.redactor.redact(errorMessage(error))
      throw error
    } finally {
      entry.duration_ms = Date.now() - started
    }
  }
  const targets = input.databases.filter((d) => input.databaseNames.includes(d.name))
  const files = input.filesSnapshot ? input.files : []

  // 1. Preflight: every target writable, every database reachable — before anything is downloaded or changed.
  await step('preflight', 'check targets', () => preflightTargets(engine, files, input.filesMode, targets))

  // 2. Files first: a failed file restore leaves the databases untouched, and a SQLite database living under a
  //    restored path is restored after the directory, not wiped by it.
  for (const f of files) {
    const result = await step(`files:${f.from}`, `files ${f.from} → ${f.to}`, () => restoreFiles(engine, restic, input.filesSnapshot!, f, input.filesMode, input.preserve), (r) => `${count(r.files, 'file')}, ${bytes(r.bytes)}`)
    report.files.push(result)
  }

  // 3. Databases, in configuration order.
  for (const t of targets) {
    const snapshot = run.snapshots.find((s) => s.group === databaseGroup(t.name))!
    const result = await step(databaseGroup(t.name), `database ${t.name} → ${engine.redactor.redact(describeDatabase(t.target))}`, () => restoreDatabase(engine, restic, snapshot, t), (r) => count(r.tables_restored.length, 'table'))
    report.databases.push(result)
  }
}

/** Every target writable, every database reachable (scratch databases created). Changes nothing else. */
export async function preflightTargets(engine: Engine, files: FileTarget[], mode: 'replace' | 'scratch', databases: DatabaseTarget[]): Promise<void> {
  for (const f of files) preflightDirectory(f.to, mode)
  for (const t of databases) await preflightDatabase(engine, t)
}

// ---- files ------------------------------------------------------------------------------------------------------

function preflightDirectory(path: string, mode: 'replace' | 'scratch'): void {
  try {
    if (mode === 'scratch') mkdirSync(path, {recursive: true})
    if (!statSync(path).isDirectory()) throw new Error('not a directory')
    const probe = join(path, `.kamal-backup-write-test-${process.pid}`)
    mkdirSync(probe)
    rmSync(probe, {recursive: true, force: true})
  } catch (error) {
    throw new KamalBackupError(`cannot restore files into ${path}: it must be an existing, writable directory (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`, {
      code: 'target-not-writable',
      suggestions: ['check that the volume is mounted read-write (no :ro) and the directory exists'],
    })
  }
}

async function restoreFiles(engine: Engine, restic: Restic, snapshot: RunSnapshot, target: FileTarget, mode: 'replace' | 'scratch', preserve: string[]): Promise<FilesReport> {
  const expected = await expectedFiles(restic, snapshot.id, target.from)
  // The staging directory lives inside the target: same filesystem, so moving the restored tree in is a rename.
  const staging = join(target.to, `.kamal-backup-restore-${process.pid}-${Date.now()}`)
  mkdirSync(staging, {recursive: true})
  try {
    if (mode === 'scratch') emptyDirectory(target.to, [staging])
    await restic.run(resticArgv.restore(restic.target, snapshot.id, staging, [target.from]))
    const staged = join(staging, target.from)
    if (!existsSync(staged)) mkdirSync(staged, {recursive: true}) // an empty directory was backed up
    const actual = countFiles(staged)
    if (actual.files !== expected.files || actual.bytes !== expected.bytes) {
      throw new KamalBackupError(`the restored copy of ${target.from} has ${actual.files} files (${actual.bytes} bytes), the snapshot ${expected.files} (${expected.bytes} bytes); nothing was replaced`, {code: 'files-mismatch'})
    }
    // Only now is anything of the target touched.
    replaceContents(target.to, staged, new Set(preserve), new Set([staging]))
    return {snapshot: snapshot.id, from: target.from, to: target.to, files: actual.files, bytes: actual.bytes, expected_files: expected.files, expected_bytes: expected.bytes}
  } finally {
    rmSync(staging, {recursive: true, force: true})
  }
}

/** Files and bytes under `path` in a snapshot, from `restic ls --json`. */
async function expectedFiles(restic: Restic, snapshotId: string, path: string): Promise<{files: number; bytes: number}> {
  let files = 0
  let total = 0
  const prefix = path.endsWith('/') ? path : path + '/'
  await restic.run(resticArgv.ls(restic.target, snapshotId), {
    onStdoutLine: (line) => {
      if (!line.startsWith('{')) return
      try {
        const node = JSON.parse(line) as {type?: string; path?: string; size?: number; struct_type?: string}
        if (node.type === 'file' && node.path?.startsWith(prefix)) {
          files++
          total += node.size ?? 0
        }
      } catch {}
    },
  })
  return {files, bytes: total}
}

export function countFiles(dir: string): {files: number; bytes: number} {
  let files = 0
  let total = 0
  const walk = (path: string) => {
    for (const entry of readdirSync(path, {withFileTypes: true})) {
      const full = join(path, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.isFile()) {
        files++
        total += statSync(full).size
      }
    }
  }
  walk(dir)
  return {files, bytes: total}
}

function emptyDirectory(dir: string, keep: string[]): void {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name)
    if (!keep.includes(full)) rmSync(full, {recursive: true, force: true})
  }
}

/** Makes `target`'s contents those of `staged`, keeping the directory itself (a mount point cannot be replaced)
 *  and the files in `preserve` (live SQLite databases, restored separately). */
export function replaceContents(target: string, staged: string, preserve: Set<string>, skip: Set<string>): void {
  const holdsPreserved = (path: string) => [...preserve].some((p) => p.startsWith(path + '/'))
  const stagedNames = new Set(existsSync(staged) ? readdirSync(staged) : [])
  const merged = new Set<string>()
  for (const name of readdirSync(target)) {
    const full = join(target, name)
    if (skip.has(full) || preserve.has(full)) continue
    if (holdsPreserved(full) && lstatSync(full).isDirectory()) {
      replaceContents(full, join(staged, name), preserve, skip)
      merged.add(name)
    } else {
      rmSync(full, {recursive: true, force: true})
    }
  }
  for (const name of stagedNames) {
    if (merged.has(name)) continue
    const destination = join(target, name)
    if (preserve.has(destination)) continue // the database step restores it
    renameSync(join(staged, name), destination)
  }
}

// ---- databases --------------------------------------------------------------------------------------------------

async function preflightDatabase(engine: Engine, t: DatabaseTarget): Promise<void> {
  const db = t.target
  if (db.adapter === 'sqlite') {
    const dir = dirname(db.path!)
    try {
      mkdirSync(dir, {recursive: true})
      const probe = join(dir, `.kamal-backup-write-test-${process.pid}`)
      writeFileSync(probe, '')
      rmSync(probe)
    } catch (error) {
      throw new KamalBackupError(`cannot restore SQLite database ${db.path}: ${dir} is not writable (${(error as NodeJS.ErrnoException).code})`, {code: 'target-not-writable'})
    }
    return
  }
  if (db.adapter === 'postgres') {
    const tools = await postgresTools({...db, database: 'postgres'}, engine.env, engine.signal)
    const exists = await runProcess({...psqlSpec(db, tools, 'postgres', 'psql (database exists?)')}, {stdin: {text: `\\set name ${psqlLiteral(db.database!)}\nSELECT 1 FROM pg_database WHERE datname = :'name';\n`}, signal: engine.signal, timeoutMs: 60_000})
    if (exists.exitCode !== 0) throw unreachable(db, exists, engine.redactor)
    if (exists.stdout.trim() !== '1') {
      if (!t.scratch) throw new KamalBackupError(`database ${db.database} does not exist on ${db.host ?? 'localhost'}`, {code: 'target-missing', suggestions: ['create it first (e.g. bin/rails db:create), then restore']})
      await runChecked(psqlSpec(db, tools, 'postgres', `create database ${db.database}`), {stdin: {text: `CREATE DATABASE ${pgIdentifier(db.database!)};\n`}, signal: engine.signal, redactor: engine.redactor})
    }
    return
  }
  const tools = mysqlTools(engine.env)
  const probe = await runProcess(mysqlClientSpec({...db}, tools, 'information_schema', 'mariadb (database exists?)', ['--batch', '--skip-column-names']), {stdin: {text: `SELECT COUNT(*) FROM SCHEMATA WHERE SCHEMA_NAME = '${db.database!.replace(/\\/g, '\\\\').replace(/'/g, "''")}';\n`}, signal: engine.signal, timeoutMs: 60_000})
  if (probe.exitCode !== 0) throw unreachable(db, probe, engine.redactor)
  if (probe.stdout.trim() !== '1') {
    if (!t.scratch) throw new KamalBackupError(`database ${db.database} does not exist on ${db.host ?? 'localhost'}`, {code: 'target-missing', suggestions: ['create it first (e.g. bin/rails db:create), then restore']})
    await runChecked(mysqlClientSpec(db, tools, 'information_schema', `create database ${db.database}`), {stdin: {text: `CREATE DATABASE \`${db.database!.replace(/`/g, '``')}\`;\n`}, signal: engine.signal, redactor: engine.redactor})
  }
}

function unreachable(db: ResolvedDatabase, result: ProcessResult, redactor: Redactor): KamalBackupError {
  return new KamalBackupError(redactor.redact(`cannot connect to ${db.adapter} database "${db.name}" at ${describeDatabase(db)}: ${lastLines(result.stderr, 3) || `exit ${result.exitCode}`}`), {
    code: 'database-unreachable',
    suggestions: ['check the URL, password and that the server is reachable from here'],
  })
}

function psqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

function pgIdentifier(text: string): string {
  return `"${text.replace(/"/g, '""')}"`
}

async function restoreDatabase(engine: Engine, restic: Restic, snapshot: RunSnapshot, t: DatabaseTarget): Promise<DatabaseReport> {
  const db = t.target
  const dumpPath = snapshot.paths[0]
  if (!dumpPath) throw new KamalBackupError(`snapshot ${snapshot.shortId} has no path`, {code: 'bad-snapshot'})
  const dump = resticArgv.dump(restic.target, snapshot.id, dumpPath)
  const base = {name: t.name, adapter: db.adapter, snapshot: snapshot.id, target: engine.redactor.redact(describeDatabase(db))}
  if (db.adapter === 'sqlite') return {...base, ...(await restoreSqlite(engine, restic, dump, db.path!))}
  if (db.adapter === 'postgres') {
    const tools = await postgresTools(db, engine.env, engine.signal)
    await runChecked(psqlSpec(db, tools, db.database, `reset ${db.database}`), {stdin: {text: POSTGRES_RESET_SQL + '\n'}, signal: engine.signal, redactor: engine.redactor})
    const result = await streamInto(dump, pgRestoreSpec(db, tools, db.database!), {signal: engine.signal})
    await checkStream(engine, restic, dump, result.producer, result.consumer)
    const ignored = ignoredErrors(result.consumer.stderr)
    if (ignored > 0) throw new KamalBackupError(`pg_restore ignored ${ignored} errors: the database is only partly restored`, {code: 'restore-failed'})
    const dumped = tablesFromPgRestore(result.consumer.stderr)
    const restored = lines((await runChecked(psqlSpec(db, tools, db.database, 'list tables'), {stdin: {text: POSTGRES_TABLES_SQL + '\n'}, signal: engine.signal, redactor: engine.redactor})).stdout)
    return {...base, tables_in_dump: dumped, tables_restored: restored, missing_tables: dumped.filter((x) => !restored.includes(x)), integrity: null}
  }
  const tools = mysqlTools(engine.env)
  const inventory = await runChecked(mysqlClientSpec(db, tools, db.database!, 'list objects', ['--batch', '--skip-column-names', '--raw']), {stdin: {text: MYSQL_INVENTORY_SQL + '\n'}, signal: engine.signal, redactor: engine.redactor})
  await runChecked(mysqlClientSpec(db, tools, db.database!, `reset ${db.database}`), {stdin: {text: mysqlDropStatements(inventory.stdout)}, signal: engine.signal, redactor: engine.redactor})
  const result = await streamInto(dump, mysqlClientSpec(db, tools, db.database!, `restore ${db.database}`), {signal: engine.signal, tap: MYSQL_TABLE_SCANNER})
  await checkStream(engine, restic, dump, result.producer, result.consumer)
  if (result.tee && result.tee.exitCode !== 0) throw new KamalBackupError(`tee failed while restoring: ${lastLines(result.tee.stderr, 3)}`, {code: 'restore-failed'})
  const dumped = tablesFromScanner(result.tap?.stdout ?? '')
  const restored = lines((await runChecked(mysqlClientSpec(db, tools, db.database!, 'list tables', ['--batch', '--skip-column-names']), {stdin: {text: MYSQL_TABLES_SQL + '\n'}, signal: engine.signal, redactor: engine.redactor})).stdout)
  return {...base, tables_in_dump: dumped, tables_restored: restored, missing_tables: dumped.filter((x) => !restored.includes(x)), integrity: null}
}

/** Both ends of a restore pipe must succeed. A consumer that failed early kills `restic dump` with SIGPIPE, which
 *  leaves a stale lock behind: remove it (restic unlock removes only stale locks). */
async function checkStream(engine: Engine, restic: Restic, dump: CommandSpec, producer: ProcessResult, consumer: ProcessResult): Promise<void> {
  if (producer.interrupted || consumer.interrupted) throw new KamalBackupError('interrupted', {code: 'interrupted', exitCode: 130})
  if (consumer.exitCode !== 0) {
    if (producer.exitCode !== 0) await restic.unlock().catch(() => undefined)
    throw new KamalBackupError(engine.redactor.redact(`restoring failed (exit ${consumer.exitCode ?? consumer.signal}): ${lastLines(consumer.stderr, 6)}`), {
      code: 'restore-failed',
      suggestions: ['the target may be partly restored; fix the cause and restore again (or restore the safety backup)'],
    })
  }
  if (producer.exitCode !== 0) throw resticError(dump, producer, engine.redactor)
}

async function restoreSqlite(engine: Engine, restic: Restic, dump: CommandSpec, target: string): Promise<Omit<DatabaseReport, 'name' | 'adapter' | 'snapshot' | 'target'>> {
  // Staged beside the target (same filesystem), checked, then applied through SQLite's backup API.
  const staged = join(dirname(target), `.${basename(target)}.kamal-backup-restore-${process.pid}`)
  try {
    const written = await runToFile(dump, staged, engine.signal)
    if (written.interrupted) throw new KamalBackupError('interrupted', {code: 'interrupted', exitCode: 130})
    if (written.exitCode !== 0) throw resticError(dump, written, engine.redactor)
    const check = await runChecked(sqliteIntegritySpec(staged), {signal: engine.signal, redactor: engine.redactor})
    if (check.stdout.trim() !== 'ok') throw new KamalBackupError(`the restored SQLite copy fails its integrity check: ${check.stdout.trim().slice(0, 300)}`, {code: 'restore-failed'})
    const dumped = lines((await runChecked(sqliteTablesSpec(staged), {signal: engine.signal})).stdout)
    const applied = await runProcess(sqliteRestoreSpec(target, staged), {signal: engine.signal})
    if (applied.exitCode !== 0) {
      const locked = /locked|busy/i.test(applied.stderr)
      throw new KamalBackupError(`SQLite refused to restore ${target}${locked ? ': another connection is writing to it' : ''} (${lastLines(applied.stderr, 2)}); the database is unchanged`, {
        code: locked ? 'database-busy' : 'restore-failed',
        suggestions: locked ? ['stop the app (or its writers) and restore again'] : [],
      })
    }
    const after = await runChecked(sqliteIntegritySpec(target), {signal: engine.signal, redactor: engine.redactor})
    if (after.stdout.trim() !== 'ok') throw new KamalBackupError(`${target} fails its integrity check after the restore: ${after.stdout.trim().slice(0, 300)}`, {code: 'restore-failed'})
    const restored = lines((await runChecked(sqliteTablesSpec(target), {signal: engine.signal})).stdout)
    return {tables_in_dump: dumped, tables_restored: restored, missing_tables: dumped.filter((x) => !restored.includes(x)), integrity: 'ok'}
  } finally {
    rmSync(staged, {force: true})
  }
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}
