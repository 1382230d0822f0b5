// `list`: the backup runs in the repository, newest first, grouped by run id.
import {repositoryDamage, type RepositoryDamage} from './damage.js'
import {failedSnapshotIds} from './leftovers.js'
import {openRepository, repositoryDisplay, type Engine} from './context.js'
import {appTags, databaseGroup, expectedGroups, groupRuns, type Run} from './runs.js'
import type {Restic} from '../restic/client.js'
import {STATE_FILES} from './state.js'
import type {BackupRunRecord} from '../documents.js'

export interface RunView {
  id: string
  time: string
  complete: boolean
  pre_restore: boolean
  /** A restore point taken by the pre-deploy hook (type:pre-deploy); deploy_version: the version deployed. Always
   *  set by runView; optional for evidence documents written before they existed. */
  pre_deploy?: boolean
  deploy_version?: string | null
  /** Written by the Ruby gem (crmne/kamal-backup): grouped by host and time, not by a run: tag. */
  legacy: boolean
  missing: string[]
  /** The run's result as recorded in this state directory: `failed` with every group present is a run whose
   *  forget or check failed (its data is whole); null when this state directory did not record the run. */
  status: 'ok' | 'failed' | 'interrupted' | 'killed' | null
  failed_step: string | null
  total_bytes: number | null
  snapshots: {group: string; id: string; short_id: string; time: string; bytes: number | null}[]
}

export interface ListResult {
  app: string
  repository: string
  groups: string[]
  runs: RunView[]
  /** A check found the repository damaged and none has passed since. */
  damage: RepositoryDamage | null
}

/** Sizes from our own run records, for restic versions that do not store them in the snapshot. */
export function recordedSizes(engine: Pick<Engine, 'state'>): Map<string, number> {
  const sizes = new Map<string, number>()
  for (const record of engine.state.history<BackupRunRecord>(STATE_FILES.runs)) for (const s of record.snapshots ?? []) sizes.set(s.id, s.bytes)
  return sizes
}

/** The runs in the repository. Snapshots of failed dumps that could not be removed (recorded in the state
 *  directory) are left out: they are not backups, and must not make their run look complete. */
export async function loadRuns(engine: Engine, restic?: Restic): Promise<{runs: Run[]; restic: Restic}> {
  const repo = restic ?? (await openRepository(engine))
  const failed = [...failedSnapshotIds(engine)]
  const snapshots = (await repo.snapshots(appTags(engine.config.app))).filter((s) => !failed.some((id) => s.id.startsWith(id)))
  const runs = groupRuns(snapshots, expectedGroups(engine.config), recordedSizes(engine), legacyAdapterGroups(engine.config.databases))
  const results = recordedResults(engine)
  for (const run of runs) run.checkFailed = results.get(run.id)?.failed_step === 'check'
  return {runs, restic: repo}
}

/** The gem 0.2 wrote database snapshots tagged only with their adapter: each adapter one database has here. */
export function legacyAdapterGroups(databases: readonly {name: string; adapter: string}[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const adapter of new Set(databases.map((d) => d.adapter))) {
    const using = databases.filter((d) => d.adapter === adapter)
    if (using.length === 1) out.set(adapter, databaseGroup(using[0]!.name))
  }
  return out
}

/** Each run's recorded result, by run id (the newest record wins). */
export function recordedResults(engine: Pick<Engine, 'state'>): Map<string, Pick<RunView, 'status' | 'failed_step'>> {
  const out = new Map<string, Pick<RunView, 'status' | 'failed_step'>>()
  for (const r of engine.state.history<BackupRunRecord>(STATE_FILES.runs)) {
    if (!r.run_id || r.status === 'skipped') continue
    out.set(r.run_id, {status: r.status === 'ok' ? 'ok' : r.reason === 'interrupted' || r.reason === 'killed' ? r.reason : 'failed', failed_step: r.failed_step ?? null})
  }
  return out
}

export function runView(run: Run, results: ReadonlyMap<string, Pick<RunView, 'status' | 'failed_step'>> = new Map()): RunView {
  const sizes = run.snapshots.map((s) => s.bytes)
  const result = results.get(run.id)
  return {
    id: run.id,
    time: run.time,
    complete: run.complete,
    pre_restore: run.preRestore,
    pre_deploy: run.preDeploy !== undefined,
    deploy_version: run.preDeploy || null,
    legacy: run.legacy,
    missing: run.missing,
    status: result?.status ?? null,
    failed_step: result?.failed_step ?? null,
    total_bytes: sizes.every((b) => b !== null) ? sizes.reduce<number>((a, b) => a + (b ?? 0), 0) : null,
    snapshots: run.snapshots.map((s) => ({group: s.group, id: s.id, short_id: s.shortId, time: s.time, bytes: s.bytes})),
  }
}

export async function listRuns(engine: Engine): Promise<ListResult> {
  const {runs} = await loadRuns(engine)
  const results = recordedResults(engine)
  return {app: engine.config.app, repository: repositoryDisplay(engine), groups: expectedGroups(engine.config), runs: runs.map((r) => runView(r, results)), damage: repositoryDamage(engine)}
}
