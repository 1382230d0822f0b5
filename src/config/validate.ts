// `kamal-backup validate`: every check that can run offline from the app checkout, collected as findings.
import {existsSync} from 'node:fs'
import {resolve} from 'node:path'
import {kamalSecrets, type SecretsSource} from '../kamal/secrets.js'
import {buildDeployModel, type BackupAccessory, type DeployModel, type SshSection} from '../kamal/model.js'
import {DEFAULT_DEPLOY_FILE, explainEmptyEnv, readDeployConfig} from '../kamal/deploy.js'
import {isSecretName, locationCredentials, REDACTED} from '../redact.js'
import {checkRestoreTargets, concernsCut, loadBackupConfig, loadLocalConfig} from './backup-config.js'
import {crossCheck, secretRefs} from './cross-checks.js'
import {hostChecks, timerCheck} from './host-checks.js'
import {displayPath, hasErrors, sortFindings, type Finding} from '../parse/findings.js'
import type {BackupConfig} from './types.js'

export const DEFAULT_BACKUP_CONFIG = 'config/kamal-backup.yml'
export const DEFAULT_LOCAL_CONFIG = 'config/kamal-backup.local.yml'

export interface CheckoutOptions {
  cwd: string
  env: Readonly<Record<string, string | undefined>>
  /** -c */
  configFile?: string
  /** -d */
  destination?: string
  /** --backup-config, else KAMAL_BACKUP_CONFIG, else config/kamal-backup.yml */
  backupConfigFile?: string
  /** Don't read .kamal/secrets (CI without access to the secret store). */
  skipSecrets?: boolean
  /** Read deploy.yml through `kamal config` (for ERB beyond the subset kamal-backup evaluates). */
  kamalConfig?: boolean
  /** Host mode (no deploy.yml): check this host's paths, volumes and installed timer (default: unless CI is set). */
  host?: boolean
  /** A systemd timer to compare with backup.schedule (host mode or not). */
  timer?: string
}

export interface ValidateReport {
  valid: boolean
  errors: number
  warnings: number
  files: string[]
  destination: string | null
  findings: Finding[]
  accessory: AccessoryReport | null
}

export interface AccessoryReport {
  name: string
  image: string | null
  container: string
  hosts: string[]
  hostsFrom: string
  files: BackupAccessory['files']
  directories: BackupAccessory['directories']
  volumes: BackupAccessory['volumes']
  env: {clear: Record<string, string>; secret: string[]}
  ssh: SshSection
}

export function backupConfigPath(options: Pick<CheckoutOptions, 'cwd' | 'env' | 'backupConfigFile'>): string {
  return resolve(options.cwd, options.backupConfigFile ?? options.env.KAMAL_BACKUP_CONFIG ?? DEFAULT_BACKUP_CONFIG)
}

/** Is this an app checkout (a deploy.yml, or -c/-d given)? The rule that decides local vs remote execution. */
export function isAppCheckout(options: Pick<CheckoutOptions, 'cwd' | 'configFile' | 'destination'>): boolean {
  return Boolean(options.configFile || options.destination) || existsSync(resolve(options.cwd, DEFAULT_DEPLOY_FILE))
}

export interface CheckoutState {
  findings: Finding[]
  files: string[]
  config?: BackupConfig
  model?: DeployModel
  secrets?: SecretsSource
  /** The NAMEs of every {secret: NAME} in kamal-backup.yml (their env.clear values are never shown). */
  referenced: string[]
}

