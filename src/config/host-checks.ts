// Host mode (no config/deploy.yml: kamal-backup runs on this host, from a systemd timer, a Quadlet container or a
// vzdump hook): what validate can check on the host itself. Directories and SQLite files that do not exist, volumes
// the container runtime does not have (when it answers), and an installed systemd timer whose calendar disagrees
// with backup.schedule (systemd's own parser decides when the timer fires, where systemd-analyze is installed).
import {existsSync, readFileSync, statSync} from 'node:fs'
import {findExecutable, runSync} from '../exec/local.js'
import {finding, type Finding} from '../parse/findings.js'
import type {PositionMap, YamlPath} from '../parse/yaml.js'
import {onCalendar} from './calendar.js'
import {RUNTIME_ENV, RUNTIMES, saysVolumeMissing, volumeInspectArgv} from './runtime-volumes.js'
import {nextRun, type Schedule} from './schedule.js'
import type {BackupConfig} from './types.js'

export const SYSTEMD_UNIT_DIR = '/etc/systemd/system'

/** The app's name as unit, container and Kubernetes object names take it: lowercase letters, digits, hyphens.
 *  `generate` names its files with it, and validate finds the installed timer by it: one function for both. */
export function appSlug(app: string): string {
  return app.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'app'
}

/** Where `generate systemd` tells the operator to install the app's timer. */
export function installedTimer(app: string): string {
  return `${SYSTEMD_UNIT_DIR}/kamal-backup-${appSlug(app)}.timer`
}

export interface HostCheckInput {
  /** How the timer file is named in findings (relative to the working directory). */
  timerShown?: string
  config: BackupConfig
  positions: PositionMap
  /** The raw `paths:` entries, to place a finding on `path:` or on the string entry. */
  rawPaths: readonly unknown[]
  env: Readonly<Record<string, string | undefined>>
  /** A timer file to compare with backup.schedule (default: the installed one, when it exists). */
  timer?: string
}

