// backup.schedule as the schedulers of other runtimes write it: a cron line (Kubernetes CronJob) and systemd
// OnCalendar= lines (timers). An interval ("6h", "1d") becomes the cron expression that fires as often, at a minute
// taken from the app's name, so many apps on one host do not all start at :00. Intervals that no calendar can keep
// (90m, 5h, 2d) are refused with the cron to write instead.
import {UsageError} from '../errors.js'
import {parseSchedule, type Schedule} from './schedule.js'

/** A stable minute (0-59) for an app: the same app always gets the same minute. */
export function appMinute(app: string): number {
  let hash = 0
  for (const char of app) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
  return hash % 60
}

/** The cron expression (UTC) that keeps `schedule`. */
export function scheduleAsCron(schedule: Schedule, app: string): string {
  if (schedule.kind === 'cron') return normaliseMacro(schedule.text)
  const minute = appMinute(app)
  const s = schedule.seconds
  if (s % 60 === 0 && s < 3600 && 60 % (s / 60) === 0) return `*/${s / 60} * * * *`
  if (s === 3600) return `${minute} * * * *`
  if (s % 3600 === 0 && s < 86_400 && 24 % (s / 3600) === 0) return `${minute} */${s / 3600} * * *`
  // Daily and weekly runs at night (03:mm UTC), the usual quiet hour.
  if (s === 86_400) return `${minute} 3 * * *`
  if (s === 604_800) return `${minute} 3 * * 0`
  throw new UsageError(`backup.schedule "${schedule.text}" is an interval a calendar cannot keep (a timer or CronJob fires at clock times)`, {
    suggestions: ['write backup.schedule as a cron expression, e.g. "0 */4 * * *" (every 4 hours) or "30 3 */2 * *" (every other day at 03:30 UTC)'],
  })
}

const MACROS: Record<string, string> = {'@hourly': '0 * * * *', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@weekly': '0 0 * * 0', '@monthly': '0 0 1 * *', '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *'}
const normaliseMacro = (text: string) => MACROS[text.trim().toLowerCase()] ?? text.trim().replace(/\s+/g, ' ')

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']

/** systemd OnCalendar= values (UTC) that fire exactly when the cron fields do. Cron's "either day field" rule (both
 *  day-of-month and day-of-week restricted) is two lines: a timer fires on any of its OnCalendar= values. */
export function onCalendar(schedule: Schedule, app: string): string[] {
  const fields = schedule.kind === 'cron' ? schedule.fields : (parseSchedule(scheduleAsCron(schedule, app)) as Extract<Schedule, {kind: 'cron'}>).fields
  const time = `${list(fields.hours, 0, 23)}:${list(fields.minutes, 0, 59)}:00`
  const months = list(fields.months, 1, 12)
  const line = (days: string, weekdays: string) => `${weekdays === '*' ? '' : `${weekdays} `}*-${months}-${days} ${time} UTC`
  const days = list(fields.daysOfMonth, 1, 31)
  const weekdays = fields.daysOfWeek.size === 7 ? '*' : [...fields.daysOfWeek].sort((a, b) => a - b).map((d) => WEEKDAYS[d]).join(',')
  if (fields.dayOr) return [line(days, '*'), line('*', weekdays)]
  return [line(days, weekdays)]
}

/** A cron field's values as systemd writes them: `*` for all, else a comma list (two digits, as systemd prints). */
function list(values: ReadonlySet<number>, min: number, max: number): string {
  if (values.size === max - min + 1) return '*'
  return [...values]
    .sort((a, b) => a - b)
    .map((n) => String(n).padStart(2, '0'))
    .join(',')
}

