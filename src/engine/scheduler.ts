// The foreground loop the accessory runs (`kamal-backup schedule`). It works from the state directory, so a
// container restart catches up a missed backup instead of backing up again; it adds a little jitter, retries a
// failed run with backoff, never overlaps another run, and on SIGTERM stops its children cleanly and returns.
import {describeSchedule, nextRun, type Schedule} from '../config/schedule.js'
import {errorMessage, isKamalBackupError} from '../errors.js'
import type {BackupRunRecord} from '../documents.js'

export interface Clock {
  now(): Date
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve()
      const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1))
      function done() {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      signal.addEventListener('abort', done, {once: true})
    }),
}

export interface SchedulerLog {
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

export interface SchedulerOptions {
  schedule: Schedule
  enabled: boolean
  clock: Clock
  log: SchedulerLog
  signal: AbortSignal
  /** The last successful run's end, from the state directory (read before every decision). */
  lastSuccess: () => Date | null
  /** One backup run (it takes the run lock itself). */
  runBackup: () => Promise<BackupRunRecord>
  /** 0 ≤ random() < 1, for jitter. */
  random?: () => number
  /** Longest jitter added to each run. Default: 1% of the interval, at most 60 s. */
  maxJitterMs?: number
  /** Stop after this many runs (tests). */
  maxRuns?: number
  /** Runs have kept failing: no success for two schedule intervals (since the last success, or since the scheduler
   *  started). Called once per such stretch, again only after a success. */
  onStale?: (lastSuccess: Date | null, sinceSeconds: number) => void
}

export interface SchedulerEvent {
  at: string
  event: 'run' | 'skip'
}

/** Delay before retry n (1-based): 1, 2, 4, 8... minutes, at most an hour and never longer than the interval. */
export function backoffMs(failures: number, intervalMs: number): number {
  return Math.min(60_000 * 2 ** Math.max(0, failures - 1), 3_600_000, Math.max(60_000, intervalMs))
}

/** When the next run should start, given the last success and any consecutive failures. */
export function nextAttempt(schedule: Schedule, now: Date, lastSuccess: Date | null, failures: number, lastFailure: Date | null): Date {
  let due = lastSuccess ? nextRun(schedule, lastSuccess) : now
  if (due < now) due = now // missed while the container was down: catch up once, now
  if (failures > 0 && lastFailure) {
    const intervalMs = schedule.kind === 'interval' ? schedule.seconds * 1000 : nextRun(schedule, nextRun(schedule, now)).getTime() - nextRun(schedule, now).getTime()
    const retry = new Date(lastFailure.getTime() + backoffMs(failures, intervalMs))
    if (retry > due) due = retry
  }
  return due
}

export async function runScheduler(options: SchedulerOptions): Promise<void> {
  const {clock, log, signal, schedule} = options
  const random = options.random ?? Math.random
  if (!options.enabled) {
    // Exiting would make Docker restart the container in a loop; idle until stopped, so restores still work.
    log.info('scheduled backups are disabled (backup.enabled: false); staying up idle so restore, list and evidence keep working')
    while (!signal.aborted) await clock.sleep(3_600_000, signal)
    log.info('scheduler stopped')
    return
  }
  const intervalMs = schedule.kind === 'interval' ? schedule.seconds * 1000 : 86_400_000
  const maxJitter = options.maxJitterMs ?? Math.min(60_000, intervalMs / 100)
  log.info(`scheduler started: ${describeSchedule(schedule)}`)
  let failures = 0
  let lastFailure: Date | null = null
  let runs = 0
  const started = clock.now()
  let staleSaid = false
  /** After a failed attempt: say once that backups have gone stale (two intervals without a success). */
  const staleCheck = () => {
    const lastSuccess = options.lastSuccess()
    const since = (clock.now().getTime() - (lastSuccess ?? started).getTime()) / 1000
    if (staleSaid || since <= (2 * intervalMs) / 1000) return
    staleSaid = true
    log.error(`backups are stale: no complete run ${lastSuccess ? `since ${lastSuccess.toISOString()}` : 'since the scheduler started'} (${Math.round(since / 3600)} h)`)
    options.onStale?.(lastSuccess, Math.round(since))
  }
  while (!signal.aborted) {
    const now = clock.now()
    const lastSuccess = options.lastSuccess()
    const due = nextAttempt(schedule, now, lastSuccess, failures, lastFailure)
    const jitter = Math.floor(random() * maxJitter)
    const wait = Math.max(0, due.getTime() - now.getTime()) + jitter
    const startAt = new Date(now.getTime() + wait)
    if (wait > 0) {
      const why = failures > 0 ? `retry ${failures} after a failure` : lastSuccess ? `last success ${lastSuccess.toISOString()}` : 'no backup yet'
      log.info(`next backup at ${startAt.toISOString()} (${why})`)
      await clock.sleep(wait, signal)
    }
    if (signal.aborted) break
    log.info('backup started')
    try {
      const record = await options.runBackup()
      if (record.status === 'ok') {
        failures = 0
        lastFailure = null
        staleSaid = false
        log.info(`backup ok: run ${record.run_id} in ${(record.duration_ms / 1000).toFixed(1)} s`)
        for (const warning of record.warnings ?? []) log.warn(warning)
      } else if (record.reason === 'interrupted' || signal.aborted) {
        log.warn(`backup interrupted: run ${record.run_id} is incomplete and will not count as the latest backup`)
      } else {
        failures++
        lastFailure = clock.now()
        log.error(`backup failed at step ${record.failed_step}: ${record.error}`)
        staleCheck()
      }
    } catch (error) {
      failures++
      lastFailure = clock.now()
      const busy = isKamalBackupError(error) && error.code === 'command/busy'
      ;(busy ? log.warn : log.error).call(log, `backup ${busy ? 'postponed' : 'failed'}: ${errorMessage(error)}`)
      staleCheck()
    }
    runs++
    if (options.maxRuns !== undefined && runs >= options.maxRuns) break
  }
  log.info('scheduler stopped')
}
