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
  run: {id: string; time: string; age_seconds: number; pre_restore: boolean; snapshots: {group: string; id: string}[]} | null
  targets: RestoreTargets
  /** Whether the restore would take a safety backup first (only restore production does; --no-safety-backup: false). */
  safety_backup: boolean
  /** The checks that ran, in order; after a failed one, the rest did not run. */
  checks: PreflightCheck[]
  /** What a dry run cannot check without changing something: the restore itself finds out. */
  not_checked: string[]
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
}
