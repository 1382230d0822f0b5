// Restoring a run: files first (every path staged on its target's own filesystem and verified before any target
// is touched, then each target's *contents* replaced, so a Docker volume's mount point stays), then each database
// (reset, then `restic dump` streamed into the client through an OS pipe; SQLite staged, checked, applied with
// the backup API). Nothing is changed before every target has been checked — tools, writability, locks,
// read-only servers, privileges, free space, and that pg_restore can read the dump — and every exit code in every
// pipe is checked. What has changed is tracked part by part, so a failure can say exactly where production is.
import {accessSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statfsSync, statSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import type {PreflightCheck} from '../documents.js'
import {errorMessage, InterruptedError, isKamalBackupError, KamalBackupError, UsageError} from '../errors.js'
import {CommandFailedError, findExecutable, lastLines, runChecked, runProcess, type ProcessResult} from '../exec/local.js'
import {runToFile, streamInto} from '../exec/pipeline.js'
import type {CommandSpec} from '../exec/spec.js'
import {describeDatabase, type ResolvedDatabase} from '../db/connection.js'
import {MYSQL_INVENTORY_SQL, MYSQL_READ_ONLY_SQL, MYSQL_TABLE_SCANNER, MYSQL_TABLES_SQL, mysqlClient, mysqlClientSpec, mysqlDropStatements, mysqlLockProbe, mysqlReadOnly, tablesFromScanner} from '../db/mysql.js'
import {clientMajor, ignoredErrors, parsePostgresState, PG_DUMP_TAG, POSTGRES_RESET_SQL, POSTGRES_STATE_SQL, POSTGRES_TABLES_SQL, pgRestoreListSpec, pgRestoreSpec, postgresTools, psqlSpec, tableFromPgRestoreLine, tocTableCount, type PostgresTools} from '../db/postgres.js'
import {sqliteIntegritySpec, sqliteLockProbeSpec, sqliteRestoreSpec, sqliteTablesSpec} from '../db/sqlite.js'
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
  /** false: skip the files; true: restore the files (and, without --database, nothing else). */
  files?: boolean
}

/** What a restore restores: these databases, and the files or not. */
export interface RestoreParts {
  databases: string[]
  files: boolean
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
  /** Drills: the marker file that makes a scratch directory the drill's own (written, and kept when emptying). */
  marker?: string
}

export interface RestoreInput {
  run: Run
  databases: DatabaseTarget[]
  files: FileTarget[]
  filesSnapshot: RunSnapshot | undefined
  /** Drills restore files into an emptied scratch directory; restores replace a target's contents. */
  filesMode: 'replace' | 'scratch'
  /** Files that must survive a content replacement (SQLite databases living under a restored path). */
  preserve: string[]
  /** Read every PostgreSQL dump's table of contents before restoring (drills: its table count is part of the
   *  verification). Otherwise only when the dump's pg_dump is unknown or newer than this pg_restore. */
  tableOfContents?: boolean
}

export interface StepReport {
  name: string
  status: 'running' | 'ok' | 'failed' | 'skipped'
  started_at?: string
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
  /** PostgreSQL: the tables the dump's table of contents lists (pg_restore --list). */
  tables_in_toc?: number | null
  integrity: 'ok' | null
}

export interface RestoreReport {
  run_id: string | null
  run_time: string | null
  files: FilesReport[]
  databases: DatabaseReport[]
  steps: StepReport[]
}

/** Where one part of a restore stands: what an engineer needs to know after a failure. */
export interface PartState {
  /** `files:/data/storage`, `database:primary` */
  part: string
  target: string
  state: 'unchanged' | 'restored' | 'partial'
  note?: string
}

export interface RestoreHooks {
  /** After the preflight and the staging of the files, right before the first change (the safety backup). */
  beforeChanges?: () => Promise<void>
  /** The report or a part's state changed (a record on disk follows the restore as it goes). */
  onUpdate?: () => void
}

export function emptyRestoreReport(): RestoreReport {
  return {run_id: null, run_time: null, files: [], databases: [], steps: []}
}

/** The parts a selection names. No --database/--files: everything. Any of them: only what is named (--files alone
 *  restores only the files). --no-files: everything but the files. */
export function selectParts(selection: RestoreSelection, databaseNames: readonly string[], pathsConfigured: boolean): RestoreParts {
  for (const name of selection.databases ?? []) {
    if (!databaseNames.includes(name)) throw new KamalBackupError(`no database "${name}" in the configuration`, {code: 'usage', exitCode: 2, suggestions: [`databases: ${databaseNames.join(', ') || '(none)'}`]})
  }
  if (selection.files === true && !pathsConfigured) throw new UsageError('--files: the configuration backs up no paths', {suggestions: ['leave out --files']})
  const named = selection.databases !== undefined || selection.files === true
  const databases = selection.databases !== undefined ? databaseNames.filter((n) => selection.databases!.includes(n)) : selection.files === true ? [] : [...databaseNames]
  const files = pathsConfigured && (selection.files === true || (!named && selection.files !== false))
  return {databases, files}
}

