// The JSON documents that cross a boundary between layers: produced by the engine, read by the CLI and, over SSH,
// by a workstation from the accessory (the remote layer). Each matches its schema in schemas/output/.

/** What a restore or drill was asked for (restore.schema.json#/definitions/requested). */
export interface RestoreRequest {
  snapshot: string
  at: string | null
  databases: string[] | null
  files: boolean | null
}

/** Where each part goes, credentials redacted (drill.schema.json#/properties/targets). */
export interface RestoreTargets {
  databases: {name: string; target: string}[]
  files: {from: string; to: string}[]
}

/** One check of a restore's preflight, as a dry run reports it. */
export interface PreflightCheck {
  name: string
  status: 'ok' | 'failed'
  error?: string
}

/** `restore production|local --dry-run --json` and `drill production|local --dry-run --json`: what the command
 *  would do, and whether its checks pass (restore-plan.schema.json). Also what a workstation shows in the
 *  confirmation of a remote restore, read from the accessory's dry run. */
export interface RestorePlan {
  schema_version: 1
  kind: 'restore-plan' | 'drill-plan'
  scope: 'production' | 'local'
  /** ok: the restore could proceed now; failed: the run could not be resolved or a check failed. */
  status: 'ok' | 'failed'
  dry_run: true
  app: string
  host: string
  requested: RestoreRequest
  /** The run the selection resolves to (null when it does not resolve). */
  run: {id: string; time: string; age_seconds: number; pre_restore: boolean; pre_deploy?: string; snapshots: {group: string; id: string}[]} | null
  targets: RestoreTargets
  /** Whether the restore would take a safety backup first (only restore production does; --no-safety-backup: false). */
  safety_backup: boolean
  /** The checks that ran, in order; after a failed one, the rest did not run. */
  checks: PreflightCheck[]
  /** What a dry run cannot check without changing something: the restore itself finds out. */
  not_checked: string[]
  /** What the operator must know before going on (a damaged repository). Absent in plans of versions before 0.3. */
  warnings?: string[]
  planned_at: string
  duration_ms: number
  error: string | null
  suggestions: string[]
}

/** `check`, `prune` and `unlock` (check.schema.json, prune.schema.json, unlock.schema.json): also what a backup's
 *  own check and forget steps record in last_check.json and last_prune.json. */
export interface MaintenanceRecord {
  schema_version: 1
  kind: 'check' | 'unlock' | 'prune'
  status: 'ok' | 'failed'
  started_at: string
  finished_at: string
  duration_ms: number
  read_data_subset?: string | null
  removed?: number
  kept?: number
  output: string | null
  error: string | null
  /** check, prune: the damage it found (restic: "repository contains errors", a pack missing), first found `since`. */
  damage?: {since: string; what_to_do: string[]} | null
  /** check with --repository NAME: the copy checked instead of the primary. */
  repository?: string
  /** check: each copy (restic.copies), checked after the primary. */
  copies?: {name: string; repository: string; status: 'ok' | 'failed'; output: string | null; error: string | null}[]
}

/** The kinds of database kamal-backup knows (config `adapter:`), as records name them. */
export type DatabaseKind = 'postgres' | 'mysql' | 'sqlite'

/** The adapter's half of a restored database's report (engine/restore.ts adds name, adapter, snapshot, target). */
export interface DatabaseRestore {
  tables_in_dump: string[]
  tables_restored: string[]
  missing_tables: string[]
  /** PostgreSQL: the tables the dump's table of contents lists (pg_restore --list). */
  tables_in_toc?: number | null
  integrity: 'ok' | null
  /** Each table of the dump: its rows in the dump and in the restored database. */
  rows?: TableRows[]
  /** How `rows[].restored` was found: counted (a drill), or probed for one row (a restore: 0 or 1). */
  rows_restored?: 'counted' | 'probed'
  /** Tables the dump had rows for that are empty after the restore: the restore failed. */
  empty_tables?: string[]
  /** Why the dump's rows could not be counted (the counter failed): the restore cannot vouch for them. */
  rows_unknown?: string
}

/** Tables holding fewer rows than the dump had (where both counts are known). */
export function fewerRows(db: DatabaseRestore): TableRows[] {
  if (db.rows_restored !== 'counted') return []
  return (db.rows ?? []).filter((r) => r.in_dump !== null && r.restored !== null && r.restored < r.in_dump)
}

export interface TableRows {
  table: string
  /** Rows in the dump; null when the dump says only that it has some (a MySQL dump's multi-row INSERTs). */
  in_dump: number | null
  /** Rows in the restored table; null when this user may not read it. */
  restored: number | null
}

export type StepStatus = 'ok' | 'failed' | 'skipped'

export interface StepRecord {
  name: string
  status: StepStatus
  started_at: string | null
  duration_ms: number | null
  snapshot_id?: string
  bytes?: number
  data_added?: number
  error?: string
}

