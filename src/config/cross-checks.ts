// The checks that make `validate` worth running in CI: kamal-backup.yml against the backup accessory in
// deploy.yml. Each one catches a way backups silently fail in production.
import {isAbsolute, posix, relative, resolve} from 'node:path'
import type {KamalBackupFile} from '../generated/schema-types.js'
import type {SecretsSource, SecretValue} from '../kamal/secrets.js'
import type {DeployModel, Mount, Volume} from '../kamal/model.js'
import type {Position, PositionMap, YamlPath} from '../parse/yaml.js'
import {ConfigError, isFindingRule, type FindingRule} from '../errors.js'
import {isSecretName, locationCredentials} from '../redact.js'
import {didYouMean, finding, formatPath, joinSuggestions, type Finding} from '../parse/findings.js'
import {ACCESSORY_CONFIG_PATH, DEFAULT_STATE_DIR, mountedVolumePath, type BackupConfig, type ValueRef} from './types.js'
import {IMAGE} from './init.js'
import {gemEnvReplacement} from './gem.js'

/** The published image's tag for this release line (major.minor). */
const IMAGE_TAG = '0.1'


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
  /** The environment validate runs in: `CI` set means a CI job (the advice for secrets it has not got differs). */
  env?: Readonly<Record<string, string | undefined>>
}

/** kamal/secret-empty. A value made of variables that are not set here (`RESTIC_PASSWORD=$RESTIC_PASSWORD`)
 *  names them; in CI (`CI` set: a job that usually has no production secrets) the fix is how to validate there. */
function emptySecret(secret: string, name: string, value: SecretValue, env: Readonly<Record<string, string | undefined>>): Finding {
  const at = {file: value.file, line: value.line, column: 1}
  const unset = value.unset ?? []
  if (unset.length === 0) return finding('error', 'kamal/secret-empty', at, secret, `secret ${secret} (for ${name}) is empty in ${value.file}`, `give ${secret} a value, or fix the command that produces it`)
  const vars = unset.map((v) => `$${v}`).join(', ')
  const message = `secret ${secret} (for ${name}) is empty in ${value.file}: it comes from ${vars}, which ${unset.length > 1 ? 'are' : 'is'} not set in this environment`
  const fix = env.CI
    ? `in CI, run \`kamal-backup validate --skip-secrets\` (it checks that every secret is declared and passed to the accessory, and reads none), or give the job ${unset.join(', ')} (e.g. from the CI's secret store)`
    : `set ${unset.join(', ')} before running kamal-backup (as you do for kamal), or give ${secret} a value in ${value.file}`
  return finding('error', 'kamal/secret-empty', at, secret, message, fix)
}

