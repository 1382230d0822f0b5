// The snapshots of runs that did not complete, waiting for a complete run to supersede them: the parts of a failed
// or interrupted run (the newest copy of what did work), the snapshot of a failed dump that restic saved anyway and
// that could not be removed, and everything a run that died (kill -9, out of memory, a container stop) left in the
// repository. Kept in the state directory; forgotten before retention counts snapshots, so they never take the
// place of complete runs; failed dumps' snapshots are never shown or restored.
//
// A run in progress is written down before its first snapshot (run_in_progress.json) and again as restic reports
// each snapshot. A run that dies leaves that file behind; the next run adopts it: its snapshots are found in the
// repository by their run:<id> tag (restic may have saved one the dead process never heard of) and forgotten
// before retention, unless they turn out to form a complete run (a run killed during its forget or check step).
import {readdirSync, statSync, unlinkSync} from 'node:fs'
import {isAbsolute, join} from 'node:path'
import type {BackupRunRecord} from '../documents.js'
import type {Restic} from '../restic/client.js'
import {Secret} from '../redact.js'
import type {Engine} from './context.js'
import {appTags, snapshotGroup, tagValue} from './runs.js'

/** A snapshot restic saved for a failed dump and that could not be removed. */
export interface Leftover {
  id: string
  group: string
}

/** Snapshots of failed runs, waiting for a complete run to supersede them (state file). */
export const PARTIAL_SNAPSHOTS = 'partial_snapshots.json'

/** The run in progress (state file): gone when a run ends, however it ends, unless the process died. */
export const RUN_IN_PROGRESS = 'run_in_progress.json'

export interface PartialSnapshots {
  /** `failed`: the snapshot of a failed dump (not just part of a failed run): it is never shown or used. */
  snapshots: {id: string; run_id: string | null; group: string; failed?: boolean}[]
  /** Runs that died: their snapshots are looked up by tag when they are forgotten. */
  runs?: {run_id: string; groups: string[]}[]
}

export interface RunInProgress {
  run_id: string
  pid: number
  trigger: BackupRunRecord['trigger']
  started_at: string
  /** When this file was last written: the last sign of life of the run. */
  updated_at: string
  /** The groups a complete run has (the configuration of the time). */
  groups: string[]
  /** The step running when the file was last written. */
  step: string | null
  snapshots: {group: string; id: string; failed?: boolean}[]
}

/** The run's notebook: every change is on disk before the work it describes goes on. */
export class RunNotebook {
  #entry: RunInProgress

  constructor(
    private readonly engine: Pick<Engine, 'state' | 'now'>,
    entry: Omit<RunInProgress, 'updated_at' | 'step' | 'snapshots' | 'pid'>,
  ) {
    this.#entry = {...entry, pid: process.pid, updated_at: entry.started_at, step: null, snapshots: []}
    this.#save()
  }

  step(name: string): void {
    this.#entry.step = name
    this.#save()
  }

  snapshot(group: string, id: string, failed = false): void {
    this.#entry.snapshots.push({group, id, ...(failed && {failed})})
    this.#save()
  }

  /** The run ended (recorded in its own record): nothing to adopt. */
  close(): void {
    this.engine.state.remove(RUN_IN_PROGRESS)
  }

  #save(): void {
    this.#entry.updated_at = this.engine.now().toISOString()
    this.engine.state.write(RUN_IN_PROGRESS, this.#entry)
  }
}

/** A run that died before it could record itself (found under the run lock, so its process is gone): its snapshots
 *  wait to be forgotten, and the record it never wrote is returned for the history. */
export function adoptDeadRun(engine: Pick<Engine, 'state' | 'config' | 'redactor'>, repository: string): BackupRunRecord | undefined {
  const dead = engine.state.read<RunInProgress>(RUN_IN_PROGRESS)
  if (!dead?.run_id) {
    engine.state.remove(RUN_IN_PROGRESS)
    return undefined
  }
  const pending = engine.state.read<PartialSnapshots>(PARTIAL_SNAPSHOTS) ?? {snapshots: []}
  pending.snapshots.push(...(dead.snapshots ?? []).filter((s) => s.failed).map((s) => ({id: s.id, run_id: dead.run_id, group: s.group, failed: true})))
  pending.runs = [...(pending.runs ?? []).filter((r) => r.run_id !== dead.run_id), {run_id: dead.run_id, groups: dead.groups ?? []}]
  engine.state.write(PARTIAL_SNAPSHOTS, pending)
  engine.state.remove(RUN_IN_PROGRESS)
  const duration = Math.max(0, Date.parse(dead.updated_at) - Date.parse(dead.started_at)) || 0
  return engine.redactor.redactValue({
    schema_version: 1,
    kind: 'backup_run',
    app: engine.config.app,
    run_id: dead.run_id,
    status: 'failed',
    reason: 'killed',
    trigger: dead.trigger ?? 'manual',
    started_at: dead.started_at,
    finished_at: dead.updated_at,
    duration_ms: duration,
    restic_version: null,
    repository,
    steps: [],
    failed_step: dead.step ?? 'preflight',
    error: `the run's process (pid ${dead.pid}) ended without finishing the run${dead.step ? `, during ${dead.step}` : ''}, last seen ${dead.updated_at}: killed (SIGKILL, out of memory) or its container stopped; found by the next run, which forgets what it saved unless that is a complete run`,
    snapshots: (dead.snapshots ?? []).filter((s) => !s.failed).map((s) => ({group: s.group, id: s.id, bytes: 0})),
    last_success_at: null,
    next_due_at: null,
    warnings: [],
  } satisfies BackupRunRecord)
}

