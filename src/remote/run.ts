// Runs an accessory command inside the backup accessory over SSH: the target (target.ts), one connection
// (session.ts), `docker exec -i ... kamal-backup <command>` (command.ts) with the version handshake (protocol.ts),
// the output streamed (exec.ts), and the remote exit code returned. `restore production` runs two commands on one
// connection (restore.ts). Each `docker exec` is a new process, so each has its own handshake.
import {errorMessage, ExitCode, KamalBackupError} from '../errors.js'
import {accessoryArgv, remoteCommandLine} from './command.js'
import {connectionLostError, dockerExecError, versionMismatchError} from './errors.js'
import {execInAccessory, type ExecResult} from './exec.js'
import {compareVersions, PROTOCOL_VERSION, protocolCompatible, type Handshake} from './protocol.js'
import type {Connection} from './session.js'
import {resolveTarget, type RemoteTarget, type TargetOptions} from './target.js'

export interface RemoteRunOptions extends TargetOptions {
  /** The command id parts, e.g. ['restore', 'production']. */
  command: string[]
  /** The argv the user typed after the command id. */
  argv: string[]
  json: boolean
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

/** One `docker exec` on the open connection. */
export interface ExecStep {
  /** For messages: what is running (`restore production --dry-run`). */
  label: string[]
  argv: string[]
  /** The accessory finishes it when the connection drops. */
  continues: boolean
  captureStdout?: boolean
  holdJson?: boolean
  /** Watch stderr for the safety backup's announcement (a real restore). */
  watchSafety?: boolean
  /** Warn about a patch-level version difference (once per invocation). */
  warnPatch: boolean
  /** Where the accessory's stdout and stderr go (default: this process's stdout, the log's stream): `dump` writes
   *  stdout into a file, byte for byte. */
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
}

export interface ExecOutcome {
  result: ExecResult
  compatibility: ReturnType<typeof compareVersions> | undefined
  protocolMismatch: boolean
  safety: SafetyBackupWatcher | undefined
  step: ExecStep
}

/** Runs one command in the accessory, with its own version handshake (each `docker exec` is a new process). */
export async function execStep(connection: Connection, remote: RemoteTarget, options: RemoteRunOptions, step: ExecStep): Promise<ExecOutcome> {
  const {log, flags} = options
  const commandLine = remoteCommandLine({
    container: remote.accessory.container,
    command: options.command,
    argv: step.argv,
    clientVersion: options.version,
    ...(options.operator !== undefined && {operator: options.operator}),
    ...(flags.destination !== undefined && {destination: flags.destination}),
    ...(flags['config-file'] !== undefined && {configFile: flags['config-file']}),
    ...(step.continues && {continueOnHangup: true}),
  })
  log.debug(`ssh ${remote.settings.user}@${remote.settings.hostName}:${remote.settings.port}: ${commandLine}`)
  const outcome: Omit<ExecOutcome, 'result'> = {compatibility: undefined, protocolMismatch: false, safety: step.watchSafety ? safetyBackupWatcher() : undefined, step}
  let result: ExecResult
  try {
    result = await execInAccessory(connection.client, commandLine, {
      redactor: log.redactor,
      stdout: step.stdout ?? process.stdout,
      stderr: step.stderr ?? log.stream,
      signal: options.signal,
      captureStdout: step.captureStdout ?? false,
      ...(step.holdJson && {holdStdout: JSON_HOLD_BYTES}),
      ...(outcome.safety && {onStderr: outcome.safety.push}),
      onHandshake: (handshake: Handshake) => {
        outcome.compatibility = compareVersions(options.version, handshake.version)
        if (outcome.compatibility !== 'incompatible' && !protocolCompatible(handshake)) outcome.protocolMismatch = true
        if (outcome.compatibility === 'incompatible' || outcome.protocolMismatch) return 'stop'
        if (outcome.compatibility === 'patch' && step.warnPatch) {
          log.warn(`the accessory runs kamal-backup ${handshake.version}, this machine ${options.version} (compatible; upgrading both to the same release is best)`)
        }
        return 'go'
      },
    })
  } catch (error) {
    // The connection went away while idle (between two commands): the command never started.
    throw connectionLostError({command: step.label, target: connection.target, afterGo: false, accessory: remote.accessory.name, stateDir: remote.stateDir, reason: errorMessage(error), ...(remote.destination !== undefined && {destination: remote.destination})})
  }
  return {...outcome, result}
}

/** The local exit code for a finished `docker exec`, or the error that explains why there is none. */
export function settle(outcome: ExecOutcome, connection: Connection, remote: RemoteTarget, options: RemoteRunOptions): number {
  const {result, compatibility, protocolMismatch, safety, step} = outcome
  const {accessory, destination} = remote
  if (result.handshake && (compatibility === 'incompatible' || protocolMismatch)) {
    if (protocolMismatch) {
      throw new KamalBackupError(`the accessory's kamal-backup ${result.handshake.version} speaks remote protocol ${result.handshake.protocol}, this machine's ${options.version} speaks ${PROTOCOL_VERSION}; nothing was run`, {
        code: 'accessory/version-mismatch',
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
      command: step.label,
      target: connection.target,
      afterGo: result.started,
      accessory: accessory.name,
      stateDir: remote.stateDir,
      continues: step.continues,
      ...(destination !== undefined && {destination}),
      ...(result.lostReason !== undefined && {reason: result.lostReason}),
      ...(safety?.found && {safetyBackup: safety.found}),
      ...(options.argv.includes('--no-safety-backup') && {noSafetyBackup: true}),
      ...(result.discardedStdout !== undefined && {discardedStdout: result.discardedStdout}),
    })
  }
  if (!result.handshake) {
    const known = dockerExecError(result.exitCode, result.preamble, remote.context)
    if (known) throw known
    // Not recognised: show what the remote side said, and its exit code.
    if (result.preamble !== '') options.log.raw(result.preamble.endsWith('\n') ? result.preamble : result.preamble + '\n')
    if (result.exitCode !== 0) {
      throw new KamalBackupError(`kamal-backup did not start in the container ${accessory.container} on ${remote.settings.hostName} (exit ${result.exitCode})`, {
        code: 'accessory/exec-failed',
        exitCode: ExitCode.unreachable,
        suggestions: [`check the accessory: kamal accessory details ${accessory.name}${destination ? ` -d ${destination}` : ''}`],
      })
    }
  }
  // `kamal-backup list | head`: the reader left, the command was stopped; exit as a process killed by SIGPIPE.
  if (result.outputClosed) return 141
  if (result.interrupted && result.exitCode === 0) return ExitCode.interrupted
  return result.exitCode
}

/** `--dry-run` given: a dry run, which changes nothing, is not one the accessory must finish after a hangup. */
function isDryRun(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end < 0 ? argv : argv.slice(0, end)).includes('--dry-run')
}

export async function runInAccessory(options: RemoteRunOptions): Promise<number> {
  const commandId = options.command.join(' ')
  const remote = resolveTarget(options)
  const isVersion = options.command.length === 1 && options.command[0] === 'version'
  const argv = isVersion ? ['--json'] : accessoryArgv(options.argv)
  const continues = FINISH_ON_HANGUP.has(commandId) && !isDryRun(argv)

  const {connect} = await import('./session.js')
  let connection: Connection
  try {
    connection = await connect(remote.settings, {log: options.log, signal: options.signal})
  } catch (error) {
    // `version` still answers for this machine when the accessory cannot be reached.
    if (isVersion && !options.signal.aborted) return versionUnreachable(options, error)
    throw error
  }
  let outcome: ExecOutcome
  try {
    outcome = await execStep(connection, remote, options, {
      label: options.command,
      argv,
      continues,
      captureStdout: isVersion,
      holdJson: options.json && !isVersion,
      watchSafety: commandId === 'restore production',
      warnPatch: !isVersion,
    })
  } finally {
    connection.close()
  }
  const {result} = outcome
  if (isVersion && result.handshake && (outcome.compatibility === 'incompatible' || outcome.protocolMismatch)) {
    printVersions(options, result.handshake, undefined, remote.context, false)
    if (options.json) return ExitCode.versionMismatch
  }
  const code = settle(outcome, connection, remote, options)
  if (isVersion && result.handshake && code === 0 && !result.interrupted) {
    let remoteVersion: {version?: string; node?: string; tools?: Record<string, string | null>} | undefined
    try {
      remoteVersion = JSON.parse(result.captured ?? '')
    } catch {
      remoteVersion = undefined
    }
    printVersions(options, result.handshake, remoteVersion, remote.context, true)
  }
  return code
}

/** Runs one command in the accessory (`options.command` with `options.argv`, as the accessory must get it) and
 *  returns what it printed on stdout, whole, with its exit code: for a workstation that uses the document itself
 *  (evidence --html renders the accessory's report here). stderr streams through as usual. */
export async function captureInAccessory(options: RemoteRunOptions): Promise<{exitCode: number; stdout: string}> {
  const remote = resolveTarget(options)
  const {connect} = await import('./session.js')
  const connection = await connect(remote.settings, {log: options.log, signal: options.signal})
  let outcome: ExecOutcome
  try {
    outcome = await execStep(connection, remote, options, {label: options.command, argv: accessoryArgv(options.argv), continues: false, captureStdout: true, warnPatch: true})
  } finally {
    connection.close()
  }
  return {exitCode: settle(outcome, connection, remote, options), stdout: outcome.result.captured ?? ''}
}

/** `version` with the accessory out of reach: this machine's version, then the error (exit 3). */
function versionUnreachable(options: RemoteRunOptions, error: unknown): number {
  const failure = error instanceof KamalBackupError ? error : new KamalBackupError(String((error as Error)?.message ?? error), {code: 'ssh/failed', exitCode: ExitCode.unreachable})
  if (options.json) {
    const doc = {version: options.version, node: process.version, accessory: null, error: options.log.redactor.redactValue(failure.toJSON())}
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

/** Notices the line the accessory prints once its safety backup is done (`safety backup: run <id>. To undo this
 *  restore: <command>`), so a lost connection can name it. */
export interface SafetyBackupWatcher {
  push(chunk: Buffer): void
  flush(): void
  found?: {runId: string; undo?: string}
}

function safetyBackupWatcher(): SafetyBackupWatcher {
  let pending = ''
  const watcher: SafetyBackupWatcher = {
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