/** Picks the run and the parts of it to restore. Restricting to parts allows a run whose other parts are missing. */
export function planRun(runs: Run[], selection: RestoreSelection, parts: RestoreParts): {run: Run; databases: string[]; files: RunSnapshot | undefined} {
  const restricted = selection.databases !== undefined || selection.files !== undefined
  let run: Run
  try {
    run = selectRun(runs, {...(selection.snapshot !== undefined && {snapshot: selection.snapshot}), ...(selection.at !== undefined && {at: selection.at})})
  } catch (error) {
    const partial = restricted && isKamalBackupError(error) && error.code === 'incomplete-run' ? runs.find((r) => r.id === selection.snapshot || r.snapshots.some((s) => s.id.startsWith(selection.snapshot ?? '\0'))) : undefined
    if (!partial) throw error
    run = partial
  }
  const missing = parts.databases.filter((name) => !run.snapshots.some((s) => s.group === databaseGroup(name)))
  if (missing.length > 0) throw new KamalBackupError(`run ${run.id} has no snapshot of database ${missing.join(', ')}`, {code: 'incomplete-run'})
  const filesSnapshot = run.snapshots.find((s) => s.group === FILES_GROUP)
  if (parts.files && !filesSnapshot) throw new KamalBackupError(`run ${run.id} has no file snapshot`, {code: 'incomplete-run'})
  return {run, databases: parts.databases, files: parts.files ? filesSnapshot : undefined}
}

/** Seconds a database reset waits for the app's locks (KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT, default 30). */
export function lockTimeoutSeconds(env: NodeJS.ProcessEnv): number {
  const raw = env.KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT
  if (raw === undefined || raw === '') return 30
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1 || value > 86_400) throw new UsageError(`KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT=${raw} must be a whole number of seconds (1 to 86400)`)
  return value
}

export async function restoreRun(engine: Engine, restic: Restic, input: RestoreInput, report: RestoreReport, changes: PartState[] = [], hooks: RestoreHooks = {}): Promise<void> {
  const {run} = input
  report.run_id = run.id
  report.run_time = run.time
  const update = () => hooks.onUpdate?.()
  const step = async <T>(name: string, title: string, work: () => Promise<T>, done?: (result: T) => string): Promise<T> => {
    const entry: StepReport = {name, status: 'running', started_at: engine.now().toISOString(), duration_ms: null}
    report.steps.push(entry)
    update()
    const started = Date.now()
    try {
      const result = await engine.progress.task(title, work, done)
      entry.status = 'ok'
      return result
    } catch (error) {
      entry.status = 'failed'
      entry.error = engine.redactor.redact(errorMessage(error))
      throw error
    } finally {
      entry.duration_ms = Date.now() - started
      update()
    }
  }
  const files = input.filesSnapshot ? input.files : []
  const databases = input.databases
  changes.length = 0
  for (const f of files) changes.push({part: `files:${f.from}`, target: f.to, state: 'unchanged'})
  for (const t of databases) changes.push({part: databaseGroup(t.name), target: engine.redactor.redact(describeDatabase(t.target)), state: 'unchanged'})
  const mark = (part: string, state: PartState['state'], note?: string) => {
    const entry = changes.find((c) => c.part === part)
    if (!entry) return
    entry.state = state
    if (note) entry.note = note
    else delete entry.note
    update()
  }

  // 1. Preflight: tools, writability, locks, read-only servers, privileges, free space, readable dumps — before
  //    anything is changed.
  const checked = await step('preflight', 'check targets', () => preflight(engine, restic, input, files))

  // 2. Files first: a failed file restore leaves the databases untouched, and a SQLite database living under a
  //    restored path is restored after the directory, not wiped by it. Every path is staged and verified before
  //    any is replaced, so path 2 cannot fail after path 1 was replaced.
  const staged: StagedFiles[] = []
  try {
    for (const f of files) {
      staged.push(await step(`stage:${f.from}`, `download ${f.from}`, () => stageFiles(restic, input.filesSnapshot!, f, checked.expected.get(f.from)!, staged), (s) => `${count(s.files, 'file')}, ${bytes(s.bytes)} staged`))
    }
    await hooks.beforeChanges?.()
    const skip = new Set(staged.map((s) => s.staging))
    for (const s of staged) {
      const part = `files:${s.target.from}`
      await step(part, `files ${s.target.from} → ${s.target.to}`, async () => {
        mark(part, 'partial', 'its contents were being replaced when the restore stopped')
        const keep = new Set(skip)
        if (s.target.marker) keep.add(s.target.marker)
        replaceContents(s.target.to, s.staged, new Set(input.preserve), keep)
        mark(part, 'restored')
        return s
      }, (r) => `${count(r.files, 'file')}, ${bytes(r.bytes)}`)
      report.files.push({snapshot: input.filesSnapshot!.id, from: s.target.from, to: s.target.to, files: s.files, bytes: s.bytes, expected_files: s.expected.files, expected_bytes: s.expected.bytes})
    }
  } finally {
    for (const s of staged) rmSync(s.staging, {recursive: true, force: true})
  }

  // 3. Databases, in configuration order.
  for (const t of databases) {
    const snapshot = run.snapshots.find((s) => s.group === databaseGroup(t.name))!
    const part = databaseGroup(t.name)
    const result = await step(part, `database ${t.name} → ${engine.redactor.redact(describeDatabase(t.target))}`, () => restoreDatabase(engine, restic, snapshot, t, checked.tocTables.get(t.name) ?? null, (state, note) => mark(part, state, note)), (r) => count(r.tables_restored.length, 'table'))
    report.databases.push(result)
  }
}

/** What production looks like after a restore stopped part-way: undefined when nothing was changed. */
export function describeChanges(changes: readonly PartState[]): string | undefined {
  if (!changes.some((c) => c.state !== 'unchanged')) return undefined
  const label = (c: PartState) => (c.part.startsWith('files:') ? `files ${c.target}` : `database ${c.part.slice('database:'.length)} (${c.target})`)
  const state = (c: PartState) => (c.state === 'restored' ? 'restored from the backup' : c.state === 'partial' ? `PARTLY restored${c.note ? ` (${c.note})` : ''}` : 'unchanged')
  return `the restore stopped part-way: ${changes.map((c) => `${label(c)}: ${state(c)}`).join('; ')}`
}

// ---- preflight --------------------------------------------------------------------------------------------------

