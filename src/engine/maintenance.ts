// check, unlock, prune: what their names say, each recorded in the state directory.
import {ConfigError, errorMessage, KamalBackupError} from '../errors.js'
import {checkCopies} from './copies.js'
import type {MaintenanceRecord} from '../documents.js'
import {damageSince} from './damage.js'
import {forgetPartialSnapshots} from './leftovers.js'
import {loadRuns} from './list.js'
import {openRepository, type Engine} from './context.js'
import {appTags, PRE_DEPLOY_TAG, preDeployRunsToForget, type Run} from './runs.js'
import type {Restic} from '../restic/client.js'
import {STATE_FILES, type RunLock} from './state.js'

async function recorded(engine: Engine, kind: MaintenanceRecord['kind'], file: string, work: (record: MaintenanceRecord, lock: RunLock) => Promise<void>): Promise<MaintenanceRecord> {
  engine.state.ensureWritable()
  const lock = engine.state.lock(kind)
  const started = engine.now()
  const record: MaintenanceRecord = {schema_version: 1, kind, status: 'failed', started_at: started.toISOString(), finished_at: '', duration_ms: 0, output: null, error: null}
  let failure: unknown
  try {
    await work(record, lock)
    record.status = 'ok'
  } catch (error) {
    failure = error
    record.error = engine.redactor.redact(errorMessage(error))
  } finally {
    lock.release()
    const finished = engine.now()
    record.finished_at = finished.toISOString()
    record.duration_ms = finished.getTime() - started.getTime()
    const stored = engine.redactor.redactValue(record)
    engine.state.write(file, stored)
    engine.events.emit({type: 'maintenance-finished', record: stored})
  }
  if (failure) throw failure
  return record
}

export function runCheck(engine: Engine, readDataSubset?: string): Promise<MaintenanceRecord> {
  const subset = readDataSubset ?? engine.config.restic.checkReadDataSubset
  return recorded(engine, 'check', STATE_FILES.lastCheck, async (record) => {
    record.read_data_subset = subset ?? null
    const started = engine.now()
    let failure: {error: unknown} | undefined
    try {
      const restic = await openRepository(engine)
      const output = await engine.progress.task(`restic check${subset ? ` --read-data-subset ${subset}` : ''}`, () => restic.check(subset))
      record.output = engine.redactor.redact(output.trim().split('\n').slice(-5).join('\n'))
    } catch (error) {
      record.damage = damageSince(engine, error, started)
      failure = {error}
    }
    // The copies too (3-2-1 is only as good as its copies), whatever the primary's result.
    if (engine.config.restic.copies.length > 0) record.copies = await checkCopies(engine, subset)
    if (failure) throw failure.error
    const failed = (record.copies ?? []).filter((c) => c.status === 'failed')
    if (failed.length > 0) {
      throw new KamalBackupError(`the primary repository is ok, but the check of ${failed.map((c) => `the copy ${c.name} failed: ${c.error}`).join('; ')}`, {
        code: 'copy/failed',
        suggestions: failed.map((c) => `look at it alone: kamal-backup check --repository ${c.name}; the next backup run copies again`),
      })
    }
  })
}

export function runUnlock(engine: Engine): Promise<MaintenanceRecord> {
  return recorded(engine, 'unlock', STATE_FILES.lastUnlock, async (record, lock) => {
    // Taking our own run lock already removed a stale one (its holder gone, or no longer refreshing it).
    const stale = lock.replaced
    const runLock = stale ? `removed a stale kamal-backup run lock (${stale.command ?? 'unknown command'}, pid ${stale.pid ?? '?'} on host ${stale.hostname ?? '?'}, since ${stale.started_at ?? '?'})\n` : ''
    const restic = await openRepository(engine)
    record.output = runLock + (engine.redactor.redact(await restic.unlock()) || 'no stale restic locks')
  })
}

export function runPrune(engine: Engine): Promise<MaintenanceRecord> {
  const policy = engine.config.restic.retention
  if (!policy) {
    throw new ConfigError('there is no retention policy to apply', {code: 'config/no-retention', suggestions: ['add restic.retention to config/kamal-backup.yml, e.g. keep_daily: 7, keep_weekly: 4, keep_monthly: 6']})
  }
  return recorded(engine, 'prune', STATE_FILES.lastPrune, async (record) => {
    const started = engine.now()
    const restic = await openRepository(engine)
    const partial = await forgetPartialSnapshots(engine, restic)
    const {runs} = await loadRuns(engine, restic)
    // Restore points before deploys follow backup.pre_deploy_keep (forgotten first, so this prune frees their data).
    const points = await forgetOldRestorePoints(engine, restic, runs)
    // The newest complete regular run stays, whatever the policy says; restore points are never the policy's.
    const newest = runs.find((r) => r.complete && r.preDeploy === undefined)
    const result = await engine.progress.task('restic forget --prune', () => restic.forget(appTags(engine.config.app), policy, true, regularKeepTags(newest?.id))).catch((error: unknown) => {
      record.damage = damageSince(engine, error, started)
      throw error
    })
    record.removed = result.removed.length + points
    record.kept = result.kept.length
    record.output = `${result.removed.length} snapshot(s) removed, ${result.kept.length} kept${partial > 0 ? ` (and ${partial} snapshot(s) of failed runs forgotten first)` : ''}${points > 0 ? `; ${points} snapshot(s) of restore points before deploys beyond backup.pre_deploy_keep (${engine.config.preDeployKeep}) forgotten` : ''}`
  })
}

/** --keep-tag for the regular policy: the run to keep whatever the policy says, and every restore point taken
 *  before a deploy (its snapshots have their own host, so the policy does not count them either: see
 *  preDeployHost). */
export function regularKeepTags(runId: string | undefined): string[] {
  return [...(runId ? [`run:${runId}`] : []), PRE_DEPLOY_TAG]
}

/** backup.pre_deploy_keep applied: the snapshots of older restore points forgotten by id (no prune: the next
 *  `forget --prune` of the regular policy, or `prune`, frees their data). Returns how many were forgotten. */
export async function forgetOldRestorePoints(engine: Pick<Engine, 'config' | 'log'>, restic: Restic, runs: readonly Run[], current?: string): Promise<number> {
  const old = preDeployRunsToForget(runs, engine.config.preDeployKeep, current)
  const ids = old.flatMap((r) => r.snapshots.map((s) => s.id))
  if (ids.length === 0) return 0
  await restic.forgetIds(ids)
  engine.log.info(`forgot ${old.length} restore point(s) taken before deploys beyond backup.pre_deploy_keep (${engine.config.preDeployKeep}): ${old.map((r) => r.id).join(', ')}`)
  return ids.length
}

export type {MaintenanceRecord} from '../documents.js'
