// A restore drill: restore a run into scratch targets, verify it, run the operator's check, and leave a record
// for a security review — including when it fails. The latest record is last_restore_drill.json in the state
// directory, every record is appended to drills.jsonl, and `evidence` reports both.
import {hostname, userInfo} from 'node:os'
import type {LocalConfig} from '../config/backup-config.js'
import {errorMessage, KamalBackupError} from '../errors.js'
import {lastLines, runProcess} from '../exec/local.js'
import {describeDatabase, type ResolvedDatabase} from '../db/connection.js'
import {openRepository, type Engine} from './context.js'
import {loadRuns} from './list.js'
import {emptyRestoreReport, planRun, restoreRun, type DatabaseTarget, type FileTarget, type RestoreReport, type RestoreSelection} from './restore.js'
import {STATE_FILES} from './state.js'
import {assertNotProductionEnvironment, localTargets, scratchTargets, type ScratchOptions} from './targets.js'

export interface CheckResult {
  command: string
  exit_code: number | null
  duration_ms: number
  output: string
}

export interface DrillRecord extends RestoreReport {
  schema_version: 1
  kind: 'drill'
  scope: 'production' | 'local'
  status: 'ok' | 'failed'
  app: string
  operator: string
  host: string
  requested: {snapshot: string; at: string | null; databases: string[] | null; files: boolean | null}
  targets: {databases: {name: string; target: string}[]; files: {from: string; to: string}[]}
  started_at: string
  finished_at: string
  /** The measured restore time: from the start of the restore to the end of the check. */
  duration_ms: number
  verification: {passed: boolean; problems: string[]; check: CheckResult | null}
  error: string | null
}

/** The human behind a drill: passed from the workstation for remote drills. */
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

export async function drillProduction(engine: Engine, options: DrillOptions & ScratchOptions): Promise<DrillRecord> {
  return drill(engine, 'production', options, () => ({...scratchTargets(engine, options), preserve: []}), 'scratch')
}

export async function drillLocal(engine: Engine, local: LocalConfig | undefined, cwd: string, options: DrillOptions): Promise<DrillRecord> {
  return drill(
    engine,
    'local',
    options,
    () => {
      assertNotProductionEnvironment(engine.env)
      const targets = localTargets(engine, local, cwd)
      for (const path of targets.unmappedPaths) engine.ui.warn(`files from ${path} are not part of this drill: no local target in config/kamal-backup.local.yml`)
      return targets
    },
    'replace',
  )
}

async function drill(
  engine: Engine,
  scope: DrillRecord['scope'],
  options: DrillOptions,
  targetsFor: () => {databases: DatabaseTarget[]; files: FileTarget[]; preserve: string[]},
  filesMode: 'replace' | 'scratch',
): Promise<DrillRecord> {
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
    targets: {databases: [], files: []},
    started_at: started.toISOString(),
    finished_at: started.toISOString(),
    duration_ms: 0,
    verification: {passed: false, problems: [], check: null},
    error: null,
    ...emptyRestoreReport(),
  }
  // Wrong targets are a usage error, refused before anything is locked or recorded: a drill that never started is
  // not a failed drill.
  const targets = targetsFor()
  engine.state.ensureWritable()
  const lock = engine.state.lock('drill')
  try {
    record.targets = {
      databases: targets.databases.map((d) => ({name: d.name, target: engine.redactor.redact(describeDatabase(d.target))})),
      files: targets.files.map((f) => ({from: f.from, to: f.to})),
    }
    const restic = await openRepository(engine)
    const {runs} = await loadRuns(engine, restic)
    const plan = planRun(runs, options.selection, engine.config.databases.map((d) => d.name), targets.files.length > 0)
    await restoreRun(engine, restic, plan.run, {...targets, selection: options.selection, filesMode, databaseNames: plan.databases, filesSnapshot: plan.files}, record)
    // Verification: every table of every dump is there (integrity for SQLite is checked during the restore,
    // file counts and bytes are checked against the snapshot before anything is moved into place).
    for (const db of record.databases) {
      if (db.missing_tables.length > 0) record.verification.problems.push(`database ${db.name} is missing tables: ${db.missing_tables.join(', ')}`)
      if (db.adapter === 'sqlite' && db.integrity !== 'ok') record.verification.problems.push(`database ${db.name} failed its integrity check`)
    }
    if (options.check) {
      record.verification.check = await engine.progress.task(`check: ${options.check}`, () => runCheckCommand(engine, options.check!, targets.databases.filter((d) => plan.databases.includes(d.name)).map((d) => d.target), targets.files))
      if (record.verification.check.exit_code !== 0) record.verification.problems.push(`the check command exited with ${record.verification.check.exit_code}`)
    }
    record.verification.passed = record.verification.problems.length === 0
    record.status = record.verification.passed ? 'ok' : 'failed'
    if (!record.verification.passed) record.error = record.verification.problems.join('; ')
  } catch (error) {
    record.error = engine.redactor.redact(errorMessage(error))
    record.verification.problems.push(record.error)
  } finally {
    lock.release()
    const finished = engine.now()
    record.finished_at = finished.toISOString()
    record.duration_ms = finished.getTime() - started.getTime()
    const stored = engine.redactor.redactValue(record)
    engine.state.write(STATE_FILES.lastDrill, stored)
    engine.state.append(STATE_FILES.drills, stored)
  }
  return engine.redactor.redactValue(record)
}

/** The operator's own check, with the scratch targets in its environment (DATABASE_URL for a single database). */
async function runCheckCommand(engine: Engine, command: string, databases: ResolvedDatabase[], files: FileTarget[]): Promise<CheckResult> {
  const env: Record<string, string | undefined> = {}
  for (const db of databases) {
    const url = connectionUrl(db)
    env[`KAMAL_BACKUP_DRILL_${db.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`] = url
    if (databases.length === 1) env.DATABASE_URL = url
  }
  if (files[0]) env.KAMAL_BACKUP_DRILL_FILES = files[0].to
  const result = await runProcess({argv: ['sh', '-c', command], env, label: 'drill check'}, {signal: engine.signal, timeoutMs: 3_600_000})
  if (result.interrupted) throw new KamalBackupError('interrupted', {code: 'interrupted', exitCode: 130})
  const output = lastLines([result.stdout, result.stderr].filter(Boolean).join('\n'), 40)
  return {command: engine.redactor.redact(command), exit_code: result.exitCode, duration_ms: result.durationMs, output: engine.redactor.redact(output)}
}

function connectionUrl(db: ResolvedDatabase): string {
  if (db.adapter === 'sqlite') return `sqlite3:${db.path}`
  const scheme = db.adapter === 'postgres' ? 'postgres' : 'mysql2'
  const auth = db.user ? `${encodeURIComponent(db.user)}${db.password ? ':' + encodeURIComponent(db.password.reveal()) : ''}@` : ''
  const query = new URLSearchParams(db.params).toString()
  return `${scheme}://${auth}${db.host ?? 'localhost'}${db.port ? ':' + db.port : ''}/${encodeURIComponent(db.database ?? '')}${query ? '?' + query : ''}`
}