export function crossCheck(input: CrossCheckInput): Finding[] {
  const findings: Finding[] = []
  const {config, model, positions} = input
  const acc = model.accessory
  const base = ['accessories', acc.name]
  const accPath = `accessories.${acc.name}`
  const cfgAt = (path: YamlPath) => positions.nearest(path)
  // Where an accessory key is written: the destination file when it comes from there (advice to edit the base
  // file would be overridden), else the base file.
  const deployAt = (...keys: (string | number)[]) => model.positions.nearest([...base, ...keys])
  // A key that already has a finding (a typo, a wrong type): the checks built on it would only repeat it.
  const invalid = new Set(acc.invalidKeys)
  const mountsKnown = !invalid.has('volumes') && !invalid.has('directories')

  // 0. The image: not fatal (a fork or a private mirror is fine), but worth saying. The Ruby gem's image reads
  //    another format and speaks no handshake: switching is one line.
  if (acc.image && /(^|\/)crmne\/kamal-backup(:|$)/.test(acc.image)) {
    findings.push(finding('error', 'kamal/gem-image', deployAt('image'), `${accPath}.image`, `accessory "${acc.name}" runs the Ruby gem's image (${acc.image}); this kamal-backup needs its own image in the accessory`, `set image: ${IMAGE}:${IMAGE_TAG} in config/deploy.yml, run \`kamal-backup migrate\` for config/kamal-backup.yml, then kamal accessory reboot ${acc.name} (README "Switching from the Ruby gem")`))
  } else if (acc.image && !acc.image.includes('kamal-backup')) {
    findings.push(finding('warning', 'kamal/image', deployAt('image'), `${accPath}.image`, `accessory "${acc.name}" runs image "${acc.image}", which does not look like a kamal-backup image`, 'use the kamal-backup image (see README "The accessory image")'))
  }

  // 0b. Environment variables the gem read, which this kamal-backup does not: a setting that silently stops working.
  for (const name of [...Object.keys(acc.env.clear), ...acc.env.secret.map((e) => e.name)]) {
    const instead = gemEnvReplacement(name)
    if (!instead) continue
    const at = model.positions.get([...base, 'env', 'clear', name]) ?? deployAt('env')
    findings.push(finding('warning', 'kamal/gem-env', at, `${accPath}.env`, `${name} is an environment variable of the Ruby gem; kamal-backup does not read it, so it changes nothing`, `set ${instead} in ${config.file} instead (kamal-backup migrate writes the gem's defaults there), and remove ${name} from ${accPath}.env`))
  }

  // 1. config/kamal-backup.yml reaches the container at the path the image reads.
  if (!invalid.has('files') && !invalid.has('env')) {
    const wanted = acc.env.clear.KAMAL_BACKUP_CONFIG || ACCESSORY_CONFIG_PATH
    const uploaded = acc.files.find((m) => resolve(input.cwd, m.local) === input.configAbsolute)
    const at = deployAt('files')
    if (!uploaded) {
      findings.push(
        finding('error', 'kamal/config-not-mounted', at, `${accPath}.files`, `accessory "${acc.name}" does not upload ${config.file}: the container would run without its configuration`, `add to ${accPath}.files in ${at.file}: "${relative(input.cwd, input.configAbsolute)}:${wanted}:ro"`),
      )
    } else if (uploaded.remote !== wanted) {
      findings.push(
        finding('error', 'kamal/config-wrong-path', at, `${accPath}.files`, `${config.file} is mounted at ${uploaded.remote}, but the image reads ${wanted}`, `mount it at ${wanted}, or set env.clear.KAMAL_BACKUP_CONFIG: ${uploaded.remote}`),
      )
    }
  }

  // 2. Everything backed up, and the state directory, lives on a mount; otherwise the container's own empty
  //    directory would be backed up. And the mount must be the app's data, not a new empty volume.
  const mounts = mountTargets(acc.volumes, acc.directories)
  const backedUp: {path: string; where: YamlPath; what: string}[] = []
  if (mountsKnown) {
    config.paths.forEach((p, index) => {
      if (p.volume) {
        // In a container a volume entry is read at /volumes/<name>: the accessory must mount that volume there.
        const where: YamlPath = ['paths', index, 'volume']
        const target = mountedVolumePath(p.volume.name)
        const mounted = acc.volumes.some((v) => v.target === target && v.source === p.volume!.name)
        if (!mounted) findings.push(finding('error', 'kamal/volume-entry', cfgAt(where), where, `paths[${index}] names the volume ${p.volume.name}: inside accessory "${acc.name}" it is read at ${target}, where the accessory does not mount it`, `add "${p.volume.name}:${target}" to ${accPath}.volumes in ${deployAt('volumes').file}`))
        return
      }
      const where: YamlPath = typeof input.raw.paths?.[index] === 'string' ? ['paths', index] : ['paths', index, 'path']
      const mount = covering(mounts, p.path)
      if (!mount) {
        findings.push(finding('error', 'kamal/path-not-mounted', cfgAt(where), where, `path ${p.path} is not inside any volume or directory of accessory "${acc.name}": the backup would capture the container's own empty directory`, suggestMount(p.path, model)))
        return
      }
      backedUp.push({path: p.path, where, what: `path ${p.path}`})
      if (mount.readOnly) {
        findings.push(finding('warning', 'kamal/read-only-mount', cfgAt(where), where, `path ${p.path} is on a read-only mount: backups work, but \`kamal-backup restore production\` cannot write the files back`, `remove ":ro" from the ${mount.kind} mounted at ${mount.target} if you want restores in place`))
      }
    })
    config.databases.forEach((db, index) => {
      // A database that lives in a file (SQLite) must be on a volume the accessory mounts.
      if (db.path?.kind !== 'value') return
      const where: YamlPath = ['databases', index, 'path']
      const mount = covering(mounts, db.path.value)
      if (!mount) {
        findings.push(finding('error', 'kamal/path-not-mounted', cfgAt(where), where, `SQLite database ${db.path.value} is not inside any volume or directory of accessory "${acc.name}": the backup would not see the app's database`, suggestMount(posix.dirname(db.path.value), model)))
        return
      }
      backedUp.push({path: db.path.value, where, what: `SQLite database ${db.path.value}`})
      if (mount.readOnly) {
        findings.push(finding('warning', 'kamal/read-only-mount', cfgAt(where), where, `SQLite database ${db.path.value} is on a read-only mount: a WAL-mode database cannot be read consistently, and restores cannot write it`, `remove ":ro" from the ${mount.kind} mounted at ${mount.target}`))
      }
    })
    findings.push(...checkVolumeIdentity(backedUp, model, cfgAt, deployAt))
  }
  const statePath = config.statePath ?? acc.env.clear.KAMAL_BACKUP_STATE_DIR ?? DEFAULT_STATE_DIR
  if (mountsKnown && !invalid.has('env') && !covering(mounts, statePath)) {
    const at = config.statePath ? cfgAt(['state', 'path']) : deployAt('volumes')
    findings.push(
      finding('warning', 'kamal/state-not-mounted', at, config.statePath ? ['state', 'path'] : `${accPath}.volumes`, `the state directory ${statePath} is not on a volume: run records, check results and drill evidence vanish when the accessory is rebooted`, `add to ${accPath}.volumes in ${deployAt('volumes').file}: "${model.service}_backup_state:${statePath}"`),
    )
  }

  // 3. Every {secret: NAME} is given to the container and has a value for this destination.
  findings.push(...checkSecrets(input, deployAt))

  // A name drill.check_env passes on must be set in the container, or the check quietly goes without it.
  if (!invalid.has('env')) {
    const given = new Set([...acc.env.secret.map((s) => s.name), ...Object.keys(acc.env.clear)])
    config.drill.checkEnv.forEach((name, index) => {
      if (given.has(name)) return
      const guess = didYouMean(name, [...given])
      findings.push(finding('warning', 'kamal/check-env-not-set', cfgAt(['drill', 'check_env', index]), ['drill', 'check_env', index], `drill.check_env names ${name}, but accessory "${acc.name}" is not given ${name} (neither env.clear nor env.secret): a drill's --check would run without it`, guess ? `did you mean ${guess}? Otherwise add ${name} to ${accPath}.env in ${deployAt('env').file}` : `add ${name} to ${accPath}.env.clear (or env.secret) in ${deployAt('env').file}, or remove it from drill.check_env`))
    })
  }

  // A password file must be inside the container too.
  if (config.restic.password.kind === 'file' && mountsKnown && !invalid.has('files') && !covering(mountTargets(acc.volumes, [...acc.directories, ...acc.files]), config.restic.password.path)) {
    findings.push(finding('warning', 'kamal/password-file-not-mounted', cfgAt(['restic', 'password', 'file']), ['restic', 'password', 'file'], `the restic password file ${config.restic.password.path} is not mounted into accessory "${acc.name}"`, `mount it with ${accPath}.files`))
  }

  // 5. A database host that looks like a Kamal accessory container must be one, on the backup accessory's host:
  //    container names resolve only between containers on the same Docker host (the kamal network).
  config.databases.forEach((db, index) => {
    if (db.url?.kind !== 'value') return
    const path: YamlPath = ['databases', index, 'url']
    findings.push(...checkDatabaseHost(db.url.value, path, model, cfgAt))
  })
  // {secret: DATABASE_URL}: the same check on the value, when it resolves (the value itself is never shown).
  if (input.secrets) {
    config.databases.forEach((db, index) => {
      const ref = db.url
      if (ref?.kind !== 'secret') return
      const entry = acc.env.secret.find((e) => e.name === ref.name)
      if (!entry) return
      let value: string | undefined
      try {
        const found = input.secrets!.lookup(entry.secret)
        value = found?.failure ? undefined : found?.value
      } catch {
        return // reported by the secrets check
      }
      if (value) findings.push(...checkDatabaseHost(value, ['databases', index, 'url', 'secret'], model, cfgAt, `the database URL in secret ${entry.secret}`))
    })
  }
  return findings
}

