// Where a restore writes: production (the configured databases and paths), scratch targets for a production
// drill, or the workstation's development database and explicitly configured local directories. Every guard that
// keeps a restore from landing somewhere it must not is here, and runs before anything is downloaded.
import {existsSync, lstatSync, openSync, readFileSync, readSync, closeSync, readdirSync, realpathSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {basename, dirname, isAbsolute, join, posix, relative, resolve} from 'node:path'
import {ConfigError, UsageError} from '../errors.js'
import type {LocalConfig} from '../config/backup-config.js'
import {SUSPICIOUS_PATHS} from '../config/backup-config.js'
import {kindOfRailsAdapter, type DatabaseConfig} from '../config/types.js'
import {resolveDatabase, type ResolvedDatabase} from '../db/connection.js'
import {databaseAdapter, type DatabaseTarget} from '../db/index.js'
import {renderErb} from '../kamal/erb.js'
import {parseYaml} from '../parse/yaml.js'
import {Secret} from '../redact.js'
import type {Engine} from './context.js'
import {resolveValue} from '../config/resolve.js'
import type {FileTarget, RestoreParts} from './restore.js'
import {STATE_FILES} from './state.js'
import {resolveVolumes} from './volumes.js'

/** "production" anywhere, or "prod"/"live" as a word — digits may follow (prod01, live2). The names we refuse as
 *  local or scratch targets. */
export function looksLikeProduction(identifier: string): boolean {
  const lower = identifier.toLowerCase()
  return lower.includes('production') || /(^|[^a-z0-9])(prod|live)\d*($|[^a-z0-9])/.test(lower)
}

/** The part of a path that is the target's own name: the path below the project when it is inside it, else its
 *  last component. Where a checkout lives (/srv/live-app/...) says nothing about the target. */
export function ownName(path: string, project?: string): string {
  if (project) {
    const below = relative(project, path)
    if (below && !below.startsWith('..') && !isAbsolute(below)) return below
  }
  return basename(path)
}

export interface Targets {
  databases: DatabaseTarget[]
  files: FileTarget[]
  preserve: string[]
}

/** Production's own places; a volume (host mode) is restored into the directory its runtime keeps it in now. */
export async function productionTargets(engine: Engine, parts: RestoreParts): Promise<Targets> {
  const all = engine.config.databases.map((db) => ({name: db.name, target: resolveDatabase(db, engine.secrets, engine.redactor), scratch: false}))
  // Every configured database that lives in files (SQLite) is preserved by a file restore, restored with it or not.
  const preserve = all.flatMap((d) => databaseAdapter(d.target.adapter).files(d.target))
  return {
    databases: all.filter((d) => parts.databases.includes(d.name)),
    files: parts.files ? await productionFiles(engine) : [],
    preserve,
  }
}

async function productionFiles(engine: Engine): Promise<FileTarget[]> {
  const resolved = await resolveVolumes(engine.config.paths, {exec: engine.exec, env: engine.env, inAccessory: engine.env.KAMAL_BACKUP_IN_ACCESSORY === '1', signal: engine.signal})
  return engine.config.paths.map((p, index) => ({from: p.path, to: resolved.paths[index]!.path}))
}

// ---- places a restore must never empty ---------------------------------------------------------------------

/** System trees: nothing in them, above them or equal to them is a restore target. */
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/sbin', '/sys', '/usr', '/run', '/snap', '/var/lib/postgresql', '/var/lib/mysql', '/var/lib/docker', '/System', '/Library', '/Applications']
/** Directories that hold everything else: never a target themselves (or above one), but fine to work inside. */
const SYSTEM_ROOTS = [...SUSPICIOUS_PATHS, '/home', '/tmp', '/var/tmp', '/opt', '/srv', '/mnt', '/media', '/var/lib', '/var/log', '/var/cache', '/var/backups', '/Users', '/Volumes', '/private', '/private/tmp', '/private/var']

type Relation = 'same' | 'inside' | 'contains'

/** How `path` relates to `other`. */
export function relation(path: string, other: string): Relation | undefined {
  if (path === other) return 'same'
  if (path.startsWith(other === '/' ? '/' : other + '/')) return 'inside'
  if (other.startsWith(path === '/' ? '/' : path + '/')) return 'contains'
  return undefined
}

/** The path with symlinks resolved as far as it exists (a symlink must not smuggle a live directory in). */
export function realPath(path: string): string {
  let current = resolve(path)
  const rest: string[] = []
  for (;;) {
    try {
      return join(realpathSync(current), ...rest.reverse())
    } catch {
      const parent = dirname(current)
      if (parent === current) return resolve(path)
      rest.push(basename(current))
      current = parent
    }
  }
}

export interface Guard {
  path: string
  /** "the backed-up path /data", "HOME" */
  what: string
  refuse: Relation[]
  /** Paths inside the guard that are fine anyway (a project's tmp/). */
  except?: string[]
}

const OVERLAP: Relation[] = ['same', 'inside', 'contains']
const ABOVE: Relation[] = ['same', 'contains']

export interface ProtectedPlaces {
  backedUp: string[]
  /** The files of the databases that live in files (SQLite: the file, -wal, -shm, -journal). */
  databaseFiles: string[]
  stateDir: string
  repositories: string[]
  cacheDir: string
  home: string | undefined
  cwd: string
  /** The app checkout around cwd (a directory with .git or config/deploy.yml), if any. */
  project: string | undefined
}

/** Every place the configuration, the environment and the filesystem say must survive a restore. */
export function protectedPlaces(engine: Pick<Engine, 'config' | 'env' | 'state' | 'secrets' | 'redactor'>, cwd: string): ProtectedPlaces {
  const repositories: string[] = []
  const r = engine.config.restic
  const addRepository = (value: string | undefined) => {
    const text = value?.trim()
    if (!text) return
    if (text.startsWith('local:')) repositories.push(resolve(cwd, text.slice(6)))
    else if (!/^[a-z0-9]+:/i.test(text)) repositories.push(resolve(cwd, text))
  }
  if (r.repository) {
    try {
      addRepository(resolveValue(r.repository, 'restic.repository', engine.secrets, engine.redactor, 'credentials'))
    } catch {}
  }
  if (r.repositoryFile) {
    try {
      addRepository(readFileSync(r.repositoryFile, 'utf8').split('\n')[0])
    } catch {}
  }
  const databaseFiles: string[] = []
  for (const db of engine.config.databases) {
    if (!db.path) continue
    try {
      const path = resolve(cwd, resolveValue(db.path, `databases.${db.name}.path`, engine.secrets, engine.redactor))
      databaseFiles.push(...databaseAdapter(db.adapter).files({name: db.name, adapter: db.adapter, params: {}, path}))
    } catch {}
  }
  return {
    backedUp: engine.config.paths.map((p) => p.path),
    databaseFiles,
    stateDir: resolve(engine.state.path),
    repositories,
    cacheDir: resolve(cwd, engine.env.RESTIC_CACHE_DIR ?? engine.state.file('cache')),
    home: engine.env.HOME || safeHomedir(),
    cwd: resolve(cwd),
    project: findProject(cwd),
  }
}

function safeHomedir(): string | undefined {
  try {
    return homedir()
  } catch {
    return undefined
  }
}

/** A directory that is an app checkout or a repository: never a restore target itself. */
function isCheckout(dir: string): boolean {
  return existsSync(join(dir, '.git')) || existsSync(join(dir, 'config', 'deploy.yml'))
}

function findProject(cwd: string): string | undefined {
  let dir = resolve(cwd)
  for (;;) {
    if (isCheckout(dir)) return dir
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

function systemGuards(): Guard[] {
  return [...SYSTEM_TREES.map((p) => ({path: p, what: `the system directory ${p}`, refuse: OVERLAP})), ...SYSTEM_ROOTS.map((p) => ({path: p, what: `the system directory ${p}`, refuse: ABOVE}))]
}

/** The guards for a directory a drill empties, or a directory a local restore replaces the contents of. */
function directoryGuards(places: ProtectedPlaces, kind: 'scratch' | 'local'): Guard[] {
  // The most telling reason first: the checkout, HOME, then the data this app keeps.
  const guards: Guard[] = [...systemGuards(), {path: places.cwd, what: `the current directory ${places.cwd}`, refuse: ABOVE}]
  if (places.project) {
    guards.push(
      kind === 'scratch'
        ? {path: places.project, what: `the app checkout ${places.project}`, refuse: OVERLAP, except: [join(places.project, 'tmp')]}
        : {path: places.project, what: `the app checkout ${places.project}`, refuse: ABOVE},
    )
  }
  if (places.home) guards.push({path: resolve(places.home), what: `HOME (${places.home})`, refuse: ABOVE})
  guards.push(
    ...places.backedUp.map((p) => ({path: p, what: `the backed-up path ${p}`, refuse: kind === 'scratch' ? OVERLAP : ABOVE})),
    ...[...new Set(places.databaseFiles.map((p) => dirname(p)))].map((dir) => ({path: dir, what: `the directory of the database file ${places.databaseFiles.find((p) => dirname(p) === dir)}`, refuse: kind === 'scratch' ? OVERLAP : ABOVE})),
    {path: places.stateDir, what: `the state directory ${places.stateDir}`, refuse: kind === 'scratch' ? ABOVE : OVERLAP},
    {path: join(places.stateDir, 'tmp'), what: `the state directory's tmp ${join(places.stateDir, 'tmp')}`, refuse: OVERLAP},
    ...places.repositories.map((p) => ({path: p, what: `the restic repository ${p}`, refuse: OVERLAP})),
    {path: places.cacheDir, what: `restic's cache ${places.cacheDir}`, refuse: OVERLAP},
  )
  return guards
}

/** The first guard `path` violates, if any. Both sides are compared with symlinks resolved. */
export function violatedGuard(path: string, guards: readonly Guard[]): {guard: Guard; relation: Relation} | undefined {
  const candidates = [...new Set([resolve(path), realPath(path)])]
  for (const guard of guards) {
    const others = [...new Set([resolve(guard.path), realPath(guard.path)])]
    for (const p of candidates) {
      for (const other of others) {
        const rel = relation(p, other)
        if (!rel || !guard.refuse.includes(rel)) continue
        if (rel === 'inside' && guard.except?.some((e) => relation(p, e) === 'same' || relation(p, e) === 'inside')) continue
        return {guard, relation: rel}
      }
    }
  }
  return undefined
}

function describeViolation(path: string, v: {guard: Guard; relation: Relation}): string {
  return v.relation === 'same' ? `${path} is ${v.guard.what}` : v.relation === 'inside' ? `${path} is inside ${v.guard.what}` : `${path} contains ${v.guard.what}`
}

/** The file a drill writes into its scratch directory: only a directory carrying it may be emptied. */
export const DRILL_MARKER = '.kamal-backup-drill'

/** A drill's scratch directory: never a live place, never near the root, and either new, empty, or one an earlier
 *  drill created (it carries DRILL_MARKER) — so a drill can never empty a directory it did not create. */
export function assertScratchDirectory(dir: string, places: ProtectedPlaces): void {
  if (dir === '/' || dir.split('/').filter(Boolean).length < 2) throw new UsageError(`--files ${dir} is too close to the root to be emptied as a scratch directory`, {suggestions: ['e.g. --files /var/lib/kamal-backup/drill-files']})
  const violation = violatedGuard(dir, directoryGuards(places, 'scratch'))
  if (violation) {
    throw new UsageError(`scratch files directory ${describeViolation(dir, violation)}: a drill empties its scratch directory and never touches live data`, {
      suggestions: ['pass a new directory of its own, e.g. --files /var/lib/kamal-backup/drill-files'],
    })
  }
  let entries: string[]
  try {
    if (!lstatSync(dir).isDirectory()) throw new UsageError(`scratch files directory ${dir} exists and is not a directory`)
    entries = readdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  if (entries.length > 0 && !entries.includes(DRILL_MARKER)) {
    throw new UsageError(`scratch files directory ${dir} is not empty and was not created by a drill (it has no ${DRILL_MARKER}): a drill empties its scratch directory, so it only uses a new or empty one`, {
      suggestions: ['pass a new or empty directory (the drill creates it and marks it as its own)', `if ${dir} really is disposable, empty it yourself first`],
    })
  }
}

/** A scratch SQLite file: not a configured database, not in a live or system place, not some other file. */
export function assertScratchSqliteFile(path: string, places: ProtectedPlaces): void {
  const live = places.databaseFiles
  if (live.some((p) => p === path || realPath(p) === realPath(path))) throw new UsageError(`scratch SQLite path ${path} is a configured source database: a drill never restores into a live database`)
  const guards: Guard[] = [
    ...SYSTEM_TREES.map((p) => ({path: p, what: `the system directory ${p}`, refuse: OVERLAP})),
    ...places.backedUp.map((p) => ({path: p, what: `the backed-up path ${p}`, refuse: OVERLAP})),
    ...places.repositories.map((p) => ({path: p, what: `the restic repository ${p}`, refuse: OVERLAP})),
    {path: places.cacheDir, what: `restic's cache ${places.cacheDir}`, refuse: OVERLAP},
    {path: join(places.stateDir, 'tmp'), what: `the state directory's tmp`, refuse: OVERLAP},
    ...Object.values(STATE_FILES).map((f) => ({path: join(places.stateDir, f), what: `the state file ${f}`, refuse: OVERLAP})),
    ...(places.project ? [{path: places.project, what: `the app checkout ${places.project}`, refuse: OVERLAP, except: [join(places.project, 'tmp')]}] : []),
  ]
  const violation = violatedGuard(path, guards)
  if (violation) throw new UsageError(`scratch SQLite path ${describeViolation(path, violation)}: a drill never writes into live data`, {suggestions: ['e.g. --sqlite-path /var/lib/kamal-backup/drill/db.sqlite3']})
  let stat
  try {
    stat = statSync(path)
  } catch {
    return
  }
  if (!stat.isFile()) throw new UsageError(`scratch SQLite path ${path} exists and is not a file${stat.isDirectory() ? ' (with one SQLite database, --sqlite-path names the file)' : ''}`)
  if (stat.size > 0 && !isSqliteFile(path)) throw new UsageError(`scratch SQLite path ${path} exists and is not a SQLite database: a drill does not overwrite other files`, {suggestions: ['pass a new path, or one an earlier drill wrote']})
}

function isSqliteFile(path: string): boolean {
  const header = Buffer.alloc(16)
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    readSync(fd, header, 0, 16, 0)
    return header.toString('latin1') === 'SQLite format 3\0'
  } catch {
    return false
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** A local files target (`paths[].to`): its contents are replaced, so never a checkout, HOME, the state directory, a
 *  system directory or anything above them. */
export function assertLocalFilesTarget(to: string, places: ProtectedPlaces, file: string): void {
  const fail = (why: string) =>
    new UsageError(`${file}: files target ${to} ${why}: restoring replaces the directory's contents`, {
      suggestions: ['point paths[].to at the directory that holds the files, e.g. `to: storage` (relative to the app)'],
    })
  if (to === '/') throw fail('is the root directory')
  const violation = violatedGuard(to, directoryGuards(places, 'local'))
  if (violation) throw fail(describeViolation(to, violation).slice(to.length + 1))
  if (isCheckout(to)) throw fail('is an app checkout or repository (it has .git or config/deploy.yml)')
}

export interface ScratchOptions {
  database?: string
  sqlitePath?: string
  files?: string
}

/** Drill targets on production infrastructure: never a configured database or path, never production-looking. */
export function scratchTargets(engine: Engine, options: ScratchOptions, parts: RestoreParts, cwd: string): {databases: DatabaseTarget[]; files: FileTarget[]} {
  const {config} = engine
  const places = protectedPlaces(engine, cwd)
  const all = config.databases.map((db) => ({config: db, resolved: resolveDatabase(db, engine.secrets, engine.redactor), location: databaseAdapter(db.adapter).location}))
  const sources = all.filter((s) => parts.databases.includes(s.config.name))
  // A database on a server gets a scratch database on that server (--database); one in a file, a scratch file
  // (--sqlite-path).
  const allServers = all.filter((s) => s.location === 'server')
  const servers = sources.filter((s) => s.location === 'server')
  const fileDatabases = sources.filter((s) => s.location === 'file')
  if (servers.length > 0 && !options.database) throw new UsageError('a production drill needs a scratch database: --database <name>', {suggestions: ['e.g. --database drill (created if missing; with several databases it is a prefix: drill_<name>)']})
  if (fileDatabases.length > 0 && !options.sqlitePath) throw new UsageError('a production drill needs a scratch SQLite path: --sqlite-path <path>', {suggestions: ['e.g. --sqlite-path /var/lib/kamal-backup/drill (a file for one database, a directory for several)']})
  const sourceNames = new Set(allServers.map((s) => s.resolved.database))
  const databases: DatabaseTarget[] = []
  for (const s of servers) {
    // The naming is fixed by the configuration, not the selection: drill_<name> stays drill_<name>.
    const name = allServers.length === 1 ? options.database! : `${options.database}_${s.config.name}`
    if (!/^[A-Za-z0-9_]{1,63}$/.test(name)) throw new UsageError(`scratch database name "${name}" must be letters, digits and "_" (at most 63)`)
    if (sourceNames.has(name)) throw new UsageError(`scratch database "${name}" is a configured source database: a drill never restores into a live database`)
    if (looksLikeProduction(name)) throw new UsageError(`scratch database "${name}" looks like a production database (it contains "production", "prod" or "live")`, {suggestions: ['use a name like drill or restore_check']})
    databases.push({name: s.config.name, target: {...s.resolved, database: name}, scratch: true})
  }
  const allFileDatabases = all.filter((s) => s.location === 'file')
  for (const s of fileDatabases) {
    const base = resolve(cwd, options.sqlitePath!)
    const path = allFileDatabases.length === 1 ? base : posix.join(base, `${s.config.name}.sqlite3`)
    assertScratchSqliteFile(path, places)
    if (looksLikeProduction(ownName(path, places.project))) throw new UsageError(`scratch SQLite path ${path} looks like production (it contains "production", "prod" or "live")`, {suggestions: ['e.g. --sqlite-path /var/lib/kamal-backup/drill/db.sqlite3']})
    databases.push({name: s.config.name, target: {...s.resolved, path}, scratch: true})
  }
  const files: FileTarget[] = []
  if (options.files !== undefined && config.paths.length === 0) throw new UsageError(`--files ${options.files}: ${config.file} backs up no paths, so there are no files to drill`, {suggestions: ['leave out --files']})
  if (parts.files && config.paths.length > 0) {
    if (options.files === undefined) {
      throw new UsageError('this app backs up files: a production drill restores them into a scratch directory (--files <dir>) or skips them (--no-files)', {
        suggestions: ['e.g. --files /var/lib/kamal-backup/drill-files (a new or empty directory; it is emptied before each drill)', 'or --no-files, which is recorded in the drill record as skipped'],
      })
    }
    const dir = realPath(resolve(cwd, options.files))
    assertScratchDirectory(dir, places)
    const marker = join(dir, DRILL_MARKER)
    for (const p of config.paths) files.push({from: p.path, to: config.paths.length === 1 ? dir : posix.join(dir, p.label), marker})
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

/** Local targets for the selected parts: config/kamal-backup.local.yml, else the development database of
 *  config/database.yml (one database only). Files only where explicitly configured. */
export function localTargets(engine: Engine, local: LocalConfig | undefined, cwd: string, parts: RestoreParts, options: {filesRequested?: boolean} = {}): Targets & {unmappedPaths: string[]} {
  const {config} = engine
  const places = protectedPlaces(engine, cwd)
  const project = resolve(cwd)
  const databases: DatabaseTarget[] = []
  for (const db of config.databases.filter((d) => parts.databases.includes(d.name))) {
    const target = localDatabaseTarget(engine, local, db, cwd)
    if (!target) {
      throw new ConfigError(`no local target for database "${db.name}"`, {
        code: 'config/no-local-target',
        suggestions: [`add it to config/kamal-backup.local.yml: databases: [{name: ${db.name}, ${databaseAdapter(db.adapter).localExample}}]`, `or restore only the others: --database <name>`],
      })
    }
    // Judge the target's own name: its path below the project (a file database), or its database (and host).
    const judged = target.path !== undefined ? [ownName(resolve(cwd, target.path), project)] : [target.database ?? '', target.host ?? '']
    if (judged.some(looksLikeProduction)) {
      const identifier = target.path ?? `${target.host ?? 'localhost'}/${target.database}`
      throw new UsageError(`local target ${identifier} for database "${db.name}" looks like production`, {suggestions: ['point it at a development database; to restore production, use `kamal-backup restore production`']})
    }
    databases.push({name: db.name, target, scratch: false})
  }
  const files: FileTarget[] = []
  const unmappedPaths: string[] = []
  const file = local?.file ?? 'config/kamal-backup.local.yml'
  if (parts.files) {
    for (const p of config.paths) {
      const mapping = local?.paths.find((m) => m.from === p.path)
      if (!mapping) {
        unmappedPaths.push(p.path)
        continue
      }
      const to = resolve(project, mapping.to)
      assertLocalFilesTarget(to, places, file)
      if (looksLikeProduction(ownName(to, project))) throw new UsageError(`${file}: local files target ${mapping.to} looks like production`)
      files.push({from: p.path, to})
    }
    if (options.filesRequested && unmappedPaths.length > 0) {
      throw new UsageError(`--files: no local target for ${unmappedPaths.join(', ')} in ${file}, so those files cannot be restored here`, {
        suggestions: [`add paths: [{from: ${unmappedPaths[0]}, to: storage}] to ${file}`, 'or leave out --files'],
      })
    }
  }
  // Local databases living in files in a restored directory (SQLite) survive it, restored now or not.
  const preserve: string[] = []
  for (const db of config.databases) {
    try {
      const target = localDatabaseTarget(engine, local, db, cwd)
      if (target) preserve.push(...databaseAdapter(db.adapter).files({...target, ...(target.path !== undefined && {path: resolve(cwd, target.path)})}))
    } catch {}
  }
  return {databases, files, preserve, unmappedPaths}
}

function localDatabaseTarget(engine: Engine, local: LocalConfig | undefined, db: DatabaseConfig, cwd: string): ResolvedDatabase | undefined {
  const entry = local?.databases.find((d) => d.name === db.name)
  if (entry) return localEntryTarget(engine, db, entry)
  if (engine.config.databases.length === 1) return developmentDatabase(engine, db, cwd)
  return undefined
}

function localEntryTarget(engine: Engine, db: DatabaseConfig, entry: LocalConfig['databases'][number]): ResolvedDatabase {
  if (databaseAdapter(db.adapter).location === 'file') {
    if (!entry.path) throw new ConfigError(`config/kamal-backup.local.yml: database "${db.name}" is ${db.adapter} and needs "path"`, {code: 'config/no-local-target'})
    return {name: db.name, adapter: db.adapter, params: {}, path: entry.path}
  }
  if (!entry.url) throw new ConfigError(`config/kamal-backup.local.yml: database "${db.name}" needs "url"`, {code: 'config/no-local-target'})
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
  const kind = kindOfRailsAdapter(adapter)
  const inFile = kind !== undefined && databaseAdapter(kind).location === 'file'
  if (typeof dev.url === 'string' && !inFile) {
    return resolveDatabase({name: db.name, adapter: db.adapter, url: {kind: 'value', value: dev.url}}, engine.secrets, engine.redactor)
  }
  if (kind !== db.adapter) {
    throw new ConfigError(`config/database.yml development uses ${adapter || 'no adapter'}, but production database "${db.name}" is ${db.adapter}`, {
      code: 'config/no-local-target',
      suggestions: [`set a ${db.adapter} target in config/kamal-backup.local.yml`],
    })
  }
  if (inFile) {
    const path = String(dev.database ?? '')
    return {name: db.name, adapter: kind, params: {}, path: isAbsolute(path) ? path : resolve(cwd, path)}
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
