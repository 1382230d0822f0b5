// The two restores: `restore production` (in the accessory, after a safety backup) and `restore local` (onto a
// workstation). Both restore one run, chosen by planRun(), with restoreRun(), and keep a record of it in the state
// directory — last_restore.json, rewritten as each step finishes (after a dropped SSH connection it shows how far
// the restore got), and restores.jsonl, one line per finished restore.
import {hostname} from 'node:os'
import {resolve} from 'node:path'
import type {LocalConfig} from '../config/backup-config.js'
import {errorMessage, isKamalBackupError, KamalBackupError} from '../errors.js'
import {shellJoin} from '../exec/quote.js'
import {describeDatabase} from '../db/connection.js'
import {runBackup} from './backup.js'
import {openRepository, type Engine} from './context.js'
import {drillOperator} from './drill.js'
import {loadRuns} from './list.js'
import {describeChanges, emptyRestoreReport, planRun, restoreRun, selectParts, type PartState, type RestoreParts, type RestoreReport, type RestoreSelection} from './restore.js'
import {describeRun, type Run} from './runs.js'
import {STATE_FILES} from './state.js'
import {assertNotProductionEnvironment, localTargets, productionTargets, type Targets} from './targets.js'

export interface RestoreResult extends RestoreReport {
  schema_version: 1
  kind: 'restore'
  scope: 'production' | 'local'
  /** `running` only in last_restore.json while the restore is under way. */
  status: 'running' | 'ok' | 'failed'
  app: string
  operator: string
  host: string
  requested: {snapshot: string; at: string | null; databases: string[] | null; files: boolean | null}
  targets: {databases: {name: string; target: string}[]; files: {from: string; to: string}[]}
  /** Each part and where it stands: unchanged, restored, or partly restored. */
  changes: PartState[]
  safety_backup: {run_id: string | null; status: string; undo_command: string | null} | null
  skipped_paths: string[]
  started_at: string
  updated_at: string
  finished_at: string | null
  duration_ms: number
  error: string | null
  suggestions: string[]
}

/** What is about to be restored, for the confirmation. */
export interface RestorePlanView {
  run: Pick<Run, 'id' | 'time' | 'preRestore'>
  databases: {name: string; target: string}[]
  files: {from: string; to: string}[]
}

export interface RestoreOptions {
  /** Called once the run and the targets are known, before anything is checked or changed: the confirmation. */
  confirm?: (plan: RestorePlanView) => Promise<void>
}

/** How the undo command must be run to work where this restore was started. */
export interface UndoContext {
  /** The restore ran with --local from a workstation (not in the accessory): the undo must too. */
  local?: boolean
  backupConfig?: string
}

function baseResult(engine: Engine, scope: RestoreResult['scope'], selection: RestoreSelection): RestoreResult {
  const now = engine.now().toISOString()
  return {
    schema_version: 1,
    kind: 'restore',
    scope,
    status: 'running',
    app: engine.config.app,
    operator: drillOperator(engine.env),
    host: hostname(),
    requested: {snapshot: selection.snapshot ?? 'latest', at: selection.at?.toISOString() ?? null, databases: selection.databases ?? null, files: selection.files ?? null},
    targets: {databases: [], files: []},
    changes: [],
    safety_backup: null,
    skipped_paths: [],
    started_at: now,
    updated_at: now,
    finished_at: null,
    duration_ms: 0,
    error: null,
    suggestions: [],
    ...emptyRestoreReport(),
  }
}

function finish(engine: Engine, result: RestoreResult, error?: unknown): RestoreResult {
  const finished = engine.now()
  result.finished_at = result.updated_at = finished.toISOString()
  result.duration_ms = finished.getTime() - new Date(result.started_at).getTime()
  if (error) {
    result.status = 'failed'
    result.error = engine.redactor.redact(errorMessage(error))
    result.suggestions = isKamalBackupError(error) ? error.suggestions.map((s) => engine.redactor.redact(s)) : []
  } else result.status = 'ok'
  return result
}

/** The record on disk: rewritten as the restore goes, appended to the history when it is over. A record that
 *  cannot be written must not stop a restore half-way: it is warned about once. */