function checkDatabaseHost(url: string, path: YamlPath, model: DeployModel, cfgAt: (path: YamlPath) => Position, what?: string): Finding[] {
  let host: string
  try {
    host = new URL(url).hostname
  } catch {
    return []
  }
  const acc = model.accessory
  const subject = what ? `${what} names host "${host}", which` : `database host "${host}"`
  const owner = Object.entries(model.containers).find(([, container]) => container === host)?.[0]
  if (owner) {
    const dbHosts = model.accessoryHosts[owner]
    if (!dbHosts || dbHosts.length === 0 || acc.hosts.length === 0 || owner === acc.name) return []
    const away = acc.hosts.filter((h) => !dbHosts.includes(h))
    if (away.length === 0) return []
    return [
      finding(
        'error',
        'kamal/database-host-elsewhere',
        cfgAt(path),
        path,
        `${what ? `${subject} is` : `${subject} is`} the container of accessory "${owner}", which runs on ${dbHosts.join(', ')}, but the backup accessory runs on ${away.join(', ')}: container names resolve only between containers on the same Docker host (the kamal network)`,
        `run the backup accessory on ${dbHosts[0]} (if it backs up no app files), or connect through ${dbHosts[0]}'s address and a port accessory "${owner}" publishes on a private interface (port: "<private-ip>:${defaultPort(url)}:${defaultPort(url)}")`,
      ),
    ]
  }
  const prefix = `${model.service}-`
  if (!host.startsWith(prefix)) return []
  const name = host.slice(prefix.length)
  const guess = didYouMean(name, model.accessoryNames)
  return [
    finding('error', 'kamal/database-host-unknown', cfgAt(path), path, `${what ? `${subject} looks` : `${subject} looks`} like a Kamal accessory container, but there is no accessory "${name}" in ${model.configFile}`, guess ? `did you mean "${prefix}${guess}" (accessory "${guess}")?` : `accessories: ${model.accessoryNames.join(', ') || '(none)'}`),
  ]
}

