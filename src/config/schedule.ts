// backup.schedule: an interval ("30m", "6h", "1d", "1w", or seconds) or a five-field cron expression in UTC.
// Pure: parse() for validation and next() for the scheduler, which passes its own clock.

export type Schedule =
  | {kind: 'interval'; text: string; seconds: number}
  | {kind: 'cron'; text: string; fields: CronFields}

export interface CronFields {
  minutes: Set<number>
  hours: Set<number>
  daysOfMonth: Set<number>
  months: Set<number>
  daysOfWeek: Set<number>
  /** Both day fields restricted (neither starts with `*`): a day matches when either matches (Vixie cron). */
  dayOr: boolean
}

export const DEFAULT_SCHEDULE = '1d'

const UNITS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86_400, w: 604_800}
const MACROS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
}
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']

export class ScheduleError extends Error {}

export function parseSchedule(input: string | number): Schedule {
  if (typeof input === 'number') {
    if (!Number.isInteger(input) || input < 60) throw new ScheduleError(`${input} seconds is too short; the minimum interval is 60 seconds (1m)`)
    return {kind: 'interval', text: `${input}s`, seconds: input}
  }
  const text = input.trim()
  // "1M" reads as months to many people (it would be one minute): ask instead of guessing.
  const capitalM = /^(\d+)\s*M$/.exec(text)
  if (capitalM) {
    throw new ScheduleError(`"${text}": M is ambiguous (minutes or months?). Write ${capitalM[1]}m for minutes; for a monthly backup use cron, e.g. "0 3 1 * *"`)
  }
  const interval = /^(\d+)\s*([smhdw]?)$/i.exec(text)
  if (interval) {
    const seconds = Number(interval[1]) * UNITS[(interval[2] || 's').toLowerCase()]!
    if (seconds < 60) throw new ScheduleError(`"${text}" is too short; the minimum interval is 1m`)
    return {kind: 'interval', text, seconds}
  }
  const expression = MACROS[text.toLowerCase()] ?? text
  const parts = expression.split(/\s+/)
  if (parts.length !== 5) {
    throw new ScheduleError(`"${text}" is neither an interval (30m, 6h, 1d, 1w) nor a five-field cron expression (minute hour day month weekday)`)
  }
  const [minute, hour, dom, month, dow] = parts as [string, string, string, string, string]
  const fields: CronFields = {
    minutes: field(minute, 0, 59, 'minute'),
    hours: field(hour, 0, 23, 'hour'),
    daysOfMonth: field(dom, 1, 31, 'day of month'),
    months: field(month, 1, 12, 'month', MONTHS, 1),
    daysOfWeek: normaliseWeekdays(field(dow, 0, 7, 'day of week', DAYS, 0)),
    // Vixie cron: a day field that starts with `*` (`*`, `*/2`) counts as unrestricted, so `0 3 */2 * 1` runs on
    // odd days that are Mondays, not on odd days or Mondays.
    dayOr: !dom.startsWith('*') && !dow.startsWith('*'),
  }
  return {kind: 'cron', text, fields}
}

function normaliseWeekdays(days: Set<number>): Set<number> {
  if (days.has(7)) {
    days.delete(7)
    days.add(0)
  }
  return days
}

function field(text: string, min: number, max: number, name: string, names?: string[], nameBase = 0): Set<number> {
  const out = new Set<number>()
  const value = (token: string): number => {
    const index = names?.indexOf(token.toLowerCase()) ?? -1
    const n = index >= 0 ? index + nameBase : /^\d+$/.test(token) ? Number(token) : NaN
    if (!Number.isInteger(n) || n < min || n > max) throw new ScheduleError(`cron ${name} "${token}" is out of range ${min}-${max}`)
    return n
  }
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined]
    const step = stepText === undefined ? 1 : Number(stepText)
    if (!Number.isInteger(step) || step < 1) throw new ScheduleError(`cron ${name} step "${stepText}" must be a positive number`)
    let from: number
    let to: number
    if (range === '*') {
      from = min
      to = max
    } else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string]
      from = value(a)
      to = value(b)
      if (from > to) throw new ScheduleError(`cron ${name} range "${range}" goes backwards`)
    } else {
      from = value(range)
      to = stepText === undefined ? from : max
    }
    for (let n = from; n <= to; n += step) out.add(n)
  }
  return out
}

/** The first time strictly after `after` at which the schedule fires, for cron; `after + interval` for intervals. */
export function nextRun(schedule: Schedule, after: Date): Date {
  if (schedule.kind === 'interval') return new Date(after.getTime() + schedule.seconds * 1000)
  const f = schedule.fields
  const t = new Date(after.getTime())
  t.setUTCSeconds(0, 0)
  t.setUTCMinutes(t.getUTCMinutes() + 1)
  // At most ~4 years of minutes would be absurd; walk by the coarsest failing field instead.
  for (let guard = 0; guard < 200_000; guard++) {
    if (!f.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1)
      t.setUTCHours(0, 0, 0, 0)
      continue
    }
    const domMatch = f.daysOfMonth.has(t.getUTCDate())
    const dowMatch = f.daysOfWeek.has(t.getUTCDay())
    const dayMatch = f.dayOr ? domMatch || dowMatch : domMatch && dowMatch
    if (!dayMatch) {
      t.setUTCDate(t.getUTCDate() + 1)
      t.setUTCHours(0, 0, 0, 0)
      continue
    }
    if (!f.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0)
      continue
    }
    if (!f.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0)
      continue
    }
    return t
  }
  throw new ScheduleError(`cron expression "${schedule.text}" never fires`)
}

/** The nominal gap between runs, for "is the latest backup too old?" (evidence and `backup` due checks). */
/** A duration such as 90m, 36h, 2d or 1w, in seconds (a unit is required: `--max-age 36` would be ambiguous). */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*([smhdw])$/i.exec(text.trim())
  const seconds = match ? Number(match[1]) * UNITS[match[2]!.toLowerCase()]! : 0
  if (!match || seconds <= 0) throw new ScheduleError(`"${text}" is not a duration: write a number and a unit, e.g. 90m, 36h, 2d or 1w`)
  return seconds
}

export function nominalIntervalSeconds(schedule: Schedule, now: Date = new Date()): number {
  if (schedule.kind === 'interval') return schedule.seconds
  const first = nextRun(schedule, now)
  const second = nextRun(schedule, first)
  return Math.round((second.getTime() - first.getTime()) / 1000)
}

export function describeSchedule(schedule: Schedule): string {
  if (schedule.kind === 'cron') return `cron "${schedule.text}" (UTC)`
  const s = schedule.seconds
  for (const [unit, size] of [['week', 604_800], ['day', 86_400], ['hour', 3600], ['minute', 60]] as const) {
    if (s % size === 0) return `every ${s / size === 1 ? unit : `${s / size} ${unit}s`}`
  }
  return `every ${s} seconds`
}