/** Reads and checks everything in the checkout. Never throws for bad input: problems are findings. */
export function inspectCheckout(options: CheckoutOptions): CheckoutState {
  const findings: Finding[] = []
  const files: string[] = []
  const configAbsolute = backupConfigPath(options)
  const backup = loadBackupConfig(configAbsolute, options.cwd)
  findings.push(...backup.findings)
  if (backup.source) files.push(backup.source.file)

  const local = loadLocalConfig(resolve(options.cwd, DEFAULT_LOCAL_CONFIG), options.cwd, productionPaths(backup.source?.data))
  findings.push(...local.findings)
  if (local.config) files.push(local.config.file)

  // With errors in kamal-backup.yml, its valid parts are still checked against the rest: every finding in one pass.
  const checked = backup.config ?? backup.partial?.config
  const cut = backup.partial?.cut ?? []
  const notCut = (list: Finding[]) => (backup.source ? list.filter((f) => !concernsCut(f, backup.source!.file, cut)) : list)
  if (checked && local.config && local.source) findings.push(...notCut(checkRestoreTargets(checked, local.config, local.source.positions)))

  const state: CheckoutState = {findings, files, referenced: backup.source ? secretRefs(backup.source.data).map((r) => r.name) : []}
  if (backup.config) state.config = backup.config
  const timerFile = options.timer !== undefined ? resolve(options.cwd, options.timer) : undefined
  const timerShown = timerFile && displayPath(timerFile, options.cwd)
  if (timerShown) files.push(timerShown)
  if (!isAppCheckout(options)) {
    // Host mode: the config is used on this host (a timer, a Quadlet container, a vzdump hook), not in an accessory.
    const onHost = options.host ?? !options.env.CI
    if (backup.config && backup.source && onHost) {
      const rawPaths = Array.isArray(backup.source.data.paths) ? backup.source.data.paths : []
      findings.push(...hostChecks({config: backup.config, positions: backup.source.positions, rawPaths, env: options.env, ...(timerFile !== undefined && {timer: timerFile, timerShown})}))
    } else if (backup.config && backup.source && timerFile) findings.push(...timerCheck(timerFile, backup.config, backup.source.positions, options.env, timerShown))
    return state
  }
  if (backup.config && backup.source && timerFile) findings.push(...timerCheck(timerFile, backup.config, backup.source.positions, options.env, timerShown))

  const deploy = readDeployConfig({
    cwd: options.cwd,
    env: options.env,
    ...(options.configFile !== undefined && {configFile: options.configFile}),
    ...(options.destination !== undefined && {destination: options.destination}),
    ...(options.kamalConfig && {kamalConfig: true}),
  })
  findings.push(...deploy.findings)
  if (!deploy.source) return state
  files.push(...deploy.source.files)
  const requested = backup.source?.data.accessory
  const built = buildDeployModel(
    deploy.source,
    typeof requested === 'string' && backup.source ? {name: requested, position: backup.source.positions.nearest(['accessory'])} : undefined,
  )
  findings.push(...explainEmptyEnv(built.findings, deploy.source.emptyEnv))
  if (!built.model) return state
  state.model = built.model
  const secrets = options.skipSecrets
    ? null
    : kamalSecrets({
        cwd: options.cwd,
        secretsPath: built.model.secretsPath,
        ...(options.destination !== undefined && {destination: options.destination}),
        env: options.env,
      })
  if (secrets) state.secrets = secrets
  if (checked && backup.source) {
    findings.push(
      ...explainEmptyEnv(
        notCut(crossCheck({
          cwd: options.cwd,
          config: checked,
          positions: backup.source.positions,
          raw: backup.partial?.data ?? backup.source.data,
          configAbsolute,
          model: built.model,
          secrets,
          env: options.env,
        })),
        deploy.source.emptyEnv,
      ),
    )
    if (secrets) for (const file of secrets.files) if (!files.includes(file)) files.push(file)
  }
  return state
}

/** The paths of kamal-backup.yml as written (a single path, the gem's form, too). */
function productionPaths(data: unknown): string[] {
  const paths = (data as {paths?: unknown} | undefined)?.paths
  const list = Array.isArray(paths) ? paths : typeof paths === 'string' ? [paths] : []
  return list.flatMap((p) => (typeof p === 'string' ? [p] : p && typeof p === 'object' && typeof (p as {path?: unknown}).path === 'string' ? [(p as {path: string}).path] : []))
}

export function validateCheckout(options: CheckoutOptions & {strict?: boolean}): ValidateReport {
  const state = inspectCheckout(options)
  const findings = sortFindings(dedupe(state.findings))
  const errors = findings.filter((f) => f.severity === 'error').length
  const warnings = findings.length - errors
  return {
    valid: !hasErrors(findings) && !(options.strict && warnings > 0),
    errors,
    warnings,
    files: state.files,
    destination: options.destination ?? null,
    findings,
    accessory: state.model ? accessoryReport(state.model, {referenced: state.referenced, secretValues: state.secrets?.loadedValues() ?? []}) : null,
  }
}

/** The same problem reached twice (e.g. by two references to one failing secret) is said once. */
function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>()
  return findings.filter((f) => {
    const key = `${f.severity}|${f.rule}|${f.file}|${f.line}|${f.column}|${f.path}|${f.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/**
 * env.clear values in the report: hidden when the name looks secret, when kamal-backup.yml reads it as a
 * {secret:}, or when the value carries credentials or a secret value from .kamal/secrets. They are committed in
 * deploy.yml, but the report goes to CI logs and artifacts, which reach more people.
 */
function reportedClearEnv(clear: Record<string, string>, hide: {referenced: readonly string[]; secretValues: readonly string[]}): Record<string, string> {
  const secrets = hide.secretValues.filter((v) => v.trim().length >= 4)
  return Object.fromEntries(
    Object.entries(clear).map(([name, value]) => {
      const secret = isSecretName(name) || hide.referenced.includes(name) || locationCredentials(value).length > 0 || secrets.some((s) => value.includes(s))
      return [name, secret && value !== '' ? REDACTED : value]
    }),
  )
}

export function accessoryReport(model: DeployModel, hide: {referenced: readonly string[]; secretValues: readonly string[]} = {referenced: [], secretValues: []}): AccessoryReport {
  const a = model.accessory
  return {
    name: a.name,
    image: a.image ?? null,
    container: a.container,
    hosts: a.hosts,
    hostsFrom: a.hostsFrom,
    files: a.files,
    directories: a.directories,
    volumes: a.volumes,
    env: {clear: reportedClearEnv(a.env.clear, hide), secret: a.env.secret.map((s) => (s.name === s.secret ? s.name : `${s.name}:${s.secret}`))},
    ssh: {user: 'root', port: 22, ...model.ssh, ...(model.ssh.key_data ? {key_data: model.ssh.key_data.map(() => '[REDACTED]')} : {})},
  }
}
