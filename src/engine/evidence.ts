// `evidence`: one redacted JSON document for a security review — what is backed up, where, how often, the latest
// complete run, how old it is against the schedule, the last run/check/drill results, tool versions — with a
// SHA-256 digest of its canonical form, and with evidence.signing_key an ed25519 signature (signature.ts), so a copy
// attached to a ticket can be checked for edits.
import {describeSchedule, nextRun, nominalIntervalSeconds} from '../config/schedule.js'
import {errorMessage} from '../errors.js'
import type {Argv} from '../exec/spec.js'
import {resolveDatabase, describeDatabase, type ResolvedDatabase} from '../db/connection.js'
import {databaseAdapter, databaseAdapters, type DbContext} from '../db/index.js'
import {fileExcludes} from './backup.js'
import {openRepository, repositoryDisplay, type Engine} from './context.js'
import {loadRuns, recordedResults, runView, type RunView} from './list.js'
import {isRegularRun} from './runs.js'
import {repositoryDamage, type RepositoryDamage} from './damage.js'
import type {MaintenanceRecord} from './maintenance.js'
import {STATE_FILES} from './state.js'
import {copiesState, copyWhere} from './copies.js'
import {digest, signEvidence, type EvidenceSignature} from './signature.js'
import {resolveValue} from '../config/resolve.js'
import type {BackupRunRecord, DumpRecord} from '../documents.js'
import {dumpsSummary} from './dump.js'

/** One restore or drill in the evidence's history summaries. */
export interface HistoryEntry {
  status: string
  scope: string
  finished_at: string
  run_id: string | null
  duration_ms: number | null
  operator: string | null
}

export interface HistorySummary {
  count: number
  ok: number
  failed: number
  last_ok_at: string | null
  recent: HistoryEntry[]
}

export interface Evidence {
  schema_version: 1
  kind: 'evidence'
  app: string
  generated_at: string
  kamal_backup_version: string
  databases: {name: string; adapter: string; source: string}[]
  paths: {path: string; exclude: string[]}[]
  repository: string
  retention: Record<string, number | string> | null
  forget_after_backup: boolean
  check_after_backup: boolean
  schedule: {expression: string; description: string; enabled: boolean; interval_seconds: number}
  latest_complete_run: RunView | null
  latest_backup_age: {seconds: number | null; allowed_seconds: number; status: 'ok' | 'late' | 'missing' | 'disabled'}
  runs: {total: number; complete: number; incomplete: number; oldest: string | null}
  last_backup_run: BackupRunRecord | null
  last_successful_backup_at: string | null
  last_check: MaintenanceRecord | null
  last_prune: MaintenanceRecord | null
  last_restore_drill: Record<string, unknown> | null
  restore_drills: HistorySummary
  /** The last restore (production ones, in the accessory), as `restore` wrote it: `running` if it never finished. */
  last_restore: Record<string, unknown> | null
  restores: HistorySummary
  /** `dump`: the database exports recorded in dumps.jsonl (how many, and the last: who, which run, when). */
  dumps?: {count: number; last: DumpRecord | null}
  notifications: {targets: {index: number; type: string; events: string[]}[]; failed_deliveries: number; last_failure: Record<string, unknown> | null}
  /** restic.copies: each copy's freshness (its last successful copy) and its last attempt. */
  copies: CopyFreshness[]
  repository_error: string | null
  /** A check found the repository damaged, and no check has passed since (null otherwise). */
  repository_damage: RepositoryDamage | null
  versions: Record<string, string | null>
  /** ed25519 over the canonical form, when evidence.signing_key is set; null: unsigned (the digest still says
   *  whether the content was changed, but anyone who changes it can recompute that). */
  signature: EvidenceSignature | null
  digest: {algorithm: 'sha256'; value: string}
}

export interface CopyFreshness {
  name: string
  repository: string
  /** The last attempt: ok, failed, or never tried. */
  status: 'ok' | 'failed' | 'never'
  /** When a copy last succeeded, and the newest run it holds since. */
  last_copy_at: string | null
  last_copied_run_id: string | null
  /** The last attempt's error (null when it succeeded). */
  error: string | null
}

