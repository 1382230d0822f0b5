// Runs an accessory command inside the backup accessory over SSH: reads the deploy.yml model, picks the host,
// connects once (session.ts), runs `docker exec -i ... kamal-backup <command>` (command.ts) with the version
// handshake (protocol.ts), streams the output (exec.ts) and returns the remote exit code.
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {resolve} from 'node:path'
import type {Ui} from '../cli/ui.js'
import type {CheckoutFlagValues} from '../cli/engine-command.js'
import {loadBackupConfig} from '../config/backup-config.js'
import {throwOnErrors} from '../config/findings.js'
import {backupConfigPath} from '../config/validate.js'
import {ExitCode, KamalBackupError, UsageError} from '../errors.js'
import {readDeployConfig} from '../kamal/deploy.js'
import {buildDeployModel, type DeployModel} from '../kamal/model.js'
import {DEFAULT_STATE_DIR} from '../config/types.js'
import {accessoryArgv, remoteCommandLine} from './command.js'
import {connectionLostError, dockerExecError, versionMismatchError} from './errors.js'
import {execInAccessory, type ExecResult} from './exec.js'
import {compareVersions, PROTOCOL_VERSION, protocolCompatible, type Handshake} from './protocol.js'
import {effectiveSsh, parseHostSpec} from './ssh-settings.js'

export interface RemoteRunOptions {
  cwd: string
  env: NodeJS.ProcessEnv
  flags: CheckoutFlagValues
  /** The command id parts, e.g. ['restore', 'production']. */
  command: string[]
  /** The argv the user typed after the command id. */
  argv: string[]
  json: boolean
  ui: Ui
  signal: AbortSignal
  version: string
  /** The human running a production drill, recorded by the accessory. */
  operator?: string
}

/** Commands whose accessory side finishes even when the connection drops: stopping them halfway leaves more
 *  damage (a production half restored) than finishing, and their records say how they ended. */
const FINISH_ON_HANGUP = new Set(['restore production', 'drill production'])

/** Larger --json documents stream on instead of waiting for the exit status. */
const JSON_HOLD_BYTES = 16 * 1024 * 1024

/** The deploy.yml model, with the backup accessory named by config/kamal-backup.yml `accessory:` when set. */
export function loadModel(options: Pick<RemoteRunOptions, 'cwd' | 'env' | 'flags'>): DeployModel {
  return loadTarget(options).model
}

/** The model, and the accessory's state directory as far as this checkout tells (for messages). */
export function loadTarget(options: Pick<RemoteRunOptions, 'cwd' | 'env' | 'flags'>): {model: DeployModel; stateDir: string} {
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
      code: 'accessory-no-host',
      exitCode: ExitCode.failed,
      suggestions: ['give it host:, hosts:, role: or roles: in config/deploy.yml'],
    })
  }
  if (wanted === undefined) return hosts[0]!
  const bare = (h: string) => parseHostSpec(h).host
  const match = hosts.find((h) => h === wanted) ?? hosts.find((h) => bare(h) === bare(wanted))
  if (!match) {
    throw new UsageError(`--host ${wanted} is not a host of the backup accessory "${model.accessory.name}"`, {
      code: 'unknown-host',
      suggestions: [`its hosts (${model.accessory.hostsFrom}): ${hosts.join(', ')}`],
    })
  }
  return match
}

