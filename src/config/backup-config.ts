// config/kamal-backup.yml: read → parse with positions → JSON Schema → normalise → semantic checks.
// Returns findings rather than throwing, so `validate` can show them all; other commands call throwOnErrors().
import {readFileSync} from 'node:fs'
import {isAbsolute, resolve} from 'node:path'
import {ConfigError, type FindingRule} from '../errors.js'
import {validateBackupFile, validateLocalFile} from '../generated/validators.js'
import type {KamalBackupFile, KamalBackupLocalFile} from '../generated/schema-types.js'
import {parseYaml, PositionMap, type Position, type YamlPath} from '../parse/yaml.js'
import {isSecretName} from '../redact.js'
import backupSchema from '../../schemas/kamal-backup.schema.json' with {type: 'json'}
import localSchema from '../../schemas/kamal-backup.local.schema.json' with {type: 'json'}
import {didYouMean, displayPath, finding, formatPath, type Finding} from '../parse/findings.js'
import {DEFAULT_SCHEDULE, nextRun, parseSchedule, ScheduleError} from './schedule.js'
import {schemaFindings} from '../parse/schema-findings.js'
import {pruneInvalid} from '../parse/prune.js'
import {migrateGemConfig, migrateGemLocalConfig, type GemChange, type GemMigration} from './gem.js'
import {
  canonicalAdapter,
  DATABASE_KINDS,
  DEFAULT_HEALTHCHECKS_ON,
  DEFAULT_MAX_SHRINK,
  DEFAULT_NOTIFY_ON,
  pathLabel,
  volumeIdentity,
  volumeLabel,
  readDataSubsetProblem,
  type Adapter,
  type BackupConfig,
  type DatabaseConfig,
  type CopyConfig,
  type NotifyTarget,
  type RepositoryAccess,
  type RetentionPolicy,
  type PasswordRef,
  type PathConfig,
  type ResticConfig,
  type ValueRef,
} from './types.js'

export interface ParsedFile<T> {
  /** As shown to users: relative to the working directory when inside it. */
  file: string
  absolute: string
  data: T
  positions: PositionMap
  /** The file's text, as read. */
  text: string
}

export interface BackupConfigResult {
  /** Only when the file has no errors: the one every command runs with. */
  config?: BackupConfig
  source?: ParsedFile<KamalBackupFile>
  findings: Finding[]
  /** For `validate` only, when the file has errors: what its valid parts say, so that the cross-checks still run on
   *  them. `data` is the file without its invalid parts, `cut` what was removed (findings there are not repeated). */
  partial?: {config: BackupConfig; data: KamalBackupFile; cut: YamlPath[]}
}

const SCHEMAS = {'kamal-backup.schema.json': backupSchema, 'kamal-backup.local.schema.json': localSchema}
const SECRET_PATHS = /^(restic\.password|restic\.rest\.password|databases\[\]\.password)$/
/** Mappings whose secret-named keys (AWS_SECRET_ACCESS_KEY, …) hold secrets. */
const SECRET_MAPS = /^restic\.env$/
const PATTERN_HINTS: Record<string, string> = {
  app: 'use letters, digits, ".", "_" and "-" only (it becomes the restic tag app:<app>)',
  name: 'use letters, digits, ".", "_" and "-" only (it becomes the restic tag database:<name>)',
  secret: 'must be an environment variable name (letters, digits and "_")',
  accessory: 'must be an accessory name from config/deploy.yml',
  check_read_data_subset: 'use a percentage (5%), a fraction (1/7) or a size (500M)',
  keep_within: 'use a restic duration such as 7d, 2m or 1y6m',
}
/** backup.pre_deploy_keep when not given. */
export const DEFAULT_PRE_DEPLOY_KEEP = 10

/** Directories that are never a sensible backup source or restore target. */
export const SUSPICIOUS_PATHS = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/lib', '/proc', '/root', '/run', '/sbin', '/sys', '/usr', '/var'])

/** Reads and parses one YAML config file. Missing/unreadable/malformed files become findings. */
export function readYamlFile<T>(absolute: string, cwd: string, options: {optional?: boolean; what?: string} = {}): {parsed?: ParsedFile<T>; findings: Finding[]} {
  const file = displayPath(absolute, cwd)
  const top: Position = {file, line: 1, column: 1}
  let text: string
  try {
    text = readFileSync(absolute, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && options.optional) return {findings: []}
    return {
      findings: [
        code === 'ENOENT'
          ? finding('error', 'config/missing-file', top, '', `${file} does not exist`, options.what === 'backup' ? 'run `kamal-backup init` to create it from config/deploy.yml' : `create ${file}, or check the path`)
          : finding('error', 'config/unreadable-file', top, '', `${file} cannot be read (${code ?? String(error)})`, 'check the file permissions'),
      ],
    }
  }
  try {
    const parsed = parseYaml(text, file)
    const findings = parsed.diagnostics.map((d) => finding(d.severity, d.rule, d.position, d.path, d.message, d.suggestion))
    if (parsed.value === null || parsed.value === undefined) {
      return {findings: [...findings, finding('error', 'config/empty-file', top, '', `${file} is empty`, options.what === 'backup' ? 'run `kamal-backup init --force` to write a starting point' : 'add the settings (README "Configuration"), or delete the file')]}
    }
    if (typeof parsed.value !== 'object' || Array.isArray(parsed.value)) {
      return {findings: [...findings, finding('error', 'config/not-a-mapping', top, '', `${file} must be a YAML mapping of keys to values`, 'write it as `key: value` lines starting at column 1, e.g. `app: myapp` (README "Configuration")')]}
    }
    return {parsed: {file, absolute, data: parsed.value as T, positions: parsed.positions, text}, findings}
  } catch (error) {
    if (error instanceof ConfigError) {
      const loc = error.location
      return {findings: [finding('error', 'yaml/syntax', {file, line: loc?.line ?? 1, column: loc?.column ?? 1}, '', error.message, error.suggestions[0])]}
    }
    throw error
  }
}