function recorder(engine: Engine, result: RestoreResult): {update: () => void; final: () => void} {
  let warned = false
  const write = (final: boolean) => {
    try {
      if (!final) {
        const now = engine.now()
        result.updated_at = now.toISOString()
        result.duration_ms = now.getTime() - new Date(result.started_at).getTime()
      }
      const stored = engine.redactor.redactValue(result)
      engine.state.write(STATE_FILES.lastRestore, stored)
      if (final) engine.state.append(STATE_FILES.restores, stored)
    } catch (error) {
      if (!warned) engine.ui.warn(`cannot write the restore record in ${engine.state.path}: ${errorMessage(error)}`)
      warned = true
    }
  }
  return {update: () => write(false), final: () => write(true)}
}

/** The command that undoes a production restore: restoring the same parts from the safety backup. */
export function undoCommand(app: string, runId: string, where: {destination?: string | undefined; configFile?: string | undefined} & UndoContext, parts: RestoreParts, all: {databases: readonly string[]; pathsConfigured: boolean}): string {
  const limits: string[] = []
  const everyDatabase = all.databases.every((d) => parts.databases.includes(d))
  if (!(everyDatabase && parts.files === all.pathsConfigured)) {
    if (everyDatabase && !parts.files) limits.push('--no-files')
    else limits.push(...parts.databases.flatMap((d) => ['--database', d]), ...(parts.files ? ['--files'] : []))
  }
  return shellJoin([
    'kamal-backup',
    'restore',
    'production',
    runId,
    '--confirm',
    app,
    ...(where.configFile ? ['-c', where.configFile] : []),
    ...(where.destination ? ['-d', where.destination] : []),
    ...(where.local ? ['--local', ...(where.backupConfig ? ['--backup-config', resolve(where.backupConfig)] : [])] : []),
    ...limits,
  ])
}

function planView(engine: Engine, run: Run, targets: Targets): RestorePlanView {
  return {
    run: {id: run.id, time: run.time, preRestore: run.preRestore},
    databases: targets.databases.map((d) => ({name: d.name, target: engine.redactor.redact(describeDatabase(d.target))})),
    files: targets.files.map((f) => ({from: f.from, to: f.to})),
  }
}

export function describePlan(plan: RestorePlanView): string {
  const parts = [...plan.databases.map((d) => `database ${d.name} → ${d.target}`), ...plan.files.map((f) => `files ${f.from} → ${f.to}`)]
  return `run ${describeRun(plan.run)}: ${parts.join(', ') || 'nothing'}`
}

/** After a failure: where the targets stand, how to go back, and where the record is. */
function explainFailure(engine: Engine, result: RestoreResult, error: unknown, undo: string | undefined, safetySkipped: boolean): unknown {
  const state = describeChanges(result.changes)
  if (!state) return error
  const failure = isKamalBackupError(error) ? error : new KamalBackupError(`unexpected error: ${errorMessage(error)}`, {code: 'bug', cause: error})
  failure.suggestions.unshift(state)
  if (undo) failure.suggestions.push(`to go back to the state before this restore: ${undo}`)
  else if (safetySkipped) failure.suggestions.push('no safety backup was taken (--no-safety-backup): the data that was replaced cannot be brought back by kamal-backup')
  failure.suggestions.push(`this restore's record: ${engine.state.file(STATE_FILES.lastRestore)}`)
  return failure
}

