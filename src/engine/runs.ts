// Snapshots → runs. Every snapshot of one backup run carries the same `run:<id>` tag; a run is complete when every
// configured group (each database, and the files when paths are configured) has a snapshot with that id.
// `latest` anywhere in the product means the latest complete run, never a mix of moments.
// Snapshots the Ruby gem (crmne/kamal-backup) wrote have no run: tag: they are grouped into legacy runs by
// legacyRuns() below, and restore and drill like ours.
import {KamalBackupError} from '../errors.js'
import type {Snapshot} from '../restic/client.js'

export const BASE_TAG = 'kamal-backup'

export interface RunSnapshot {
  group: string
  id: string
  shortId: string
  time: string
  paths: string[]
  tags: string[]
  bytes: number | null
}

export interface Run {
  id: string
  /** The time of the run's first snapshot. */
  time: string
  complete: boolean
  /** Configured groups with no snapshot in this run. */
  missing: string[]
  /** A safety backup taken by `restore production`. */
  preRestore: boolean
  /** A restore point taken by the pre-deploy hook (`backup --reason deploy`, tagged type:pre-deploy): the deploy's
   *  version (its deploy-version: tag), or '' when it had none; undefined for every other run. */
  preDeploy?: string
  /** The run's own `restic check` step failed (recorded in the state directory): the repository it wrote into was
   *  found damaged, so it is never `latest`; name it to restore it anyway. */
  checkFailed: boolean
  /** Written by the Ruby gem: grouped by host and time (legacyRuns), not by a run: tag. */
  legacy: boolean
  snapshots: RunSnapshot[]
}

/** What `latest` means: the newest complete run that is not a safety backup and whose own check did not fail. A
 *  restore point taken before a deploy is a whole backup of production at that moment: it can be `latest` (after
 *  a migration that went wrong it is exactly what a restore wants). */
export function isLatestCandidate(run: Run): boolean {
  return run.complete && !run.preRestore && !run.checkFailed
}

/** The runs that say the schedule works (status and evidence freshness, what goes to restic.copies): a `latest`
 *  candidate that is not a restore point taken before a deploy. */
export function isRegularRun(run: Run): boolean {
  return isLatestCandidate(run) && run.preDeploy === undefined
}

export const PRE_DEPLOY_TAG = 'type:pre-deploy'
export const DEPLOY_VERSION_TAG = 'deploy-version'

/** A deploy's version as a restic tag value: what restic keeps intact in a tag (no comma: a list separator),
 *  short, and not taken for a flag (no leading "-"). Kamal's versions (a git sha, `<sha>_uncommitted_<hex>`, a --version) pass unchanged. */
export const DEPLOY_VERSION_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,99}$/

/** Pre-deploy runs live under their own snapshot host, so the regular policy (`restic forget --group-by
 *  host,paths`) never counts them: with the same host a run tagged to be kept still fills keep_last and the
 *  daily bucket (measured with restic 0.14 and 0.18), and scheduled runs would be forgotten in its place. */
export function preDeployHost(app: string): string {
  return `${snapshotHost(app)}-pre-deploy`
}

/** Run ids are UTC timestamps in ISO 8601 basic format: sortable, readable, safe in a tag. */
export function newRunId(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')
}

export function runIdTime(id: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(id)
  if (!m) return undefined
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!))
}

export function appTags(app: string): string[] {
  return [BASE_TAG, `app:${app}`]
}

export function snapshotHost(app: string): string {
  return `kamal-backup-${app}`
}

export function databaseGroup(name: string): string {
  return `database:${name}`
}

export const FILES_GROUP = 'files'

export function expectedGroups(config: {databases: readonly {name: string}[]; paths: readonly unknown[]}): string[] {
  return [...config.databases.map((d) => databaseGroup(d.name)), ...(config.paths.length > 0 ? [FILES_GROUP] : [])]
}

export function snapshotGroup(tags: readonly string[]): string | undefined {
  if (tags.includes('type:files')) return FILES_GROUP
  const db = tags.find((t) => t.startsWith('database:'))
  return tags.includes('type:database') && db ? db : undefined
}

export function tagValue(tags: readonly string[] | undefined, prefix: string): string | undefined {
  const tag = tags?.find((t) => t.startsWith(prefix + ':'))
  return tag?.slice(prefix.length + 1)
}

/** Groups snapshots into runs, newest first. `sizes` fills in sizes restic < 0.17 does not record; `adapters`
 *  names the group of a gem 0.2 database snapshot, which has only an adapter: tag (when one database has it). */
