// `kamal-backup init`: writes config/kamal-backup.yml inferred from the checkout and prints the accessory block
// to add to config/deploy.yml. Never edits deploy.yml or .kamal/secrets; never overwrites without --force.
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, posix, resolve} from 'node:path'
import {replaceFile} from '../files.js'
import {ConfigError, UsageError} from '../errors.js'
import {renderErb} from '../kamal/erb.js'
import {readDeployConfig} from '../kamal/deploy.js'
import {accessoryHostsOf, containerName, roles} from '../kamal/model.js'
import {parseYaml} from '../parse/yaml.js'
import {kamalSecrets} from '../kamal/secrets.js'
import {locationCredentials} from '../redact.js'
import {displayPath, throwOnErrors} from '../parse/findings.js'
import {ACCESSORY_CONFIG_PATH, DATABASE_KINDS, DEFAULT_STATE_DIR, kindOfRailsAdapter, type Adapter} from './types.js'

export const IMAGE = 'ghcr.io/kamal-backup/kamal-backup'
export const SCHEMA_URL = 'https://unpkg.com/kamal-backup/schemas/kamal-backup.schema.json'
/** Rails 8's Dockerfile puts the app in /rails. */
export const RAILS_ROOT = '/rails'

export interface InitOptions {
  cwd: string
  env: Readonly<Record<string, string | undefined>>
  configFile?: string
  destination?: string
  backupConfigFile: string
  force?: boolean
  repository?: string
  version: string
  /** Read deploy.yml through `kamal config`. */
  kamalConfig?: boolean
}

export interface InferredDatabase {
  name: string
  adapter: Adapter
  url?: string
  urlSecret?: string
  passwordSecret?: string
  path?: string
  /** Where the inference came from, for the printed summary. */
  from: string
}

export interface InitResult {
  file: string
  written: boolean
  content: string
  databases: InferredDatabase[]
  paths: string[]
  secrets: string[]
  accessoryName: string
  /** The YAML to add under `accessories:` in config/deploy.yml, or null when the accessory already exists. */
  accessoryBlock: string | null
  notes: string[]
}