interface Checked {
  expected: Map<string, {files: number; bytes: number}>
  tocTables: Map<string, number>
}

export interface PreflightOptions {
  /** A dry run: nothing may be created (a missing SQLite directory is checked, not made). */
  dryRun?: boolean
  /** Collects each check as it passes or fails (a dry run prints them). */
  checks?: PreflightCheck[]
}

/** The checks a restore runs before it changes anything, on their own: what `restore production --dry-run` runs.
 *  Every probe leaves nothing behind (a test directory or file is removed at once; restic only reads). */
export async function preflightRestore(engine: Engine, restic: Restic, input: RestoreInput, options: PreflightOptions = {}): Promise<void> {
  await preflight(engine, restic, input, input.filesSnapshot ? input.files : [], options)
}

async function preflight(engine: Engine, restic: Restic, input: RestoreInput, files: FileTarget[], options: PreflightOptions = {}): Promise<Checked> {
  // `done` names a passed check by what it found (a file count, a table count).
  const check = async <T>(name: string, work: () => T | Promise<T>, done?: (result: T) => string): Promise<T> => {
    try {
      const result = await work()
      options.checks?.push({name: done ? done(result) : name, status: 'ok'})
      return result
    } catch (error) {
      options.checks?.push({name, status: 'failed', error: engine.redactor.redact(errorMessage(error))})
      throw error
    }
  }
  // a. The tools: a missing pg_restore must not be found out after the files were replaced.
  await check('the restore tools are installed', () => assertTools(engine, input.databases))
  // b. Every target writable, every database reachable, writable and not locked by the app.
  for (const f of files) await check(`files ${f.to}: a writable directory`, () => preflightDirectory(f, input.filesMode, options.dryRun ?? false))
  for (const t of input.databases) await check(`database ${t.name} (${engine.redactor.redact(describeDatabase(t.target))}): ${t.target.adapter === 'sqlite' ? 'its directory writable, no writer holding the lock' : 'reachable and writable'}`, () => preflightDatabase(engine, t, options.dryRun ?? false))
  // c. What the snapshot holds (for the verification and the free space), and that pg_restore can read each dump.
  const expected =
    files.length > 0
      ? await check(
          `file snapshot ${input.filesSnapshot!.shortId} readable`,
          () => expectedFiles(restic, input.filesSnapshot!.id, files.map((f) => f.from)),
          (found) => `file snapshot ${input.filesSnapshot!.shortId} readable: ${files.map((f) => `${f.from} ${count(found.get(f.from)!.files, 'file')}, ${bytes(found.get(f.from)!.bytes)}`).join('; ')}`,
        )
      : new Map<string, {files: number; bytes: number}>()
  const needs = files.map((f) => ({path: f.to, bytes: expected.get(f.from)!.bytes}))
  for (const t of input.databases) {
    const snapshot = input.run.snapshots.find((s) => s.group === databaseGroup(t.name))
    if (t.target.adapter === 'sqlite' && snapshot?.bytes) needs.push({path: dirname(t.target.path!), bytes: snapshot.bytes})
  }
  await check('free space for the staged copies', () => assertFreeSpace(needs))
  const tocTables = new Map<string, number>()
  for (const t of input.databases) {
    if (t.target.adapter !== 'postgres') continue
    const snapshot = input.run.snapshots.find((s) => s.group === databaseGroup(t.name))!
    // Reading the dump costs a repository open (key derivation and index: 0.3-0.9 s). The snapshot's tag says
    // which pg_dump wrote it; pg_restore reads archives of its own major and older ones.
    if (!input.tableOfContents && (await pgRestoreReads(engine, snapshot, t))) {
      options.checks?.push({name: `database ${t.name}: the dump's pg_dump (${snapshot.tags.find((x) => x.startsWith(PG_DUMP_TAG))}) is not newer than this pg_restore`, status: 'ok'})
      continue
    }
    const name = `database ${t.name}: pg_restore reads the dump`
    tocTables.set(t.name, await check(name, () => probePostgresDump(engine, restic, snapshot, t), (tables) => `${name} (its table of contents lists ${count(tables, 'table')})`))
  }
  return {expected, tocTables}
}

function missingTool(tool: string, why: string): KamalBackupError {
  return new KamalBackupError(`${tool} ${tool.includes('/') ? 'does not exist' : 'is not installed (not found on PATH)'}: it is needed to ${why}; nothing was changed`, {
    code: 'command-not-found',
    suggestions: [`install ${tool} here (the kamal-backup accessory image ships it)`],
  })
}

function assertTools(engine: Engine, databases: DatabaseTarget[]): void {
  for (const t of databases) {
    const why = `restore database ${t.name}`
    if (t.target.adapter === 'sqlite') {
      if (!findExecutable('sqlite3', engine.env.PATH)) throw missingTool('sqlite3', why)
    } else if (t.target.adapter === 'postgres') {
      // With the image's client root, postgresTools picks (and checks) the client matching the server.
      if (engine.env.KAMAL_BACKUP_POSTGRES_CLIENT_ROOT) continue
      for (const tool of ['psql', 'pg_restore']) if (!findExecutable(tool, engine.env.PATH)) throw missingTool(tool, why)
    } else if (!mysqlClient(engine.env)) {
      throw missingTool('mariadb (or mysql)', why)
    }
  }
}

