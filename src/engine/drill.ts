// A restore drill: restore a run into scratch targets, verify it, run the operator's check, and leave a record
// for a security review — including when it fails. The latest record is last_restore_drill.json in the state
// directory, every record is appended to drills.jsonl, and `evidence` reports both.
import {dirname} from 'node:path'
import {hostname, userInfo} from 'node:os'
import type {LocalConfig} from '../config/backup-config.js'
import type {CheckResult, DatabaseReport, DrillRecord, FilesReport} from '../documents.js'
import {errorMessage, ExitCode, InterruptedError, isKamalBackupError} from '../errors.js'
import {lastLines} from '../exec/local.js'
import {describeDatabase, type ResolvedDatabase} from '../db/connection.js'
import {databaseAdapter} from '../db/index.js'
import {openRepository, type Engine} from './context.js'
import {loadRuns} from './list.js'
import {damageWarnings} from './damage.js'
import {databaseProblems, emptyRestoreReport, planRun, restoreRun, selectParts, type FileTarget, type RestoreParts, type RestoreSelection} from './restore.js'
import {STATE_FILES} from './state.js'
import {assertNotProductionEnvironment, localTargets, scratchTargets, type ScratchOptions, type Targets} from './targets.js'

/** The human behind a drill or restore: passed from the workstation for remote runs. */
export function drillOperator(env: NodeJS.ProcessEnv): string {
  if (env.KAMAL_BACKUP_OPERATOR) return env.KAMAL_BACKUP_OPERATOR
  try {
    return env.USER || env.LOGNAME || userInfo().username
  } catch {
    return 'unknown'
  }
}

export interface DrillOptions {
  selection: RestoreSelection
  check?: string
}

export interface DrillOutcome {
  record: DrillRecord
  /** 0 ok, 1 failed, 130 interrupted. */
  exitCode: number
}

/** What a drill leaves out, in words for the record. */
function skippedParts(engine: Engine, parts: RestoreParts, selection: RestoreSelection, unmappedPaths: string[] = []): string[] {
  const out = engine.config.databases.filter((d) => !parts.databases.includes(d.name)).map((d) => `database ${d.name}: not selected`)
  if (engine.config.paths.length > 0 && !parts.files) out.push(`files (${engine.config.paths.map((p) => p.path).join(', ')}): ${selection.files === false ? '--no-files' : 'not selected'}`)
  for (const path of unmappedPaths) out.push(`files ${path}: no local target in config/kamal-backup.local.yml`)
  return out
}

/** What a drill restores and where: the parts, the scratch (production) or local targets, what is left out.
 *  Wrong targets are usage errors, thrown here, before anything is read. */
export interface DrillChoice {
  scope: DrillRecord['scope']
  parts: RestoreParts
  targets: Targets
  skipped: string[]
  filesMode: 'replace' | 'scratch'
}

export function drillProductionChoice(engine: Engine, options: DrillOptions & ScratchOptions, cwd: string = process.cwd()): DrillChoice {
  const parts = selectParts(options.selection, engine.config.databases.map((d) => d.name), engine.config.paths.length > 0)
  const targets = {...scratchTargets(engine, options, parts, cwd), preserve: []}
  return {scope: 'production', parts, targets, skipped: skippedParts(engine, parts, options.selection), filesMode: 'scratch'}
}

export function drillLocalChoice(engine: Engine, local: LocalConfig | undefined, cwd: string, options: DrillOptions): DrillChoice {
  assertNotProductionEnvironment(engine.env)
  const parts = selectParts(options.selection, engine.config.databases.map((d) => d.name), engine.config.paths.length > 0)
  const targets = localTargets(engine, local, cwd, parts, {filesRequested: options.selection.files === true})
  for (const path of targets.unmappedPaths) engine.log.warn(`files from ${path} are not part of this drill: no local target in config/kamal-backup.local.yml`)
  return {scope: 'local', parts, targets, skipped: skippedParts(engine, parts, options.selection, targets.unmappedPaths), filesMode: 'replace'}
}