export async function buildEvidence(engine: Engine, version: string): Promise<Evidence> {
  const {config, state} = engine
  const now = engine.now()
  const interval = nominalIntervalSeconds(config.schedule, now)
  let runs: RunView[] = []
  let latest: RunView | null = null
  let repositoryError: string | null = null
  let resticVersion: string | null = null
  try {
    const restic = await openRepository(engine)
    resticVersion = restic.version.text
    const results = recordedResults(engine)
    const loaded = (await loadRuns(engine, restic)).runs
    runs = loaded.map((r) => runView(r, results))
    // The latest run of the schedule: not a safety backup, not a restore point taken before a deploy (freshness is
    // the schedule's), not a run whose own check failed.
    const candidate = loaded.find(isRegularRun)
    latest = candidate ? runView(candidate, results) : null
  } catch (error) {
    // Evidence still reports what it knows; the failure itself is evidence.
    repositoryError = engine.redactor.redact(errorMessage(error))
  }
  const latestAt = latest ? new Date(latest.time) : null
  const age = latestAt ? Math.round((now.getTime() - latestAt.getTime()) / 1000) : null
  // A backup is late when the run the schedule wanted after the latest one has not happened within an hour of its
  // time (dumps take time): measured from the latest run, so a weekday-only cron is not late on Sunday.
  const allowed = (latestAt ? Math.round((nextRun(config.schedule, latestAt).getTime() - latestAt.getTime()) / 1000) : interval) + 3600
  const databases = resolvedDatabases(engine)
  const lastSuccess = state.read<BackupRunRecord>(STATE_FILES.lastSuccessfulBackup)
  const doc: Omit<Evidence, 'digest' | 'signature'> = {
    schema_version: 1,
    kind: 'evidence',
    app: config.app,
    generated_at: now.toISOString(),
    kamal_backup_version: version,
    databases: config.databases.map((db) => ({name: db.name, adapter: db.adapter, source: databaseSource(engine, db)})),
    // The excludes as they apply: the configured patterns, and the SQLite databases stored as database snapshots.
    paths: config.paths.map((p) => ({path: p.path, exclude: [...p.exclude, ...fileExcludes({config: {...config, paths: [{...p, exclude: []}]}}, databases)]})),
    repository: repositoryDisplay(engine),
    retention: config.restic.retention ? retentionView(config.restic.retention) : null,
    forget_after_backup: config.restic.forgetAfterBackup,
    check_after_backup: config.restic.checkAfterBackup,
    schedule: {expression: config.schedule.text, description: describeSchedule(config.schedule), enabled: config.enabled, interval_seconds: interval},
    latest_complete_run: latest,
    latest_backup_age: {seconds: age, allowed_seconds: allowed, status: !config.enabled ? 'disabled' : age === null ? 'missing' : age > allowed ? 'late' : 'ok'},
    runs: {total: runs.length, complete: runs.filter((r) => r.complete).length, incomplete: runs.filter((r) => !r.complete).length, oldest: runs.at(-1)?.time ?? null},
    last_backup_run: state.read<BackupRunRecord>(STATE_FILES.lastBackup) ?? null,
    last_successful_backup_at: lastSuccess?.finished_at ?? null,
    last_check: state.read<MaintenanceRecord>(STATE_FILES.lastCheck) ?? null,
    last_prune: state.read<MaintenanceRecord>(STATE_FILES.lastPrune) ?? null,
    last_restore_drill: state.read<Record<string, unknown>>(STATE_FILES.lastDrill) ?? null,
    restore_drills: historySummary(state.history<Record<string, unknown>>(STATE_FILES.drills)),
    last_restore: state.read<Record<string, unknown>>(STATE_FILES.lastRestore) ?? null,
    restores: historySummary(state.history<Record<string, unknown>>(STATE_FILES.restores)),
    dumps: dumpsSummary(engine),
    notifications: notificationsView(engine),
    copies: copiesView(engine),
    repository_error: repositoryError,
    repository_damage: repositoryDamage(engine),
    versions: {kamal_backup: version, node: process.version, ...(await toolVersions(engine, databases)), ...(resticVersion !== null && {restic: resticVersion})},
  }
  const redacted = engine.redactor.redactValue(doc)
  const key = config.evidence.signingKey ? resolveValue(config.evidence.signingKey, 'evidence.signing_key', engine.secrets, engine.redactor) : undefined
  return {...redacted, signature: key ? signEvidence(redacted, key) : null, digest: {algorithm: 'sha256', value: digest(redacted)}}
}