export function hostChecks(input: HostCheckInput): Finding[] {
  const {config, positions} = input
  const findings: Finding[] = []
  const at = (path: YamlPath) => positions.nearest(path)
  const notHere = 'run `kamal-backup validate --no-host-checks` where this is not the host (CI does so by itself)'
  config.paths.forEach((p, index) => {
    if (p.volume) {
      findings.push(...volumeCheck(p.volume, ['paths', index, 'volume'], at(['paths', index, 'volume']), input.env))
      return
    }
    const where: YamlPath = typeof input.rawPaths[index] === 'string' ? ['paths', index] : ['paths', index, 'path']
    if (!isDirectory(p.path)) findings.push(finding('error', 'host/path-missing', at(where), where, `path ${p.path} is not a directory on this host: every backup would fail`, `create it or correct the path; ${notHere}`))
  })
  config.databases.forEach((db, index) => {
    if (db.path?.kind !== 'value') return
    const where: YamlPath = ['databases', index, 'path']
    if (!existsSync(db.path.value)) findings.push(finding('error', 'host/path-missing', at(where), where, `SQLite database ${db.path.value} does not exist on this host: every backup would fail`, `correct the path; ${notHere}`))
  })
  const timer = input.timer ?? (existsSync(installedTimer(config.app)) ? installedTimer(config.app) : undefined)
  if (timer) findings.push(...timerCheck(timer, config, positions, input.env, input.timer !== undefined ? input.timerShown : timer))
  return findings
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function volumeCheck(volume: {name: string; runtime?: 'docker' | 'podman'}, path: YamlPath, position: ReturnType<PositionMap['nearest']>, env: Readonly<Record<string, string | undefined>>): Finding[] {
  const runtime = volume.runtime ?? RUNTIMES.find((r) => findExecutable(r, env.PATH ?? ''))
  if (!runtime || !findExecutable(runtime, env.PATH ?? '')) {
    return [finding('warning', 'host/runtime-unreachable', position, path, `volume ${volume.name} cannot be checked: ${runtime ?? 'neither docker nor podman'} is not installed here`, 'install the runtime the volume belongs to, or validate on the host that runs it')]
  }
  const spec = volumeInspectArgv(runtime, volume.name)
  const result = runSync(spec.argv, {env: Object.fromEntries(RUNTIME_ENV.filter((name) => env[name] !== undefined).map((name) => [name, env[name]]))})
  if (result.status === 0) return []
  const said = result.stderr.trim().split('\n').pop() ?? ''
  if (saysVolumeMissing(said)) {
    return [finding('error', 'host/volume-missing', position, path, `volume ${volume.name} does not exist in ${runtime} on this host: every backup would fail`, `list the volumes with \`${runtime} volume ls\` (Compose prefixes its project: myapp_storage)`)]
  }
  return [finding('warning', 'host/runtime-unreachable', position, path, `volume ${volume.name} cannot be checked: \`${runtime} volume inspect\` failed (${said || `exit ${result.status}`})`, `run \`${runtime} volume inspect ${volume.name}\` as the user the backup runs as`)]
}

/** The timer's OnCalendar= lines against backup.schedule: a cron must fire at the same times; an interval as often. */
export function timerCheck(file: string, config: BackupConfig, positions: PositionMap, env: Readonly<Record<string, string | undefined>>, shown = file): Finding[] {
  const schedulePosition = positions.nearest(['backup', 'schedule'])
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    return [finding('error', 'host/timer-schedule', {file: shown, line: 1, column: 1}, 'OnCalendar', `cannot read the timer ${shown} (${(error as NodeJS.ErrnoException).code})`, 'give the timer file kamal-backup generate systemd wrote')]
  }
  const lines = text.split('\n')
  const specs = lines.flatMap((l, i) => (/^OnCalendar=(.+)$/.exec(l.trim()) ? [{spec: l.trim().slice('OnCalendar='.length).trim(), line: i + 1}] : []))
  const expected = onCalendar(config.schedule, config.app)
  const position = {file: shown, line: specs[0]?.line ?? 1, column: 1}
  const fix = `regenerate it with \`kamal-backup generate systemd --out DIR\` (it writes ${expected.map((e) => `OnCalendar=${e}`).join(' and ')}), or change backup.schedule (${schedulePosition.file}:${schedulePosition.line})`
  if (specs.length === 0) return [finding('error', 'host/timer-schedule', position, 'OnCalendar', `the timer ${shown} has no OnCalendar=: it does not keep backup.schedule "${config.schedule.text}"`, fix)]
  const agrees = fireTimes(specs.map((s) => s.spec), env)
  const verdict = agrees ? agreement(agrees, config.schedule) : sameSet(specs.map((s) => s.spec), expected)
  if (verdict) return []
  return [finding('error', 'host/timer-schedule', position, 'OnCalendar', `the timer ${shown} fires at ${specs.map((s) => s.spec).join(' and ')}, which is not backup.schedule "${config.schedule.text}" of ${config.file}`, fix)]
}

const FIRES = 12

/** The next FIRES times the OnCalendar= values fire, by systemd-analyze; undefined where it is not installed. */
function fireTimes(specs: string[], env: Readonly<Record<string, string | undefined>>): number[] | undefined {
  if (!findExecutable('systemd-analyze', env.PATH ?? '')) return undefined
  const times = new Set<number>()
  for (const spec of specs) {
    const result = runSync(['systemd-analyze', 'calendar', '--base-time=2026-01-01 00:00:30 UTC', `--iterations=${FIRES}`, spec], {env: {PATH: env.PATH, LANG: 'C', TZ: 'UTC'}})
    if (result.status !== 0) return [] // systemd cannot parse it: no time agrees
    for (const m of result.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)) times.add(Date.parse(`${m[1]!.replace(' ', 'T')}Z`))
  }
  return [...times].sort((a, b) => a - b).slice(0, FIRES)
}

function agreement(times: number[], schedule: Schedule): boolean {
  if (times.length < FIRES) return false
  if (schedule.kind === 'interval') return times.every((t, i) => i === 0 || t - times[i - 1]! === schedule.seconds * 1000)
  // The base is at :30 s, when no calendar of whole minutes fires: "after the base" means the same to both.
  let t = new Date(Date.parse('2026-01-01T00:00:30Z'))
  return times.every((time) => (t = nextRun(schedule, t)).getTime() === time)
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x))
