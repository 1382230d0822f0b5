// Restoring a run: files first (every path staged on its target's own filesystem and verified before any target
// is touched, then each target's *contents* replaced, so a Docker volume's mount point stays), then each database,
// by its adapter (src/db/: reset, then `restic dump` streamed into the client through an OS pipe; SQLite staged,
// checked, applied with the backup API). Nothing is changed before every target has been checked — tools,
// writability, locks, read-only servers, privileges, free space, and whether each client can read its dump — and
// every exit code in every pipe is checked. What has changed is tracked part by part, so a failure can say exactly
// where production is.
import {accessSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statfsSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describeDatabase} from '../db/connection.js'
import {databaseAdapter, type DatabaseTarget, type DumpSource} from '../db/index.js'
import {lockTimeoutSeconds, nearestExisting} from '../db/adapter.js'
import {fewerRows, type DatabaseReport, type PartState, type PreflightCheck, type RestoreReport, type StepReport} from '../documents.js'
import {errorMessage, isKamalBackupError, KamalBackupError, UsageError} from '../errors.js'
import {resticArgv} from '../restic/argv.js'
import {resticError, type Restic} from '../restic/client.js'
import type {Engine} from './context.js'
import {bytes, count} from './progress.js'
import {databaseGroup, FILES_GROUP, selectRun, type Run, type RunSnapshot} from './runs.js'
import {pathInSnapshot} from './volumes.js'


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

export interface FileTarget {
  /** The backed-up path (a volume's: `volume:<name>`, found in the snapshot by its tag). */
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
  /** Count every restored table's rows (drills). A restore only probes each table for one row: a count reads the
   *  whole table (about a second per GiB after a bulk load) while the probe reads one page. */
  countRows?: boolean
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
    if (!databaseNames.includes(name)) throw new KamalBackupError(`no database "${name}" in the configuration`, {code: 'usage/invalid', exitCode: 2, suggestions: [`databases: ${databaseNames.join(', ') || '(none)'}`]})
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
    const partial = restricted && isKamalBackupError(error) && error.code === 'run/incomplete' ? runs.find((r) => r.id === selection.snapshot || r.snapshots.some((s) => s.id.startsWith(selection.snapshot ?? '\0'))) : undefined
    if (!partial) throw error
    run = partial
  }
  const missing = parts.databases.filter((name) => !run.snapshots.some((s) => s.group === databaseGroup(name)))
  if (missing.length > 0) throw new KamalBackupError(`run ${run.id} has no snapshot of database ${missing.join(', ')}`, {code: 'run/incomplete'})
  const filesSnapshot = run.snapshots.find((s) => s.group === FILES_GROUP)
  if (parts.files && !filesSnapshot) throw new KamalBackupError(`run ${run.id} has no file snapshot`, {code: 'run/incomplete'})
  return {run, databases: parts.databases, files: parts.files ? filesSnapshot : undefined}
}

/** What a restored database's verification found wrong: tables of the dump missing from the target, tables the
 *  dump had rows for left empty, a failed integrity check, a table list or row count that cannot vouch for the dump.
 *  A restore or drill with any of these failed. A drill (`exactRows`: nobody else writes to its scratch database)
 *  also fails on a table with fewer rows than the dump; a production restore does not (the app may already be
 *  deleting rows again), but shows it. */
export function databaseProblems(databases: readonly DatabaseReport[], {exactRows = false}: {exactRows?: boolean} = {}): string[] {
  const problems: string[] = []
  for (const db of databases) {
    if (db.missing_tables.length > 0) problems.push(`database ${db.name} is missing tables: ${db.missing_tables.join(', ')}`)
    if (db.empty_tables?.length) problems.push(`database ${db.name} has no rows in tables the dump had rows for: ${db.empty_tables.join(', ')}`)
    if (db.rows_unknown) problems.push(`database ${db.name}: ${db.rows_unknown}, so its rows cannot be checked`)
    if (exactRows) {
      const fewer = fewerRows(db).filter((r) => r.restored !== 0)
      if (fewer.length > 0) problems.push(`database ${db.name} has fewer rows than the dump in: ${fewer.map((r) => `${r.table} (${r.restored} of ${r.in_dump})`).join(', ')}`)
    }
    for (const problem of databaseAdapter(db.adapter).verify(db)) problems.push(`database ${db.name} ${problem}`)
    const toc = db.tables_in_toc ?? 0
    if (toc > db.tables_in_dump.length) problems.push(`database ${db.name}: the dump's table of contents lists ${toc} tables, but only ${db.tables_in_dump.length} could be checked`)
    else if (db.tables_in_dump.length === 0 && db.tables_restored.length > 0) problems.push(`database ${db.name}: the dump's table list is empty, but ${db.tables_restored.length} tables were restored: the tables cannot be verified`)
  }
  return problems
}

/** After a restore: its verification must pass, or the restore failed (the caller adds where production stands and
 *  the undo command). */