function preflightDirectory(f: FileTarget, mode: 'replace' | 'scratch', dryRun: boolean): void {
  const path = f.to
  try {
    if (mode === 'scratch' && dryRun) {
      // A drill creates its scratch directory and marks it; a dry run only checks that it could.
      if (!existsSync(path)) {
        let parent = dirname(path)
        while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent)
        return accessSync(parent, constants.W_OK)
      }
    } else if (mode === 'scratch') {
      mkdirSync(path, {recursive: true})
      // The drill's own mark: only a directory carrying it is ever emptied by a later drill.
      if (f.marker && !existsSync(f.marker)) writeFileSync(f.marker, 'created by kamal-backup drill production: emptied before each drill\n')
    }
    if (!statSync(path).isDirectory()) throw new Error('not a directory')
    const probe = join(path, `.kamal-backup-write-test-${process.pid}`)
    mkdirSync(probe)
    rmSync(probe, {recursive: true, force: true})
  } catch (error) {
    throw new KamalBackupError(`cannot restore files into ${path}: it must be an existing, writable directory (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}); nothing was changed`, {
      code: 'target-not-writable',
      suggestions: ['check that the volume is mounted read-write (no :ro) and the directory exists'],
    })
  }
}

/** Staging needs room for the new copy while the old one is still there. */
export function freeSpaceShortfalls(needs: readonly {path: string; bytes: number}[], probe: (path: string) => {device: number; available: number}): {path: string; needed: number; available: number}[] {
  const byDevice = new Map<number, {path: string; needed: number; available: number}>()
  for (const need of needs) {
    const {device, available} = probe(need.path)
    const entry = byDevice.get(device) ?? {path: need.path, needed: 0, available}
    entry.needed += need.bytes
    byDevice.set(device, entry)
  }
  // 5% and 16 MiB of headroom: file systems allocate in blocks, and the app keeps writing.
  return [...byDevice.values()].map((e) => ({...e, needed: Math.ceil(e.needed * 1.05) + 16 * 1024 * 1024})).filter((e) => e.needed > e.available && e.needed > 16 * 1024 * 1024)
}

function assertFreeSpace(needs: {path: string; bytes: number}[]): void {
  const existing = (path: string): string => {
    let current = path
    while (!existsSync(current) && dirname(current) !== current) current = dirname(current)
    return current
  }
  let short: ReturnType<typeof freeSpaceShortfalls>
  try {
    short = freeSpaceShortfalls(needs, (path) => {
      const at = existing(path)
      const fs = statfsSync(at)
      return {device: statSync(at).dev, available: fs.bavail * fs.bsize}
    })
  } catch {
    return // statfs unsupported here: the restore itself reports a full disk
  }
  if (short.length > 0) {
    const s = short[0]!
    throw new KamalBackupError(`not enough free space to stage the restore on the file system of ${s.path}: it needs about ${bytes(s.needed)}, ${bytes(s.available)} are free; nothing was changed`, {
      code: 'disk-full',
      suggestions: ['free space there (the staged copy sits beside the current data until it replaces it), or restore fewer parts (--database, --no-files)'],
    })
  }
}

// ---- files ------------------------------------------------------------------------------------------------------

interface StagedFiles {
  target: FileTarget
  staging: string
  staged: string
  files: number
  bytes: number
  expected: {files: number; bytes: number}
}

/** Restores one path into a staging directory inside its target (same file system: moving it in is a rename)
 *  and checks it against the snapshot. The target itself is not touched. */
async function stageFiles(restic: Restic, snapshot: RunSnapshot, target: FileTarget, expected: {files: number; bytes: number}, registry: StagedFiles[]): Promise<StagedFiles> {
  const staging = join(target.to, `.kamal-backup-restore-${process.pid}-${Date.now()}-${registry.length}`)
  mkdirSync(staging, {recursive: true})
  const entry: StagedFiles = {target, staging, staged: join(staging, target.from), files: 0, bytes: 0, expected}
  try {
    await restic.run(resticArgv.restore(restic.target, snapshot.id, staging, [target.from]))
    if (!existsSync(entry.staged)) mkdirSync(entry.staged, {recursive: true}) // an empty directory was backed up
    const actual = countFiles(entry.staged)
    if (actual.files !== expected.files || actual.bytes !== expected.bytes) {
      throw new KamalBackupError(`the restored copy of ${target.from} has ${actual.files} files (${actual.bytes} bytes), the snapshot ${expected.files} (${expected.bytes} bytes); nothing was replaced`, {code: 'files-mismatch'})
    }
    entry.files = actual.files
    entry.bytes = actual.bytes
    return entry
  } catch (error) {
    rmSync(staging, {recursive: true, force: true})
    throw error
  }
}