export function loadBackupConfig(absolute: string, cwd: string): BackupConfigResult {
  const {parsed, findings} = readYamlFile<KamalBackupFile>(absolute, cwd, {what: 'backup'})
  if (!parsed) return {findings}
  findings.push(...notifyOnAsEvents(parsed))
  const valid = validateBackupFile(parsed.data) as boolean
  const schemaProblems = valid
    ? []
    : schemaFindings((validateBackupFile as unknown as {errors: never}).errors, parsed.data, {
        schemas: SCHEMAS,
        rootSchema: 'kamal-backup.schema.json',
        positions: parsed.positions,
        rulePrefix: 'schema',
        patternHints: PATTERN_HINTS,
        secretPaths: SECRET_PATHS,
        secretMaps: SECRET_MAPS,
      })
  findings.push(...explainGemFormat(parsed, schemaProblems, () => migrateGemConfig(parsed.text)))
  if (schemaProblems.some((f) => f.severity === 'error')) {
    // The rest of the file is still checked (values, then the cross-checks in validate): every finding in one pass.
    const pruned = pruneInvalid(parsed.data, (validateBackupFile as unknown as {errors: Parameters<typeof pruneInvalid>[1]}).errors)
    if (!pruned) return {source: parsed, findings}
    const rest = normalise({...parsed, data: pruned.data}, pruned.paths)
    findings.push(...rest.findings)
    return {source: parsed, findings, partial: {config: rest.partial, data: pruned.data, cut: pruned.paths}}
  }
  const normalised = normalise(parsed)
  findings.push(...normalised.findings)
  return {...(normalised.config ? {config: normalised.config} : {partial: {config: normalised.partial, data: parsed.data, cut: []}}), source: parsed, findings}
}

/**
 * A file written for the Ruby gem (crmne/kamal-backup) fails the schema in ways `kamal-backup migrate` rewrites:
 * each difference is said once, at its line, as what the gem meant and what this format wants (instead of the bare
 * schema error), with the migration as the fix. Other schema findings pass through. Only looked at when the schema
 * rejects the file, so a valid file costs nothing.
 */
export function explainGemFormat(source: {file: string}, schemaProblems: Finding[], migrate: () => GemMigration | undefined): Finding[] {
  if (!schemaProblems.some((f) => f.severity === 'error')) return schemaProblems
  // Only what sets the gem's format apart explains anything: an unknown key alone is more likely a typo.
  const changes = (migrate()?.changes ?? []).filter((c) => !c.weak)
  if (changes.length === 0) return schemaProblems
  const covers = (change: GemChange, f: Finding) => {
    const at = formatPath(change.path)
    return f.path === at || f.path.startsWith(`${at}.`) || f.path.startsWith(`${at}[`) || (change.answers ?? []).some((p) => f.rule === 'schema/required' && f.path === formatPath(p))
  }
  const explained = changes.map((change) =>
    finding(schemaProblems.some((f) => covers(change, f)) ? 'error' : 'warning', 'config/gem-format', {file: source.file, line: change.line, column: 1}, change.path, `${change.message} [the Ruby gem's format]`, `${change.action ? `${change.action}; ` : ''}\`kamal-backup migrate\` rewrites the file (it shows the diff; --write applies it)`),
  )
  return [...schemaProblems.filter((f) => !changes.some((c) => covers(c, f))), ...explained]
}

/** Findings that say something is missing: not repeated where a part of the file was cut out for its schema error
 *  (a misspelt `repostory:` is reported once, as the unknown key, not again as a missing repository). */
const ABSENCE_RULES = new Set<FindingRule>(['config/no-repository', 'config/no-retention', 'config/nothing-to-back-up', 'config/retention-keeps-nothing'])

/** Whether a finding (from normalising or a cross-check) concerns a part of the file that was cut out. */
export function concernsCut(f: Finding, file: string, cut: readonly YamlPath[]): boolean {
  if (f.file !== file || cut.length === 0) return false
  return cut.some((p) => {
    const at = formatPath(p)
    return f.path === at || f.path.startsWith(`${at}.`) || f.path.startsWith(`${at}[`) || (ABSENCE_RULES.has(f.rule as FindingRule) && (f.path === '(top level)' || at.startsWith(`${f.path}.`) || at.startsWith(`${f.path}[`)))
  })
}