export function initCheckout(options: InitOptions): InitResult {
  const target = resolve(options.cwd, options.backupConfigFile)
  const file = displayPath(target, options.cwd)
  if (existsSync(target) && !options.force) throw exists(file)
  const deploy = readDeployConfig({
    cwd: options.cwd,
    env: options.env,
    ...(options.configFile !== undefined && {configFile: options.configFile}),
    ...(options.destination !== undefined && {destination: options.destination}),
    ...(options.kamalConfig && {kamalConfig: true}),
  })
  throwOnErrors(deploy.findings)
  const source = deploy.source!
  const data = source.data
  const service = String(data.service)
  const accessories = Object.fromEntries(
    Object.entries(isRecord(data.accessories) ? data.accessories : {}).filter((entry): entry is [string, Record<string, unknown>] => isRecord(entry[1])),
  )
  const notes: string[] = []
  // A backup accessory already in deploy.yml: the file is fitted to it (its mounts, its secrets, its host).
  const existing = Object.entries(accessories).find(([name, a]) => String(a.image ?? '').includes('kamal-backup') || name === 'backup')

  // Database accessories, then the production entries of config/database.yml.
  const found: {name: string; adapter: 'postgres' | 'mysql'; user: string; db: string; password: {passwordSecret?: string}; accessory: Record<string, unknown>; image: string}[] = []
  for (const [name, accessory] of Object.entries(accessories)) {
    const image = String(accessory.image ?? '')
    const env = accessoryEnv(accessory)
    if (name === existing?.[0]) continue
    if (/(^|\/)(postgres|postgis)|timescale/.test(image)) {
      found.push({name, adapter: 'postgres', user: env.clear.POSTGRES_USER ?? 'postgres', db: env.clear.POSTGRES_DB ?? `${service}_production`, password: passwordSecret(env.secret, ['POSTGRES_PASSWORD']), accessory, image})
    } else if (/(^|\/)(mysql|mariadb|percona)/.test(image)) {
      const user = env.clear.MYSQL_USER ?? env.clear.MARIADB_USER ?? 'root'
      const wanted = user === 'root' ? ['MYSQL_ROOT_PASSWORD', 'MARIADB_ROOT_PASSWORD'] : ['MYSQL_PASSWORD', 'MARIADB_PASSWORD']
      found.push({name, adapter: 'mysql', user, db: env.clear.MYSQL_DATABASE ?? env.clear.MARIADB_DATABASE ?? `${service}_production`, password: passwordSecret(env.secret, wanted), accessory, image})
    }
  }
  // Databases in files are on the app's volumes; server databases only when no database accessory was found.
  const rails = railsProductionDatabases(options.cwd, options.env, notes).filter((db) => DATABASE_KINDS[db.adapter].location === 'file' || found.length === 0)

  // Paths: the app's volumes that hold storage (Active Storage's Disk service lives in /rails/storage).
  const appVolumes = volumeMounts(data.volumes)
  const storage = appVolumes.filter((v) => /storage/.test(v.target))
  const paths = storage.map((v) => v.target)

  // Where the backup accessory runs. App files and SQLite databases are on the app host's volumes, so then it
  // must run there; otherwise next to the (first) database accessory. A database accessory elsewhere is reached
  // through its host's address and a published port: container names resolve only on one Docker host.
  const appHost = firstAppHost(data.servers)
  const hostsOf = accessoryHostsOf(source)
  const needsAppHost = paths.length > 0 || rails.some((d) => DATABASE_KINDS[d.adapter].location === 'file')
  const backupHost = (existing && hostsOf[existing[0]]?.[0]) || (needsAppHost ? appHost : (found.map((f) => hostsOf[f.name]?.[0]).find(Boolean) ?? appHost))
  const databases: InferredDatabase[] = []
  for (const f of found) {
    const port = String(DATABASE_KINDS[f.adapter].defaultPort)
    const dbHosts = hostsOf[f.name] ?? []
    let address = containerName(service, f.name, f.accessory)
    let hostPort = port
    if (backupHost && dbHosts.length > 0 && !dbHosts.includes(backupHost)) {
      const published = publishedPort(f.accessory.port, port)
      address = published?.address ?? dbHosts[0]!
      hostPort = published?.port ?? port
      notes.push(
        published
          ? `Database "${f.name}" runs on ${dbHosts[0]}, the backup accessory on ${backupHost} (${needsAppHost ? "it needs the app's volumes" : 'the first database host'}), so the URL uses ${address}:${hostPort}, the port accessory "${f.name}" publishes. Make sure only your private network can reach that port.`
          : `Database "${f.name}" runs on ${dbHosts[0]} and publishes no port the backup accessory on ${backupHost} can reach (${needsAppHost ? "it must run on the host with the app's volumes" : 'it runs on the first database host'}). Add port: "<private address of ${dbHosts[0]}>:${port}:${port}" to accessories.${f.name} (a private interface, never a public one), and use that address in the URL of databases "${f.name}".`,
      )
    }
    databases.push({name: f.name, adapter: f.adapter, url: `${f.adapter}://${f.user}@${address}:${hostPort}/${f.db}`, ...f.password, from: `accessory "${f.name}" (${f.image})`})
  }
  databases.push(...rails)
  if (databases.length === 0 && paths.length === 0) {
    // A config with nothing in it would only fail `validate`: say what was looked for instead.
    throw new ConfigError('kamal-backup init found nothing to back up: no postgres or mysql accessory in config/deploy.yml, no production database in config/database.yml, and no storage volume in config/deploy.yml', {
      code: 'init/nothing-found',
      suggestions: [
        'Add the database accessory or the storage volume to config/deploy.yml and run `kamal-backup init` again',
        'Or write config/kamal-backup.yml by hand: README "Configuration" shows every key',
      ],
    })
  }
  if (paths.length === 0) notes.push('No storage volume found in config/deploy.yml, so no file paths are backed up. If Active Storage uses the Disk service, add its directory under `paths:`.')

  let restic: ResticRefs = {password: 'RESTIC_PASSWORD', ...(options.repository ? {repository: options.repository} : {repositorySecret: 'RESTIC_REPOSITORY'})}
  if (existing) {
    const fitted = fitToAccessory({name: existing[0], accessory: existing[1], appVolumes, paths, databases, restic, secretsPath: typeof data.secrets_path === 'string' ? data.secrets_path : '.kamal/secrets', options})
    paths.splice(0, paths.length, ...fitted.paths)
    restic = fitted.restic
    notes.push(...fitted.notes)
  }

  // Secrets every {secret:} reference needs.
  const secrets = [restic.password]
  if (restic.repositorySecret) secrets.unshift(restic.repositorySecret)
  for (const db of databases) {
    if (db.passwordSecret && !secrets.includes(db.passwordSecret)) secrets.push(db.passwordSecret)
    if (db.urlSecret && !secrets.includes(db.urlSecret)) secrets.push(db.urlSecret)
  }

  const content = renderConfig({service, databases, paths, restic})
  // Fail before writing if what we generate would not be valid YAML (it always should be; this is the guard).
  parseYaml(content, file)

  // The accessory block, unless a backup accessory already exists.
  const accessoryName = existing?.[0] ?? 'backup'
  let accessoryBlock: string | null = null
  if (!existing) {
    const databaseDirs = databases.filter((d) => d.path !== undefined).map((d) => posix.dirname(d.path!))
    const mounts = appVolumes.filter((v) => paths.includes(v.target) || databaseDirs.some((dir) => dir === v.target || dir.startsWith(v.target + '/')))
    accessoryBlock = renderAccessory({service, name: accessoryName, host: backupHost, mounts: mounts.map((m) => `${m.source}:${m.target}`), secrets, version: options.version})
    if (needsAppHost) {
      notes.push(`The backup accessory must run on the host that has the app's volumes (${backupHost ?? 'your app host'}).`)
    }
  } else {
    notes.push(`Accessory "${accessoryName}" already exists in config/deploy.yml: the file uses its mounts and secrets; run \`kamal-backup validate\` to check the two together.`)
  }

  mkdirSync(dirname(target), {recursive: true})
  if (options.force) {
    replaceFile(target, content)
  } else {
    try {
      // O_EXCL: a file created since the check above is never overwritten.
      writeFileSync(target, content, {flag: 'wx'})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw exists(file)
      throw error
    }
  }
  return {file, written: true, content, databases, paths, secrets, accessoryName, accessoryBlock, notes}
}