/** Files and bytes under each path in a snapshot, from one `restic ls --json`. */
async function expectedFiles(restic: Restic, snapshotId: string, paths: string[]): Promise<Map<string, {files: number; bytes: number}>> {
  const out = new Map(paths.map((p) => [p, {files: 0, bytes: 0}]))
  const prefixes = paths.map((p) => [p.endsWith('/') ? p : p + '/', out.get(p)!] as const)
  await restic.run(resticArgv.ls(restic.target, snapshotId), {
    onStdoutLine: (line) => {
      if (!line.startsWith('{')) return
      try {
        const node = JSON.parse(line) as {type?: string; path?: string; size?: number}
        if (node.type !== 'file' || !node.path) return
        for (const [prefix, counts] of prefixes) {
          if (node.path.startsWith(prefix)) {
            counts.files++
            counts.bytes += node.size ?? 0
          }
        }
      } catch {}
    },
  })
  return out
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

/** Makes `target`'s contents those of `staged`, keeping the directory itself (a mount point cannot be replaced),
 *  the files in `preserve` (live SQLite databases, restored separately) and the paths in `skip` (staging
 *  directories, a drill's marker) — also when they lie deeper down: their directories are merged, not replaced. */
export function replaceContents(target: string, staged: string, preserve: ReadonlySet<string>, skip: ReadonlySet<string>): void {
  const kept = [...preserve, ...skip]
  const holdsKept = (path: string) => kept.some((p) => p.startsWith(path + '/'))
  const stagedNames = new Set(existsSync(staged) ? readdirSync(staged) : [])
  const merged = new Set<string>()
  for (const name of readdirSync(target)) {
    const full = join(target, name)
    if (skip.has(full) || preserve.has(full)) continue
    const stat = lstatSync(full)
    if (stat.isDirectory() && holdsKept(full)) {
      const inStage = join(staged, name)
      if (stagedNames.has(name) && !lstatSync(inStage).isDirectory()) {
        // The backup has a file where a kept path's directory is: keep the directory, drop the file.
        stagedNames.delete(name)
      }
      replaceContents(full, inStage, preserve, skip)
      merged.add(name)
    } else {
      rmSync(full, {recursive: true, force: true})
    }
  }
  for (const name of stagedNames) {
    if (merged.has(name)) continue
    const destination = join(target, name)
    if (preserve.has(destination) || skip.has(destination)) continue // the database step restores it
    renameSync(join(staged, name), destination)
  }
}

// ---- databases --------------------------------------------------------------------------------------------------

async function preflightDatabase(engine: Engine, t: DatabaseTarget, dryRun: boolean): Promise<void> {
  const db = t.target
  if (db.adapter === 'sqlite') {
    const dir = dirname(db.path!)
    try {
      if (dryRun && !existsSync(dir)) {
        // A restore creates the directory; a dry run only checks that the nearest existing parent would let it.
        let parent = dirname(dir)
        while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent)
        accessSync(parent, constants.W_OK)
      } else {
        mkdirSync(dir, {recursive: true})
        const probe = join(dir, `.kamal-backup-write-test-${process.pid}`)
        writeFileSync(probe, '')
        rmSync(probe)
      }
    } catch (error) {
      throw new KamalBackupError(`cannot restore SQLite database ${db.path}: ${dir} is not writable (${(error as NodeJS.ErrnoException).code}); nothing was changed`, {code: 'target-not-writable'})
    }
    if (!existsSync(db.path!)) return
    // The restore applies the backup through SQLite's backup API, which refuses while another connection writes:
    // find that out now, not after the files were replaced.
    const probe = await runProcess(sqliteLockProbeSpec(db.path!), {signal: engine.signal, timeoutMs: 60_000})
    if (probe.interrupted) throw new InterruptedError()
    if (probe.exitCode !== 0) {
      const locked = /locked|busy/i.test(probe.stderr)
      throw new KamalBackupError(`SQLite database ${db.path} (${t.name}) ${locked ? 'is locked: another connection is writing to it' : `cannot be written: ${lastLines(probe.stderr, 2)}`}; nothing was changed (the database is unchanged)`, {
        code: locked ? 'database-busy' : 'target-not-writable',
        suggestions: locked ? ['stop the app (or its writers: kamal app stop, or maintenance mode) and restore again'] : ['check the file\'s permissions and that its volume is mounted read-write'],
      })
    }
    return
  }
  if (db.adapter === 'postgres') {
    const tools = await targetTools(engine, db)
    // The client picked for this server (the image ships one per major): all of it must be there.
    for (const tool of [tools.psql, tools.pg_restore]) if (!findExecutable(tool, engine.env.PATH)) throw missingTool(tool, `restore database ${t.name}`)
    const exists = await runProcess({...psqlSpec(db, tools, 'postgres', 'psql (database exists?)')}, {stdin: {text: `\\set name ${psqlLiteral(db.database!)}\nSELECT 1 FROM pg_database WHERE datname = :'name';\n`}, signal: engine.signal, timeoutMs: 60_000})
    if (exists.interrupted) throw new InterruptedError()
    if (exists.exitCode !== 0) throw unreachable(db, exists, engine.redactor)
    if (exists.stdout.trim() !== '1') {
      if (!t.scratch) throw new KamalBackupError(`database ${db.database} does not exist on ${db.host ?? 'localhost'}`, {code: 'target-missing', suggestions: ['create it first (e.g. bin/rails db:create), then restore']})
      // A drill creates its scratch database; a dry run asks whether it could.
      if (dryRun) return assertPostgresCanCreate(engine, t, tools)
      await runChecked(psqlSpec(db, tools, 'postgres', `create database ${db.database}`), {stdin: {text: `CREATE DATABASE ${pgIdentifier(db.database!)};\n`}, signal: engine.signal, redactor: engine.redactor})
    }
    // A standby, a read-only default, or schemas this user cannot drop would fail the reset — or worse, half of it.
    const state = await runProcess(psqlSpec(db, tools, db.database, 'psql (can the database be reset?)'), {stdin: {text: POSTGRES_STATE_SQL + '\n'}, signal: engine.signal, timeoutMs: 60_000})
    if (state.interrupted) throw new InterruptedError()
    if (state.exitCode !== 0) throw unreachable(db, state, engine.redactor)
    const problem = parsePostgresState(state.stdout)
    if (problem) {
      throw new KamalBackupError(engine.redactor.redact(`cannot restore PostgreSQL database "${t.name}" (${describeDatabase(db)}): ${problem}; nothing was changed`), {
        code: 'database-not-writable',
        suggestions: ['restore into the primary server, as a user that owns the database and its schemas (the app\'s own user usually does)'],
      })
    }
    return
  }
  const client = mysqlClient(engine.env)!
  const probe = await runProcess(mysqlClientSpec({...db}, client, 'information_schema', 'mariadb (database exists?)', ['--batch', '--skip-column-names']), {stdin: {text: `SELECT COUNT(*) FROM SCHEMATA WHERE SCHEMA_NAME = '${db.database!.replace(/\\/g, '\\\\').replace(/'/g, "''")}';\n`}, signal: engine.signal, timeoutMs: 60_000})
  if (probe.interrupted) throw new InterruptedError()
  if (probe.exitCode !== 0) throw unreachable(db, probe, engine.redactor)
  const missing = probe.stdout.trim() !== '1'
  if (missing) {
    if (!t.scratch) throw new KamalBackupError(`database ${db.database} does not exist on ${db.host ?? 'localhost'}`, {code: 'target-missing', suggestions: ['create it first (e.g. bin/rails db:create), then restore']})
    // A dry run does not create the drill's scratch database (whether it may is left to the drill).
    if (!dryRun) await runChecked(mysqlClientSpec(db, client, 'information_schema', `create database ${db.database}`), {stdin: {text: `CREATE DATABASE \`${db.database!.replace(/`/g, '``')}\`;\n`}, signal: engine.signal, redactor: engine.redactor})
  }
  const readOnly = await runProcess(mysqlClientSpec(db, client, missing && dryRun ? 'information_schema' : db.database!, 'mariadb (read-only?)', ['--batch', '--skip-column-names']), {stdin: {text: MYSQL_READ_ONLY_SQL + '\n'}, signal: engine.signal, timeoutMs: 60_000})
  if (readOnly.interrupted) throw new InterruptedError()
  if (readOnly.exitCode !== 0) throw unreachable(db, readOnly, engine.redactor)
  const variable = mysqlReadOnly(readOnly.stdout)
  if (variable) {
    throw new KamalBackupError(engine.redactor.redact(`cannot restore MySQL database "${t.name}" (${describeDatabase(db)}): the server is read-only (@@${variable} is ON; a replica?); nothing was changed`), {
      code: 'database-not-writable',
      suggestions: ['restore into the primary server'],
    })
  }
}