/** What a drill's dry run cannot find out without changing something. */
export function drillNotChecked(choice: DrillChoice, options: DrillOptions): string[] {
  return [
    'the files are not downloaded and verified (staging)',
    `the ${choice.scope === 'production' ? 'scratch ' : ''}databases are not reset or restored, so the verification (tables, integrity, file counts) is not run`,
    ...new Set(choice.targets.databases.flatMap((d) => databaseAdapter(d.target.adapter).dryRunLimits(choice.scope))),
    ...(options.check ? ['the --check command is not run'] : []),
  ]
}

export function drillProduction(engine: Engine, options: DrillOptions & ScratchOptions, cwd: string = process.cwd()): Promise<DrillOutcome> {
  return drill(engine, drillProductionChoice(engine, options, cwd), options)
}

export function drillLocal(engine: Engine, local: LocalConfig | undefined, cwd: string, options: DrillOptions): Promise<DrillOutcome> {
  return drill(engine, drillLocalChoice(engine, local, cwd, options), options)
}

/** Wrong targets are a usage error, refused by the callers before this runs: a drill that never started is not a
 *  failed drill, and leaves no record. */
async function drill(engine: Engine, {scope, parts, targets, skipped, filesMode}: DrillChoice, options: DrillOptions): Promise<DrillOutcome> {
  const started = engine.now()
  const record: DrillRecord = {
    schema_version: 1,
    kind: 'drill',
    scope,
    status: 'failed',
    app: engine.config.app,
    operator: drillOperator(engine.env),
    host: hostname(),
    requested: {snapshot: options.selection.snapshot ?? 'latest', at: options.selection.at?.toISOString() ?? null, databases: options.selection.databases ?? null, files: options.selection.files ?? null},
    targets: {
      databases: targets.databases.map((d) => ({name: d.name, target: engine.redactor.redact(describeDatabase(d.target))})),
      files: targets.files.map((f) => ({from: f.from, to: f.to})),
    },
    skipped,
    started_at: started.toISOString(),
    finished_at: started.toISOString(),
    duration_ms: 0,
    verification: {passed: false, problems: [], check: null},
    error: null,
    suggestions: [],
    ...emptyRestoreReport(),
  }
  engine.state.ensureWritable()
  const lock = engine.state.lock('drill')
  let exitCode: number = ExitCode.failed
  try {
    const restic = await openRepository(engine)
    for (const warning of damageWarnings(engine)) engine.log.warn(warning)
    const {runs} = await loadRuns(engine, restic)
    const plan = planRun(runs, options.selection, parts)
    await restoreRun(engine, restic, {run: plan.run, databases: targets.databases, files: targets.files, filesSnapshot: plan.files, filesMode, preserve: targets.preserve, tableOfContents: true, countRows: true}, record)
    record.verification.problems.push(...verificationProblems(record.databases, record.files))
    if (options.check) {
      record.verification.check = await checkTask(engine, options.check, targets)
      if (record.verification.check.exit_code !== 0) record.verification.problems.push(`the check command exited with ${record.verification.check.exit_code}`)
    }
    record.verification.passed = record.verification.problems.length === 0
    record.status = record.verification.passed ? 'ok' : 'failed'
    if (record.verification.passed) exitCode = ExitCode.ok
    else record.error = record.verification.problems.join('; ')
  } catch (error) {
    record.error = engine.redactor.redact(errorMessage(error))
    record.suggestions = isKamalBackupError(error) ? error.suggestions.map((s) => engine.redactor.redact(s)) : []
    record.verification.problems.push(record.error)
    if (error instanceof InterruptedError) exitCode = ExitCode.interrupted
  } finally {
    lock.release()
    const finished = engine.now()
    record.finished_at = finished.toISOString()
    record.duration_ms = finished.getTime() - started.getTime()
    const stored = engine.redactor.redactValue(record)
    engine.state.write(STATE_FILES.lastDrill, stored)
    engine.state.append(STATE_FILES.drills, stored)
    engine.events.emit({type: 'drill-finished', record: stored})
  }
  return {record: engine.redactor.redactValue(record), exitCode}
}

/** Every table of every dump is there; a dump whose table list came back empty (or short of its table of
 *  contents) cannot vouch for anything. (SQLite integrity and file counts are checked during the restore.) */