/** A notify target's `on:` (the spelling GitHub Actions taught everyone) is its `events:`. YAML 1.1, as Kamal
 *  reads YAML, takes a bare on for the key true: it is renamed only where the file's text says on (or "on"). */
function notifyOnAsEvents(source: ParsedFile<KamalBackupFile>): Finding[] {
  const targets = (source.data as {notify?: unknown}).notify
  if (!Array.isArray(targets)) return []
  const lines = source.text.split('\n')
  const findings: Finding[] = []
  for (const [index, target] of targets.entries()) {
    if (target === null || typeof target !== 'object' || Array.isArray(target)) continue
    const entry = target as Record<string, unknown>
    for (const key of ['true', 'on']) {
      if (!(key in entry)) continue
      const at = source.positions.get(['notify', index, key])
      const written = at ? (lines[at.line - 1] ?? '').slice(at.column - 1) : ''
      if (!/^(?:on|On|ON|"on"|'on')\s*:/.test(written)) continue
      if ('events' in entry) {
        findings.push(finding('error', 'schema/unknown-key', at!, ['notify', index, key], `notify[${index}] has both on: and events:`, 'keep one of them (events: is the name the schema documents)'))
        delete entry[key] // said once, here, not again as an unknown key
        continue
      }
      entry.events = entry[key]
      delete entry[key]
      source.positions.move(['notify', index, key], ['notify', index, 'events'])
    }
  }
  return findings
}

/** Builds the config from a schema-valid file, or from the valid rest of one (`cut`: what was removed for its
 *  schema errors; those parts are absent, lists keep a null in their place). `config` only when nothing is wrong. */