/** A dry run of a drill whose scratch database does not exist yet: the drill would create it, so this user must
 *  be allowed to, on a primary. */
async function assertPostgresCanCreate(engine: Engine, t: DatabaseTarget, tools: PostgresTools): Promise<void> {
  const db = t.target
  const sql = "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' WHEN rolsuper OR rolcreatedb THEN 'ok' ELSE 'no-createdb' END FROM pg_roles WHERE rolname = current_user;"
  const answer = (await runChecked(psqlSpec(db, tools, 'postgres', 'psql (may this user create the scratch database?)'), {stdin: {text: sql + '\n'}, signal: engine.signal, redactor: engine.redactor})).stdout.trim()
  if (answer === 'ok') return
  const why = answer === 'standby' ? 'the server is a standby (read-only)' : 'it does not exist yet, and this user may not create databases (no CREATEDB)'
  throw new KamalBackupError(engine.redactor.redact(`cannot drill into PostgreSQL database "${db.database}" (${describeDatabase(db)}): ${why}; nothing was changed`), {
    code: 'database-not-writable',
    suggestions: answer === 'standby' ? ['drill against the primary server'] : [`create ${db.database} first (as a user who may), owned by this user, or grant it CREATEDB`],
  })
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

const toolsByTarget = new WeakMap<ResolvedDatabase, Promise<PostgresTools>>()

/** A target's PostgreSQL clients, found once per restore: in the image, finding them asks the server its version
 *  (a psql process and a connection), and the preflight, the dump check and the restore all need them. Asked
 *  through the maintenance database, since a drill's scratch database may not exist yet. */
function targetTools(engine: Engine, db: ResolvedDatabase): Promise<PostgresTools> {
  let tools = toolsByTarget.get(db)
  if (!tools) {
    tools = postgresTools({...db, database: 'postgres'}, engine.env, engine.signal)
    toolsByTarget.set(db, tools)
  }
  return tools
}

/** Whether this pg_restore surely reads the dump: the snapshot's pg_dump tag is not newer than pg_restore. */
async function pgRestoreReads(engine: Engine, snapshot: RunSnapshot, t: DatabaseTarget): Promise<boolean> {
  const tag = snapshot.tags.find((x) => x.startsWith(PG_DUMP_TAG))
  if (!tag) return false
  const local = await clientMajor(await targetTools(engine, t.target), 'pg_restore', engine.signal)
  return local !== undefined && Number(tag.slice(PG_DUMP_TAG.length)) <= local
}

/** `restic dump | pg_restore --list`: pg_restore reads only the header and the table of contents, then stops
 *  (restic runs without a lock, so stopping it early leaves none behind). A dump this pg_restore cannot read is
 *  refused here, before the database is reset. Returns the number of tables the table of contents lists. */
async function probePostgresDump(engine: Engine, restic: Restic, snapshot: RunSnapshot, t: DatabaseTarget): Promise<number> {
  const dumpPath = snapshot.paths[0]
  if (!dumpPath) throw new KamalBackupError(`snapshot ${snapshot.shortId} has no path`, {code: 'bad-snapshot'})
  const tools = await targetTools(engine, t.target)
  const dump = resticArgv.dump(restic.target, snapshot.id, dumpPath)
  const producer: CommandSpec = {...dump, argv: [...dump.argv, '--no-lock'] as unknown as CommandSpec['argv']}
  const toc: string[] = []
  let tables = 0
  const result = await streamInto(producer, pgRestoreListSpec(tools), {
    signal: engine.signal,
    onConsumerStdoutLine: (line) => {
      tables += tocTableCount(line)
      if (toc.length < 3) toc.push(line)
    },
  })
  if (result.producer.interrupted || result.consumer.interrupted) throw new InterruptedError()
  if (result.consumer.exitCode === 0) return tables
  // pg_restore could not read it. When restic failed, pg_restore only saw its input end early: restic's error
  // is the cause. (When pg_restore gives up first, restic is stopped; its exit status says nothing then.)
  const stderr = lastLines(result.consumer.stderr, 3)
  if (result.producer.exitCode !== 0 && (stderr === '' || /end of file|too short|magic string|could not read/i.test(stderr))) throw resticError(dump, result.producer, engine.redactor)
  const version = /unsupported version \(([\d.]+)\) in file header/.exec(stderr)
  if (version) {
    throw new KamalBackupError(`the dump of database ${t.name} was written by a newer pg_dump (archive version ${version[1]}) than this pg_restore can read (${tools.pg_restore}${tools.serverMajor ? `, PostgreSQL ${tools.serverMajor}` : ''}); nothing was changed`, {
      code: 'postgres-client-too-old',
      suggestions: ['restore with a newer PostgreSQL client: upgrade the accessory image (or the PostgreSQL client on this machine) to the version that took the backup'],
    })
  }
  throw new KamalBackupError(engine.redactor.redact(`pg_restore cannot read the dump of database ${t.name} (snapshot ${snapshot.shortId}): ${stderr || `exit ${result.consumer.exitCode}`}; nothing was changed`), {code: 'bad-dump'})
}

function databaseInUse(t: DatabaseTarget, seconds: number, dropped: boolean): KamalBackupError {
  return new KamalBackupError(`database ${t.name} is in use: another connection (the app?) holds locks on its tables, and the reset gave up after waiting ${seconds} s; ${dropped ? 'some of its objects may already be dropped' : 'nothing was dropped'}`, {
    code: 'database-in-use',
    suggestions: ['stop the app first (kamal app stop, or maintenance mode), then restore again', 'KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT=<seconds> waits longer'],
  })
}

async function restoreDatabase(engine: Engine, restic: Restic, snapshot: RunSnapshot, t: DatabaseTarget, tocTables: number | null, mark: (state: PartState['state'], note?: string) => void): Promise<DatabaseReport> {
  const db = t.target
  const dumpPath = snapshot.paths[0]
  if (!dumpPath) throw new KamalBackupError(`snapshot ${snapshot.shortId} has no path`, {code: 'bad-snapshot'})
  const dump = resticArgv.dump(restic.target, snapshot.id, dumpPath)
  const base = {name: t.name, adapter: db.adapter, snapshot: snapshot.id, target: engine.redactor.redact(describeDatabase(db))}
  const seconds = lockTimeoutSeconds(engine.env)
  if (db.adapter === 'sqlite') {
    return {...base, ...(await restoreSqlite(engine, dump, db.path!, mark))}
  }
  if (db.adapter === 'postgres') return {...base, ...(await restorePostgres(engine, restic, dump, t, await targetTools(engine, db), seconds, tocTables, mark))}
  const client = mysqlClient(engine.env)!
  const init = [`--init-command=SET SESSION lock_wait_timeout = ${seconds}`]
  const inventory = await runChecked(mysqlClientSpec(db, client, db.database!, 'list objects', ['--batch', '--skip-column-names', '--raw']), {stdin: {text: MYSQL_INVENTORY_SQL + '\n'}, signal: engine.signal, redactor: engine.redactor})
  // Wait for the app's open transactions (at most the lock timeout) before the first DROP: DDL is not
  // transactional in MySQL, so a DROP stuck half-way would leave the database half-reset.
  const probeSql = mysqlLockProbe(inventory.stdout)
  if (probeSql) {
    const probe = await runProcess(mysqlClientSpec(db, client, db.database!, `lock ${db.database}`, init), {stdin: {text: probeSql}, signal: engine.signal})
    if (probe.interrupted) throw new InterruptedError()
    if (probe.exitCode !== 0) {
      if (/lock wait timeout/i.test(probe.stderr)) throw databaseInUse(t, seconds, false)
      // Without the LOCK TABLES privilege the probe cannot tell; the DROPs still time out.
      if (!/denied/i.test(probe.stderr)) throw new CommandFailedError(mysqlClientSpec(db, client, db.database!, `lock ${db.database}`), probe, engine.redactor)
    }
  }
  mark('partial', 'its objects were being dropped when the restore stopped')
  const drop = await runProcess(mysqlClientSpec(db, client, db.database!, `reset ${db.database}`, init), {stdin: {text: mysqlDropStatements(inventory.stdout)}, signal: engine.signal})
  if (drop.interrupted) throw new InterruptedError()
  if (drop.exitCode !== 0) {
    if (/lock wait timeout/i.test(drop.stderr)) throw databaseInUse(t, seconds, true)
    throw new CommandFailedError(mysqlClientSpec(db, client, db.database!, `reset ${db.database}`), drop, engine.redactor)
  }
  mark('partial', 'it was reset, and the dump was being loaded when the restore stopped: it holds part of the data, or none')
  const result = await streamInto(dump, mysqlClientSpec(db, client, db.database!, `restore ${db.database}`, init), {signal: engine.signal, tap: MYSQL_TABLE_SCANNER})
  await checkStream(engine, restic, dump, result.producer, result.consumer)
  if (result.tee && result.tee.exitCode !== 0) throw new KamalBackupError(`tee failed while restoring: ${lastLines(result.tee.stderr, 3)}`, {code: 'restore-failed'})
  mark('restored')
  const dumped = tablesFromScanner(result.tap?.stdout ?? '')
  const restored = lines((await runChecked(mysqlClientSpec(db, client, db.database!, 'list tables', ['--batch', '--skip-column-names']), {stdin: {text: MYSQL_TABLES_SQL + '\n'}, signal: engine.signal, redactor: engine.redactor})).stdout)
  return {...base, tables_in_dump: dumped, tables_restored: restored, missing_tables: dumped.filter((x) => !restored.includes(x)), integrity: null}
}

async function restorePostgres(engine: Engine, restic: Restic, dump: CommandSpec, t: DatabaseTarget, tools: PostgresTools, seconds: number, tocTables: number | null, mark: (state: PartState['state'], note?: string) => void): Promise<Omit<DatabaseReport, 'name' | 'adapter' | 'snapshot' | 'target'>> {
  const db = t.target
  // The reset is one DO block, so one transaction: when the app's locks make it time out, nothing was dropped.
  const resetSpec = psqlSpec(db, tools, db.database, `reset ${db.database}`)
  const reset = await runProcess(resetSpec, {stdin: {text: `SET lock_timeout = '${seconds}s';\n${POSTGRES_RESET_SQL}\n`}, signal: engine.signal})
  if (reset.interrupted) throw new InterruptedError()
  if (reset.exitCode !== 0) {
    if (/lock timeout/i.test(reset.stderr)) throw databaseInUse(t, seconds, false)
    throw new CommandFailedError(resetSpec, reset, engine.redactor)
  }
  mark('partial', 'it was reset, and the dump was being loaded when the restore stopped: it holds part of the data, or none')
  // pg_restore --verbose names every table it creates, one per stderr line: collected as they go by (the tail
  // of stderr kept for errors would lose them on a large schema).
  const dumped = new Set<string>()
  let ignored = 0
  const result = await streamInto(dump, pgRestoreSpec(db, tools, db.database!, seconds), {
    signal: engine.signal,
    onConsumerStderrLine: (line) => {
      const table = tableFromPgRestoreLine(line)
      if (table) dumped.add(table)
      ignored = Math.max(ignored, ignoredErrors(line))
    },
  })
  await checkStream(engine, restic, dump, result.producer, result.consumer)
  if (ignored > 0) throw new KamalBackupError(`pg_restore ignored ${ignored} errors: the database is only partly restored`, {code: 'restore-failed'})
  mark('restored')
  const restored = lines((await runChecked(psqlSpec(db, tools, db.database, 'list tables'), {stdin: {text: POSTGRES_TABLES_SQL + '\n'}, signal: engine.signal, redactor: engine.redactor})).stdout)
  const inDump = [...dumped].sort()
  return {tables_in_dump: inDump, tables_restored: restored, missing_tables: inDump.filter((x) => !restored.includes(x)), tables_in_toc: tocTables, integrity: null}
}

/** Both ends of a restore pipe must succeed. A consumer that failed early kills `restic dump` with SIGPIPE, which
 *  leaves a stale lock behind: remove it (restic unlock removes only stale locks). */
async function checkStream(engine: Engine, restic: Restic, dump: CommandSpec, producer: ProcessResult, consumer: ProcessResult): Promise<void> {
  if (producer.interrupted || consumer.interrupted) throw new InterruptedError()
  if (consumer.exitCode !== 0) {
    if (producer.exitCode !== 0) await restic.unlock().catch(() => undefined)
    throw new KamalBackupError(engine.redactor.redact(`restoring failed (exit ${consumer.exitCode ?? consumer.signal}): ${lastLines(consumer.stderr, 6)}`), {
      code: 'restore-failed',
      suggestions: ['the target may be partly restored; fix the cause and restore again (or restore the safety backup)'],
    })
  }
  if (producer.exitCode !== 0) throw resticError(dump, producer, engine.redactor)
}

async function restoreSqlite(engine: Engine, dump: CommandSpec, target: string, mark: (state: PartState['state'], note?: string) => void): Promise<Omit<DatabaseReport, 'name' | 'adapter' | 'snapshot' | 'target'>> {
  // Staged beside the target (same filesystem), checked, then applied through SQLite's backup API.
  const staged = join(dirname(target), `.${basename(target)}.kamal-backup-restore-${process.pid}`)
  try {
    const written = await runToFile(dump, staged, engine.signal)
    if (written.interrupted) throw new InterruptedError()
    if (written.exitCode !== 0) throw resticError(dump, written, engine.redactor)
    const check = await runChecked(sqliteIntegritySpec(staged), {signal: engine.signal, redactor: engine.redactor})
    if (check.stdout.trim() !== 'ok') throw new KamalBackupError(`the restored SQLite copy fails its integrity check: ${check.stdout.trim().slice(0, 300)}`, {code: 'restore-failed'})
    const dumped = lines((await runChecked(sqliteTablesSpec(staged), {signal: engine.signal})).stdout)
    const applied = await runProcess(sqliteRestoreSpec(target, staged), {signal: engine.signal})
    if (applied.interrupted) throw new InterruptedError()
    if (applied.exitCode !== 0) {
      const locked = /locked|busy/i.test(applied.stderr)
      throw new KamalBackupError(`SQLite refused to restore ${target}${locked ? ': another connection is writing to it' : ''} (${lastLines(applied.stderr, 2)}); the database is unchanged`, {
        code: locked ? 'database-busy' : 'restore-failed',
        suggestions: locked ? ['stop the app (or its writers) and restore again'] : [],
      })
    }
    mark('restored')
    const after = await runChecked(sqliteIntegritySpec(target), {signal: engine.signal, redactor: engine.redactor})
    if (after.stdout.trim() !== 'ok') mark('partial', 'it was restored, but fails its integrity check')
    if (after.stdout.trim() !== 'ok') throw new KamalBackupError(`${target} fails its integrity check after the restore: ${after.stdout.trim().slice(0, 300)}`, {code: 'restore-failed'})
    const restored = lines((await runChecked(sqliteTablesSpec(target), {signal: engine.signal})).stdout)
    return {tables_in_dump: dumped, tables_restored: restored, missing_tables: dumped.filter((x) => !restored.includes(x)), integrity: 'ok'}
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(staged + suffix, {force: true})
  }
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}
