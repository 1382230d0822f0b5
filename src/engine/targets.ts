// Where a restore writes: production (the configured databases and paths), scratch targets for a production
// drill, or the workstation's development database and explicitly configured local directories. Every guard that
// keeps a restore from landing somewhere it must not is here, and runs before anything is downloaded.
import {existsSync, readFileSync} from 'node:fs'
import {isAbsolute, posix, resolve} from 'node:path'
import {ConfigError, UsageError} from '../errors.js'
import type {LocalConfig} from '../config/backup-config.js'
import type {DatabaseConfig} from '../config/types.js'
import {resolveDatabase, type ResolvedDatabase} from '../db/connection.js'
import {renderErb} from '../kamal/erb.js'
import {parseYaml} from '../kamal/yaml.js'
import {Secret} from '../redact.js'
import type {Engine} from './context.js'
import type {DatabaseTarget, FileTarget} from './restore.js'

/** "production" anywhere, or "prod"/"live" as a word: the names we refuse as local or scratch targets. */
export function looksLikeProduction(identifier: string): boolean {
  const lower = identifier.toLowerCase()
  return lower.includes('production') || /(^|[^a-z0-9])(prod|live)($|[^a-z0-9])/.test(lower)
}

/** SQLite databases under restored paths must survive the directory replacement (with -wal/-shm/-journal). */
export function preservedFiles(databases: readonly ResolvedDatabase[]): string[] {
  return databases.filter((d) => d.adapter === 'sqlite' && d.path).flatMap((d) => [d.path!, `${d.path}-wal`, `${d.path}-shm`, `${d.path}-journal`])
}

export function productionTargets(engine: Engine): {databases: DatabaseTarget[]; files: FileTarget[]; preserve: string[]} {
  const databases = engine.config.databases.map((db) => ({name: db.name, target: resolveDatabase(db, engine.secrets, engine.redactor), scratch: false}))
  return {databases, files: engine.config.paths.map((p) => ({from: p.path, to: p.path})), preserve: preservedFiles(databases.map((d) => d.target))}
}

export interface ScratchOptions {
  database?: string
  sqlitePath?: string
  files?: string
}

/** Drill targets on production infrastructure: never a configured database, never production-looking. */
export function scratchTargets(engine: Engine, options: ScratchOptions): {databases: DatabaseTarget[]; files: FileTarget[]} {
  const {config} = engine
  const sources = config.databases.map((db) => ({config: db, resolved: resolveDatabase(db, engine.secrets, engine.redactor)}))
  const servers = sources.filter((s) => s.config.adapter !== 'sqlite')
  const sqlites = sources.filter((s) => s.config.adapter === 'sqlite')
  if (servers.length > 0 && !options.database) throw new UsageError('a production drill needs a scratch database: --database <name>', {suggestions: ['e.g. --database drill (created if missing; with several databases it is a prefix: drill_<name>)']})
  if (sqlites.length > 0 && !options.sqlitePath) throw new UsageError('a production drill needs a scratch SQLite path: --sqlite-path <path>', {suggestions: ['e.g. --sqlite-path /var/lib/kamal-backup/drill (a file for one database, a directory for several)']})
  const sourceNames = new Set(servers.map((s) => s.resolved.database))
  const databases: DatabaseTarget[] = []
  for (const s of servers) {
    const name = servers.length === 1 ? options.database! : `${options.database}_${s.config.name}`
    if (!/^[A-Za-z0-9_]{1,63}$/.test(name)) throw new UsageError(`scratch database name "${name}" must be letters, digits and "_" (at most 63)`)
    if (sourceNames.has(name)) throw new UsageError(`scratch database "${name}" is a configured source database: a drill never restores into a live database`)
    if (looksLikeProduction(name)) throw new UsageError(`scratch database "${name}" looks like a production database (it contains "production", "prod" or "live")`, {suggestions: ['use a name like drill or restore_check']})
    databases.push({name: s.config.name, target: {...s.resolved, database: name}, scratch: true})
  }
  for (const s of sqlites) {
    const base = resolve(options.sqlitePath!)
    const path = sqlites.length === 1 ? base : posix.join(base, `${s.config.name}.sqlite3`)
    if (sqlites.some((x) => resolve(x.resolved.path!) === path)) throw new UsageError(`scratch SQLite path ${path} is a configured source database`)
    if (looksLikeProduction(path)) throw new UsageError(`scratch SQLite path ${path} looks like production (it contains "production", "prod" or "live")`, {suggestions: ['e.g. --sqlite-path /var/lib/kamal-backup/drill/db.sqlite3']})
    databases.push({name: s.config.name, target: {...s.resolved, path}, scratch: true})
  }
  const files: FileTarget[] = []
  if (config.paths.length > 0 && options.files) {
    const dir = resolve(options.files)
    assertScratchDirectoryIsSafe(dir)
    for (const p of config.paths) {
      if (dir === '/' || dir === p.path || dir.startsWith(p.path + '/') || p.path.startsWith(dir + '/')) {
        throw new UsageError(`scratch files directory ${dir} overlaps the backed-up path ${p.path}: a drill never touches live files`)
      }
    }
    for (const p of config.paths) files.push({from: p.path, to: config.paths.length === 1 ? dir : posix.join(dir, p.label)})
  }
  return {databases, files}
}

// ---- the workstation ------------------------------------------------------------------------------------------

/** RAILS_ENV/RACK_ENV/APP_ENV set to production on a workstation means "you are not where you think you are". */
export function assertNotProductionEnvironment(env: NodeJS.ProcessEnv): void {
  for (const name of ['RAILS_ENV', 'RACK_ENV', 'APP_ENV']) {
    const value = env[name]
    if (value && looksLikeProduction(value)) {
      throw new UsageError(`${name}=${value}: refusing a local restore in a production environment`, {suggestions: ['unset it (local restores target development), or use `restore production` for production']})
    }
  }
}