function normalise(source: ParsedFile<KamalBackupFile>, cut: readonly YamlPath[] = []): {config?: BackupConfig; partial: BackupConfig; findings: Finding[]} {
  const data = source.data
  const findings: Finding[] = []
  const at = (path: YamlPath) => source.positions.nearest(path)
  const add = (severity: 'error' | 'warning', rule: FindingRule, path: YamlPath, message: string, suggestion?: string) => {
    const f = finding(severity, rule, at(path), path, message, suggestion)
    if (!concernsCut(f, source.file, cut)) findings.push(f)
  }

  // ---- databases
  const databases: DatabaseConfig[] = []
  const names = new Map<string, number>()
  for (const [index, entry] of (data.databases ?? []).entries()) {
    if (!entry) continue
    const path: YamlPath = ['databases', index]
    const adapter = canonicalAdapter(entry.adapter)
    const earlier = names.get(entry.name)
    if (earlier !== undefined) add('error', 'config/duplicate-database', [...path, 'name'], `database name "${entry.name}" is used twice (also databases[${earlier}])`, 'each database needs its own name: it becomes its restic tag')
    names.set(entry.name, index)
    const db: DatabaseConfig = {name: entry.name, adapter, maxShrink: entry.max_shrink ?? DEFAULT_MAX_SHRINK}
    const kind = DATABASE_KINDS[adapter]
    if (kind.location === 'file') {
      if (entry.url !== undefined) add('error', 'config/adapter-fields', [...path, 'url'], `${adapter} databases take "path", not "url"`, `write path: ${kind.example}`)
      if (entry.password !== undefined) add('error', 'config/adapter-fields', [...path, 'password'], `${adapter} databases have no password`, 'remove password: from this database')
      db.path = valueRef(entry.path!)
      if (db.path.kind === 'value' && !isAbsolute(db.path.value)) {
        add('error', 'config/relative-path', [...path, 'path'], `path "${db.path.value}" must be absolute (it is a path inside the accessory container)`, `e.g. /rails/${db.path.value.replace(/^\.?\//, '')}`)
      }
    } else {
      if (entry.path !== undefined) add('error', 'config/adapter-fields', [...path, 'path'], `${adapter} databases take "url", not "path"`, `remove path: and give the connection as url:, e.g. ${kind.example}`)
      db.url = valueRef(entry.url!)
      if (db.url.kind === 'value') checkDatabaseUrl(db.url.value, adapter, [...path, 'url'], add)
      if (entry.password) db.password = passwordRef(entry.password)
    }
    databases.push(db)
  }

  // ---- paths
  const paths: PathConfig[] = []
  const labels = new Map<string, string>()
  for (const [index, entry] of (data.paths ?? []).entries()) {
    if (entry === null || entry === undefined) continue
    if (typeof entry !== 'string' && entry.volume !== undefined) {
      const where: YamlPath = ['paths', index, 'volume']
      if (entry.path !== undefined) {
        add('error', 'config/path-and-volume', where, `paths[${index}] gives both path "${entry.path}" and volume "${entry.volume}"`, 'keep one: `path:` for a directory, `volume:` for a named volume of the container runtime')
        continue
      }
      const label = volumeLabel(entry.volume)
      if (labels.has(label)) {
        add('error', 'config/duplicate-path', where, `volume "${entry.volume}" is listed twice`, 'remove one of the two entries')
        continue
      }
      labels.set(label, entry.volume)
      const volume = {name: entry.volume, ...(entry.runtime && {runtime: entry.runtime})}
      paths.push({path: volumeIdentity(entry.volume), volume, exclude: entry.exclude ?? [], label, allowEmpty: entry.allow_empty ?? false, maxShrink: entry.max_shrink ?? DEFAULT_MAX_SHRINK})
      continue
    }
    if (typeof entry !== 'string' && entry.runtime !== undefined) add('warning', 'config/runtime-without-volume', ['paths', index, 'runtime'], `runtime: ${entry.runtime} does nothing without volume:`, 'remove runtime:, or name a volume instead of the path')
    if (typeof entry !== 'string' && entry.path === undefined) {
      add('error', 'config/path-or-volume', ['paths', index], `paths[${index}] names neither a path nor a volume`, 'give `path: /rails/storage` (a directory) or, on a host outside Kamal, `volume: myapp_storage`')
      continue
    }
    const where: YamlPath = typeof entry === 'string' ? ['paths', index] : ['paths', index, 'path']
    const raw = typeof entry === 'string' ? entry : entry.path!
    const exclude = typeof entry === 'string' ? [] : (entry.exclude ?? [])
    const allowEmpty = typeof entry === 'string' ? false : (entry.allow_empty ?? false)
    const maxShrink = typeof entry === 'string' ? DEFAULT_MAX_SHRINK : (entry.max_shrink ?? DEFAULT_MAX_SHRINK)
    if (!isAbsolute(raw)) {
      add('error', 'config/relative-path', where, `path "${raw}" must be absolute (it is a directory inside the accessory container)`, `e.g. /rails/${raw.replace(/^\.?\//, '')}`)
      continue
    }
    const normal = resolve(raw)
    if (SUSPICIOUS_PATHS.has(normal)) {
      add('error', 'config/suspicious-path', where, `refusing to back up "${normal}": it is a system directory, not app data`, 'list the mounted data directories instead, e.g. /rails/storage')
      continue
    }
    const label = pathLabel(normal)
    if (labels.has(label)) {
      add('error', 'config/duplicate-path', where, `path "${raw}" is listed twice`, 'remove one of the two entries')
      continue
    }
    labels.set(label, normal)
    paths.push({path: normal, exclude, label, allowEmpty, maxShrink})
  }
  for (const a of paths) {
    for (const b of paths) {
      if (a !== b && !a.volume && !b.volume && b.path.startsWith(a.path + '/')) add('warning', 'config/nested-path', ['paths'], `path "${b.path}" is inside "${a.path}" and will be stored twice`, `remove "${b.path}"`)
    }
  }
  if (databases.length === 0 && paths.length === 0 && !findings.some((f) => f.severity === 'error')) {
    add('error', 'config/nothing-to-back-up', [], 'no databases and no paths: nothing would be backed up', 'add a database under `databases:` (e.g. - {name: primary, adapter: postgres, url: "postgres://app@myapp-db:5432/myapp_production", password: {secret: POSTGRES_PASSWORD}}) or a directory the app keeps data in under `paths:` (e.g. - /rails/storage)')
  }

  // ---- restic
  const r = data.restic ?? ({} as Partial<KamalBackupFile['restic']>)
  const restic: ResticConfig = {
    ...repositoryAccess(r, ['restic'], add),
    checkAfterBackup: r.check_after_backup ?? false,
    forgetAfterBackup: r.forget_after_backup ?? true,
    copies: [],
  }
  if (r.check_read_data_subset !== undefined) {
    restic.checkReadDataSubset = r.check_read_data_subset
    const problem = readDataSubsetProblem(r.check_read_data_subset)
    if (problem) add('error', 'config/read-data-subset', ['restic', 'check_read_data_subset'], `check_read_data_subset: ${problem}; restic would refuse it, failing every backup at its check step`, 'use a percentage above 0 and at most 100 (5%), a fraction n/t with 1 ≤ n ≤ t (1/7), or a size (500M)')
    if (!restic.checkAfterBackup) add('warning', 'config/unused-setting', ['restic', 'check_read_data_subset'], 'check_read_data_subset has no effect unless check_after_backup is true (it still applies to `kamal-backup check`)', 'set restic.check_after_backup: true, or remove check_read_data_subset')
  }
  if (r.retention) restic.retention = retentionPolicy(r.retention, ['restic', 'retention'], add)
  restic.copies = copies(r, restic, add)
  // Seed 004: the repository is checked regularly, or corruption shows up only when a restore is needed.
  if (!restic.checkAfterBackup) {
    add('warning', 'config/no-check', ['restic'], 'restic check never runs on its own (check_after_backup is off): a damaged repository would only be noticed during a restore', 'set restic.check_after_backup: true (add check_read_data_subset: 5% to also read back part of the data), or run `kamal-backup check` on a schedule')
  }
  // Cross-check 4 (seed 004: retention must be explicit, and forget must actually run).
  if (!restic.retention) {
    add('warning', 'config/no-retention', ['restic'], 'no retention policy: snapshots are never deleted and the repository grows forever', 'add restic.retention, e.g. keep_daily: 7, keep_weekly: 4, keep_monthly: 6')
  } else if (!restic.forgetAfterBackup) {
    add('warning', 'config/forget-disabled', ['restic', 'forget_after_backup'], 'forget_after_backup is false: the retention policy only applies when someone runs `kamal-backup prune`', 'set forget_after_backup: true, or schedule `kamal-backup prune`')
  }

  // ---- backup + state
  let schedule
  try {
    schedule = parseSchedule(data.backup?.schedule ?? DEFAULT_SCHEDULE)
    // A valid-looking expression such as "0 0 31 2 *" would only fail in the scheduler, in production.
    if (schedule.kind === 'cron') nextRun(schedule, new Date())
  } catch (error) {
    if (!(error instanceof ScheduleError)) throw error
    add('error', 'config/schedule', ['backup', 'schedule'], error.message, 'e.g. schedule: 1d, or schedule: "0 3 * * *" for 03:00 UTC')
  }
  if (typeof data.metrics?.textfile === 'string' && !isAbsolute(data.metrics.textfile)) {
    add('error', 'config/relative-path', ['metrics', 'textfile'], `metrics.textfile "${data.metrics.textfile}" must be absolute (a file inside the accessory)`, 'e.g. /var/lib/kamal-backup/metrics.prom, or leave it out for <state>/metrics.prom')
  }
  if (data.metrics?.textfile === true) add('error', 'config/metrics', ['metrics', 'textfile'], 'metrics.textfile: true says nothing: the textfile is written by default', 'leave textfile out for <state>/metrics.prom, give a path, or false for none')
  if (data.state?.path !== undefined && !isAbsolute(data.state.path)) {
    add('error', 'config/relative-path', ['state', 'path'], `state.path "${data.state.path}" must be absolute (a directory inside the accessory)`, 'e.g. /var/lib/kamal-backup')
  }

  // ---- notify
  const notify: NotifyTarget[] = []
  for (const [index, entry] of (data.notify ?? []).entries()) {
    if (!entry) continue
    const path: YamlPath = ['notify', index]
    const events = entry.events ?? (entry.type === 'healthchecks' ? DEFAULT_HEALTHCHECKS_ON : DEFAULT_NOTIFY_ON)
    if (entry.signing_secret !== undefined && entry.type !== 'webhook') add('error', 'config/notify-target', [...path, 'signing_secret'], `a ${entry.type} target takes no signing_secret (only webhook bodies are signed)`, 'remove signing_secret')
    if (entry.type === 'command') {
      if (entry.url !== undefined) add('error', 'config/notify-target', [...path, 'url'], 'a command target takes "command", not "url"', 'remove url:, or use type: webhook')
      if (!entry.command) {
        add('error', 'config/notify-target', path, 'a command target needs "command": the program and its arguments', 'e.g. command: [/usr/local/bin/page-oncall, --team, ops]')
        continue
      }
      notify.push({type: 'command', command: entry.command, events})
      continue
    }
    if (entry.command !== undefined) add('error', 'config/notify-target', [...path, 'command'], `a ${entry.type} target takes "url", not "command"`, 'remove command:, or use type: command')
    if (entry.url === undefined) {
      add('error', 'config/notify-target', path, `a ${entry.type} target needs "url"`, `e.g. url: {secret: ${entry.type.toUpperCase()}_URL} (listed under the accessory's env.secret)`)
      continue
    }
    const url = valueRef(entry.url)
    if (url.kind === 'value' && !/^https?:\/\/[^/\s]+/.test(url.value)) add('error', 'config/notify-target', [...path, 'url'], `"${url.value}" is not an http(s) URL`, entry.type === 'healthchecks' ? 'e.g. https://hc-ping.com/<uuid>' : 'e.g. https://ntfy.sh/myapp-backups')
    notify.push(entry.type === 'webhook' ? {type: 'webhook', url, ...(entry.signing_secret && {signingSecret: valueRef(entry.signing_secret)}), events} : {type: entry.type, url, events})
  }

  const config: BackupConfig = {
    file: source.file,
    app: data.app ?? '',
    ...(data.accessory !== undefined && {accessory: data.accessory}),
    databases,
    paths,
    restic,
    schedule: schedule ?? parseSchedule(DEFAULT_SCHEDULE),
    enabled: data.backup?.enabled ?? true,
    preDeployKeep: data.backup?.pre_deploy_keep ?? DEFAULT_PRE_DEPLOY_KEEP,
    ...(data.state?.path !== undefined && {statePath: resolve(data.state.path)}),
    notify,
    metrics: {
      ...(data.metrics?.textfile !== undefined && data.metrics.textfile !== true && {textfile: data.metrics.textfile === false ? false : resolve(data.metrics.textfile)}),
      ...(data.metrics?.port !== undefined && {port: data.metrics.port}),
      address: data.metrics?.address ?? '0.0.0.0',
    },
    drill: {checkEnv: (data.drill?.check_env ?? []).filter((name) => typeof name === 'string')},
    evidence: {...(data.evidence?.signing_key !== undefined && {signingKey: valueRef(data.evidence.signing_key)})},
  }
  const valid = cut.length === 0 && schedule !== undefined && !findings.some((f) => f.severity === 'error')
  return {findings, partial: config, ...(valid && {config})}
}

