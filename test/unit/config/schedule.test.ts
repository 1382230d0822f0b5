// backup.schedule: intervals and five-field cron (UTC), validation messages, next run times.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {describeSchedule, nextRun, nominalIntervalSeconds, parseSchedule, ScheduleError} from '../../../src/config/schedule.js'

describe('intervals', () => {
  for (const [text, seconds] of [['30m', 1800], ['6h', 21600], ['1d', 86400], ['1w', 604800], ['90s', 90], ['2D', 172800]] as const) {
    test(text, () => assert.deepEqual(parseSchedule(text), {kind: 'interval', text, seconds}))
  }
  test('1M is ambiguous (minutes or months?): rejected with both readings spelled out', () => {
    assert.throws(() => parseSchedule('1M'), /M is ambiguous \(minutes or months\?\)\. Write 1m for minutes; for a monthly backup use cron, e.g\. "0 3 1 \* \*"/)
    assert.deepEqual(parseSchedule('10m'), {kind: 'interval', text: '10m', seconds: 600})
  })
  test('a bare number is seconds', () => assert.deepEqual(parseSchedule(3600), {kind: 'interval', text: '3600s', seconds: 3600}))
  test('too short', () => {
    assert.throws(() => parseSchedule('30s'), /too short/)
    assert.throws(() => parseSchedule(59), /too short/)
    assert.throws(() => parseSchedule('0m'), ScheduleError)
  })
  test('describe', () => {
    assert.equal(describeSchedule(parseSchedule('1d')), 'every day')
    assert.equal(describeSchedule(parseSchedule('6h')), 'every 6 hours')
    assert.equal(describeSchedule(parseSchedule('0 3 * * *')), 'cron "0 3 * * *" (UTC)')
  })
})

describe('cron', () => {
  test('fields', () => {
    const s = parseSchedule('*/15 3,4 1-7 jan-mar mon')
    assert.equal(s.kind, 'cron')
    if (s.kind !== 'cron') return
    assert.deepEqual([...s.fields.minutes], [0, 15, 30, 45])
    assert.deepEqual([...s.fields.hours], [3, 4])
    assert.deepEqual([...s.fields.daysOfMonth], [1, 2, 3, 4, 5, 6, 7])
    assert.deepEqual([...s.fields.months], [1, 2, 3])
    assert.deepEqual([...s.fields.daysOfWeek], [1])
    assert.equal(s.fields.dayOr, true)
  })
  test('day fields as Vixie cron reads them: one starting with * (also */n) is unrestricted, so the other must match too', () => {
    // 2026-01-05 is a Monday. `*/2` in the day of month: odd days AND Mondays (Vixie), not odd days OR Mondays.
    const odd = parseSchedule('0 3 */2 * 1')
    assert.ok(odd.kind === 'cron' && !odd.fields.dayOr)
    assert.equal(nextRun(odd, new Date('2026-01-01T00:00:00Z')).toISOString(), '2026-01-05T03:00:00.000Z', 'the first Monday on an odd day, not Jan 1')
    assert.equal(nextRun(odd, new Date('2026-01-05T03:00:00Z')).toISOString(), '2026-01-19T03:00:00.000Z', 'Jan 12 is even')
    // `*/3` in the day of week, a restricted day of month: both must match.
    const weekly = parseSchedule('0 3 1 * */3')
    assert.equal(nextRun(weekly, new Date('2026-01-01T03:00:00Z')).toISOString(), '2026-02-01T03:00:00.000Z', 'the next 1st that is a Sunday, Wednesday or Saturday (Feb 1 is a Sunday)')
    // Both restricted: either.
    assert.equal(nextRun(parseSchedule('0 3 1 * 1'), new Date('2026-01-01T03:00:00Z')).toISOString(), '2026-01-05T03:00:00.000Z')
  })
  test('7 is Sunday', () => {
    const s = parseSchedule('0 0 * * 7')
    assert.ok(s.kind === 'cron' && s.fields.daysOfWeek.has(0) && !s.fields.daysOfWeek.has(7))
  })
  test('macros', () => assert.equal(nextRun(parseSchedule('@daily'), new Date('2026-01-01T10:00:00Z')).toISOString(), '2026-01-02T00:00:00.000Z'))
  const bad: [string, RegExp][] = [
    ['61 * * * *', /minute "61" is out of range 0-59/],
    ['* 24 * * *', /hour "24" is out of range 0-23/],
    ['* * 0 * *', /day of month "0" is out of range 1-31/],
    ['* * * 13 *', /month "13" is out of range 1-12/],
    ['* * * * 8', /day of week "8" is out of range 0-7/],
    ['*/0 * * * *', /step "0" must be a positive number/],
    ['5-1 * * * *', /goes backwards/],
    ['* * * *', /neither an interval .* nor a five-field cron expression/],
    ['* * * * * *', /five-field/],
    ['daily', /five-field/],
  ]
  for (const [text, message] of bad) test(`rejects ${text}`, () => assert.throws(() => parseSchedule(text), message))
})

describe('next run', () => {
  const at = (iso: string) => new Date(iso)
  test('interval', () => assert.equal(nextRun(parseSchedule('6h'), at('2026-01-01T00:00:00Z')).toISOString(), '2026-01-01T06:00:00.000Z'))
  test('daily at 03:00 UTC', () => {
    assert.equal(nextRun(parseSchedule('0 3 * * *'), at('2026-01-01T02:59:30Z')).toISOString(), '2026-01-01T03:00:00.000Z')
    assert.equal(nextRun(parseSchedule('0 3 * * *'), at('2026-01-01T03:00:00Z')).toISOString(), '2026-01-02T03:00:00.000Z', 'strictly after')
  })
  test('day-of-month OR day-of-week when both are restricted', () => {
    // 2026-03-02 is a Monday; the 15th is a Sunday.
    const s = parseSchedule('0 0 15 * mon')
    assert.equal(nextRun(s, at('2026-03-01T00:00:00Z')).toISOString(), '2026-03-02T00:00:00.000Z')
    assert.equal(nextRun(s, at('2026-03-14T00:00:00Z')).toISOString(), '2026-03-15T00:00:00.000Z')
  })
  test('leap day', () => assert.equal(nextRun(parseSchedule('0 0 29 2 *'), at('2026-03-01T00:00:00Z')).toISOString(), '2028-02-29T00:00:00.000Z'))
  test('never fires', () => assert.throws(() => nextRun(parseSchedule('0 0 31 2 *'), at('2026-01-01T00:00:00Z')), /never fires/))
  test('nominal interval of a cron schedule', () => assert.equal(nominalIntervalSeconds(parseSchedule('0 */6 * * *'), at('2026-01-01T01:00:00Z')), 21600))
})
