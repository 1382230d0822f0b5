// What a notification says: the run's events (src/engine/events.ts) turned into the events targets subscribe to
// (notify[].events) and one JSON document per event (schemas/output/notification.schema.json), with a line for humans.
import type {NotifyEvent} from '../config/types.js'
import type {BackupRunRecord, DrillRecord, MaintenanceRecord, RestoreResult} from '../documents.js'
import {isRestorePoint} from '../documents.js'
import type {RunEvent} from '../engine/events.js'

export interface NotificationPayload {
  schema_version: 1
  kind: 'notification'
  event: NotifyEvent | 'test'
  app: string
  host: string
  /** What the event is about. */
  subject: 'backup' | 'check' | 'drill' | 'restore' | 'test'
  /** The subject's status: ok, failed, skipped (a backup that did not run), running (started). */
  status: 'ok' | 'failed' | 'skipped' | 'running'
  run_id: string | null
  started_at: string | null
  finished_at: string | null
  duration_ms: number | null
  /** The error, redacted (null unless it failed). */
  error: string | null
  snapshots: {group: string; id: string; bytes: number}[]
  warnings: string[]
  /** One line for a human (the chat message, the push title's body). */
  message: string
}

/** A backup attempt's previous attempt, for `recovered` (the first ok after a failure). */
export type PreviousAttempt = Pick<BackupRunRecord, 'status' | 'run_id'> | undefined

function base(app: string, host: string): Pick<NotificationPayload, 'schema_version' | 'kind' | 'app' | 'host' | 'run_id' | 'started_at' | 'finished_at' | 'duration_ms' | 'error' | 'snapshots' | 'warnings'> {
  return {schema_version: 1, kind: 'notification', app, host, run_id: null, started_at: null, finished_at: null, duration_ms: null, error: null, snapshots: [], warnings: []}
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

function backupPayloads(record: BackupRunRecord, host: string, previous: PreviousAttempt): NotificationPayload[] {
  const common = {
    ...base(record.app, host),
    subject: 'backup' as const,
    run_id: record.run_id,
    started_at: record.started_at,
    finished_at: record.finished_at,
    duration_ms: record.duration_ms,
    error: record.error,
    snapshots: record.snapshots,
    warnings: record.warnings ?? [],
  }
  const run = `backup run ${record.run_id ?? ''}`.trim()
  if (record.status === 'skipped') {
    // Not due and disabled are the scheduler's ordinary decisions; a run kept from running by a lock is news.
    if (record.reason !== 'busy') return []
    return [{...common, event: 'skipped', status: 'skipped', message: `${record.app}: backup skipped: ${record.error ?? 'another run holds the lock'}`}]
  }
  if (record.status === 'failed') {
    const what = record.reason === 'interrupted' ? 'was interrupted' : 'FAILED'
    return [{...common, event: 'failed', status: 'failed', message: `${record.app}: ${run} ${what} at step ${record.failed_step}: ${record.error}`}]
  }
  const out: NotificationPayload[] = [{...common, event: 'ok', status: 'ok', message: `${record.app}: ${run} ok in ${seconds(record.duration_ms)} (${record.snapshots.length} snapshots)`}]
  if (common.warnings.length > 0) out.push({...common, event: 'warning', status: 'ok', message: `${record.app}: ${run} saved with ${common.warnings.length === 1 ? 'a warning' : `${common.warnings.length} warnings`}: ${common.warnings.join('; ')}`})
  if (previous?.status === 'failed') out.push({...common, event: 'recovered', status: 'ok', message: `${record.app}: backups recovered: ${run} ok after the failed run ${previous.run_id ?? ''}`.trim()})
  return out
}

function drillPayload(record: DrillRecord, host: string): NotificationPayload {
  const ok = record.status === 'ok'
  return {
    ...base(record.app, host),
    event: ok ? 'drill_ok' : 'drill_failed',
    subject: 'drill',
    status: record.status,
    run_id: record.run_id,
    started_at: record.started_at,
    finished_at: record.finished_at,
    duration_ms: record.duration_ms,
    error: record.error,
    message: `${record.app}: restore drill (${record.scope}) of run ${record.run_id ?? '?'} ${ok ? `passed in ${seconds(record.duration_ms)}` : `FAILED: ${record.error}`}`,
  }
}

function restorePayload(record: RestoreResult, host: string, event: 'restore_started' | 'restore_finished'): NotificationPayload {
  const finished = event === 'restore_finished'
  const status = !finished ? 'running' : record.status === 'ok' ? 'ok' : 'failed'
  return {
    ...base(record.app, host),
    event,
    subject: 'restore',
    status,
    run_id: record.run_id,
    started_at: record.started_at,
    finished_at: record.finished_at,
    duration_ms: finished ? record.duration_ms : null,
    error: record.error,
    message: `${record.app}: ${record.scope} restore of run ${record.run_id ?? '?'} by ${record.operator} ${!finished ? 'started' : status === 'ok' ? 'finished' : `FAILED: ${record.error}`}`,
  }
}

function checkPayload(record: MaintenanceRecord, app: string, host: string): NotificationPayload {
  return {
    ...base(app, host),
    event: 'check_failed',
    subject: 'check',
    status: 'failed',
    started_at: record.started_at,
    finished_at: record.finished_at,
    duration_ms: record.duration_ms,
    error: record.error,
    message: `${app}: repository check FAILED: ${record.error}`,
  }
}

/** The notifications one run event makes (none, one, or several: a run can be ok, with warnings, and a recovery). */
export function payloadsFor(event: RunEvent, context: {app: string; host: string; previous?: () => PreviousAttempt}): NotificationPayload[] {
  switch (event.type) {
    case 'backup-started':
      // Not for a safety backup or a restore point before a deploy: their finish is not told either, and a monitor
      // that heard /start would wait for an end that never comes (healthchecks: "down").
      if (isRestorePoint(event)) return []
      return [{...base(event.app, context.host), event: 'started', subject: 'backup', status: 'running', run_id: event.run_id, started_at: event.started_at, message: `${event.app}: backup run ${event.run_id} started (${event.trigger})`}]
    case 'backup-finished':
      // A safety backup belongs to its restore, which has its own events.
      return isRestorePoint(event.record) ? [] : backupPayloads(event.record, context.host, event.record.status === 'ok' ? context.previous?.() : undefined)
    case 'drill-finished':
      return [drillPayload(event.record, context.host)]
    case 'restore-started':
      return [restorePayload(event.record, context.host, 'restore_started')]
    case 'restore-finished':
      return [restorePayload(event.record, context.host, 'restore_finished')]
    case 'maintenance-finished':
      return event.record.kind === 'check' && event.record.status === 'failed' ? [checkPayload(event.record, context.app, context.host)] : []
    case 'stale': {
      const hours = Math.round(event.since_seconds / 3600)
      return [{...base(event.app, context.host), event: 'stale', subject: 'backup', status: 'failed', message: `${event.app}: backups are STALE: no complete run ${event.last_success_at ? `since ${event.last_success_at}` : 'since the scheduler started'} (${hours} h)`}]
    }
    case 'step-finished':
      return []
  }
}

/** The document `notify test` sends to every target. */
export function testPayload(app: string, host: string, now: Date): NotificationPayload {
  return {...base(app, host), event: 'test', subject: 'test', status: 'ok', started_at: now.toISOString(), finished_at: now.toISOString(), message: `${app}: a test notification from kamal-backup on ${host}`}
}