export async function runInAccessory(options: RemoteRunOptions): Promise<number> {
  const {ui, flags} = options
  const commandId = options.command.join(' ')
  const {model, stateDir} = loadTarget(options)
  const accessory = model.accessory
  if (commandId === 'schedule') {
    // The accessory already runs the scheduler (its CMD); a second one from a laptop would back up on its own
    // timer for as long as the laptop stays connected.
    throw new UsageError('schedule is what the backup accessory itself runs; it is not started from a workstation', {
      code: 'schedule-remote',
      suggestions: [
        `follow the accessory's scheduler: kamal accessory logs ${accessory.name} -f${flags.destination ? ` -d ${flags.destination}` : ''}`,
        `back up now: kamal-backup backup --force${flags.destination ? ` -d ${flags.destination}` : ''}; run a scheduler on this machine: kamal-backup schedule --local`,
      ],
    })
  }
  const host = pickHost(model, flags.host)
  if (accessory.hosts.length > 1) ui.info(`the backup accessory runs on ${accessory.hosts.length} hosts (${accessory.hosts.join(', ')}); using ${host}${flags.host === undefined ? ' (--host picks another)' : ''}`)
  const settings = effectiveSsh(host, model.ssh, {
    cwd: options.cwd,
    homeDir: options.env.HOME || homedir(),
    env: options.env,
    ...(flags['strict-host-key'] && {strictHostKey: true}),
  })
  for (const note of settings.notes) ui.debug(`ssh: ${note}`)
  const destination = flags.destination ?? model.destination
  const isVersion = options.command.length === 1 && options.command[0] === 'version'
  const argv = isVersion ? ['--json'] : accessoryArgv(options.argv)
  const continues = FINISH_ON_HANGUP.has(commandId)
  const commandLine = remoteCommandLine({
    container: accessory.container,
    command: options.command,
    argv,
    clientVersion: options.version,
    ...(options.operator !== undefined && {operator: options.operator}),
    ...(flags.destination !== undefined && {destination: flags.destination}),
    ...(flags['config-file'] !== undefined && {configFile: flags['config-file']}),
    ...(continues && {continueOnHangup: true}),
  })
  ui.debug(`ssh ${settings.user}@${settings.hostName}:${settings.port}: ${commandLine}`)

  const {connect} = await import('./session.js')
  let connection: Awaited<ReturnType<typeof connect>>
  try {
    connection = await connect(settings, {ui, signal: options.signal})
  } catch (error) {
    // `version` still answers for this machine when the accessory cannot be reached.
    if (isVersion && !options.signal.aborted) return versionUnreachable(options, error)
    throw error
  }
  let result: ExecResult
  let compatibility: ReturnType<typeof compareVersions> | undefined
  let protocolMismatch = false
  const safety = commandId === 'restore production' ? safetyBackupWatcher() : undefined
  try {
    result = await execInAccessory(connection.client, commandLine, {
      redactor: ui.redactor,
      stdout: process.stdout,
      stderr: ui.stream,
      signal: options.signal,
      captureStdout: isVersion,
      ...(options.json && !isVersion && {holdStdout: JSON_HOLD_BYTES}),
      ...(safety && {onStderr: safety.push}),
      onHandshake: (handshake: Handshake) => {
        compatibility = compareVersions(options.version, handshake.version)
        if (compatibility !== 'incompatible' && !protocolCompatible(handshake)) protocolMismatch = true
        if (compatibility === 'incompatible' || protocolMismatch) return 'stop'
        if (compatibility === 'patch' && !isVersion) {
          ui.warn(`the accessory runs kamal-backup ${handshake.version}, this machine ${options.version} (compatible; upgrading both to the same release is best)`)
        }
        return 'go'
      },
    })
  } finally {
    connection.close()
  }

  const context = {container: accessory.container, accessory: accessory.name, host: settings.hostName, ...(destination !== undefined && {destination})}
  if (result.handshake && (compatibility === 'incompatible' || protocolMismatch)) {
    if (isVersion) {
      printVersions(options, result.handshake, undefined, context, false)
      if (options.json) return ExitCode.versionMismatch
    }
    if (protocolMismatch) {
      throw new KamalBackupError(`the accessory's kamal-backup ${result.handshake.version} speaks remote protocol ${result.handshake.protocol}, this machine's ${options.version} speaks ${PROTOCOL_VERSION}; nothing was run`, {
        code: 'version-mismatch',
        exitCode: ExitCode.versionMismatch,
        suggestions: [`run the same kamal-backup release on both sides (the accessory: kamal accessory reboot ${accessory.name}${destination ? ` -d ${destination}` : ''} after updating its image)`],
      })
    }
    throw versionMismatchError({local: options.version, remote: result.handshake.version, accessory: accessory.name, ...(accessory.image !== undefined && {image: accessory.image}), ...(destination !== undefined && {destination})})
  }
  // Ctrl-C before the command started: nothing ran.
  if (result.interrupted && !result.started) return ExitCode.interrupted
  if (result.exitCode === null) {
    if (result.outputClosed) return 141
    if (result.interrupted) return ExitCode.interrupted
    safety?.flush()
    throw connectionLostError({
      command: options.command,
      target: connection.target,
      afterGo: result.started,
      accessory: accessory.name,
      stateDir,
      continues,
      ...(destination !== undefined && {destination}),
      ...(result.lostReason !== undefined && {reason: result.lostReason}),
      ...(safety?.found && {safetyBackup: safety.found}),
      ...(options.argv.includes('--no-safety-backup') && {noSafetyBackup: true}),
      ...(result.discardedStdout !== undefined && {discardedStdout: result.discardedStdout}),
    })
  }
  if (!result.handshake) {
    const known = dockerExecError(result.exitCode, result.preamble, context)
    if (known) throw known
    // Not recognised: show what the remote side said, and its exit code.
    if (result.preamble !== '') ui.raw(result.preamble.endsWith('\n') ? result.preamble : result.preamble + '\n')
    if (result.exitCode !== 0) {
      throw new KamalBackupError(`kamal-backup did not start in the container ${accessory.container} on ${settings.hostName} (exit ${result.exitCode})`, {
        code: 'accessory-exec-failed',
        exitCode: ExitCode.unreachable,
        suggestions: [`check the accessory: kamal accessory details ${accessory.name}${destination ? ` -d ${destination}` : ''}`],
      })
    }
  }
  // `kamal-backup list | head`: the reader left, the command was stopped; exit as a process killed by SIGPIPE.
  if (result.outputClosed) return 141
  if (result.interrupted && result.exitCode === 0) return ExitCode.interrupted
  if (isVersion && result.handshake && result.exitCode === 0) {
    let remote: {version?: string; node?: string; tools?: Record<string, string | null>} | undefined
    try {
      remote = JSON.parse(result.captured ?? '')
    } catch {
      remote = undefined
    }
    printVersions(options, result.handshake, remote, context, true)
  }
  return result.exitCode
}

