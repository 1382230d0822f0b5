// The two restores: `restore production` (in the accessory, after a safety backup) and `restore local` (onto a
// workstation). Both restore one run, chosen by planRun(), with restoreRun().
import type {LocalConfig} from '../config/backup-config.js'
import {errorMessage, isKamalBackupError, KamalBackupError} from '../errors.js'
import {shellJoin} from '../exec/quote.js'
import {runBackup} from './backup.js'
import {openRepository, type Engine} from './context.js'
import {loadRuns} from './list.js'
import {emptyRestoreReport, planRun, preflightTargets, restoreRun, type RestoreReport, type RestoreSelection} from './restore.js'
import {assertNotProductionEnvironment, localTargets, productionTargets} from './targets.js'

export interface RestoreResult extends RestoreReport {
  schema_version: 1
  kind: 'restore'
  scope: 'production' | 'local'
  status: 'ok' | 'failed'
  requested: {snapshot: string; at: string | null; databases: string[] | null; files: boolean | null}
  safety_backup: {run_id: string | null; status: string; undo_command: string | null} | null
  skipped_paths: string[]
  started_at: string
  finished_at: string
  duration_ms: number
  error: string | null
}

function baseResult(engine: Engine, scope: RestoreResult['scope'], selection: RestoreSelection): RestoreResult {
  const now = engine.now().toISOString()
  return {
    schema_version: 1,
    kind: 'restore',
    scope,
    status: 'failed',
    requested: {snapshot: selection.snapshot ?? 'latest', at: selection.at?.toISOString() ?? null, databases: selection.databases ?? null, files: selection.files ?? null},
    safety_backup: null,
    skipped_paths: [],
    started_at: now,
    finished_at: now,
    duration_ms: 0,
    error: null,
    ...emptyRestoreReport(),
  }
}

function finish(engine: Engine, result: RestoreResult, error?: unknown): RestoreResult {
  const finished = engine.now()
  result.finished_at = finished.toISOString()
  result.duration_ms = finished.getTime() - new Date(result.started_at).getTime()
  if (error) result.error = engine.redactor.redact(errorMessage(error))
  else result.status = 'ok'
  return result
}

/** The command that undoes a production restore: restoring the safety backup. */
export function undoCommand(app: string, runId: string, destination: string | undefined): string {
  return shellJoin(['kamal-backup', 'restore', 'production', runId, '--confirm', app, ...(destination ? ['-d', destination] : [])])
}

export async function restoreProduction(engine: Engine, selection: RestoreSelection, options: {safetyBackup: boolean}): Promise<{result: RestoreResult; error?: unknown}> {
  const result = baseResult(engine, 'production', selection)
  engine.state.ensureWritable()
  const lock = engine.state.lock('restore')
  try {
    const restic = await openRepository(engine)
    const {runs} = await loadRuns(engine, restic)
    const targets = productionTargets(engine)
    const plan = planRun(runs, selection, engine.config.databases.map((d) => d.name), targets.files.length > 0)
    // Refuse before the safety backup if a target cannot be written.
    const started = Date.now()
    try {
      await preflightTargets(engine, plan.files ? targets.files : [], 'replace', targets.databases.filter((d) => plan.databases.includes(d.name)))
    } catch (error) {
      result.run_id = plan.run.id
      result.run_time = plan.run.time
      result.steps.push({name: 'preflight', status: 'failed', duration_ms: Date.now() - started, error: engine.redactor.redact(errorMessage(error))})
      throw error
    }
    if (options.safetyBackup) {
      engine.ui.info('taking a safety backup of production before restoring (--no-safety-backup skips it)')
      const safety = await runBackup(engine, {force: true, trigger: 'pre-restore', extraTags: ['type:pre-restore'], lockHeld: true})
      const destination = engine.env.KAMAL_BACKUP_DESTINATION || undefined
      result.safety_backup = {run_id: safety.run_id, status: safety.status, undo_command: safety.status === 'ok' ? undoCommand(engine.config.app, safety.run_id!, destination) : null}
      if (safety.status !== 'ok') {
        throw new KamalBackupError(`the safety backup failed at ${safety.failed_step}: ${safety.error}; nothing was restored`, {
          code: 'safety-backup-failed',
          suggestions: ['fix the cause and restore again; only if production is already lost, pass --no-safety-backup'],
        })
      }
      engine.ui.info(`safety backup: run ${safety.run_id}. To undo this restore: ${result.safety_backup.undo_command}`)
    } else {
      engine.ui.warn('--no-safety-backup: restoring without a safety backup; the current production data cannot be brought back by kamal-backup')
    }
    await restoreRun(engine, restic, plan.run, {...targets, selection, filesMode: 'replace', databaseNames: plan.databases, filesSnapshot: plan.files}, result)
    return {result: finish(engine, result)}
  } catch (error) {
    if (isKamalBackupError(error) && error.code === 'restore-failed' && result.safety_backup?.undo_command) {
      error.suggestions.push(`to go back to the state before this restore: ${result.safety_backup.undo_command}`)
    }
    return {result: finish(engine, result, error), error}
  } finally {
    lock.release()
  }
}

export async function restoreLocal(engine: Engine, local: LocalConfig | undefined, cwd: string, selection: RestoreSelection): Promise<{result: RestoreResult; error?: unknown}> {
  const result = baseResult(engine, 'local', selection)
  try {
    assertNotProductionEnvironment(engine.env)
    const targets = localTargets(engine, local, cwd)
    result.skipped_paths = targets.unmappedPaths
    for (const path of targets.unmappedPaths) engine.ui.warn(`files from ${path} are not restored: no local target for it in config/kamal-backup.local.yml (paths: [{from: ${path}, to: storage}])`)
    engine.state.ensureWritable()
    const lock = engine.state.lock('restore')
    try {
      const restic = await openRepository(engine)
      const {runs} = await loadRuns(engine, restic)
      const plan = planRun(runs, selection, engine.config.databases.map((d) => d.name), targets.files.length > 0)
      await restoreRun(engine, restic, plan.run, {...targets, selection, filesMode: 'replace', databaseNames: plan.databases, filesSnapshot: plan.files}, result)
    } finally {
      lock.release()
    }
    return {result: finish(engine, result)}
  } catch (error) {
    return {result: finish(engine, result, error), error}
  }
}