export function groupRuns(snapshots: readonly Snapshot[], groups: readonly string[], sizes: ReadonlyMap<string, number> = new Map(), adapters: ReadonlyMap<string, string> = new Map()): Run[] {
  const byRun = new Map<string, Run>()
  const legacy: {snapshot: Snapshot; group: string}[] = []
  for (const s of snapshots) {
    const tags = s.tags ?? []
    const runId = tagValue(tags, 'run')
    const group = snapshotGroup(tags) ?? legacyGroup(tags, adapters)
    if (!group) continue
    if (!runId) {
      if (tags.includes(BASE_TAG)) legacy.push({snapshot: s, group})
      continue
    }
    let run = byRun.get(runId)
    if (!run) {
      run = {id: runId, time: s.time, complete: false, missing: [], preRestore: false, checkFailed: false, legacy: false, snapshots: []}
      byRun.set(runId, run)
    }
    if (s.time < run.time) run.time = s.time
    if (tags.includes('type:pre-restore')) run.preRestore = true
    if (tags.includes(PRE_DEPLOY_TAG)) run.preDeploy = tagValue(tags, DEPLOY_VERSION_TAG) ?? run.preDeploy ?? ''
    // Two snapshots of one group in a run (a retried step): the newer one stands.
    const existing = run.snapshots.findIndex((x) => x.group === group)
    const entry = runSnapshot(s, group, sizes)
    if (existing >= 0) {
      if (run.snapshots[existing]!.time < s.time) run.snapshots[existing] = entry
    } else run.snapshots.push(entry)
  }
  for (const run of legacyRuns(legacy, groups, sizes)) {
    // An id is a second: one already taken (by one of ours) moves this run's id on, never hides it.
    while (byRun.has(run.id)) run.id = newRunId(new Date(runIdTime(run.id)!.getTime() + 1000))
    byRun.set(run.id, run)
  }
  const runs = [...byRun.values()]
  for (const run of runs) {
    const present = new Set(run.snapshots.map((s) => s.group))
    run.missing = groups.filter((g) => !present.has(g))
    run.complete = run.missing.length === 0 && run.snapshots.length > 0
    run.snapshots.sort((a, b) => groups.indexOf(a.group) - groups.indexOf(b.group))
  }
  return runs.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
}

/** A size our run records hold for this snapshot id (restic 0.14 recorded short ids). A copy's snapshot is found
 *  by the id it had in the primary (`original`). */
function recordedSize(id: string, sizes: ReadonlyMap<string, number>): number | undefined {
  return sizes.get(id) ?? sizes.get(id.slice(0, 8))
}

function runSnapshot(s: Snapshot, group: string, sizes: ReadonlyMap<string, number>): RunSnapshot {
  return {group, id: s.id, shortId: s.short_id ?? s.id.slice(0, 8), time: s.time, paths: s.paths, tags: s.tags ?? [], bytes: s.summary?.total_bytes_processed ?? recordedSize(s.id, sizes) ?? (s.original !== undefined ? recordedSize(s.original, sizes) : undefined) ?? null}
}

/** A gem 0.2 database snapshot: type:database and adapter:<a>, no database: tag. */
function legacyGroup(tags: readonly string[], adapters: ReadonlyMap<string, string>): string | undefined {
  if (!tags.includes('type:database') || tags.some((t) => t.startsWith('run:'))) return undefined
  const adapter = tagValue(tags, 'adapter')
  return adapter ? adapters.get(adapter) : undefined
}

/** Restic 0.17+ records when each backup ended: the gem starts its next step at once, so a gap longer than this
 *  between one snapshot's end and the next one's start is another run. */
export const LEGACY_STEP_GAP_SECONDS = 300
/** Without that record (older restic), snapshots this far apart are never one run. */
export const LEGACY_RUN_WINDOW_SECONDS = 6 * 3600

/**
 * The gem's runs. It backs up the databases in its config's order, then the files, one after the other, from a
 * host named after the app and accessory; it tags no run. Walking its snapshots oldest first, one run goes on while
 * the host is the same, the group is new to the run and comes later in that order, and the snapshot starts right
 * after the previous one ended (within LEGACY_STEP_GAP_SECONDS of its recorded end, or, when restic did not record
 * it, within LEGACY_RUN_WINDOW_SECONDS of its start). Anything else starts another run: a doubt splits runs (each
 * then incomplete, never `latest`) rather than joining two moments. A legacy run's id is its first snapshot's time.
 */
export function legacyRuns(found: readonly {snapshot: Snapshot; group: string}[], groups: readonly string[], sizes: ReadonlyMap<string, number> = new Map()): Run[] {
  const runs: Run[] = []
  let current: {run: Run; host: string; last: Snapshot; order: number} | undefined
  const order = (group: string) => {
    const index = groups.indexOf(group)
    return index < 0 ? groups.length : index
  }
  for (const {snapshot: s, group} of [...found].sort((a, b) => (a.snapshot.time < b.snapshot.time ? -1 : a.snapshot.time > b.snapshot.time ? 1 : 0))) {
    const start = Date.parse(s.time)
    const end = current?.last.summary?.backup_end ? Date.parse(current.last.summary.backup_end) : undefined
    const continues =
      current !== undefined &&
      current.host === s.hostname &&
      !current.run.snapshots.some((x) => x.group === group) &&
      order(group) > current.order &&
      (end !== undefined && Number.isFinite(end) ? start - end <= LEGACY_STEP_GAP_SECONDS * 1000 : start - Date.parse(current.last.time) <= LEGACY_RUN_WINDOW_SECONDS * 1000)
    if (!continues) {
      current = {run: {id: newRunId(new Date(start)), time: s.time, complete: false, missing: [], preRestore: false, checkFailed: false, legacy: true, snapshots: []}, host: s.hostname, last: s, order: -1}
      runs.push(current.run)
    }
    current!.run.snapshots.push(runSnapshot(s, group, sizes))
    current!.last = s
    current!.order = order(group)
  }
  return runs
}