export function valueRef(value: string | {secret: string}): ValueRef {
  return typeof value === 'string' ? {kind: 'value', value} : {kind: 'secret', name: value.secret}
}

export function passwordRef(value: {secret?: string; file?: string; command?: string}): PasswordRef {
  if (value.secret !== undefined) return {kind: 'secret', name: value.secret}
  if (value.file !== undefined) return {kind: 'file', path: value.file}
  return {kind: 'command', command: value.command!}
}

/** GOOGLE_APPLICATION_CREDENTIALS: /secrets/gcs.json names a file; the secret is its content, not the path. */
function isCredentialsFilePath(name: string, value: string): boolean {
  return /^\/\S*$/.test(value) && /(CREDENTIALS|_FILE|_PATH|_DIR|CERT)$/i.test(name)
}

type Add = (severity: 'error' | 'warning', rule: FindingRule, path: YamlPath, message: string, suggestion?: string) => void

type RepositoryKeys = Partial<Pick<NonNullable<KamalBackupFile['restic']>, 'repository' | 'repository_file' | 'password' | 'rest' | 'env' | 'options' | 'init_if_missing'>>

/** The keys that reach a repository, under `restic:` or one of its copies (`path`). */
function repositoryAccess(r: RepositoryKeys, path: YamlPath, add: Add): RepositoryAccess {
  const where = formatPath(path)
  const access: RepositoryAccess = {
    // Absent only when cut out for a schema error (then this config is never run: validate's cross-checks only).
    password: r.password ? passwordRef(r.password) : {kind: 'secret', name: ''},
    env: {},
    options: r.options ?? [],
    initIfMissing: r.init_if_missing ?? false,
  }
  if (r.repository !== undefined) {
    access.repository = valueRef(r.repository)
    if (access.repository.kind === 'value') checkRepository(access.repository.value, [...path, 'repository'], add)
  }
  if (r.repository_file !== undefined) access.repositoryFile = r.repository_file
  if (access.repository && access.repositoryFile) add('error', 'config/repository-twice', [...path, 'repository_file'], `set either ${where}.repository or ${where}.repository_file, not both`, 'remove one of them: repository_file only for a file inside the accessory that holds the repository')
  if (!access.repository && !access.repositoryFile) {
    add('error', 'config/no-repository', path, `${where}.repository is missing: kamal-backup needs to know where to store backups`, 'e.g. repository: s3:https://s3.eu-central-1.amazonaws.com/myapp-backups, or {secret: RESTIC_REPOSITORY}')
  }
  if (r.rest) {
    access.rest = {}
    if (r.rest.username !== undefined) access.rest.username = valueRef(r.rest.username)
    if (r.rest.password !== undefined) access.rest.password = valueRef(r.rest.password)
    if (access.rest.password && !access.rest.username) add('error', 'config/rest-username', [...path, 'rest'], `${where}.rest.password is set without ${where}.rest.username`, 'add rest.username: <user> (or {secret: RESTIC_REST_USERNAME})')
  }
  for (const [name, value] of Object.entries(r.env ?? {})) {
    const ref = valueRef(value)
    if (ref.kind === 'value' && isSecretName(name) && !isCredentialsFilePath(name, ref.value)) {
      add('error', 'schema/literal-secret', [...path, 'env', name], `${where}.env.${name} is a literal secret; it would be committed to git and uploaded in clear text`, `write ${name}: {secret: ${name}}, put it in .kamal/secrets and list it under the accessory's env.secret`)
    }
    access.env[name] = ref
  }
  return access
}

