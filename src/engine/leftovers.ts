// The snapshots of runs that did not complete, waiting for a complete run to supersede them: the parts of a failed
// run (the newest copy of what did work) and the snapshot of a failed dump that restic saved anyway and that could
// not be removed. Kept in the state directory; forgotten before retention counts snapshots, so they never take the
// place of complete runs; failed dumps' snapshots are never shown or restored.
import type {Restic} from '../restic/client.js'
import type {Engine} from './context.js'

/** A snapshot restic saved for a failed dump and that could not be removed. */
export interface Leftover {
  id: string
  group: string
}

/** Snapshots of failed runs, waiting for a complete run to supersede them (state file). */
export const PARTIAL_SNAPSHOTS = 'partial_snapshots.json'

export interface PartialSnapshots {
  /** `failed`: the snapshot of a failed dump (not just part of a failed run): it is never shown or used. */
  snapshots: {id: string; run_id: string | null; group: string; failed?: boolean}[]
}

export function addPartialSnapshots(engine: Pick<Engine, 'state'>, record: {run_id: string | null; snapshots: readonly {group: string; id: string}[]}, failed: readonly Leftover[] = []): void {
  const pending = engine.state.read<PartialSnapshots>(PARTIAL_SNAPSHOTS)?.snapshots ?? []
  pending.push(...record.snapshots.map((s) => ({id: s.id, run_id: record.run_id, group: s.group})))
  pending.push(...failed.map((s) => ({id: s.id, run_id: record.run_id, group: s.group, failed: true})))
  engine.state.write(PARTIAL_SNAPSHOTS, {snapshots: pending})
}

/** Ids of failed dumps' snapshots that are still waiting to be forgotten (list, evidence and restores skip them). */
export function failedSnapshotIds(engine: Pick<Engine, 'state'>): Set<string> {
  return new Set((engine.state.read<PartialSnapshots>(PARTIAL_SNAPSHOTS)?.snapshots ?? []).filter((s) => s.failed).map((s) => s.id))
}

/** Forgets the snapshots of failed runs (restic ignores ids that are already gone), before retention counts
 *  snapshots per group: otherwise every failed run's file snapshot would push a complete run's out of keep_last,
 *  leaving the older runs incomplete. Called by a successful run's forget step and by `prune`. */
export async function forgetPartialSnapshots(engine: Pick<Engine, 'state'>, restic: Restic): Promise<number> {
  const pending = engine.state.read<PartialSnapshots>(PARTIAL_SNAPSHOTS)?.snapshots ?? []
  if (pending.length === 0) return 0
  await restic.forgetIds([...new Set(pending.map((s) => s.id))])
  engine.state.write(PARTIAL_SNAPSHOTS, {snapshots: []})
  return pending.length
}