function runTime(run: Run): number {
  return runIdTime(run.id)?.getTime() ?? new Date(run.time).getTime()
}

/** backup.pre_deploy_keep: the restore points taken before deploys that go, newest first. The newest `keep`
 *  complete ones stay (and `current`, the run just taken, always); what is older than the last of them goes, an
 *  incomplete one too; an incomplete one among them stays for the regular clean-up of failed runs. Other runs are
 *  never in the list: restic.retention is theirs. */
export function preDeployRunsToForget(runs: readonly Run[], keep: number, current?: string): Run[] {
  let kept = 0
  const out: Run[] = []
  for (const run of runs) {
    if (run.preDeploy === undefined || run.id === current) {
      if (run.id === current) kept++
      continue
    }
    if (kept >= keep) out.push(run)
    else if (run.complete) kept++
  }
  return out
}

/** How a run is named in suggestions: its id and time, and whether it is a safety backup or a restore point. */
export function describeRun(run: Pick<Run, 'id' | 'time' | 'preRestore' | 'preDeploy'>): string {
  return `${run.id} (${run.time})${run.preRestore ? ' [pre-restore]' : ''}${run.preDeploy !== undefined ? ` [${beforeDeploy(run.preDeploy)}]` : ''}`
}

/** "before deploy <version>", as list shows a pre-deploy run. */
export function beforeDeploy(version: string): string {
  return version ? `before deploy ${version}` : 'before deploy'
}

/** `latest`, a run id, a snapshot id (meaning its run), or --at <time>: always a complete run. `latest` and --at
 *  never pick a safety backup (a `type:pre-restore` run holds the data a restore replaced: restoring it again by
 *  accident undoes the restore); name one by its run or snapshot id to restore it. */
export function selectRun(runs: readonly Run[], selector: {snapshot?: string; at?: Date}): Run {
  const complete = runs.filter((r) => r.complete)
  const regular = complete.filter(isLatestCandidate)
  // The complete runs closest in time to what was asked for (the newest when there is no time to go by).
  const nearest = (reference?: Date) => {
    const byDistance = reference ? [...complete].sort((a, b) => Math.abs(runTime(a) - reference.getTime()) - Math.abs(runTime(b) - reference.getTime())) : complete
    const list = byDistance.slice(0, 5).map(describeRun)
    return list.length > 0 ? [`complete runs: ${list.join(', ')}`] : ['there is no complete run yet: run `kamal-backup backup`']
  }
  const onlySafety = (what: string, reference?: Date) =>
    new KamalBackupError(`${what}: the only complete runs there are safety backups taken before restores (type:pre-restore) or runs whose own repository check failed`, {
      code: 'run/not-found',
      suggestions: [...nearest(reference), 'to restore one of them anyway, name it by its run id'],
    })
  if (selector.at) {
    const at = selector.at.getTime()
    const before = (r: Run) => new Date(r.time).getTime() <= at
    const run = regular.find(before)
    if (!run) {
      const what = `no complete run at or before ${selector.at.toISOString()}`
      if (complete.some(before)) throw onlySafety(what, selector.at)
      throw new KamalBackupError(what, {code: 'run/not-found', suggestions: nearest(selector.at)})
    }
    return run
  }
  const wanted = selector.snapshot ?? 'latest'
  if (wanted === 'latest') {
    const run = regular[0]
    if (!run) {
      if (complete.length > 0) throw onlySafety('no complete backup run')
      throw new KamalBackupError('there is no complete backup run yet', {code: 'run/not-found', suggestions: nearest()})
    }
    return run
  }
  const run = runs.find((r) => r.id === wanted) ?? runs.find((r) => r.snapshots.some((s) => s.id === wanted || s.shortId === wanted || (wanted.length >= 8 && s.id.startsWith(wanted))))
  if (!run) throw new KamalBackupError(`no run or snapshot "${wanted}"`, {code: 'run/not-found', suggestions: nearest(runIdTime(wanted))})
  if (!run.complete) {
    throw new KamalBackupError(`run ${run.id} is incomplete (missing: ${run.missing.join(', ')})`, {
      code: 'run/incomplete',
      suggestions: [...nearest(runIdTime(run.id)), 'restore only the parts it has with --database/--files if you really mean this run'],
    })
  }
  return run
}