function retentionPolicy(k: NonNullable<NonNullable<KamalBackupFile['restic']>['retention']>, path: YamlPath, add: Add): RetentionPolicy {
  const policy: RetentionPolicy = {
    ...(k.keep_last !== undefined && {keepLast: k.keep_last}),
    ...(k.keep_hourly !== undefined && {keepHourly: k.keep_hourly}),
    ...(k.keep_daily !== undefined && {keepDaily: k.keep_daily}),
    ...(k.keep_weekly !== undefined && {keepWeekly: k.keep_weekly}),
    ...(k.keep_monthly !== undefined && {keepMonthly: k.keep_monthly}),
    ...(k.keep_yearly !== undefined && {keepYearly: k.keep_yearly}),
    ...(k.keep_within !== undefined && {keepWithin: k.keep_within}),
  }
  const keepsSomething = Object.entries(policy).some(([key, v]) => (key === 'keepWithin' ? true : (v as number) > 0))
  if (!keepsSomething) add('error', 'config/retention-keeps-nothing', path, 'this retention policy keeps no snapshots: every backup would be deleted by the next prune', 'set at least one keep_* value above 0, e.g. keep_daily: 7')
  return policy
}

const sameRef = (a: ValueRef | undefined, b: ValueRef | undefined): boolean => a !== undefined && b !== undefined && a.kind === b.kind && (a.kind === 'value' ? a.value === (b as typeof a).value : a.name === (b as typeof a).name)

