// `status`: the health of the app's backups in one line, for a cron job, a CI step or a monitoring agent. Healthy
// means: a complete run in the repository that is not older than max-age (default: two schedule intervals), the
// last run and the last repository check did not fail, and the last drill passed. A drill older than
// max-drill-age (default 30 days), or none, and a run that saved with warnings, are warnings: healthy, but said.
import {describeSchedule, nominalIntervalSeconds} from '../config/schedule.js'
import type {BackupRunRecord, DrillRecord, MaintenanceRecord} from '../documents.js'
import {isRestorePoint} from '../documents.js'
import {errorMessage} from '../errors.js'
import {repositoryDisplay, type Engine} from './context.js'
import {describeDamage, repositoryDamage, type RepositoryDamage} from './damage.js'
import {loadRuns} from './list.js'
import {isRegularRun} from './runs.js'
import {STATE_FILES} from './state.js'

export const DEFAULT_MAX_DRILL_AGE_SECONDS = 30 * 86_400

export interface StatusDocument {
  schema_version: 1
  kind: 'status'
  app: string
  checked_at: string
  /** ok; warning (healthy, with something to look at); failing (stale, or a run, check or drill failed);
   *  unreachable (the repository cannot be opened). */
  status: 'ok' | 'warning' | 'failing' | 'unreachable'
  /** The health in one line, as `status` prints it. */
  summary: string
  schedule: {expression: string; description: string; enabled: boolean}
  repository: {location: string; error: string | null; damage: RepositoryDamage | null}
  latest_complete_run: {id: string; time: string; age_seconds: number} | null
  max_age_seconds: number
  last_run: {run_id: string | null; status: BackupRunRecord['status']; finished_at: string; failed_step: string | null; error: string | null; warnings: string[]} | null
  last_failure: {run_id: string | null; finished_at: string; failed_step: string | null; error: string | null} | null
  last_check: {status: MaintenanceRecord['status']; finished_at: string; error: string | null} | null
  last_drill: {status: DrillRecord['status']; finished_at: string; age_seconds: number; error: string | null} | null
  max_drill_age_seconds: number
  /** What makes the status failing or unreachable. */
  problems: string[]
  /** What is worth a look while the status is ok. */
  warnings: string[]
}

export interface StatusOptions {
  maxAgeSeconds?: number
  maxDrillAgeSeconds?: number
}

/** "3 h", "2 d", "45 min". */
export function age(seconds: number): string {
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`
  return `${Math.round(seconds / 86_400)} d`
}

export async function buildStatus(engine: Engine, options: StatusOptions = {}): Promise<StatusDocument> {
  const {config, state} = engine
  const now = engine.now()
  const since = (time: string) => Math.max(0, Math.round((now.getTime() - new Date(time).getTime()) / 1000))
  const maxAge = options.maxAgeSeconds ?? 2 * nominalIntervalSeconds(config.schedule, now)
  const maxDrillAge = options.maxDrillAgeSeconds ?? DEFAULT_MAX_DRILL_AGE_SECONDS
  const problems: string[] = []
  const warnings: string[] = []

  // The repository is the truth about what can be restored; the state directory says how the runs went.
  let latest: StatusDocument['latest_complete_run'] = null
  let repositoryError: string | null = null
  try {
    const {runs} = await loadRuns(engine)
    // Freshness is the schedule's: a restore point taken before a deploy does not hide that backups stopped.
    const run = runs.find(isRegularRun)
    if (run) latest = {id: run.id, time: run.time, age_seconds: since(run.time)}
  } catch (error) {
    repositoryError = engine.redactor.redact(errorMessage(error))
    problems.push(`the repository cannot be opened: ${repositoryError}`)
  }
  if (repositoryError === null) {
    if (!latest) problems.push('there is no complete backup run in the repository')
    else if (latest.age_seconds > maxAge) problems.push(`the latest complete run (${latest.id}) is ${age(latest.age_seconds)} old, more than the ${age(maxAge)} allowed: backups have stopped`)
  }
  if (!config.enabled) warnings.push('scheduled backups are disabled (backup.enabled: false)')

  const runs = state.history<BackupRunRecord>(STATE_FILES.runs).filter((r) => r.status !== 'skipped' && !isRestorePoint(r))
  const last = runs.at(-1)
  const failure = runs.findLast((r) => r.status === 'failed')
  if (last?.status === 'failed') problems.push(`the last backup run${last.run_id ? ` (${last.run_id})` : ''} failed at step ${last.failed_step}: ${last.error}`)
  for (const warning of last?.status === 'ok' ? (last.warnings ?? []) : []) warnings.push(`the last run saved with a warning: ${warning}`)

  const check = state.read<MaintenanceRecord>(STATE_FILES.lastCheck)
  const damage = repositoryDamage(engine)
  if (damage) problems.push(`${describeDamage(damage)}; ${damage.what_to_do.join('; ')}`)
  else if (check?.status === 'failed') problems.push(`the last repository check (${check.finished_at}) failed: ${check.error}`)

  const drill = state.read<DrillRecord>(STATE_FILES.lastDrill)
  if (!drill) warnings.push('no restore drill is recorded: kamal-backup drill production proves the backups restore')
  else if (drill.status !== 'ok') problems.push(`the last restore drill (${drill.finished_at}) failed: ${drill.error}`)
  else if (since(drill.finished_at) > maxDrillAge) warnings.push(`the last restore drill is ${age(since(drill.finished_at))} old, more than ${age(maxDrillAge)}`)

  const status: StatusDocument['status'] = repositoryError !== null ? 'unreachable' : problems.length > 0 ? 'failing' : warnings.length > 0 ? 'warning' : 'ok'
  const parts = [
    latest ? `latest run ${latest.id}, ${age(latest.age_seconds)} ago (stale after ${age(maxAge)})` : repositoryError !== null ? 'repository unreachable' : 'no complete run',
    drill ? `last drill ${drill.status}, ${age(since(drill.finished_at))} ago` : 'no drill',
    damage ? `repository DAMAGED since ${damage.since}` : check ? `last check ${check.status}, ${age(since(check.finished_at))} ago` : 'no check recorded',
  ]
  return engine.redactor.redactValue({
    schema_version: 1,
    kind: 'status',
    app: config.app,
    checked_at: now.toISOString(),
    status,
    summary: `${config.app}: ${status}: ${parts.join('; ')}`,
    schedule: {expression: config.schedule.text, description: describeSchedule(config.schedule), enabled: config.enabled},
    repository: {location: repositoryDisplay(engine), error: repositoryError, damage},
    latest_complete_run: latest,
    max_age_seconds: maxAge,
    last_run: last ? {run_id: last.run_id, status: last.status, finished_at: last.finished_at, failed_step: last.failed_step, error: last.error, warnings: last.warnings ?? []} : null,
    last_failure: failure ? {run_id: failure.run_id, finished_at: failure.finished_at, failed_step: failure.failed_step, error: failure.error} : null,
    last_check: check ? {status: check.status, finished_at: check.finished_at, error: check.error} : null,
    last_drill: drill ? {status: drill.status, finished_at: drill.finished_at, age_seconds: since(drill.finished_at), error: drill.error} : null,
    max_drill_age_seconds: maxDrillAge,
    problems,
    warnings,
  })
}
