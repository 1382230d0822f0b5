// restic.copies (3-2-1): after a successful run, its snapshots, and those of any complete run a failed copy missed
// since, go to each copy with `restic copy`; they are then proved there (listed with the same run id, `original`
// naming the primary's snapshot) and the copy's own retention is applied. A copy that fails makes the run a
// warning and a notification, never a failed backup: the primary has the data.
import {errorMessage, isKamalBackupError, KamalBackupError, UsageError} from '../errors.js'
import type {BackupConfig, CopyConfig, ResticConfig} from '../config/types.js'
import type {Restic, Snapshot} from '../restic/client.js'
import {openRepository, repositoryDisplay, resticTarget, type Engine} from './context.js'
import {loadRuns} from './list.js'
import {appTags, isRegularRun, tagValue, type Run} from './runs.js'
import {STATE_FILES} from './state.js'
import type {CopyOutcome, MaintenanceRecord} from '../documents.js'

export type {CopyOutcome} from '../documents.js'

/** copies.json: each copy's last attempt and last success, for evidence, status and metrics. */
export type CopiesState = Record<string, CopyOutcome & {last_ok_at: string | null; last_ok_run_id: string | null}>

export const copyWhere = (index: number): string => `restic.copies[${index}]`

/** The copy `name`, or a usage error that lists the copies there are. */
export function findCopy(config: Pick<BackupConfig, 'restic' | 'file'>, name: string): {copy: CopyConfig; index: number} {
  const index = config.restic.copies.findIndex((c) => c.name === name)
  if (index >= 0) return {copy: config.restic.copies[index]!, index}
  const names = config.restic.copies.map((c) => c.name)
  throw new UsageError(`there is no copy named "${name}" in ${config.file}`, {
    suggestions: [names.length > 0 ? `the copies are: ${names.join(', ')} (restic.copies[].name)` : 'restic.copies lists none: add one to config/kamal-backup.yml'],
  })
}

/** The config with the copy `name` in the primary's place: `list --repository`, `restore --from`, `check
 *  --repository` read it alone (the primary may be gone). Nothing is copied from there onwards. */
export function withCopyAsPrimary<T extends Pick<BackupConfig, 'restic' | 'file'>>(config: T, name: string): T {
  const {copy} = findCopy(config, name)
  const {name: _name, retention: own, ...access} = copy
  const {checkAfterBackup, checkReadDataSubset, forgetAfterBackup, retention: primaryRetention} = config.restic
  const retention = own ?? primaryRetention
  const restic: ResticConfig = {...access, checkAfterBackup, forgetAfterBackup, copies: [], ...(checkReadDataSubset !== undefined && {checkReadDataSubset}), ...(retention && {retention})}
  return {...config, restic}
}

/** A run to copy: its id and its snapshots' ids (on restic 0.14 a backup reports 8-character ids). */
export interface RunToCopy {
  id: string
  snapshots: readonly {group: string; id: string}[]
}

/** Copies `run` (and the runs a copy missed since the last one it got) to every copy. Never throws: each copy's
 *  failure is its outcome. `previousRunId`: the run before this one; a copy that got it needs no catching up, so
 *  the primary is not even listed. `runs`: the primary's runs, when the caller has listed them already. */
export async function copyRuns(engine: Engine, primary: Restic, run: RunToCopy, options: {previousRunId?: string | undefined; runs?: readonly Run[]} = {}): Promise<CopyOutcome[]> {
  const {config} = engine
  if (config.restic.copies.length === 0) return []
  const state = copiesState(engine)
  let listed = options.runs
  const primaryRuns = async () => (listed ??= (await loadRuns(engine, primary)).runs)
  const outcomes: CopyOutcome[] = []
  for (const [index, copy] of config.restic.copies.entries()) {
    const last = state[copy.name]?.last_ok_run_id ?? null
    // A copy that never got a run starts from this one; one that got the previous run is up to date.
    const caughtUp = last === null || last === run.id || last === options.previousRunId
    outcomes.push(await copyOne(engine, primary, caughtUp ? [run] : [run, ...missedRuns(await primaryRuns(), last, run.id)], copy, index))
  }
  recordOutcomes(engine, outcomes, run.id)
  return outcomes
}

async function copyOne(engine: Engine, primary: Restic, runs: readonly RunToCopy[], copy: CopyConfig, index: number): Promise<CopyOutcome> {
  const started = Date.now()
  const where = copyWhere(index)
  const outcome: CopyOutcome = {name: copy.name, repository: repositoryDisplay(engine, where, copy), status: 'failed', runs: [], snapshots: 0, removed: 0, finished_at: '', duration_ms: 0, error: null}
  try {
    await engine.progress.task(`copy to ${copy.name} (restic copy)`, async (task) => {
      const target = await openRepository(engine, copy, {where, restInUrl: true})
      const source = resticTarget(engine.config.restic, primary.version, engine, engine.config.databases, {restInUrl: true})
      const ids = runs.flatMap((r) => r.snapshots.map((s) => s.id))
      task.update(`${runs.length} run(s), ${ids.length} snapshot(s)`)
      // restic copy skips what the copy has already (a snapshot with the same content, time and tags).
      try {
        await target.copyFrom(source, ids)
      } catch (error) {
        if (!(isKamalBackupError(error) && error.code === 'restic/no-repository' && copy.initIfMissing)) throw error
        engine.log.info(`the copy ${copy.name} does not exist yet: creating it with the primary's chunker parameters (init_if_missing)`)
        await target.initCopy(source)
        await target.copyFrom(source, ids)
      }
      const tags = appTags(engine.config.app)
      proveCopied(runs, await target.snapshots(tags), copy.name)
      outcome.runs = runs.map((r) => r.id)
      outcome.snapshots = ids.length
      const policy = copy.retention ?? engine.config.restic.retention
      if (engine.config.restic.forgetAfterBackup && policy) {
        task.update('retention (restic forget --prune)')
        outcome.removed = (await target.forget(tags, policy, true, [`run:${runs[0]!.id}`])).removed.length
      }
    }, () => `${outcome.runs.length} run(s) copied${outcome.removed > 0 ? `, ${outcome.removed} snapshot(s) removed by its retention` : ''}`)
    outcome.status = 'ok'
  } catch (error) {
    outcome.error = engine.redactor.redact(errorMessage(error))
  }
  outcome.finished_at = engine.now().toISOString()
  outcome.duration_ms = Date.now() - started
  return outcome
}