/** Notices the line the accessory prints once its safety backup is done (`safety backup: run <id>. To undo this
 *  restore: <command>`), so a lost connection can name it. */
function safetyBackupWatcher(): {push(chunk: Buffer): void; flush(): void; found?: {runId: string; undo?: string}} {
  let pending = ''
  const watcher: ReturnType<typeof safetyBackupWatcher> = {
    push(chunk) {
      if (watcher.found) return
      pending = (pending + chunk.toString('utf8')).slice(-65_536)
      let newline: number
      while ((newline = pending.indexOf('\n')) >= 0) {
        check(pending.slice(0, newline))
        pending = pending.slice(newline + 1)
      }
    },
    flush() {
      if (pending !== '') check(pending)
      pending = ''
    },
  }
  const check = (line: string) => {
    // eslint-disable-next-line no-control-regex
    const match = /safety backup: run (\S+?)\.(?: To undo this restore: (.+?))?\s*$/.exec(line.replace(/\x1b\[[0-9;]*m/g, ''))
    if (match && !watcher.found) watcher.found = {runId: match[1]!, ...(match[2] !== undefined && {undo: match[2]})}
  }
  return watcher
}

/** `version` with the accessory out of reach: this machine's version, then the error (exit 3). */
function versionUnreachable(options: RemoteRunOptions, error: unknown): number {
  const failure = error instanceof KamalBackupError ? error : new KamalBackupError(String((error as Error)?.message ?? error), {code: 'ssh-failed', exitCode: ExitCode.unreachable})
  if (options.json) {
    const doc = {version: options.version, node: process.version, accessory: null, error: options.ui.redactor.redactValue(failure.toJSON())}
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
    return failure.exitCode
  }
  process.stdout.write(`${options.version} (this machine)\n`)
  throw failure
}

function printVersions(
  options: RemoteRunOptions,
  handshake: Handshake,
  remote: {version?: string; node?: string; tools?: Record<string, string | null>} | undefined,
  context: {container: string; accessory: string; host: string},
  compatible: boolean,
): void {
  const patch = compatible && handshake.version !== options.version
  if (options.json) {
    const doc = {
      version: options.version,
      node: process.version,
      accessory: {
        name: context.accessory,
        host: context.host,
        container: context.container,
        version: remote?.version ?? handshake.version,
        node: remote?.node ?? handshake.node ?? null,
        ...(remote?.tools !== undefined && {tools: remote.tools}),
        compatible,
      },
    }
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
    return
  }
  const lines = [
    `${options.version} (this machine)`,
    `${handshake.version} (accessory ${context.accessory}, container ${context.container} on ${context.host})${compatible ? (patch ? ' - compatible, patch releases differ' : '') : ' - INCOMPATIBLE'}`,
  ]
  process.stdout.write(lines.join('\n') + '\n')
}
