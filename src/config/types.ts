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
}

export interface PathConfig {
  path: string
  exclude: string[]
  /** For the `path:<label>` tag: the path without leading slashes, other characters made tag-safe. */
  label: string
}

export interface RetentionPolicy {
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  keepWithin?: string
}

export interface ResticConfig {
  repository?: ValueRef
  repositoryFile?: string
  password: PasswordRef
  rest?: {username?: ValueRef; password?: ValueRef}
  env: Record<string, ValueRef>
  options: string[]
  initIfMissing: boolean
  checkAfterBackup: boolean
  checkReadDataSubset?: string
  forgetAfterBackup: boolean
  retention?: RetentionPolicy
}

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
  /** state.path when set in the file. */
  statePath?: string
}

export const DEFAULT_STATE_DIR = '/var/lib/kamal-backup'
/** Where the accessory image reads its config (WORKDIR /app + config/kamal-backup.yml). */
export const ACCESSORY_CONFIG_PATH = '/app/config/kamal-backup.yml'

export function canonicalAdapter(adapter: string): Adapter {
  switch (adapter.toLowerCase()) {
    case 'postgres':
    case 'postgresql':
    case 'postgis':
      return 'postgres'
    case 'sqlite':
    case 'sqlite3':
      return 'sqlite'
    default:
      return 'mysql'
  }
}

/** `/rails/storage` → `rails-storage`: safe inside a restic tag (no commas, no spaces). */
export function pathLabel(path: string): string {
  const label = path
    .replace(/^\/+|\/+$/g, '')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
  return label || 'root'
}
