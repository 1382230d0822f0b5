// The normalised configuration the rest of the code sees: adapters canonical, defaults applied, secrets still
// *references* (resolved later, where they are available: the accessory's environment or the workstation's).
import type {DatabaseKind} from '../documents.js'
import type {Schedule} from './schedule.js'

export type Adapter = DatabaseKind

/** A value written in the file, or the name of the environment variable that holds it. */
export type ValueRef = {kind: 'value'; value: string} | {kind: 'secret'; name: string}

export type PasswordRef = {kind: 'secret'; name: string} | {kind: 'file'; path: string} | {kind: 'command'; command: string}

export interface DatabaseConfig {
  name: string
  adapter: Adapter
  /** postgres/mysql */
  url?: ValueRef
  password?: PasswordRef
  /** sqlite */
  path?: ValueRef
  /** Percent: a dump this much smaller than the previous complete run's is a warning (100: never). */
  maxShrink: number
}

export type ContainerRuntime = 'docker' | 'podman'

export interface PathConfig {
  /** The directory; for a volume entry, `volume:<name>` until the run resolves it (resolveVolumes) to the host
   *  directory the runtime keeps it in. */
  path: string
  /** Host mode: a named volume of the container runtime (runtime: unset = docker if installed, else podman). */
  volume?: {name: string; runtime?: ContainerRuntime}
  exclude: string[]
  /** For the `path:<label>` tag: the path without leading slashes, other characters made tag-safe. */
  label: string
  /** An empty directory is backed up instead of failing the run. */
  allowEmpty: boolean
  /** Percent: this many fewer files than in the previous complete run is a warning (100: never). */
  maxShrink: number
}

/** The default of paths[].max_shrink and databases[].max_shrink. */
export const DEFAULT_MAX_SHRINK = 50

export interface RetentionPolicy {
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  keepWithin?: string
}

/** What reaching a repository takes: the primary's keys under `restic:`, and each copy's. */
export interface RepositoryAccess {
  repository?: ValueRef
  repositoryFile?: string
  password: PasswordRef
  rest?: {username?: ValueRef; password?: ValueRef}
  env: Record<string, ValueRef>
  options: string[]
  initIfMissing: boolean
}

/** restic.copies[]: a further repository every successful run is copied to. */
export interface CopyConfig extends RepositoryAccess {
  name: string
  /** Its own; restic.retention when not given. */
  retention?: RetentionPolicy
}

export interface ResticConfig extends RepositoryAccess {
  checkAfterBackup: boolean
  checkReadDataSubset?: string
  forgetAfterBackup: boolean
  retention?: RetentionPolicy
  copies: CopyConfig[]
}

/** What a notification target can be told (notify[].events). */
/** What is wrong with a `--read-data-subset` value, by restic's own rules (0.14 to 0.18): a percentage above 0 and at
 *  most 100 (5%, 2.5%), a fraction n/t with 1 ≤ n ≤ t (1/7), or a positive size with a unit (500M; b, k, m, g, t in
 *  either case). Undefined when restic takes it; checked here so a backup never fails at its check step for it. */
export function readDataSubsetProblem(value: string): string | undefined {
  const percent = /^(\d+\.?\d*|\.\d+)%$/.exec(value)
  if (percent) {
    const x = Number(percent[1])
    return x > 0 && x <= 100 ? undefined : `${value} is not a percentage above 0% and at most 100%`
  }
  const fraction = /^(\d+)\/(\d+)$/.exec(value)
  if (fraction) {
    const [n, t] = [Number(fraction[1]), Number(fraction[2])]
    return n >= 1 && t >= 1 && n <= t ? undefined : `${value} is not a fraction n/t with 1 ≤ n ≤ t (restic checks the n-th of t parts)`
  }
  const size = /^(\d+)[bkmgt]$/i.exec(value)
  if (size) return Number(size[1]) > 0 ? undefined : `${value} is not a size above 0`
  return `"${value}" is not a percentage (5%), a fraction (1/7) or a size with a unit (500M)`
}

export const NOTIFY_EVENTS = ['started', 'ok', 'failed', 'warning', 'recovered', 'skipped', 'check_failed', 'drill_ok', 'drill_failed', 'restore_started', 'restore_finished', 'stale'] as const
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number]

/** notify[].events when it is not given: what someone must hear about (healthchecks needs start, success and failure
 *  to work as a dead man's switch). */
export const DEFAULT_NOTIFY_ON: readonly NotifyEvent[] = ['failed', 'warning', 'recovered']
export const DEFAULT_HEALTHCHECKS_ON: readonly NotifyEvent[] = ['started', 'ok', 'failed']

