// `list`: the backup runs in the repository, newest first, grouped by run id.
import type {BackupRunRecord} from './backup.js'
import {openRepository, repositoryDisplay, type Engine} from './context.js'
import {appTags, expectedGroups, groupRuns, type Run} from './runs.js'
import type {Restic} from '../restic/client.js'
import {STATE_FILES} from './state.js'

export interface RunView {
  id: string
  time: string
  complete: boolean
  pre_restore: boolean
  missing: string[]
  total_bytes: number | null
  snapshots: {group: string; id: string; short_id: string; time: string; bytes: number | null}[]
}

export interface ListResult {
  app: string
  repository: string
  groups: string[]
  runs: RunView[]
}

/** Sizes from our own run records, for restic versions that do not store them in the snapshot. */
export function recordedSizes(engine: Pick<Engine, 'state'>): Map<string, number> {
  const sizes = new Map<string, number>()
  for (const record of engine.state.history<BackupRunRecord>(STATE_FILES.runs)) for (const s of record.snapshots ?? []) sizes.set(s.id, s.bytes)
  return sizes
}

export async function loadRuns(engine: Engine, restic?: Restic): Promise<{runs: Run[]; restic: Restic}> {
  const repo = restic ?? (await openRepository(engine))
  const snapshots = await repo.snapshots(appTags(engine.config.app))
  return {runs: groupRuns(snapshots, expectedGroups(engine.config), recordedSizes(engine)), restic: repo}
}

export function runView(run: Run): RunView {
  const sizes = run.snapshots.map((s) => s.bytes)
  return {
    id: run.id,
    time: run.time,
    complete: run.complete,
    pre_restore: run.preRestore,
    missing: run.missing,
    total_bytes: sizes.every((b) => b !== null) ? sizes.reduce<number>((a, b) => a + (b ?? 0), 0) : null,
    snapshots: run.snapshots.map((s) => ({group: s.group, id: s.id, short_id: s.shortId, time: s.time, bytes: s.bytes})),
  }
}

export async function listRuns(engine: Engine): Promise<ListResult> {
  const {runs} = await loadRuns(engine)
  return {app: engine.config.app, repository: repositoryDisplay(engine), groups: expectedGroups(engine.config), runs: runs.map(runView)}
}
