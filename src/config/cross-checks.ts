// The checks that make `validate` worth running in CI: kamal-backup.yml against the backup accessory in
// deploy.yml. Each one catches a way backups silently fail in production.
import {isAbsolute, posix, relative, resolve} from 'node:path'
import type {KamalBackupFile} from '../generated/schema-types.js'
import type {SecretsSource} from '../kamal/secrets.js'
import type {DeployModel, Mount, Volume} from '../kamal/model.js'
import type {PositionMap, YamlPath} from '../kamal/yaml.js'
import {ConfigError} from '../errors.js'
import {didYouMean, finding, joinSuggestions, type Finding} from './findings.js'
import {ACCESSORY_CONFIG_PATH, DEFAULT_STATE_DIR, type BackupConfig, type ValueRef} from './types.js'

export interface CrossCheckInput {
  cwd: string
  config: BackupConfig
  /** Positions in kamal-backup.yml. */
  positions: PositionMap
  /** The raw kamal-backup.yml (to find every {secret:} with its key path). */
  raw: KamalBackupFile
  /** The absolute path of the kamal-backup.yml being validated. */
  configAbsolute: string
  model: DeployModel
  /** null when secrets were not to be read (--skip-secrets). */
  secrets: SecretsSource | null
}

export function crossCheck(input: CrossCheckInput): Finding[] {
  const findings: Finding[] = []
  const {config, model, positions} = input
  const acc = model.accessory
  const accPath = `accessories.${acc.name}`
  const accAt = acc.position
  const cfgAt = (path: YamlPath) => positions.nearest(path)

  // 0. The image: not fatal (a fork or a private mirror is fine), but worth saying.
  if (acc.image && !acc.image.includes('kamal-backup')) {
    findings.push(finding('warning', 'kamal/image', accAt, `${accPath}.image`, `accessory "${acc.name}" runs image "${acc.image}", which does not look like a kamal-backup image`, 'use the kamal-backup image (see README "The accessory image")'))
  }

  // 1. config/kamal-backup.yml reaches the container at the path the image reads.
  const wanted = acc.env.clear.KAMAL_BACKUP_CONFIG || ACCESSORY_CONFIG_PATH
  const uploaded = acc.files.find((m) => resolve(input.cwd, m.local) === input.configAbsolute)
  if (!uploaded) {
    findings.push(
      finding('error', 'kamal/config-not-mounted', accAt, `${accPath}.files`, `accessory "${acc.name}" does not upload ${config.file}: the container would run without its configuration`, `add to ${accPath}.files: "${relative(input.cwd, input.configAbsolute)}:${wanted}:ro"`),
    )
  } else if (uploaded.remote !== wanted) {
    findings.push(
      finding('error', 'kamal/config-wrong-path', accAt, `${accPath}.files`, `${config.file} is mounted at ${uploaded.remote}, but the image reads ${wanted}`, `mount it at ${wanted}, or set env.clear.KAMAL_BACKUP_CONFIG: ${uploaded.remote}`),
    )
  }

  // 2. Everything backed up, and the state directory, lives on a mount; otherwise the container's own empty
  //    directory would be backed up.
  const mounts = mountTargets(acc.volumes, acc.directories)
  config.paths.forEach((p, index) => {
    const mount = covering(mounts, p.path)
    const path: YamlPath = typeof input.raw.paths?.[index] === 'string' ? ['paths', index] : ['paths', index, 'path']
    if (!mount) {
      findings.push(finding('error', 'kamal/path-not-mounted', cfgAt(path), path, `path ${p.path} is not inside any volume or directory of accessory "${acc.name}": the backup would capture the container's own empty directory`, suggestMount(p.path, model)))
    }
  })
  config.databases.forEach((db, index) => {
    if (db.adapter !== 'sqlite' || db.path?.kind !== 'value') return
    const path: YamlPath = ['databases', index, 'path']
    const mount = covering(mounts, db.path.value)
    if (!mount) {
      findings.push(finding('error', 'kamal/path-not-mounted', cfgAt(path), path, `SQLite database ${db.path.value} is not inside any volume or directory of accessory "${acc.name}": the backup would not see the app's database`, suggestMount(posix.dirname(db.path.value), model)))
    } else if (mount.readOnly) {
      findings.push(finding('warning', 'kamal/read-only-mount', cfgAt(path), path, `SQLite database ${db.path.value} is on a read-only mount: a WAL-mode database cannot be read consistently, and restores cannot write it`, `remove ":ro" from the volume mounted at ${mount.target}`))
    }
  })
  const statePath = config.statePath ?? acc.env.clear.KAMAL_BACKUP_STATE_DIR ?? DEFAULT_STATE_DIR
  if (!covering(mounts, statePath)) {
    const path: YamlPath = config.statePath ? ['state', 'path'] : []
    findings.push(
      finding('warning', 'kamal/state-not-mounted', config.statePath ? cfgAt(path) : accAt, config.statePath ? path : `${accPath}.volumes`, `the state directory ${statePath} is not on a volume: run records, check results and drill evidence vanish when the accessory is rebooted`, `add to ${accPath}.volumes: "${model.service}_backup_state:${statePath}"`),
    )
  }

  // 3. Every {secret: NAME} is given to the container and has a value for this destination.
  const declared = new Map(acc.env.secret.map((s) => [s.name, s]))
  // A secrets file that cannot be evaluated (a failing $(command)) fails every lookup: report it once.
  let secretsFailed = false
  for (const ref of secretRefs(input.raw)) {
    const at = cfgAt(ref.path)
    if (acc.env.clear[ref.name] !== undefined) continue // a clear variable: present, just not secret
    const entry = declared.get(ref.name)
    if (!entry) {
      const guess = didYouMean(ref.name, [...declared.keys()])
      findings.push(
        finding('error', 'kamal/secret-not-declared', at, ref.path, `secret ${ref.name} is not passed to accessory "${acc.name}" (missing from ${accPath}.env.secret): it would be empty in the container`, guess ? `did you mean ${guess}? Otherwise add ${ref.name} to ${accPath}.env.secret` : `add ${ref.name} to ${accPath}.env.secret and define it in ${model.secretsPath}`),
      )
      continue
    }
    if (!input.secrets || secretsFailed) continue
    try {
      const value = input.secrets.get(entry.secret)
      const files = input.secrets.files.length > 0 ? input.secrets.files.join(', ') : `${model.secretsPath} (no secrets files found)`
      if (!value) {
        findings.push(finding('error', 'kamal/secret-missing', at, ref.path, `secret ${entry.secret} (for ${ref.name}) is not defined in ${files}`, `add ${entry.secret}=... to ${secretsFileFor(model)} (a $(command) reading your password manager is fine)`))
      } else if (value.value.trim() === '') {
        findings.push(finding('error', 'kamal/secret-empty', {file: value.file, line: value.line, column: 1}, entry.secret, `secret ${entry.secret} (for ${ref.name}) is empty in ${value.file}`, `give ${entry.secret} a value, or fix the command that produces it`))
      }
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      secretsFailed = true
      const loc = error.location
      findings.push(finding('error', error.code.includes('/') ? error.code : 'secrets/command-failed', {file: loc?.file ?? model.secretsPath, line: loc?.line ?? 1, column: loc?.column ?? 1}, loc?.key ?? '', error.message, joinSuggestions([...error.suggestions, 'or run `kamal-backup validate --skip-secrets` where the secret store is not available'])))
    }
  }
  // A password file must be inside the container too.
  if (config.restic.password.kind === 'file' && !covering(mountTargets(acc.volumes, [...acc.directories, ...acc.files]), config.restic.password.path)) {
    findings.push(finding('warning', 'kamal/password-file-not-mounted', cfgAt(['restic', 'password', 'file']), ['restic', 'password', 'file'], `the restic password file ${config.restic.password.path} is not mounted into accessory "${acc.name}"`, `mount it with ${accPath}.files`))
  }

  // 5. A database host that looks like a Kamal accessory container must be one.
  config.databases.forEach((db, index) => {
    if (db.url?.kind !== 'value') return
    let host: string
    try {
      host = new URL(db.url.value).hostname
    } catch {
      return
    }
    const prefix = `${model.service}-`
    const containers = Object.values(model.containers)
    if (!host.startsWith(prefix) || containers.includes(host)) return
    const name = host.slice(prefix.length)
    const guess = didYouMean(name, model.accessoryNames)
    const path: YamlPath = ['databases', index, 'url']
    findings.push(
      finding('error', 'kamal/database-host-unknown', cfgAt(path), path, `database host "${host}" looks like a Kamal accessory container, but there is no accessory "${name}" in ${model.configFile}`, guess ? `did you mean "${prefix}${guess}" (accessory "${guess}")?` : `accessories: ${model.accessoryNames.join(', ') || '(none)'}`),
    )
  })
  return findings
}