export type NotifyTarget =
  | {type: 'webhook'; url: ValueRef; signingSecret?: ValueRef; events: readonly NotifyEvent[]}
  | {type: 'healthchecks' | 'ntfy' | 'slack'; url: ValueRef; events: readonly NotifyEvent[]}
  | {type: 'command'; command: readonly string[]; events: readonly NotifyEvent[]}

export interface BackupConfig {
  /** The file it came from, as shown to the user (relative to the working directory when inside it). */
  file: string
  app: string
  accessory?: string
  databases: DatabaseConfig[]
  paths: PathConfig[]
  restic: ResticConfig
  schedule: Schedule
  enabled: boolean
  /** backup.pre_deploy_keep: the newest N restore points taken before deploys are kept (restic.retention never
   *  touches them). */
  preDeployKeep: number
  /** state.path when set in the file. */
  statePath?: string
  notify: NotifyTarget[]
  metrics: {textfile?: string | false; port?: number; address: string}
  /** drill.check_env: what a drill's check inherits beyond its fixed set. */
  drill: {checkEnv: string[]}
  /** evidence.signing_key: the ed25519 key that signs evidence. */
  evidence: {signingKey?: ValueRef}
}

export const DEFAULT_STATE_DIR = '/var/lib/kamal-backup'
/** Where the accessory image reads its config (WORKDIR /app + config/kamal-backup.yml). */
export const ACCESSORY_CONFIG_PATH = '/app/config/kamal-backup.yml'

/** What the config pipeline knows of each database kind: its entry next to the `adapter` enum of
 *  schemas/kamal-backup.schema.json. How it is given (a file `path`, or a server `url` with these schemes), the
 *  names that mean it (`adapter:` and Rails' config/database.yml), an example, the server's usual port. What is
 *  done with a database of the kind lives in its adapter, src/db/<kind>.ts. */
export interface DatabaseKindFacts {
  location: 'file' | 'server'
  /** `adapter:` values that mean this kind (the schema's enum lists them all). */
  aliases: readonly string[]
  /** Rails adapter names (config/database.yml) of this kind. */
  rails: RegExp
  /** URL schemes (`postgres:`), for a server. */
  schemes: readonly string[]
  /** A URL (server) or a path (file), for suggestions. */
  example: string
  defaultPort?: number
}

export const DATABASE_KINDS: Record<Adapter, DatabaseKindFacts> = {
  postgres: {location: 'server', aliases: ['postgres', 'postgresql', 'postgis'], rails: /postg/, schemes: ['postgres:', 'postgresql:'], example: 'postgres://app@myapp-db:5432/myapp_production', defaultPort: 5432},
  mysql: {location: 'server', aliases: ['mysql', 'mysql2', 'mariadb', 'trilogy'], rails: /mysql|trilogy|maria/, schemes: ['mysql:', 'mysql2:', 'mariadb:', 'trilogy:'], example: 'mysql://app@myapp-mysql:3306/myapp_production', defaultPort: 3306},
  sqlite: {location: 'file', aliases: ['sqlite', 'sqlite3'], rails: /sqlite/, schemes: [], example: '/rails/storage/production.sqlite3'},
}

/** The kind an `adapter:` value names (the schema admits only known names). */
export function canonicalAdapter(adapter: string): Adapter {
  const name = adapter.toLowerCase()
  return (Object.keys(DATABASE_KINDS) as Adapter[]).find((kind) => DATABASE_KINDS[kind].aliases.includes(name)) ?? 'mysql'
}

/** The kind a Rails adapter name (config/database.yml `adapter:`) means, if kamal-backup knows it. */
export function kindOfRailsAdapter(name: string): Adapter | undefined {
  return (Object.keys(DATABASE_KINDS) as Adapter[]).find((kind) => DATABASE_KINDS[kind].rails.test(name))
}

/** A volume entry's path before it is resolved, and its `path:` tag label: both from the volume's name, so they stay
 *  the same when the runtime's data root moves. */
export const volumeIdentity = (name: string): string => `volume:${name}`
export const volumeLabel = (name: string): string => `volume-${name}`
/** Where a container that runs kamal-backup mounts the volume `name` (generate writes these mounts; a Kamal
 *  accessory must mount it there too). */
export const mountedVolumePath = (name: string): string => `/volumes/${name}`

/** `/rails/storage` → `rails-storage`: safe inside a restic tag (no commas, no spaces). */
export function pathLabel(path: string): string {
  const label = path
    .replace(/^\/+|\/+$/g, '')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
  return label || 'root'
}