/** restic.copies: each reachable on its own, not the primary again, and compatible with it in one `restic copy`. */
function copies(r: Partial<NonNullable<KamalBackupFile['restic']>>, primary: ResticConfig, add: Add): CopyConfig[] {
  const out: CopyConfig[] = []
  const names = new Map<string, number>()
  for (const [index, entry] of (r.copies ?? []).entries()) {
    if (!entry) continue
    const path: YamlPath = ['restic', 'copies', index]
    const copy: CopyConfig = {name: entry.name, ...repositoryAccess(entry, path, add)}
    if (entry.retention) copy.retention = retentionPolicy(entry.retention, [...path, 'retention'], add)
    const earlier = names.get(entry.name)
    if (earlier !== undefined) add('error', 'config/duplicate-copy', [...path, 'name'], `copy name "${entry.name}" is used twice (also restic.copies[${earlier}])`, 'give each copy its own name: commands name it (list --repository NAME)')
    names.set(entry.name, index)
    if (sameRef(copy.repository, primary.repository) || (copy.repositoryFile !== undefined && copy.repositoryFile === primary.repositoryFile)) {
      add('error', 'config/copy-is-primary', [...path, 'repository'], `restic.copies[${index}] (${entry.name}) is the primary repository again: a copy there protects nothing`, 'point it at a second place: another bucket, provider or server')
    }
    // One restic process reaches both repositories in `restic copy`, with one environment: a backend variable
    // set differently for the two cannot be given to it.
    for (const [name, ref] of Object.entries(copy.env)) {
      const other = primary.env[name]
      if (other && !sameRef(ref, other)) {
        add('error', 'config/copy-backend-env', [...path, 'env', name], `restic.copies[${index}].env.${name} differs from restic.env.${name}: restic copy reaches both repositories from one process with one environment, so each variable can have one value`, 'use the same credentials for both (an access key allowed on both buckets), or a backend that carries its credentials in the repository URL ({secret: ...}), such as rest: or sftp:')
      }
    }
    const optionKey = (o: string) => o.slice(0, o.indexOf('='))
    for (const [i, option] of copy.options.entries()) {
      const other = primary.options.find((o) => optionKey(o) === optionKey(option))
      if (other !== undefined && other !== option) {
        add('error', 'config/copy-backend-env', [...path, 'options', i], `restic.copies[${index}].options sets ${optionKey(option)} differently from restic.options: restic copy passes every -o option to both repositories`, 'give the option one value for both, or leave it to one of them')
      }
    }
    out.push(copy)
  }
  return out
}

function checkDatabaseUrl(text: string, adapter: Adapter, path: YamlPath, add: Add): void {
  const {schemes, example} = DATABASE_KINDS[adapter]
  let url: URL
  try {
    url = new URL(text)
  } catch {
    add('error', 'config/database-url', path, `not a valid ${adapter} URL`, `e.g. ${example}`)
    return
  }
  if (url.password) {
    add('error', 'config/url-password', path, 'the database URL contains a password; it would be committed to git', 'remove the password from the URL and add `password: {secret: NAME}` to this database (or make the whole url a {secret: DATABASE_URL})')
  }
  if (!schemes.includes(url.protocol)) {
    add('error', 'config/database-url', path, `a ${adapter} URL must start with ${schemes.map((s) => s + '//').join(' or ')}, not ${url.protocol}//`, `write it as ${schemes[0]}//${url.host}${url.pathname}, or change the adapter`)
  }
  if (!url.pathname.replace(/^\//, '')) add('error', 'config/database-url', path, 'the database URL has no database name', `add it as the path, e.g. ${url.protocol}//${url.host}/myapp_production`)
  if (!url.hostname) add('error', 'config/database-url', path, 'the database URL has no host', 'use the accessory container name, e.g. myapp-db')
}

function checkRepository(text: string, path: YamlPath, add: Add): void {
  const urlPart = /^(?:rest|s3|swift|b2|azure|gs):(.*)$/.exec(text)?.[1] ?? text
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]*)@/i.exec(urlPart)
  if (match && match[1]!.includes(':')) {
    add('error', 'config/url-password', path, 'the repository contains a password; it would be committed to git', 'for a REST server use restic.rest.username and restic.rest.password: {secret: NAME}; otherwise write repository: {secret: RESTIC_REPOSITORY}')
  }
  if (!/^[a-z0-9]+:/i.test(text) && !isAbsolute(text)) {
    add('error', 'config/relative-path', path, `repository "${text}" is neither a backend URL (s3:, rest:, sftp:, rclone:, b2:, azure:, gs:, swift:) nor an absolute path`, 'e.g. repository: s3:https://s3.eu-central-1.amazonaws.com/myapp-backups, or an absolute path inside the accessory')
  }
}

// ---------------------------------------------------------------------------------------------------------------
// config/kamal-backup.local.yml (workstation restore targets)