export function verificationProblems(databases: readonly DatabaseReport[], files: readonly Pick<FilesReport, 'from' | 'files'>[] = []): string[] {
  const problems: string[] = []
  // A drill that restored nothing proves nothing: an empty database or directory is a failed verification.
  for (const f of files) if (f.files === 0) problems.push(`files ${f.from}: the drill restored 0 files, so it proves nothing about them`)
  for (const db of databases) if (db.tables_restored.length === 0) problems.push(`database ${db.name}: the drill restored 0 tables, so it proves nothing about it`)
  return [...problems, ...databaseProblems(databases, {exactRows: true})]
}

/** What a drill's check inherits of this process's environment (drill.check_env adds to it). */
export const CHECK_INHERITS = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'] as const

/** The variables the check gets: DATABASE_URL and <NAME>_DATABASE_URL (Rails' names) and
 *  KAMAL_BACKUP_DRILL_<NAME>_URL for each restored database, KAMAL_BACKUP_DRILL_FILES for the files. Every
 *  inherited *DATABASE_URL is removed first: a check must never reach production by accident. DATABASE_URL is set
 *  for the only database, or for the one named `primary`; otherwise it stays unset. */
export function checkEnvironment(databases: readonly {name: string; db: ResolvedDatabase}[], files: readonly FileTarget[], inherited: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {}
  for (const name of Object.keys(inherited)) if (/^([A-Za-z0-9_]+_)?DATABASE_URL$/.test(name)) env[name] = undefined
  const key = (name: string) => name.toUpperCase().replace(/[^A-Z0-9]/g, '_')
  for (const {name, db} of databases) {
    const url = databaseAdapter(db.adapter).connectionUrl(db)
    env[`KAMAL_BACKUP_DRILL_${key(name)}_URL`] = url
    env[`${key(name)}_DATABASE_URL`] = url
  }
  const primary = databases.length === 1 ? databases[0] : databases.find((d) => d.name === 'primary')
  if (primary) env.DATABASE_URL = databaseAdapter(primary.db.adapter).connectionUrl(primary.db)
  if (files.length === 1) env.KAMAL_BACKUP_DRILL_FILES = files[0]!.to
  else if (files.length > 1) env.KAMAL_BACKUP_DRILL_FILES = dirname(files[0]!.to)
  return env
}

/** The operator's check as a progress task that fails (shows "failed") when the command exits non-zero; the
 *  result is returned either way, for the record. */
async function checkTask(engine: Engine, command: string, targets: {databases: {name: string; target: ResolvedDatabase}[]; files: FileTarget[]}): Promise<CheckResult> {
  let result: CheckResult | undefined
  try {
    await engine.progress.task(`check: ${command}`, async () => {
      result = await runCheckCommand(engine, command, targets.databases.map((d) => ({name: d.name, db: d.target})), targets.files)
      if (result.exit_code !== 0) throw new Error(`the check command exited with ${result.exit_code}`)
    })
  } catch (error) {
    if (result === undefined) throw error
  }
  return result!
}

async function runCheckCommand(engine: Engine, command: string, databases: {name: string; db: ResolvedDatabase}[], files: FileTarget[]): Promise<CheckResult> {
  const env = checkEnvironment(databases, files, engine.env)
  // Only what a check needs: never RESTIC_PASSWORD, cloud keys or production's PGPASSWORD/MYSQL_PWD, so a bare
  // `psql` in a check cannot reach production. drill.check_env adds named variables.
  const inheritEnv = [...CHECK_INHERITS, ...engine.config.drill.checkEnv]
  const unset = engine.config.drill.checkEnv.filter((name) => engine.env[name] === undefined)
  if (unset.length > 0) engine.log.warn(`drill.check_env names ${unset.join(', ')}, which ${unset.length === 1 ? 'is' : 'are'} not set here: the check runs without ${unset.length === 1 ? 'it' : 'them'} (give the accessory ${unset.length === 1 ? 'it' : 'them'} in config/deploy.yml env)`)
  const result = await engine.exec.group({argv: ['sh', '-c', command], env, inheritEnv, label: 'drill check'}, {signal: engine.signal, timeoutMs: 3_600_000})
  if (result.interrupted) throw new InterruptedError()
  const output = lastLines([result.stdout, result.stderr].filter(Boolean).join('\n'), 40)
  return {command: engine.redactor.redact(command), exit_code: result.exitCode, duration_ms: result.durationMs, output: engine.redactor.redact(output)}
}
