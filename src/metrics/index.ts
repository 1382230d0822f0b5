// Prometheus metrics from the state directory: what the last runs, drills and checks recorded, in the text
// exposition format. Written after every run, drill and check to a textfile for node_exporter's textfile collector
// (atomically: a scrape never sees half a file), and served by `schedule --metrics-port` (server.ts). Read from the
// state directory, never from the repository, so a scrape costs a few file reads.
import {join} from 'node:path'
import {replaceFile} from '../files.js'
import {nextRun, nominalIntervalSeconds} from '../config/schedule.js'
import type {BackupConfig} from '../config/types.js'
import type {BackupRunRecord, DrillRecord, MaintenanceRecord} from '../documents.js'
import {isRestorePoint} from '../documents.js'
import type {CopiesState} from '../engine/copies.js'
import type {RunEventListener} from '../engine/events.js'
import {STATE_FILES, type StateDir} from '../engine/state.js'
import {errorMessage} from '../errors.js'
import type {Log} from '../log.js'

interface Sample {
  labels: Record<string, string>
  value: number
}

interface Metric {
  name: string
  help: string
  samples: Sample[]
}

const seconds = (iso: string | null | undefined): number | undefined => {
  const ms = iso ? Date.parse(iso) : NaN
  return Number.isFinite(ms) ? ms / 1000 : undefined
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

/** The text exposition format (version 0.0.4): HELP, TYPE gauge, one line per sample. Metrics without samples are
 *  left out (a gauge with no value would read as 0). */
export function renderMetrics(metrics: readonly Metric[]): string {
  const out: string[] = []
  for (const m of metrics) {
    if (m.samples.length === 0) continue
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} gauge`)
    for (const s of m.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')
      out.push(`${m.name}{${labels}} ${Number.isInteger(s.value) ? s.value : s.value.toFixed(3)}`)
    }
  }
  return out.join('\n') + '\n'
}

/** Every metric, from what the state directory holds now. */
export function collectMetrics(config: Pick<BackupConfig, 'app' | 'schedule' | 'enabled'>, state: StateDir, now: Date = new Date()): Metric[] {
  const app = {app: config.app}
  const gauge = (name: string, help: string, samples: (Sample | undefined)[]): Metric => ({name: `kamal_backup_${name}`, help, samples: samples.filter((s): s is Sample => s !== undefined && Number.isFinite(s.value))})
  const one = (value: number | undefined, labels: Record<string, string> = {}): Sample | undefined => (value === undefined ? undefined : {labels: {...app, ...labels}, value})

  const attempts = state.history<BackupRunRecord>(STATE_FILES.runs).filter((r) => r.status !== 'skipped' && !isRestorePoint(r))
  const last = attempts.at(-1)
  const oks = attempts.filter((r) => r.status === 'ok')
  const lastOk = oks.at(-1)
  // Per group: when it last had a snapshot in a complete run.
  const groupSuccess = new Map<string, number>()
  for (const r of oks) for (const s of r.snapshots) groupSuccess.set(s.group, seconds(r.finished_at) ?? 0)
  const drills = state.history<DrillRecord>(STATE_FILES.drills)
  const lastDrill = drills.at(-1)
  const lastGoodDrill = drills.findLast((d) => d.status === 'ok')
  const check = state.read<MaintenanceRecord>(STATE_FILES.lastCheck)
  const lastSuccessAt = lastOk ? new Date(lastOk.finished_at) : undefined
  const copies = Object.values(state.read<CopiesState>(STATE_FILES.copies) ?? {})

  return [
    gauge('last_run_timestamp_seconds', 'When the last backup run finished (Unix time; safety backups and skipped runs not counted).', [one(seconds(last?.finished_at))]),
    gauge('last_run_success', 'Whether the last backup run succeeded (1) or failed (0).', [one(last ? (last.status === 'ok' ? 1 : 0) : undefined)]),
    gauge('last_run_duration_seconds', 'How long the last backup run took.', [one(last ? last.duration_ms / 1000 : undefined)]),
    gauge('last_run_warnings', 'Warnings of the last backup run (a path or a dump that shrank past max_shrink).', [one(last ? (last.warnings ?? []).length : undefined)]),
    gauge('last_success_timestamp_seconds', 'When each group (database:<name>, files) was last saved by a complete backup run (Unix time).', [...groupSuccess].map(([group, value]) => one(value, {group}))),
    gauge('snapshot_size_bytes', 'The size of each group\'s snapshot in the last complete backup run.', (lastOk?.snapshots ?? []).map((s) => one(s.bytes, {group: s.group}))),
    gauge('files', 'Files under each backed-up path, counted by the last complete backup run.', (lastOk?.file_counts ?? []).map((c) => one(c.files, {group: 'files', path: c.path}))),
    gauge('next_run_timestamp_seconds', 'When the schedule wants the next backup run (Unix time).', [one(config.enabled ? nextRun(config.schedule, lastSuccessAt ?? now).getTime() / 1000 : undefined)]),
    gauge('schedule_interval_seconds', 'The nominal time between two scheduled runs (stale after two of them, by kamal-backup status).', [one(nominalIntervalSeconds(config.schedule, now))]),
    gauge('enabled', 'Whether scheduled backups are enabled (backup.enabled).', [one(config.enabled ? 1 : 0)]),
    gauge('last_drill_timestamp_seconds', 'When the last restore drill finished (Unix time).', [one(seconds(lastDrill?.finished_at))]),
    gauge('last_drill_success', 'Whether the last restore drill passed (1) or failed (0).', [one(lastDrill ? (lastDrill.status === 'ok' ? 1 : 0) : undefined)]),
    gauge('last_drill_success_timestamp_seconds', 'When a restore drill last passed (Unix time).', [one(seconds(lastGoodDrill?.finished_at))]),
    gauge('last_check_timestamp_seconds', 'When the last repository check finished (Unix time).', [one(seconds(check?.finished_at))]),
    gauge('last_check_success', 'Whether the last repository check passed (1) or failed (0).', [one(check ? (check.status === 'ok' ? 1 : 0) : undefined)]),
    gauge('copy_last_success', 'Whether the last copy of a run to each copy (restic.copies) succeeded (1) or failed (0).', copies.map((c) => one(c.status === 'ok' ? 1 : 0, {copy: c.name}))),
    gauge('copy_last_success_timestamp_seconds', 'When each copy (restic.copies) last received a run, proved (Unix time): alert when it falls behind.', copies.map((c) => one(seconds(c.last_ok_at ?? undefined), {copy: c.name}))),
  ]
}

/** Where the textfile goes: metrics.textfile, or <state>/metrics.prom. */
export function textfilePath(config: Pick<BackupConfig, 'metrics'>, state: StateDir): string | undefined {
  if (config.metrics.textfile === false) return undefined
  return config.metrics.textfile ?? join(state.path, 'metrics.prom')
}

/** The textfile, replaced whole (written beside it, then renamed over it). */
export function writeTextfile(path: string, text: string): void {
  replaceFile(path, text, {mode: 0o644})
}

/** The listener that rewrites the textfile after every run, drill and check. A file that cannot be written is a
 *  warning: metrics never change a run. */
export function textfileWriter(config: Pick<BackupConfig, 'app' | 'schedule' | 'enabled' | 'metrics'>, state: StateDir, log: Pick<Log, 'warn'>): RunEventListener {
  return (event) => {
    if (event.type !== 'backup-finished' && event.type !== 'drill-finished' && event.type !== 'maintenance-finished') return
    const path = textfilePath(config, state)
    if (!path) return
    try {
      writeTextfile(path, renderMetrics(collectMetrics(config, state)))
    } catch (error) {
      log.warn(`cannot write the metrics textfile ${path}: ${errorMessage(error)}`)
    }
  }
}