function defaultPort(url: string): string {
  try {
    const parsed = new URL(url)
    return parsed.port || (/^(mysql|mariadb|trilogy)/.test(parsed.protocol) ? '3306' : '5432')
  } catch {
    return '5432'
  }
}

/**
 * A backed-up directory must be the app's data. Docker creates a new, empty named volume for a name it has not
 * seen (a typo such as sampel_storage), an anonymous volume is empty, and a relative `directories:` entry is a
 * fresh directory under the accessory's own folder: each backs up nothing, successfully, every day.
 */
function checkVolumeIdentity(backedUp: {path: string; where: YamlPath; what: string}[], model: DeployModel, cfgAt: (path: YamlPath) => Position, deployAt: (...keys: (string | number)[]) => Position): Finding[] {
  const out: Finding[] = []
  const acc = model.accessory
  const seen = new Set<string>()
  for (const item of backedUp) {
    const mount = coveringMount(acc, item.path)
    if (!mount || seen.has(`${mount.kind}:${mount.index}`)) continue
    seen.add(`${mount.kind}:${mount.index}`)
    const at = deployAt(mount.kind, mount.index)
    const path = `accessories.${acc.name}.${mount.kind}[${mount.index}]`
    if (mount.kind === 'directories') {
      const local = acc.directories[mount.index]!.local
      if (!isAbsolute(local)) {
        out.push(finding('warning', 'kamal/volume-mismatch', at, path, `${item.what} comes from directories: entry "${local}:${mount.target}", which Kamal creates fresh under the accessory's own folder on the host ($PWD/${acc.container}/${local}): it never holds the app's files`, `mount the app's volume instead: add "${appVolumeFor(model, mount.target) ?? `${model.service}_data:${mount.target}`}" to accessories.${acc.name}.volumes`))
      }
      continue
    }
    const volume = acc.volumes[mount.index]!
    const app = model.appVolumes.find((v) => posix.normalize(v.target) === mount.target)
    if (volume.source === '') {
      out.push(finding('warning', 'kamal/volume-mismatch', at, path, `${item.what} is on an anonymous volume (${mount.target}): Docker creates it empty for the accessory, so the backup sees none of the app's data`, `mount the app's volume: "${app && app.source ? `${app.source}:${app.target}` : `${model.service}_storage:${mount.target}`}"`))
    } else if (app && app.source && app.source !== volume.source) {
      out.push(finding('warning', 'kamal/volume-mismatch', at, path, `accessory "${acc.name}" mounts "${volume.source}" at ${mount.target}, but the app mounts "${app.source}" there: Docker would create a new, empty volume "${volume.source}" and the backup would capture nothing`, `use the app's volume: "${app.source}:${mount.target}"${didYouMean(volume.source, [app.source]) ? ` (did you mean "${app.source}"?)` : ''}`))
    }
  }
  return out
}