export function addPartialSnapshots(engine: Pick<Engine, 'state'>, record: {run_id: string | null; snapshots: readonly {group: string; id: string}[]}, failed: readonly Leftover[] = [], groups?: readonly string[]): void {
  const pending = engine.state.read<PartialSnapshots>(PARTIAL_SNAPSHOTS) ?? {snapshots: []}
  pending.snapshots.push(...record.snapshots.map((s) => ({id: s.id, run_id: record.run_id, group: s.group})))
  pending.snapshots.push(...failed.map((s) => ({id: s.id, run_id: record.run_id, group: s.group, failed: true})))
  // The run is also looked up by its tag: restic may have saved a snapshot the run never heard of (its step failed
  // after restic had finished, e.g. on a full state volume).
  if (groups && record.run_id) pending.runs = [...(pending.runs ?? []).filter((r) => r.run_id !== record.run_id), {run_id: record.run_id, groups: [...groups]}]
  engine.state.write(PARTIAL_SNAPSHOTS, pending)
}

/** Ids of failed dumps' snapshots that are still waiting to be forgotten (list, evidence and restores skip them). */
export function failedSnapshotIds(engine: Pick<Engine, 'state'>): Set<string> {
  return new Set((engine.state.read<PartialSnapshots>(PARTIAL_SNAPSHOTS)?.snapshots ?? []).filter((s) => s.failed).map((s) => s.id))
}

/** Forgets the snapshots of failed and dead runs (restic ignores ids that are already gone), before retention
 *  counts snapshots per group: otherwise every failed run's file snapshot would push a complete run's out of
 *  keep_last, leaving the older runs incomplete. A dead run's snapshots are found by its run tag; if they make a
 *  whole run (every group it expected), they stay: it is a complete backup. Called by a successful run's forget
 *  step and by `prune`. Returns how many snapshots were forgotten. */
export async function forgetPartialSnapshots(engine: Pick<Engine, 'state' | 'config'>, restic: Restic): Promise<number> {
  const pending = engine.state.read<PartialSnapshots>(PARTIAL_SNAPSHOTS) ?? {snapshots: []}
  const ids = new Set(pending.snapshots.map((s) => s.id))
  // restic 0.14 reports 8-character ids when it saves a snapshot; listings have the full ones.
  const failed = pending.snapshots.filter((s) => s.failed).map((s) => s.id)
  const isFailed = (id: string) => failed.some((k) => id.startsWith(k))
  if ((pending.runs ?? []).length > 0) {
    const listed = await restic.snapshots(appTags(engine.config.app))
    for (const run of pending.runs ?? []) {
      const own = listed.filter((s) => tagValue(s.tags, 'run') === run.run_id)
      const good = own.filter((s) => !isFailed(s.id))
      const present = new Set(good.map((s) => snapshotGroup(s.tags ?? [])))
      // A run whose every group is in the repository (it died or failed after its last snapshot) is a whole backup.
      if (run.groups.length > 0 && run.groups.every((g) => present.has(g))) {
        for (const s of good) for (const id of [...ids]) if (s.id.startsWith(id)) ids.delete(id)
      } else for (const s of own) if (![...ids].some((k) => s.id.startsWith(k))) ids.add(s.id)
    }
  }
  if (ids.size > 0) await restic.forgetIds([...ids])
  engine.state.write(PARTIAL_SNAPSHOTS, {snapshots: []})
  return ids.size
}

/** How long a temporary pack file must have been left alone before it can be abandoned (with no lock present). */
export const ABANDONED_PACK_AGE_MS = 10_000

/** restic writes each pack to "<id>-tmp-<n>" in the repository and renames it when it is complete. A killed restic
 *  leaves that file behind (and a lock file it was writing), and neither prune nor check ever removes it (measured
 *  on 0.14 and 0.18). In a local
 *  repository they are removed when provably abandoned: no restic lock is in the repository (every restic that
 *  writes holds one, taken before it writes anything) and the file has not changed for ABANDONED_PACK_AGE_MS.
 *  Other backends keep them (an SFTP or REST server's temporary files are the server's business). `now` is the
 *  file system's clock, not the engine's (which tests may set): mtimes are compared with it. */
export async function sweepAbandonedPacks(restic: Restic, now = Date.now()): Promise<{files: number; bytes: number}> {
  const root = localRepositoryPath(restic.target.env.RESTIC_REPOSITORY)
  if (!root) return {files: 0, bytes: 0}
  const candidates: {path: string; size: number}[] = []
  const data = join(root, 'data')
  for (const dir of [root + '/locks', ...list(data).map((sub) => join(data, sub))]) {
    for (const name of list(dir)) {
      if (!/^[0-9a-f]{64}-tmp-\d+$/.test(name)) continue
      const path = join(dir, name)
      try {
        const stat = statSync(path)
        if (stat.isFile() && now - stat.mtimeMs >= ABANDONED_PACK_AGE_MS) candidates.push({path, size: stat.size})
      } catch {}
    }
  }
  if (candidates.length === 0) return {files: 0, bytes: 0}
  if ((await restic.locks()).length > 0) return {files: 0, bytes: 0}
  let files = 0
  let bytes = 0
  for (const file of candidates) {
    try {
      unlinkSync(file.path)
      files++
      bytes += file.size
    } catch {}
  }
  return {files, bytes}
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** The directory of a local repository ("/path" or "local:/path"), or undefined for any other backend. */
export function localRepositoryPath(repository: string | Secret | undefined): string | undefined {
  const text = repository instanceof Secret ? repository.reveal() : repository
  if (!text) return undefined
  const path = text.startsWith('local:') ? text.slice('local:'.length) : text
  return isAbsolute(path) ? path : undefined
}
