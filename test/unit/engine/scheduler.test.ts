// The scheduler's decisions with an injectable clock (no sleeping): catch-up from the last success instead of a
// backup on every restart, retry with backoff, jitter bounds, a busy run lock, idling when disabled, stopping on
// abort. (When a backup is due is in backup.test.ts, run ids in runs.test.ts.)
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {parseSchedule} from '../../../src/config/schedule.ts'
import {backoffMs, nextAttempt, runScheduler, type Clock} from '../../../src/engine/scheduler.ts'
import {KamalBackupError} from '../../../src/errors.ts'
import type {BackupRunRecord} from '../../../src/documents.ts'

const at = (iso: string) => new Date(iso)
const H = 3_600_000
const M = 60_000

/** A clock whose sleep() moves time forward at once; `onSleep` can stop the scheduler at a given moment. */
function fakeClock(start: string, onSleep?: (now: Date, ms: number) => void): Clock & {sleeps: number[]; time: () => Date} {
  let now = new Date(start).getTime()
  const sleeps: number[] = []
  return {
    sleeps,
    time: () => new Date(now),
    now: () => new Date(now),
    sleep: async (ms) => {
      sleeps.push(ms)
      now += ms
      onSleep?.(new Date(now), ms)
    },
  }
}

function record(status: BackupRunRecord['status'], extra: Partial<BackupRunRecord> = {}): BackupRunRecord {
  return {status, run_id: '20260101T000000Z', duration_ms: 1000, failed_step: status === 'failed' ? 'database:main' : null, error: status === 'failed' ? 'boom' : null, reason: null, ...extra} as BackupRunRecord
}