export async function restoreProduction(engine: Engine, selection: RestoreSelection, options: RestoreOptions & {safetyBackup: boolean; undo?: UndoContext}): Promise<{result: RestoreResult; error?: unknown}> {
  const result = baseResult(engine, 'production', selection)
  const record = recorder(engine, result)
  let recording = false
  let undo: string | undefined
  let lock: {release(): void} | undefined
  try {
    engine.state.ensureWritable()
    lock = engine.state.lock('restore')
    const names = engine.config.databases.map((d) => d.name)
    const parts = selectParts(selection, names, engine.config.paths.length > 0)
    const targets = productionTargets(engine, parts)
    const restic = await openRepository(engine)
    const {runs} = await loadRuns(engine, restic)
    const plan = planRun(runs, selection, parts)
    result.run_id = plan.run.id
    result.run_time = plan.run.time
    const view = planView(engine, plan.run, targets)
    result.targets = {databases: view.databases, files: view.files}
    await options.confirm?.(view)
    engine.ui.info(`restoring ${describePlan(view)}`)
    recording = true
    record.update()
    await restoreRun(
      engine,
      restic,
      {run: plan.run, databases: targets.databases, files: targets.files, filesSnapshot: plan.files, filesMode: 'replace', preserve: targets.preserve},
      result,
      result.changes,
      {
        onUpdate: record.update,
        // The safety backup comes after every check and the staging of the files, right before the first change:
        // a refused restore takes none, and the backup is as close as it can be to the data it protects.
        beforeChanges: async () => {
          if (!options.safetyBackup) {
            engine.ui.warn('--no-safety-backup: restoring without a safety backup; the current production data cannot be brought back by kamal-backup')
            result.steps.push({name: 'safety-backup', status: 'skipped', duration_ms: null})
            return
          }
          engine.ui.info('taking a safety backup of production before restoring (--no-safety-backup skips it)')
          const entry = {name: 'safety-backup', status: 'running' as 'running' | 'ok' | 'failed', started_at: engine.now().toISOString(), duration_ms: null as number | null, error: undefined as string | undefined}
          result.steps.push(entry)
          record.update()
          const started = Date.now()
          const safety = await runBackup(engine, {force: true, trigger: 'pre-restore', extraTags: ['type:pre-restore'], lockHeld: true})
          entry.duration_ms = Date.now() - started
          entry.status = safety.status === 'ok' ? 'ok' : 'failed'
          if (safety.error) entry.error = safety.error
          else delete entry.error
          if (safety.status === 'ok') {
            undo = undoCommand(
              engine.config.app,
              safety.run_id!,
              {destination: engine.env.KAMAL_BACKUP_DESTINATION || undefined, configFile: engine.env.KAMAL_BACKUP_CONFIG_FILE || undefined, ...options.undo},
              parts,
              {databases: names, pathsConfigured: engine.config.paths.length > 0},
            )
          }
          result.safety_backup = {run_id: safety.run_id, status: safety.status, undo_command: undo ?? null}
          record.update()
          if (safety.status !== 'ok') {
            throw new KamalBackupError(`the safety backup failed at ${safety.failed_step}: ${safety.error}; nothing was restored`, {
              code: safety.reason === 'interrupted' ? 'interrupted' : 'safety-backup-failed',
              ...(safety.reason === 'interrupted' && {exitCode: 130}),
              suggestions: ['fix the cause and restore again; only if production is already lost, pass --no-safety-backup'],
            })
          }
          engine.ui.info(`safety backup: run ${safety.run_id}. To undo this restore: ${undo}`)
        },
      },
    )
    return {result: finish(engine, result)}
  } catch (error) {
    const explained = explainFailure(engine, result, error, undo, !options.safetyBackup)
    return {result: finish(engine, result, explained), error: explained}
  } finally {
    lock?.release()
    if (recording) record.final()
  }
}

export async function restoreLocal(engine: Engine, local: LocalConfig | undefined, cwd: string, selection: RestoreSelection, options: RestoreOptions = {}): Promise<{result: RestoreResult; error?: unknown}> {
  const result = baseResult(engine, 'local', selection)
  const record = recorder(engine, result)
  let recording = false
  let lock: {release(): void} | undefined
  try {
    assertNotProductionEnvironment(engine.env)
    const names = engine.config.databases.map((d) => d.name)
    const parts = selectParts(selection, names, engine.config.paths.length > 0)
    // Targets only for what is restored: `--database primary` needs no local target for the others.
    const targets = localTargets(engine, local, cwd, parts, {filesRequested: selection.files === true})
    result.skipped_paths = targets.unmappedPaths
    for (const path of targets.unmappedPaths) engine.ui.warn(`files from ${path} are not restored: no local target for it in config/kamal-backup.local.yml (paths: [{from: ${path}, to: storage}])`)
    engine.state.ensureWritable()
    lock = engine.state.lock('restore')
    const restic = await openRepository(engine)
    const {runs} = await loadRuns(engine, restic)
    const plan = planRun(runs, selection, parts)
    result.run_id = plan.run.id
    result.run_time = plan.run.time
    const view = planView(engine, plan.run, targets)
    result.targets = {databases: view.databases, files: view.files}
    await options.confirm?.(view)
    engine.ui.info(`restoring ${describePlan(view)}`)
    recording = true
    record.update()
    await restoreRun(engine, restic, {run: plan.run, databases: targets.databases, files: targets.files, filesSnapshot: plan.files, filesMode: 'replace', preserve: targets.preserve}, result, result.changes, {onUpdate: record.update})
    return {result: finish(engine, result)}
  } catch (error) {
    const explained = explainFailure(engine, result, error, undefined, false)
    return {result: finish(engine, result, explained), error: explained}
  } finally {
    lock?.release()
    if (recording) record.final()
  }
}