interface MountTarget {
  target: string
  readOnly: boolean
}

function mountTargets(volumes: Volume[], directories: Mount[]): MountTarget[] {
  return [
    ...volumes.filter((v) => isAbsolute(v.target)).map((v) => ({target: posix.normalize(v.target), readOnly: v.readOnly})),
    ...directories.filter((d) => isAbsolute(d.remote)).map((d) => ({target: posix.normalize(d.remote), readOnly: (d.options ?? '').split(',').includes('ro')})),
  ]
}

/** The deepest mount containing `path`. */
function covering(mounts: MountTarget[], path: string): MountTarget | undefined {
  const p = posix.normalize(path)
  return mounts
    .filter((m) => p === m.target || p.startsWith(m.target.endsWith('/') ? m.target : m.target + '/'))
    .sort((a, b) => b.target.length - a.target.length)[0]
}

function suggestMount(path: string, model: DeployModel): string {
  const volumeName = `${model.service}_${posix.basename(path).replace(/[^A-Za-z0-9_.-]/g, '_') || 'data'}`
  return `mount the app's volume there: add "${volumeName}:${path}" to accessories.${model.accessory.name}.volumes (the same volume the app mounts)`
}

function secretsFileFor(model: DeployModel): string {
  return model.destination ? `${model.secretsPath}.${model.destination} (or ${model.secretsPath}-common)` : `${model.secretsPath} (or ${model.secretsPath}-common)`
}

/** Every `{secret: NAME}` in the raw file, with its key path. */
export function secretRefs(raw: KamalBackupFile): {name: string; path: YamlPath}[] {
  const out: {name: string; path: YamlPath}[] = []
  const visit = (value: unknown, path: YamlPath) => {
    if (Array.isArray(value)) value.forEach((v, i) => visit(v, [...path, i]))
    else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>
      if (typeof record.secret === 'string' && Object.keys(record).length === 1) out.push({name: record.secret, path: [...path, 'secret']})
      else for (const [k, v] of Object.entries(record)) visit(v, [...path, k])
    }
  }
  visit(raw, [])
  return out
}

export function refName(ref: ValueRef | undefined): string | undefined {
  return ref?.kind === 'secret' ? ref.name : undefined
}