function copiesView(engine: Engine): CopyFreshness[] {
  const state = copiesState(engine)
  return engine.config.restic.copies.map((copy, index) => {
    const last = state[copy.name]
    return {
      name: copy.name,
      repository: repositoryDisplay(engine, copyWhere(index), copy),
      status: last?.status ?? 'never',
      last_copy_at: last?.last_ok_at ?? null,
      last_copied_run_id: last?.last_ok_run_id ?? null,
      error: last?.error ?? null,
    }
  })
}

/** The notify targets (never their URLs) and the deliveries that failed. */
function notificationsView(engine: Pick<Engine, 'config' | 'state'>): Evidence['notifications'] {
  const failures = engine.state.history<Record<string, unknown>>(STATE_FILES.notifications)
  return {
    targets: engine.config.notify.map((t, index) => ({index, type: t.type, events: [...t.events]})),
    failed_deliveries: failures.length,
    last_failure: failures.at(-1) ?? null,
  }
}

/** drills.jsonl or restores.jsonl in short: counts, the last success, the ten most recent (newest first). */
export function historySummary(records: Record<string, unknown>[]): HistorySummary {
  const entries: HistoryEntry[] = records.map((r) => ({
    status: String(r.status),
    scope: String(r.scope),
    finished_at: String(r.finished_at),
    run_id: typeof r.run_id === 'string' ? r.run_id : null,
    duration_ms: typeof r.duration_ms === 'number' ? r.duration_ms : null,
    operator: typeof r.operator === 'string' ? r.operator : null,
  }))
  return {
    count: entries.length,
    ok: entries.filter((e) => e.status === 'ok').length,
    failed: entries.filter((e) => e.status !== 'ok').length,
    last_ok_at: entries.findLast((e) => e.status === 'ok')?.finished_at ?? null,
    recent: entries.slice(-10).reverse(),
  }
}

function resolvedDatabases(engine: Engine): ResolvedDatabase[] {
  const out: ResolvedDatabase[] = []
  for (const db of engine.config.databases) {
    try {
      out.push(resolveDatabase(db, engine.secrets, engine.redactor))
    } catch {}
  }
  return out
}

function databaseSource(engine: Engine, db: Engine['config']['databases'][number]): string {
  try {
    return describeDatabase(resolveDatabase(db, engine.secrets, engine.redactor))
  } catch {
    return databaseAdapter(db.adapter).location === 'file' ? '(path not available here)' : '(url not available here)'
  }
}

function retentionView(policy: NonNullable<Engine['config']['restic']['retention']>): Record<string, number | string> {
  const out: Record<string, number | string> = {}
  const names: Record<string, string> = {keepLast: 'keep_last', keepHourly: 'keep_hourly', keepDaily: 'keep_daily', keepWeekly: 'keep_weekly', keepMonthly: 'keep_monthly', keepYearly: 'keep_yearly', keepWithin: 'keep_within'}
  for (const [k, v] of Object.entries(policy)) if (v !== undefined) out[names[k] ?? k] = v
  return out
}

/** `--version` of every tool the accessory uses (restic, each database kind's, rclone), in parallel; null when
 *  missing. `databases`: the configured ones (each kind names the tool they would use). */
export async function toolVersions(ctx: DbContext & {resticBin?: string}, databases: readonly ResolvedDatabase[] = []): Promise<Record<string, string | null>> {
  const commands: Record<string, Argv> = {restic: [ctx.resticBin ?? ctx.env.KAMAL_BACKUP_RESTIC ?? 'restic', 'version']}
  for (const adapter of databaseAdapters) Object.assign(commands, await adapter.versionCommands(ctx, databases.filter((d) => d.adapter === adapter.kind)))
  commands.rclone = ['rclone', 'version']
  const entries = await Promise.all(
    Object.entries(commands).map(async ([name, argv]): Promise<[string, string | null]> => {
      try {
        const result = await ctx.exec.run({argv, label: name}, {timeoutMs: 10_000})
        const line = (result.stdout || result.stderr).trim().split('\n')[0] ?? ''
        return [name, result.exitCode === 0 && line ? line : null]
      } catch {
        return [name, null]
      }
    }),
  )
  const out = Object.fromEntries(entries)
  for (const adapter of databaseAdapters) Object.assign(out, adapter.versionNotes?.(ctx.env))
  return out
}