export interface LocalDatabaseTarget {
  name: string
  url?: ValueRef
  password?: PasswordRef
  path?: string
}

export interface LocalConfig {
  file: string
  databases: LocalDatabaseTarget[]
  paths: {from: string; to: string}[]
  restic: Partial<Pick<ResticConfig, 'repository' | 'repositoryFile' | 'password' | 'rest' | 'env' | 'options'>>
  statePath?: string
}

/** `productionPaths`: the paths of kamal-backup.yml, to explain a local file of the Ruby gem (which paired them with
 *  its local paths by position). */
export function loadLocalConfig(absolute: string, cwd: string, productionPaths: readonly string[] = []): {config?: LocalConfig; source?: ParsedFile<KamalBackupLocalFile>; findings: Finding[]} {
  const {parsed, findings} = readYamlFile<KamalBackupLocalFile>(absolute, cwd, {optional: true})
  if (!parsed) return {findings}
  if (!(validateLocalFile(parsed.data) as boolean)) {
    const problems = schemaFindings((validateLocalFile as unknown as {errors: never}).errors, parsed.data, {
      schemas: SCHEMAS,
      rootSchema: 'kamal-backup.local.schema.json',
      positions: parsed.positions,
      rulePrefix: 'schema',
      patternHints: PATTERN_HINTS,
      secretPaths: SECRET_PATHS,
      secretMaps: SECRET_MAPS,
    })
    findings.push(...explainGemFormat(parsed, problems, () => migrateGemLocalConfig(parsed.text, productionPaths)))
    return {findings}
  }
  const d = parsed.data
  const restic: LocalConfig['restic'] = {}
  if (d.restic?.repository !== undefined) restic.repository = valueRef(d.restic.repository)
  if (d.restic?.repository_file !== undefined) restic.repositoryFile = d.restic.repository_file
  if (d.restic?.password !== undefined) restic.password = passwordRef(d.restic.password)
  if (d.restic?.env) restic.env = Object.fromEntries(Object.entries(d.restic.env).map(([k, v]) => [k, valueRef(v)]))
  if (d.restic?.options) restic.options = d.restic.options
  if (d.restic?.rest) {
    restic.rest = {}
    if (d.restic.rest.username !== undefined) restic.rest.username = valueRef(d.restic.rest.username)
    if (d.restic.rest.password !== undefined) restic.rest.password = valueRef(d.restic.rest.password)
  }
  const base = resolve(cwd)
  return {
    findings,
    source: parsed,
    config: {
      file: parsed.file,
      databases: (d.databases ?? []).map((db) => ({
        name: db.name,
        ...(db.url !== undefined && {url: valueRef(db.url)}),
        ...(db.password !== undefined && {password: passwordRef(db.password)}),
        ...(db.path !== undefined && {path: resolve(base, db.path)}),
      })),
      // A volume (host mode) is named as `volume:<name>`, the way kamal-backup.yml's volume entries are known.
      paths: (d.paths ?? []).map((p) => ({from: p.from.startsWith('volume:') ? p.from : resolve(p.from), to: resolve(base, p.to)})),
      restic,
      ...(d.state?.path !== undefined && {statePath: resolve(base, d.state.path)}),
    },
  }
}

/**
 * Seed 004, restore procedures: config/kamal-backup.local.yml is the written-down restore procedure for a
 * workstation (`restore local`, `drill local`). When it exists, it must restore what is backed up: targets for
 * databases and paths that exist, and a target for every backed-up path (paths are never restored without one).
 */
export function checkRestoreTargets(config: BackupConfig, local: LocalConfig, positions: PositionMap): Finding[] {
  const findings: Finding[] = []
  const names = config.databases.map((d) => d.name)
  local.databases.forEach((db, index) => {
    if (names.includes(db.name)) return
    const guess = didYouMean(db.name, names)
    const path: YamlPath = ['databases', index, 'name']
    findings.push(finding('error', 'config/restore-target-unknown', positions.nearest(path), path, `${local.file} restores database "${db.name}", but ${config.file} backs up no database of that name`, guess ? `did you mean "${guess}"?` : `databases backed up: ${names.join(', ') || '(none)'}`))
  })
  const backedUp = config.paths.map((p) => p.path)
  local.paths.forEach((p, index) => {
    if (backedUp.includes(p.from)) return
    const guess = didYouMean(p.from, backedUp)
    const path: YamlPath = ['paths', index, 'from']
    findings.push(finding('error', 'config/restore-target-unknown', positions.nearest(path), path, `${local.file} restores path ${p.from}, but ${config.file} does not back it up`, guess ? `did you mean "${guess}"?` : `paths backed up: ${backedUp.join(', ') || '(none)'}`))
  })
  for (const p of backedUp) {
    if (local.paths.some((t) => t.from === p)) continue
    findings.push(finding('warning', 'config/restore-path-missing', positions.nearest(['paths']), ['paths'], `${local.file} has no restore target for ${p}: \`restore local\` and \`drill local\` would skip those files`, `add to paths: - {from: ${p}, to: storage} (the local directory it replaces)`))
  }
  return findings
}
