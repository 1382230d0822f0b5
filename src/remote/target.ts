// Which accessory, on which host, reached how: config/deploy.yml (with -c/-d) read the way Kamal reads it, the
// backup accessory picked (config/kamal-backup.yml `accessory:` when set), one of its hosts (--host), and the SSH
// settings Kamal would use for it.
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {resolve} from 'node:path'
import {loadBackupConfig} from '../config/backup-config.js'
import {DEFAULT_STATE_DIR} from '../config/types.js'
import {backupConfigPath} from '../config/validate.js'
import {ExitCode, KamalBackupError, UsageError} from '../errors.js'
import {readDeployConfig} from '../kamal/deploy.js'
import {buildDeployModel, type DeployModel} from '../kamal/model.js'
import type {Log} from '../log.js'
import {throwOnErrors} from '../parse/findings.js'
import {effectiveSsh, parseHostSpec} from './ssh-settings.js'

/** The flags every accessory command takes on a workstation: which checkout (-c, -d, --backup-config), where to
 *  run (--local) and how to reach the accessory (--host, --strict-host-key). */
export interface WorkstationFlags {
  'config-file'?: string | undefined
  destination?: string | undefined
  'backup-config'?: string | undefined
  local?: boolean | undefined
  host?: string | undefined
  'strict-host-key'?: boolean | undefined
}

export interface TargetOptions {
  cwd: string
  env: NodeJS.ProcessEnv
  flags: WorkstationFlags
  log: Log
}

/** The deploy.yml model, with the backup accessory named by config/kamal-backup.yml `accessory:` when set. */
export function loadModel(options: Pick<TargetOptions, 'cwd' | 'env' | 'flags'>): DeployModel {
  return loadTarget(options).model
}

/** The model, and the accessory's state directory as far as this checkout tells (for messages). */
export function loadTarget(options: Pick<TargetOptions, 'cwd' | 'env' | 'flags'>): {model: DeployModel; stateDir: string} {
  const {cwd, env, flags} = options
  const deploy = readDeployConfig({
    cwd,
    env,
    ...(flags['config-file'] !== undefined && {configFile: flags['config-file']}),
    ...(flags.destination !== undefined && {destination: flags.destination}),
  })
  throwOnErrors(deploy.findings)
  const configFile = backupConfigPath({cwd, env, ...(flags['backup-config'] !== undefined && {backupConfigFile: resolve(cwd, flags['backup-config'])})})
  let requested: {name: string; position: {file: string; line: number; column: number}} | undefined
  let statePath: string | undefined
  if (existsSync(configFile)) {
    const backup = loadBackupConfig(configFile, cwd)
    const name = backup.source?.data.accessory
    if (typeof name === 'string' && backup.source) requested = {name, position: backup.source.positions.nearest(['accessory'])}
    statePath = backup.config?.statePath
  }
  const built = buildDeployModel(deploy.source!, requested)
  throwOnErrors(built.findings)
  const model = built.model!
  // The same precedence as the accessory's: state.path, then its KAMAL_BACKUP_STATE_DIR, then the default.
  return {model, stateDir: statePath ?? model.accessory.env.clear.KAMAL_BACKUP_STATE_DIR ?? DEFAULT_STATE_DIR}
}

/** The host to use: the first of the accessory's hosts, or the one --host names. */
export function pickHost(model: DeployModel, wanted: string | undefined): string {
  const hosts = model.accessory.hosts
  if (hosts.length === 0) {
    throw new KamalBackupError(`the backup accessory "${model.accessory.name}" has no host (${model.accessory.hostsFrom})`, {
      code: 'accessory/no-host',
      exitCode: ExitCode.failed,
      suggestions: ['give it host:, hosts:, role: or roles: in config/deploy.yml'],
    })
  }
  if (wanted === undefined) return hosts[0]!
  const bare = (h: string) => parseHostSpec(h).host
  const match = hosts.find((h) => h === wanted) ?? hosts.find((h) => bare(h) === bare(wanted))
  if (!match) {
    throw new UsageError(`--host ${wanted} is not a host of the backup accessory "${model.accessory.name}"`, {
      code: 'usage/unknown-host',
      suggestions: [`its hosts (${model.accessory.hostsFrom}): ${hosts.join(', ')}`],
    })
  }
  return match
}

/** Where and how to reach the accessory: the model, the host, the SSH settings. */
export interface RemoteTarget {
  accessory: DeployModel['accessory']
  stateDir: string
  settings: ReturnType<typeof effectiveSsh>
  /** -d as given, else the model's. */
  destination: string | undefined
  context: {container: string; accessory: string; host: string; destination?: string}
}

export function resolveTarget(options: TargetOptions): RemoteTarget {
  const {log, flags} = options
  const {model, stateDir} = loadTarget(options)
  const accessory = model.accessory
  const host = pickHost(model, flags.host)
  if (accessory.hosts.length > 1) log.info(`the backup accessory runs on ${accessory.hosts.length} hosts (${accessory.hosts.join(', ')}); using ${host}${flags.host === undefined ? ' (--host picks another)' : ''}`)
  const settings = effectiveSsh(host, model.ssh, {
    cwd: options.cwd,
    homeDir: options.env.HOME || homedir(),
    env: options.env,
    ...(flags['strict-host-key'] && {strictHostKey: true}),
  })
  for (const note of settings.notes) log.debug(`ssh: ${note}`)
  const destination = flags.destination ?? model.destination
  return {accessory, stateDir, settings, destination, context: {container: accessory.container, accessory: accessory.name, host: settings.hostName, ...(destination !== undefined && {destination})}}
}