function exists(file: string): UsageError {
  return new UsageError(`${file} already exists`, {code: 'init/exists', suggestions: ['run `kamal-backup init --force` to overwrite it', 'or run `kamal-backup validate` to check it']})
}

/** The host side of an accessory's `port:` for `containerPort` ("5432", 5432, "5433:5432", "10.0.0.5:5432:5432"),
 *  unless it is published only on loopback (unreachable from another host). */
function publishedPort(value: unknown, containerPort: string): {address?: string; port: string} | undefined {
  if (value === undefined || value === null || typeof value === 'object') return undefined
  const parts = String(value).replace(/\/(tcp|udp)$/, '').split(':')
  const [address, hostPort, inner] = parts.length === 1 ? [undefined, parts[0], parts[0]] : parts.length === 2 ? [undefined, parts[0], parts[1]] : [parts.slice(0, -2).join(':'), parts.at(-2), parts.at(-1)]
  if (inner !== containerPort || !hostPort) return undefined
  if (address && /^(127\.|localhost$|\[?::1\]?$)/.test(address)) return undefined
  return {...(address && address !== '0.0.0.0' && {address}), port: hostPort}
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function passwordSecret(secrets: string[], preferred: string[]): {passwordSecret?: string} {
  const found = preferred.find((p) => secrets.includes(p)) ?? secrets.find((s) => /PASSWORD/.test(s))
  return found ? {passwordSecret: found} : {}
}

function accessoryEnv(accessory: Record<string, unknown>): {clear: Record<string, string>; secret: string[]} {
  const env = isRecord(accessory.env) ? accessory.env : {}
  const complex = 'clear' in env || 'secret' in env
  const clearSource = complex ? env.clear : env
  const clear = isRecord(clearSource) ? clearSource : {}
  const secret = complex && Array.isArray(env.secret) ? env.secret.map((s) => String(s).split(':')[0]!) : []
  return {clear: Object.fromEntries(Object.entries(clear).map(([k, v]) => [k, String(v)])), secret}
}

/** The production entries of config/database.yml (single or multi-database), as seen from the container. */
export function railsProductionDatabases(cwd: string, env: Readonly<Record<string, string | undefined>>, notes: string[]): InferredDatabase[] {
  const file = resolve(cwd, 'config/database.yml')
  if (!existsSync(file)) return []
  let production: unknown
  try {
    const rendered = renderErb(readFileSync(file, 'utf8'), {file: 'config/database.yml', env: {...env, RAILS_ENV: 'production'}})
    production = (parseYaml(rendered.output, 'config/database.yml', {sourceLine: rendered.sourceLine}).value as Record<string, unknown> | null)?.production
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    notes.push(`config/database.yml could not be read (${error.message}); add databases by hand.`)
    return []
  }
  if (!production || typeof production !== 'object') return []
  const entries: [string, Record<string, unknown>][] =
    'adapter' in production || 'database' in production || 'url' in production
      ? [['primary', production as Record<string, unknown>]]
      : Object.entries(production as Record<string, Record<string, unknown>>).filter(([, v]) => v && typeof v === 'object')
  const out: InferredDatabase[] = []
  for (const [name, entry] of entries) {
    const kind = kindOfRailsAdapter(String(entry.adapter ?? ''))
    if (kind && DATABASE_KINDS[kind].location === 'file' && typeof entry.database === 'string') {
      if (name === 'cache' || name === 'cable') {
        notes.push(`Skipped the "${name}" database (Solid Cache/Cable data can be rebuilt); add it under databases: if you want it backed up.`)
        continue
      }
      const path = entry.database.startsWith('/') ? entry.database : posix.join(RAILS_ROOT, entry.database)
      out.push({name, adapter: kind, path, from: `config/database.yml production${entries.length > 1 ? `.${name}` : ''}`})
    } else if (kind && DATABASE_KINDS[kind].location === 'server') {
      out.push({name, adapter: kind, urlSecret: 'DATABASE_URL', from: `config/database.yml production${entries.length > 1 ? `.${name}` : ''}`})
    }
  }
  return out
}

/** How kamal-backup.yml names the repository (a value, or the secret holding it) and the secret of its password. */
interface ResticRefs {
  repository?: string
  repositorySecret?: string
  password: string
}

/**
 * Fits what was inferred to a backup accessory that deploy.yml already has: paths and SQLite files where the
 * accessory mounts the app's volumes (the container side), the secrets it passes, and a note for each thing only a
 * change to deploy.yml or .kamal/secrets can fix (init writes neither).
 */
function fitToAccessory(input: {name: string; accessory: Record<string, unknown>; appVolumes: {source: string; target: string}[]; paths: string[]; databases: InferredDatabase[]; restic: ResticRefs; secretsPath: string; options: InitOptions}): {paths: string[]; restic: ResticRefs; notes: string[]} {
  const {name, accessory, appVolumes, options} = input
  const notes: string[] = []
  const where = `accessories.${name}`
  const mounts = volumeMounts(accessory.volumes)
  const env = accessoryEnv(accessory)
  /** The same file or directory as the accessory sees it: through its mount of the app volume that holds it. */
  const inAccessory = (appPath: string, what: string): string => {
    const volume = appVolumes.filter((v) => appPath === v.target || appPath.startsWith(`${v.target}/`)).sort((a, b) => b.target.length - a.target.length)[0]
    if (!volume) return appPath
    const mount = mounts.find((m) => m.source === volume.source)
    if (!mount) {
      notes.push(`Accessory "${name}" does not mount the app's volume "${volume.source}", which holds ${what}: add "${volume.source}:${volume.target}" to ${where}.volumes in config/deploy.yml (kamal-backup.yml uses ${appPath}).`)
      return appPath
    }
    return mount.target + appPath.slice(volume.target.length)
  }
  const paths = input.paths.map((p) => inAccessory(p, p))
  for (const db of input.databases) if (db.path) db.path = inAccessory(db.path, `database "${db.name}" (${db.path})`)

  const restic = {...input.restic}
  const declared = (names: string[], pattern: RegExp) => names.find((n) => env.secret.includes(n)) ?? env.secret.find((s) => pattern.test(s))
  if (restic.repositorySecret) {
    const secret = declared(['RESTIC_REPOSITORY'], /RESTIC.*REPO|BACKUP.*REPO/)
    const clear = env.clear.RESTIC_REPOSITORY
    if (secret) restic.repositorySecret = secret
    else if (clear !== undefined && locationCredentials(clear).length === 0) {
      delete restic.repositorySecret
      restic.repository = clear
    } else if (clear !== undefined) {
      notes.push(`${where}.env.clear.RESTIC_REPOSITORY holds credentials in clear text: move it to ${where}.env.secret in config/deploy.yml and its value to ${input.secretsPath}.`)
    }
  }
  const password = declared(['RESTIC_PASSWORD'], /RESTIC.*PASSWORD|BACKUP.*PASSWORD/)
  if (password) restic.password = password
  const wanted = [restic.repositorySecret, restic.password, ...input.databases.flatMap((d) => [d.passwordSecret, d.urlSecret])].filter((n): n is string => Boolean(n))
  const undeclared = [...new Set(wanted)].filter((n) => !env.secret.includes(n) && !(n in env.clear))
  if (undeclared.length > 0) notes.push(`Add ${undeclared.join(', ')} to ${where}.env.secret in config/deploy.yml: kamal-backup.yml needs ${undeclared.length === 1 ? 'it' : 'them'} in the accessory.`)
  const secrets = kamalSecrets({cwd: options.cwd, secretsPath: input.secretsPath, ...(options.destination !== undefined && {destination: options.destination}), env: options.env})
  const unset = [...new Set(wanted)].filter((n) => !(n in env.clear) && !secrets.has(n))
  if (unset.length > 0) notes.push(`Set ${unset.join(', ')} in ${secrets.files.at(-1) ?? input.secretsPath} (the value${unset.length === 1 ? '' : 's'} Kamal passes to the accessory).`)
  return {paths, restic, notes}
}

function volumeMounts(value: unknown): {source: string; target: string}[] {
  if (!Array.isArray(value)) return []
  return value.flatMap((v) => {
    const [source, target] = String(v).split(':')
    return source && target ? [{source, target}] : []
  })
}

function firstAppHost(servers: unknown): string | undefined {
  const all = roles(servers)
  const web = all.find((r) => r.role === 'web') ?? all[0]
  return web?.hosts[0]?.host
}

const q = (text: string) => (/^[A-Za-z0-9_./@:-]+$/.test(text) && !/^[-:@]/.test(text) && !/: /.test(text) ? text : JSON.stringify(text))

function renderConfig(input: {service: string; databases: InferredDatabase[]; paths: string[]; restic: ResticRefs}): string {
  const lines = [
    `# yaml-language-server: $schema=${SCHEMA_URL}`,
    '# kamal-backup configuration. Reference: https://github.com/kamal-backup/kamal-backup#configuration',
    '# Uploaded into the backup accessory by Kamal (files:); secrets come from .kamal/secrets via env.secret.',
    `app: ${q(input.service)}`,
    '',
  ]
  if (input.databases.length > 0) {
    lines.push('databases:')
    for (const db of input.databases) {
      lines.push(`  # from ${db.from}`, `  - name: ${q(db.name)}`, `    adapter: ${db.adapter}`)
      if (db.path) lines.push(`    path: ${q(db.path)}`)
      if (db.url) lines.push(`    url: ${q(db.url)}`)
      if (db.urlSecret) lines.push(`    url: {secret: ${db.urlSecret}}`)
      if (db.passwordSecret) lines.push(`    password: {secret: ${db.passwordSecret}}`)
    }
  }
  lines.push('')
  if (input.paths.length > 0) {
    lines.push('# Directories in the accessory (the app volume mounted at the same path). SQLite files inside them are', '# excluded from the file snapshot automatically: they are backed up consistently as databases.', 'paths:')
    for (const p of input.paths) lines.push(`  - ${q(p)}`)
    lines.push('')
  }
  lines.push(
    'restic:',
    input.restic.repository ? `  repository: ${q(input.restic.repository)}` : `  repository: {secret: ${input.restic.repositorySecret}}   # e.g. s3:https://s3.eu-central-1.amazonaws.com/my-backups`,
    `  password: {secret: ${input.restic.password}}`,
    '  init_if_missing: true',
    '  forget_after_backup: true',
    '  check_after_backup: true',
    '  retention:',
    '    keep_daily: 7',
    '    keep_weekly: 4',
    '    keep_monthly: 6',
    '',
    'backup:',
    '  schedule: 1d',
    '',
  )
  return lines.join('\n')
}

function renderAccessory(input: {service: string; name: string; host: string | undefined; mounts: string[]; secrets: string[]; version: string}): string {
  const [major, minor] = input.version.split('.')
  const lines = [
    `  ${input.name}:`,
    `    image: ${IMAGE}:${major}.${minor}`,
    `    host: ${input.host ?? '<the host with your app volumes>'}`,
    '    files:',
    `      - config/kamal-backup.yml:${ACCESSORY_CONFIG_PATH}:ro`,
    '    volumes:',
    ...input.mounts.map((m) => `      - "${m}"`),
    `      - "${input.service}_backup_state:${DEFAULT_STATE_DIR}"`,
    '    env:',
    '      secret:',
    ...input.secrets.map((s) => `        - ${s}`),
  ]
  return lines.join('\n')
}