const silent = {info() {}, warn() {}, error() {}}
function logger() {
  const lines: string[] = []
  return {lines, info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`)}
}

describe('nextAttempt and backoff', () => {
  const daily = parseSchedule('1d')
  test('no backup yet: now', () => assert.equal(nextAttempt(daily, at('2026-01-01T10:00:00Z'), null, 0, null).toISOString(), '2026-01-01T10:00:00.000Z'))
  test('a restart an hour after a success waits for the interval', () => assert.equal(nextAttempt(daily, at('2026-01-01T11:00:00Z'), at('2026-01-01T10:00:00Z'), 0, null).toISOString(), '2026-01-02T10:00:00.000Z'))
  test('after downtime longer than the interval: catch up once, now', () => assert.equal(nextAttempt(daily, at('2026-01-05T08:00:00Z'), at('2026-01-01T10:00:00Z'), 0, null).toISOString(), '2026-01-05T08:00:00.000Z'))
  test('cron: the next firing after the last success, or now when one was missed', () => {
    const nightly = parseSchedule('0 3 * * *')
    assert.equal(nextAttempt(nightly, at('2026-01-01T10:00:00Z'), at('2026-01-01T03:00:05Z'), 0, null).toISOString(), '2026-01-02T03:00:00.000Z')
    assert.equal(nextAttempt(nightly, at('2026-01-03T10:00:00Z'), at('2026-01-01T03:00:05Z'), 0, null).toISOString(), '2026-01-03T10:00:00.000Z')
  })
  test('after failures: 1, 2, 4 minutes... after the last failure, at most an hour and at most the interval', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffMs(n, 24 * H)), [1 * M, 2 * M, 4 * M, 8 * M])
    assert.equal(backoffMs(20, 24 * H), H)
    assert.equal(backoffMs(5, 5 * M), 5 * M)
    assert.equal(backoffMs(1, 10_000), M, 'never below a minute')
    const now = at('2026-01-02T10:00:00Z')
    assert.equal(nextAttempt(daily, now, at('2026-01-01T09:00:00Z'), 3, at('2026-01-02T09:59:00Z')).toISOString(), '2026-01-02T10:03:00.000Z')
  })
})

describe('runScheduler with a fake clock', () => {
  test('a restart shortly after a success sleeps until due, then runs once', async () => {
    const controller = new AbortController()
    let last: Date | null = at('2026-01-01T09:30:00Z')
    const clock = fakeClock('2026-01-01T10:00:00Z')
    const runs: string[] = []
    await runScheduler({
      schedule: parseSchedule('1h'),
      enabled: true,
      clock,
      log: silent,
      signal: controller.signal,
      random: () => 0.5,
      maxJitterMs: 1000,
      lastSuccess: () => last,
      runBackup: async () => {
        runs.push(clock.now().toISOString())
        last = clock.now()
        return record('ok')
      },
      maxRuns: 2,
    })
    assert.deepEqual(runs, ['2026-01-01T10:30:00.500Z', '2026-01-01T11:30:01.000Z'], 'due 1h after the last success, plus jitter')
  })

  test('no backup yet: starts at once (jitter only)', async () => {
    const clock = fakeClock('2026-01-01T10:00:00Z')
    const runs: string[] = []
    await runScheduler({schedule: parseSchedule('1d'), enabled: true, clock, log: silent, signal: new AbortController().signal, random: () => 0, lastSuccess: () => null, runBackup: async () => (runs.push(clock.now().toISOString()), record('ok')), maxRuns: 1})
    assert.deepEqual(runs, ['2026-01-01T10:00:00.000Z'])
    assert.deepEqual(clock.sleeps, [])
  })

  test('jitter is at most 1% of the interval, and at most a minute', async () => {
    for (const [schedule, max] of [['1h', 36_000], ['1w', 60_000]] as const) {
      const clock = fakeClock('2026-01-01T10:00:00Z')
      await runScheduler({schedule: parseSchedule(schedule), enabled: true, clock, log: silent, signal: new AbortController().signal, random: () => 0.999999, lastSuccess: () => null, runBackup: async () => record('ok'), maxRuns: 1})
      assert.equal(clock.sleeps.length, 1)
      assert.ok(clock.sleeps[0]! <= max && clock.sleeps[0]! >= max - 1, `${schedule}: ${clock.sleeps[0]}`)
    }
  })

  test('a failed run is retried with growing backoff; a success resets it', async () => {
    const clock = fakeClock('2026-01-01T10:00:00Z')
    const results: BackupRunRecord['status'][] = ['failed', 'failed', 'failed', 'ok']
    const runs: string[] = []
    let last: Date | null = null
    const log = logger()
    await runScheduler({
      schedule: parseSchedule('1d'),
      enabled: true,
      clock,
      log,
      signal: new AbortController().signal,
      random: () => 0,
      lastSuccess: () => last,
      runBackup: async () => {
        runs.push(clock.now().toISOString())
        const status = results.shift()!
        if (status === 'ok') last = clock.now()
        return record(status)
      },
      maxRuns: 5,
    })
    assert.deepEqual(runs, ['2026-01-01T10:00:00.000Z', '2026-01-01T10:01:00.000Z', '2026-01-01T10:03:00.000Z', '2026-01-01T10:07:00.000Z', '2026-01-02T10:07:00.000Z'])
    assert.ok(log.lines.some((l) => /^error backup failed at step database:main: boom$/.test(l)))
    assert.ok(log.lines.some((l) => /retry 3 after a failure/.test(l)))
  })

  test('runs failing for two intervals make the backups stale: said once (log and onStale), again only after a success', async () => {
    const clock = fakeClock('2026-01-01T00:00:00Z')
    // Hourly, the last success at 00:00; every run fails until the 12th, which succeeds; then failures again.
    let last: Date | null = at('2026-01-01T00:00:00Z')
    let n = 0
    const stale: string[] = []
    const log = logger()
    await runScheduler({
      schedule: parseSchedule('1h'), enabled: true, clock, log, signal: new AbortController().signal, random: () => 0, maxRuns: 30,
      lastSuccess: () => last,
      onStale: (lastSuccess, since) => void stale.push(`${clock.now().toISOString()} ${lastSuccess?.toISOString()} ${since}`),
      runBackup: async () => {
        n++
        if (n === 12) {
          last = clock.now()
          return record('ok')
        }
        return record('failed')
      },
    })
    assert.equal(stale.length, 2, stale.join('\n'))
    const [first, second] = stale.map((s) => s.split(' '))
    // The first failure past 02:00 (two hourly intervals after the success at 00:00).
    assert.ok(first![0]! > '2026-01-01T02:00:00.000Z' && first![1] === '2026-01-01T00:00:00.000Z' && Number(first![2]) > 7200, stale[0])
    assert.ok(second![1]! > first![0]!, 'the second stretch is measured from the success in between')
    assert.equal(log.lines.filter((l) => /^error backups are stale: no complete run since 2026-01-01T00:00:00.000Z/.test(l)).length, 1)
  })

  test('a busy run lock (a manual backup) postpones with a warning instead of an error', async () => {
    const clock = fakeClock('2026-01-01T10:00:00Z')
    const log = logger()
    let calls = 0
    await runScheduler({
      schedule: parseSchedule('1d'), enabled: true, clock, log, signal: new AbortController().signal, random: () => 0, lastSuccess: () => null, maxRuns: 2,
      runBackup: async () => {
        if (calls++ === 0) throw new KamalBackupError('another kamal-backup backup is running (pid 1)', {code: 'command/busy'})
        return record('ok')
      },
    })
    assert.equal(calls, 2)
    assert.ok(log.lines.some((l) => l.startsWith('warn backup postponed: another kamal-backup backup is running')))
    assert.equal(clock.sleeps[0], M, 'retried after a minute')
  })

  test('an abort during the wait stops without running; an interrupted run is not counted as a failure', async () => {
    const controller = new AbortController()
    const clock = fakeClock('2026-01-01T10:00:00Z', () => controller.abort())
    let calls = 0
    await runScheduler({schedule: parseSchedule('1h'), enabled: true, clock, log: silent, signal: controller.signal, lastSuccess: () => at('2026-01-01T09:59:00Z'), runBackup: async () => (calls++, record('ok'))})
    assert.equal(calls, 0)

    const c2 = new AbortController()
    const log = logger()
    await runScheduler({
      schedule: parseSchedule('1h'), enabled: true, clock: fakeClock('2026-01-01T10:00:00Z'), log, signal: c2.signal, random: () => 0, lastSuccess: () => null,
      runBackup: async () => {
        c2.abort()
        return {...record('failed'), reason: 'interrupted'}
      },
    })
    assert.ok(log.lines.some((l) => l.startsWith('warn backup interrupted')))
    assert.ok(!log.lines.some((l) => l.startsWith('error')))
    assert.equal(log.lines.at(-1), 'info scheduler stopped')
  })

  test('disabled: idles (never runs) until aborted', async () => {
    const controller = new AbortController()
    let sleeps = 0
    const clock = fakeClock('2026-01-01T10:00:00Z', () => {
      if (++sleeps === 48) controller.abort()
    })
    let calls = 0
    const log = logger()
    await runScheduler({schedule: parseSchedule('1h'), enabled: false, clock, log, signal: controller.signal, lastSuccess: () => null, runBackup: async () => (calls++, record('ok'))})
    assert.equal(calls, 0)
    assert.equal(clock.time().toISOString(), '2026-01-03T10:00:00.000Z', 'two days of idling')
    assert.match(log.lines[0]!, /disabled .* staying up idle/)
  })
})