/** The complete runs after `since` (the last run a copy got), other than `runId`: what failed copies missed; not
 *  older ones, which the copy's retention may have removed on purpose. Newest first. */
export function missedRuns(runs: readonly Run[], since: string, runId: string): Run[] {
  return runs.filter((r) => isRegularRun(r) && r.id > since && r.id !== runId)
}

/** Each snapshot sent is in the copy now: one with its id as `original` and the same run tag. */
export function proveCopied(runs: readonly RunToCopy[], after: readonly Snapshot[], name: string): void {
  const missing: string[] = []
  for (const run of runs) {
    for (const s of run.snapshots) {
      if (!after.some((c) => c.original?.startsWith(s.id) && tagValue(c.tags, 'run') === run.id)) missing.push(`${s.group} of run ${run.id} (${s.id.slice(0, 8)})`)
    }
  }
  if (missing.length > 0) {
    throw new KamalBackupError(`restic copy finished, but the copy ${name} does not list ${missing.join(', ')}`, {code: 'copy/not-visible', suggestions: [`look at the copy with kamal-backup list --repository ${name}, and run kamal-backup check --repository ${name}`]})
  }
}


function recordOutcomes(engine: Engine, outcomes: readonly CopyOutcome[], runId: string): void {
  const state = engine.state.read<CopiesState>(STATE_FILES.copies) ?? {}
  for (const outcome of outcomes) {
    const before = state[outcome.name]
    const ok = outcome.status === 'ok'
    state[outcome.name] = {
      ...outcome,
      last_ok_at: ok ? outcome.finished_at : (before?.last_ok_at ?? null),
      last_ok_run_id: ok ? runId : (before?.last_ok_run_id ?? null),
    }
  }
  engine.state.write(STATE_FILES.copies, engine.redactor.redactValue(state))
}

/** `kamal-backup copy [--to NAME]`: the latest complete run (and what failed copies missed) to every copy, or to
 *  the one named, now: for a copy kept on its own schedule, or to catch up at once after a failed copy. */
export async function runCopy(engine: Engine, options: {to?: string | undefined} = {}): Promise<{run_id: string; copies: CopyOutcome[]}> {
  const {config} = engine
  if (config.restic.copies.length === 0) {
    throw new UsageError(`${config.file} lists no copies (restic.copies)`, {suggestions: ['add one under restic.copies: - {name: offsite, repository: ..., password: {secret: ...}}']})
  }
  const copies = options.to === undefined ? config.restic.copies : [findCopy(config, options.to).copy]
  engine.state.ensureWritable()
  const lock = engine.state.lock('copy')
  try {
    const primary = await openRepository(engine)
    const {runs} = await loadRuns(engine, primary)
    const latest = runs.find(isRegularRun)
    if (!latest) throw new KamalBackupError('there is no complete backup run to copy', {code: 'copy/failed', suggestions: ['run kamal-backup backup first']})
    const only: Engine = {...engine, config: {...config, restic: {...config.restic, copies}}}
    return {run_id: latest.id, copies: await copyRuns(only, primary, latest, {runs})}
  } finally {
    lock.release()
  }
}

/** `restic check` of every copy, each with its own result (a copy that cannot be opened is a failed check). */
export async function checkCopies(engine: Engine, readDataSubset: string | undefined): Promise<NonNullable<MaintenanceRecord['copies']>> {
  const out: NonNullable<MaintenanceRecord['copies']> = []
  for (const [index, copy] of engine.config.restic.copies.entries()) {
    const where = copyWhere(index)
    const result = {name: copy.name, repository: repositoryDisplay(engine, where, copy), status: 'failed' as 'ok' | 'failed', output: null as string | null, error: null as string | null}
    try {
      const restic = await openRepository(engine, copy, {where})
      const output = await engine.progress.task(`restic check of the copy ${copy.name}${readDataSubset ? ` --read-data-subset ${readDataSubset}` : ''}`, () => restic.check(readDataSubset))
      result.output = engine.redactor.redact(output.trim().split('\n').slice(-3).join('\n'))
      result.status = 'ok'
    } catch (error) {
      result.error = engine.redactor.redact(errorMessage(error))
    }
    out.push(result)
  }
  return out
}

/** The copies' last results, configured ones only (a copy removed from the config is no longer reported). */
export function copiesState(engine: Pick<Engine, 'config' | 'state'>): CopiesState {
  const state = engine.state.read<CopiesState>(STATE_FILES.copies) ?? {}
  return Object.fromEntries(engine.config.restic.copies.flatMap((c) => (state[c.name] ? [[c.name, state[c.name]!]] : [])))
}