/** Local targets: config/kamal-backup.local.yml, else the development database of config/database.yml (one
 *  database only). Files only where explicitly configured. */
export function localTargets(engine: Engine, local: LocalConfig | undefined, cwd: string): {databases: DatabaseTarget[]; files: FileTarget[]; preserve: string[]; unmappedPaths: string[]} {
  const {config} = engine
  const databases: DatabaseTarget[] = []
  for (const db of config.databases) {
    const entry = local?.databases.find((d) => d.name === db.name)
    let target: ResolvedDatabase | undefined
    if (entry) target = localEntryTarget(engine, db, entry)
    else if (config.databases.length === 1) target = developmentDatabase(engine, db, cwd)
    if (!target) {
      throw new ConfigError(`no local target for database "${db.name}"`, {
        code: 'no-local-target',
        suggestions: [`add it to config/kamal-backup.local.yml: databases: [{name: ${db.name}, ${db.adapter === 'sqlite' ? 'path: storage/development.sqlite3' : 'url: ...'}}]`],
      })
    }
    const identifier = target.adapter === 'sqlite' ? target.path! : `${target.host ?? 'localhost'}/${target.database}`
    if (looksLikeProduction(identifier)) {
      throw new UsageError(`local target ${identifier} for database "${db.name}" looks like production`, {suggestions: ['point it at a development database; to restore production, use `kamal-backup restore production`']})
    }
    databases.push({name: db.name, target, scratch: false})
  }
  const files: FileTarget[] = []
  const unmappedPaths: string[] = []
  for (const p of config.paths) {
    const mapping = local?.paths.find((m) => m.from === p.path)
    if (!mapping) {
      unmappedPaths.push(p.path)
      continue
    }
    if (looksLikeProduction(mapping.to)) throw new UsageError(`local files target ${mapping.to} looks like production`)
    files.push({from: p.path, to: mapping.to})
  }
  return {databases, files, preserve: preservedFiles(databases.map((d) => d.target)), unmappedPaths}
}

function localEntryTarget(engine: Engine, db: DatabaseConfig, entry: LocalConfig['databases'][number]): ResolvedDatabase {
  if (db.adapter === 'sqlite') {
    if (!entry.path) throw new ConfigError(`config/kamal-backup.local.yml: database "${db.name}" is SQLite and needs "path"`, {code: 'no-local-target'})
    return {name: db.name, adapter: 'sqlite', params: {}, path: entry.path}
  }
  if (!entry.url) throw new ConfigError(`config/kamal-backup.local.yml: database "${db.name}" needs "url"`, {code: 'no-local-target'})
  return resolveDatabase({name: db.name, adapter: db.adapter, url: entry.url, ...(entry.password && {password: entry.password})}, engine.secrets, engine.redactor)
}

/** The development entry of config/database.yml (or its primary), as Rails would connect. */
function developmentDatabase(engine: Engine, db: DatabaseConfig, cwd: string): ResolvedDatabase | undefined {
  const file = resolve(cwd, 'config/database.yml')
  if (!existsSync(file)) return undefined
  const rendered = renderErb(readFileSync(file, 'utf8'), {file: 'config/database.yml', env: {...engine.env, RAILS_ENV: 'development'}})
  const all = parseYaml(rendered.output, 'config/database.yml', {sourceLine: rendered.sourceLine}).value as Record<string, Record<string, unknown>> | null
  let dev = all?.development as Record<string, unknown> | undefined
  if (dev && !('adapter' in dev) && !('url' in dev) && !('database' in dev)) dev = (dev.primary as Record<string, unknown> | undefined) ?? undefined
  if (!dev) return undefined
  const adapter = String(dev.adapter ?? '')
  const kind = /sqlite/.test(adapter) ? 'sqlite' : /postg/.test(adapter) ? 'postgres' : /mysql|trilogy|maria/.test(adapter) ? 'mysql' : undefined
  if (typeof dev.url === 'string' && kind !== 'sqlite') {
    return resolveDatabase({name: db.name, adapter: db.adapter, url: {kind: 'value', value: dev.url}}, engine.secrets, engine.redactor)
  }
  if (kind !== db.adapter) {
    throw new ConfigError(`config/database.yml development uses ${adapter || 'no adapter'}, but production database "${db.name}" is ${db.adapter}`, {
      code: 'no-local-target',
      suggestions: [`set a ${db.adapter} target in config/kamal-backup.local.yml`],
    })
  }
  if (kind === 'sqlite') {
    const path = String(dev.database ?? '')
    return {name: db.name, adapter: 'sqlite', params: {}, path: isAbsolute(path) ? path : resolve(cwd, path)}
  }
  const password = dev.password === undefined || dev.password === null ? undefined : String(dev.password)
  if (password) engine.redactor.add(password)
  return {
    name: db.name,
    adapter: kind,
    ...(dev.host !== undefined && dev.host !== null && {host: String(dev.host)}),
    ...(dev.port !== undefined && dev.port !== null && {port: Number(dev.port)}),
    ...(dev.username !== undefined && dev.username !== null && {user: String(dev.username)}),
    database: String(dev.database ?? ''),
    params: {},
    ...(password && {password: new Secret(password)}),
  }
}

export function assertScratchDirectoryIsSafe(path: string): void {
  if (path === '/' || path.split('/').filter(Boolean).length < 2) throw new UsageError(`${path} is too close to the root to be emptied as a scratch directory`)
}