export interface BackupRunRecord {
  schema_version: number
  kind: 'backup_run'
  app: string
  run_id: string | null
  status: 'ok' | 'failed' | 'skipped'
  reason: string | null
  trigger: 'manual' | 'scheduled' | 'pre-restore' | 'pre-deploy'
  /** trigger pre-deploy: the version being deployed (KAMAL_VERSION, tag deploy-version:<version>), if given. */
  deploy_version?: string | null
  started_at: string
  finished_at: string
  duration_ms: number
  restic_version: string | null
  repository: string
  steps: StepRecord[]
  failed_step: string | null
  error: string | null
  /** Snapshot per group, for `list` on restic versions that do not store sizes. */
  snapshots: {group: string; id: string; bytes: number}[]
  last_success_at: string | null
  next_due_at: string | null
  /** What the run saved but someone should look at (a path or a dump that shrank past its max_shrink). Absent in
   *  records of versions before 0.2. */
  warnings?: string[]
  /** The files found under each path before the snapshot (the next run compares its own with these). */
  file_counts?: {path: string; files: number}[]
  /** Host mode: where each volume under paths: was on this host when the run read it. */
  volumes?: {name: string; runtime: 'docker' | 'podman' | 'mounted'; path: string}[]
  /** What the run repaired on its way, unasked: stale restic locks removed, a dead run found and recorded. */
  recoveries?: string[]
  /** restic.copies: what each copy got after this run. */
  copies?: CopyOutcome[]
}

/** A backup taken for a moment rather than by the schedule: the safety backup before a restore (pre-restore) and
 *  the restore point before a deploy (pre-deploy). Neither counts as the scheduled run for freshness, status,
 *  metrics or notifications, nor postpones the next scheduled run. */
export function isRestorePoint(record: Pick<BackupRunRecord, 'trigger'>): boolean {
  return record.trigger === 'pre-restore' || record.trigger === 'pre-deploy'
}

/** One copy (restic.copies) after a run. */
export interface CopyOutcome {
  name: string
  repository: string
  status: 'ok' | 'failed'
  /** The runs copied this time (the run itself, and runs a failed copy had missed), newest first. */
  runs: string[]
  snapshots: number
  /** Snapshots the copy's retention removed. */
  removed: number
  finished_at: string
  duration_ms: number
  error: string | null
}

export interface StepReport {
  name: string
  status: 'running' | 'ok' | 'failed' | 'skipped'
  started_at?: string
  duration_ms: number | null
  error?: string
}

export interface FilesReport {
  snapshot: string
  from: string
  to: string
  files: number
  bytes: number
  expected_files: number
  expected_bytes: number
}

/** A restored database: which, from which snapshot, into what, and what its adapter found (the tables the dump
 *  had and the target has now, integrity). */
export interface DatabaseReport extends DatabaseRestore {
  name: string
  adapter: DatabaseKind
  snapshot: string
  target: string
}

export interface RestoreReport {
  run_id: string | null
  run_time: string | null
  files: FilesReport[]
  databases: DatabaseReport[]
  steps: StepReport[]
}

/** Where one part of a restore stands: what an engineer needs to know after a failure. */
export interface PartState {
  /** `files:/data/storage`, `database:primary` */
  part: string
  target: string
  state: 'unchanged' | 'restored' | 'partial'
  note?: string
}

export interface CheckResult {
  command: string
  exit_code: number | null
  duration_ms: number
  output: string
}

export interface DrillRecord extends RestoreReport {
  schema_version: 1
  kind: 'drill'
  scope: 'production' | 'local'
  status: 'ok' | 'failed'
  app: string
  operator: string
  host: string
  requested: RestoreRequest
  targets: RestoreTargets
  /** The parts of the run this drill did not restore, and why: a drill that skipped the files says so. */
  skipped: string[]
  started_at: string
  finished_at: string
  /** The measured restore time: from the start of the restore to the end of the check. */
  duration_ms: number
  verification: {passed: boolean; problems: string[]; check: CheckResult | null}
  error: string | null
  suggestions: string[]
}

export interface RestoreResult extends RestoreReport {
  schema_version: 1
  kind: 'restore'
  scope: 'production' | 'local'
  /** `running` only in last_restore.json while the restore is under way. */
  status: 'running' | 'ok' | 'failed'
  app: string
  operator: string
  host: string
  requested: RestoreRequest
  targets: RestoreTargets
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

// ---- dump ---------------------------------------------------------------------------------------------------------

/** What a dump will read: printed by `dump --plan --json` in the accessory (schemas/output/dump.schema.json). */
export interface DumpPlan {
  kind: 'dump-plan'
  app: string
  run_id: string
  run_time: string
  database: string
  adapter: string
  snapshot_id: string
  short_id: string
  /** The dump's path inside the snapshot (`/<app>.<database>.<extension>`). */
  path: string
  /** The snapshot's size as restic (0.17+) or this state directory's run record says; null when neither does. */
  bytes: number | null
}

/** One export, a line of dumps.jsonl in the state directory where restic read it. */
export interface DumpRecord {
  kind: 'dump'
  status: 'ok' | 'failed' | 'interrupted'
  operator: string
  host: string
  run_id: string
  database: string
  snapshot: string
  /** Bytes restic wrote: into the file or stdout with --local, counted; to a workstation, which counts and checks
   *  them itself, the snapshot's recorded size once restic exited 0 (null: none recorded, or restic stopped). */
  bytes: number | null
  expected_bytes: number | null
  started_at: string
  finished_at: string
  duration_ms: number
  error: string | null
}

/** The `dump` document (--json with -o FILE; schemas/output/dump.schema.json): the plan's run and snapshot, and what
 *  was written. */
export interface DumpResult extends Pick<DumpPlan, 'app' | 'run_id' | 'run_time' | 'database' | 'adapter' | 'snapshot_id'> {
  kind: 'dump'
  file: string
  bytes: number
  expected_bytes: number | null
  /** What was checked before the file was kept: the size (`equal` to the snapshot's, or `unknown`: none recorded,
   *  so the clean end of the stream and restic's exit status only), and the --verify tool's answer. */
  checked: {size: 'equal' | 'unknown'; verify: string | null}
  duration_ms: number
}