function appVolumeFor(model: DeployModel, target: string): string | undefined {
  const app = model.appVolumes.find((v) => v.source && posix.normalize(v.target) === target)
  return app ? `${app.source}:${app.target}` : undefined
}

/** The volume or directories entry (deepest) that contains `path`. */
function coveringMount(acc: DeployModel['accessory'], path: string): {kind: 'volumes' | 'directories'; index: number; target: string} | undefined {
  const candidates = [
    ...acc.volumes.map((v, index) => ({kind: 'volumes' as const, index, target: v.target})),
    ...acc.directories.map((d, index) => ({kind: 'directories' as const, index, target: d.remote})),
  ]
    .filter((c) => isAbsolute(c.target))
    .map((c) => ({...c, target: posix.normalize(c.target)}))
  const p = posix.normalize(path)
  return candidates.filter((c) => p === c.target || p.startsWith(c.target.endsWith('/') ? c.target : c.target + '/')).sort((a, b) => b.target.length - a.target.length)[0]
}

/** Values in these slots are credentials by definition, whatever they look like. */
function isPasswordSlot(path: YamlPath): boolean {
  if (path.includes('password')) return true
  return path[0] === 'restic' && path[1] === 'env' && typeof path[2] === 'string' && isSecretName(path[2])
}

function checkSecrets(input: CrossCheckInput, deployAt: (...keys: (string | number)[]) => Position): Finding[] {
  const findings: Finding[] = []
  const {model} = input
  const acc = model.accessory
  const accPath = `accessories.${acc.name}`
  const cfgAt = (path: YamlPath) => input.positions.nearest(path)
  const envKnown = !acc.invalidKeys.includes('env')
  const declared = new Map(acc.env.secret.map((s) => [s.name, s]))
  const envFile = deployAt('env', 'secret').file
  // The failures already reported as errors (one per cause), and whether the secrets were read at all.
  const reported = new Set<ConfigError>()
  let looked = false
  let fileFailed = false
  const secretsFile = secretsFileFor(model)

  const failureFinding = (error: ConfigError, severity: 'error' | 'warning', rule: FindingRule, note: string): Finding => {
    const loc = error.location
    return finding(severity, rule, {file: loc?.file ?? model.secretsPath, line: loc?.line ?? 1, column: loc?.column ?? 1}, loc?.key ?? '', `${error.message}${note}`, joinSuggestions([...error.suggestions, 'or run `kamal-backup validate --skip-secrets` where the secret store is not available']))
  }

  for (const ref of secretRefs(input.raw)) {
    const at = cfgAt(ref.path)
    const entry = declared.get(ref.name)
    if (!entry) {
      if (!envKnown) continue
      const clear = acc.env.clear[ref.name]
      if (clear !== undefined) {
        // Given in env.clear: present in the container, but written in clear text in config/deploy.yml (committed).
        const credential = isPasswordSlot(ref.path) || locationCredentials(clear).length > 0
        const clearAt = model.positions.get([...['accessories', acc.name], 'env', 'clear', ref.name]) ?? model.positions.nearest(['accessories', acc.name, 'env', ref.name])
        findings.push(
          credential
            ? finding('error', 'kamal/secret-in-clear', clearAt, `${accPath}.env.clear.${ref.name}`, `${ref.name} (used by ${formatPath(ref.path.slice(0, -1))}) is a secret, but ${clearAt.file} gives it in clear text under env.clear: it is committed to git`, `move ${ref.name} from env.clear to ${accPath}.env.secret and put its value in ${secretsFile}`)
            : finding('warning', 'kamal/secret-in-clear', clearAt, `${accPath}.env.clear.${ref.name}`, `${ref.name} (used by ${formatPath(ref.path.slice(0, -1))}) comes from env.clear in ${clearAt.file}, not from a secret; fine for a value without credentials`, `move it to ${accPath}.env.secret and ${secretsFile}, or write the value directly in ${input.config.file} instead of {secret: ${ref.name}}`),
        )
        continue
      }
      const guess = didYouMean(ref.name, [...declared.keys()].filter((name) => sameKindOfSecret(name, ref.name)))
      findings.push(
        finding('error', 'kamal/secret-not-declared', at, ref.path, `secret ${ref.name} is not passed to accessory "${acc.name}" (missing from ${accPath}.env.secret): it would be empty in the container`, guess ? `did you mean ${guess}? Otherwise add ${ref.name} to ${accPath}.env.secret in ${envFile}` : `add ${ref.name} to ${accPath}.env.secret in ${envFile} and define it in ${secretsFile}`),
      )
      continue
    }
    if (!input.secrets || fileFailed) continue
    looked = true
    let value: SecretValue | undefined
    try {
      value = input.secrets.lookup(entry.secret)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      // The whole file could not be read (unreadable, bad syntax): once.
      fileFailed = true
      findings.push(failureFinding(error, 'error', ruleFor(error), ''))
      continue
    }
    const files = input.secrets.files.length > 0 ? input.secrets.files.join(', ') : `${model.secretsPath} (no secrets files found)`
    if (value?.failure) {
      if (reported.has(value.failure)) continue
      reported.add(value.failure)
      const via = value.failure.location?.key && value.failure.location.key !== entry.secret ? ` ${entry.secret} is built from it` : ''
      findings.push(failureFinding(value.failure, 'error', ruleFor(value.failure), ` (needed for ${ref.name}${via ? `;${via}` : ''})`))
    } else if (!value) {
      findings.push(finding('error', 'kamal/secret-missing', at, ref.path, `secret ${entry.secret} (for ${ref.name}) is not defined in ${files}`, `add ${entry.secret}=... to ${secretsFile} (a $(command) reading your password manager is fine)`))
    } else if (value.value.trim() === '') {
      findings.push(emptySecret(entry.secret, ref.name, value, input.env ?? {}))
    }
  }

  // Other failed commands. Ones the accessory is given (env.secret) would reach the container empty: errors.
  // Ones it does not use only matter to the app (Kamal itself would carry on with an empty value): warnings.
  if (input.secrets && looked && !fileFailed) {
    const needed = new Map(acc.env.secret.map((s) => [s.secret, s.name]))
    const byCause = new Map<ConfigError, string[]>()
    for (const {name, value} of input.secrets.failures()) {
      if (reported.has(value.failure)) continue
      byCause.set(value.failure, [...(byCause.get(value.failure) ?? []), name])
    }
    for (const [cause, names] of byCause) {
      const used = names.filter((n) => needed.has(n))
      if (used.length > 0) {
        findings.push(failureFinding(cause, 'error', ruleFor(cause), ` (accessory "${acc.name}" gets ${used.join(', ')} through env.secret)`))
      } else {
        findings.push(failureFinding(cause, 'warning', 'secrets/unused-failed', ` (accessory "${acc.name}" does not use ${names.join(', ')}, so backups are not affected; Kamal would give the app an empty value)`))
      }
    }
  }
  return findings
}