export function assertRestoreVerified(databases: readonly DatabaseReport[]): void {
  const problems = databaseProblems(databases)
  if (problems.length === 0) return
  throw new KamalBackupError(`the restore finished, but its verification failed: ${problems.join('; ')}`, {
    code: 'restore/unverified',
    suggestions: ['the data restored is not the whole backup: undo it (below) or restore another run, and find out what removed the tables (a migration or app process running during the restore?)'],
  })
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
  const files = filesIn(input)
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
    const result = await step(part, `database ${t.name} → ${engine.redactor.redact(describeDatabase(t.target))}`, () => restoreDatabase(engine, restic, snapshot, t, {tocTables: checked.tocTables.get(t.name) ?? null, countRows: input.countRows ?? false}, (state, note) => mark(part, state, note)), (r) => count(r.tables_restored.length, 'table'))
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
  await preflight(engine, restic, input, filesIn(input), options)
}

/** The file targets, each `from` made the directory that holds its files in the run's snapshot (a volume's is where
 *  the volume was when the snapshot was taken). */
function filesIn(input: RestoreInput): FileTarget[] {
  const snapshot = input.filesSnapshot
  return snapshot ? input.files.map((f) => ({...f, from: pathInSnapshot(f.from, snapshot.tags)})) : []
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
  await check('the restore tools are installed', () => {
    for (const t of input.databases) databaseAdapter(t.target.adapter).assertRestoreTools(engine, t)
  })
  // b. Every target writable, every database reachable, writable and not locked by the app.
  for (const f of files) await check(`files ${f.to}: a writable directory`, () => preflightDirectory(f, input.filesMode, options.dryRun ?? false))
  for (const t of input.databases) {
    const adapter = databaseAdapter(t.target.adapter)
    await check(`database ${t.name} (${engine.redactor.redact(describeDatabase(t.target))}): ${adapter.preflightTitle}`, () => adapter.preflight(engine, t, {dryRun: options.dryRun ?? false}))
  }
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
    needs.push(...databaseAdapter(t.target.adapter).stagingSpace(t.target, snapshot?.bytes ?? 0))
  }
  await check('free space for the staged copies', () => assertFreeSpace(needs))
  // d. Whether each client can read its dump (PostgreSQL's pg_restore and the archive version).
  const tocTables = new Map<string, number>()
  for (const t of input.databases) {
    const adapter = databaseAdapter(t.target.adapter)
    if (!adapter.inspectDump) continue
    const snapshot = input.run.snapshots.find((s) => s.group === databaseGroup(t.name))!
    const tables = await adapter.inspectDump(engine, t, dumpSource(engine, restic, snapshot), {tableOfContents: input.tableOfContents ?? false, check})
    if (tables !== undefined) tocTables.set(t.name, tables)
  }
  return {expected, tocTables}
}

function preflightDirectory(f: FileTarget, mode: 'replace' | 'scratch', dryRun: boolean): void {
  const path = f.to
  try {
    if (mode === 'scratch' && dryRun) {
      // A drill creates its scratch directory and marks it; a dry run only checks that it could.
      if (!existsSync(path)) return accessSync(nearestExisting(path), constants.W_OK)
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
      code: 'restore/target-not-writable',
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
  let short: ReturnType<typeof freeSpaceShortfalls>
  try {
    short = freeSpaceShortfalls(needs, (path) => {
      const at = nearestExisting(path)
      const fs = statfsSync(at)
      return {device: statSync(at).dev, available: fs.bavail * fs.bsize}
    })
  } catch {
    return // statfs unsupported here: the restore itself reports a full disk
  }
  if (short.length > 0) {
    const s = short[0]!
    throw new KamalBackupError(`not enough free space to stage the restore on the file system of ${s.path}: it needs about ${bytes(s.needed)}, ${bytes(s.available)} are free; nothing was changed`, {
      code: 'restore/disk-full',
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
      throw new KamalBackupError(`the restored copy of ${target.from} has ${actual.files} files (${actual.bytes} bytes), the snapshot ${expected.files} (${expected.bytes} bytes); nothing was replaced`, {code: 'restore/files-mismatch'})
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

/** A database's dump as its adapter reads it: `restic dump` of the snapshot's one file. */
function dumpSource(engine: Engine, restic: Restic, snapshot: RunSnapshot): DumpSource {
  const path = snapshot.paths[0]
  if (!path) throw new KamalBackupError(`snapshot ${snapshot.shortId} has no path`, {code: 'restore/bad-snapshot'})
  const spec = resticArgv.dump(restic.target, snapshot.id, path)
  return {
    spec,
    tags: snapshot.tags,
    shortId: snapshot.shortId,
    error: (result) => resticError(spec, result, engine.redactor, {version: restic.version}),
    releaseLock: async () => void (await restic.unlock()),
  }
}

async function restoreDatabase(engine: Engine, restic: Restic, snapshot: RunSnapshot, t: DatabaseTarget, how: {tocTables: number | null; countRows: boolean}, mark: (state: PartState['state'], note?: string) => void): Promise<DatabaseReport> {
  const db = t.target
  const base = {name: t.name, adapter: db.adapter, snapshot: snapshot.id, target: engine.redactor.redact(describeDatabase(db))}
  const options = {lockTimeoutSeconds: lockTimeoutSeconds(engine.env), tablesInToc: how.tocTables, countRows: how.countRows, mark}
  return {...base, ...(await databaseAdapter(db.adapter).restore(engine, t, dumpSource(engine, restic, snapshot), options))}
}