/** A secrets error (secrets/command-failed, ...) as the finding that reports it: the same id. */
function ruleFor(error: ConfigError): FindingRule {
  return isFindingRule(error.code) ? error.code : 'secrets/unreadable'
}

/** RESTIC_PASSWORD and RESTIC_REST_PASSWORD are different secrets: a "did you mean" between them would mislead. */
function sameKindOfSecret(a: string, b: string): boolean {
  const words = (name: string) => new Set(name.toUpperCase().split('_'))
  const wa = words(a)
  const wb = words(b)
  const distinct = ['REST', 'ROOT', 'USERNAME', 'USER', 'REPOSITORY', 'URL', 'ACCESS', 'SECRET']
  return distinct.every((w) => wa.has(w) === wb.has(w))
}

interface MountTarget {
  target: string
  readOnly: boolean
  kind: 'volume' | 'directory'
}

function mountTargets(volumes: Volume[], directories: Mount[]): MountTarget[] {
  return [
    ...volumes.filter((v) => isAbsolute(v.target)).map((v) => ({target: posix.normalize(v.target), readOnly: v.readOnly, kind: 'volume' as const})),
    ...directories.filter((d) => isAbsolute(d.remote)).map((d) => ({target: posix.normalize(d.remote), readOnly: (d.options ?? '').split(',').includes('ro'), kind: 'directory' as const})),
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
