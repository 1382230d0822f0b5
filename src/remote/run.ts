// Runs an accessory command inside the backup accessory over SSH: reads the deploy.yml model, picks the host,
// connects once (session.ts), runs `docker exec -i ... kamal-backup <command>` (command.ts) with the version
// handshake (protocol.ts), streams the output (exec.ts) and returns the remote exit code. `restore production`
// runs two commands on that connection (restoreInAccessory): its dry run, whose plan the operator confirms here,
// then the restore of exactly that run. Each `docker exec` is a new process, so each has its own handshake.
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {resolve} from 'node:path'
import type {Ui} from '../cli/ui.js'
import type {CheckoutFlagValues} from '../cli/engine-command.js'
import {loadBackupConfig} from '../config/backup-config.js'
import {throwOnErrors} from '../config/findings.js'
import {backupConfigPath} from '../config/validate.js'
import {errorMessage, ExitCode, KamalBackupError, UsageError} from '../errors.js'
import {readDeployConfig} from '../kamal/deploy.js'
import {buildDeployModel, type DeployModel} from '../kamal/model.js'
import {DEFAULT_STATE_DIR} from '../config/types.js'
import {accessoryArgv, remoteCommandLine} from './command.js'
import {connectionLostError, dockerExecError, versionMismatchError} from './errors.js'
import {execInAccessory, type ExecResult} from './exec.js'
import type {Connection} from './session.js'
import type {RestorePlan} from '../engine/restore-flows.js'
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

/** Where and how to reach the accessory: the model, the host, the SSH settings. Refuses `schedule` first. */
interface RemoteTarget {
  accessory: DeployModel['accessory']
  stateDir: string
  settings: ReturnType<typeof effectiveSsh>
  /** -d as given, else the model's. */
  destination: string | undefined
  context: {container: string; accessory: string; host: string; destination?: string}
}

function prepareRemote(options: RemoteRunOptions): RemoteTarget {
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
  return {accessory, stateDir, settings, destination, context: {container: accessory.container, accessory: accessory.name, host: settings.hostName, ...(destination !== undefined && {destination})}}
}

/** One `docker exec` on the open connection. */
interface ExecStep {
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
}

interface ExecOutcome {
  result: ExecResult
  compatibility: ReturnType<typeof compareVersions> | undefined
  protocolMismatch: boolean
  safety: ReturnType<typeof safetyBackupWatcher> | undefined
  step: ExecStep
}

/** Runs one command in the accessory, with its own version handshake (each `docker exec` is a new process). */
async function execStep(connection: Connection, remote: RemoteTarget, options: RemoteRunOptions, step: ExecStep): Promise<ExecOutcome> {
  const {ui, flags} = options
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
  ui.debug(`ssh ${remote.settings.user}@${remote.settings.hostName}:${remote.settings.port}: ${commandLine}`)
  const outcome: Omit<ExecOutcome, 'result'> = {compatibility: undefined, protocolMismatch: false, safety: step.watchSafety ? safetyBackupWatcher() : undefined, step}
  let result: ExecResult
  try {
    result = await execInAccessory(connection.client, commandLine, {
      redactor: ui.redactor,
      stdout: process.stdout,
      stderr: ui.stream,
      signal: options.signal,
      captureStdout: step.captureStdout ?? false,
      ...(step.holdJson && {holdStdout: JSON_HOLD_BYTES}),
      ...(outcome.safety && {onStderr: outcome.safety.push}),
      onHandshake: (handshake: Handshake) => {
        outcome.compatibility = compareVersions(options.version, handshake.version)
        if (outcome.compatibility !== 'incompatible' && !protocolCompatible(handshake)) outcome.protocolMismatch = true
        if (outcome.compatibility === 'incompatible' || outcome.protocolMismatch) return 'stop'
        if (outcome.compatibility === 'patch' && step.warnPatch) {
          ui.warn(`the accessory runs kamal-backup ${handshake.version}, this machine ${options.version} (compatible; upgrading both to the same release is best)`)
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
function settle(outcome: ExecOutcome, connection: Connection, remote: RemoteTarget, options: RemoteRunOptions): number {
  const {result, compatibility, protocolMismatch, safety, step} = outcome
  const {accessory, destination} = remote
  if (result.handshake && (compatibility === 'incompatible' || protocolMismatch)) {
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
    if (result.preamble !== '') options.ui.raw(result.preamble.endsWith('\n') ? result.preamble : result.preamble + '\n')
    if (result.exitCode !== 0) {
      throw new KamalBackupError(`kamal-backup did not start in the container ${accessory.container} on ${remote.settings.hostName} (exit ${result.exitCode})`, {
        code: 'accessory-exec-failed',
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
  const remote = prepareRemote(options)
  const isVersion = options.command.length === 1 && options.command[0] === 'version'
  const argv = isVersion ? ['--json'] : accessoryArgv(options.argv)
  const continues = FINISH_ON_HANGUP.has(commandId) && !isDryRun(argv)

  const {connect} = await import('./session.js')
  let connection: Connection
  try {
    connection = await connect(remote.settings, {ui: options.ui, signal: options.signal})
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

export interface RemoteRestoreHooks {
  /** The accessory's dry run resolved the run and its checks passed: show the plan and confirm it (throws when
   *  not confirmed). Nothing has changed yet. */
  confirm(plan: RestorePlan): Promise<void>
  /** The dry run failed (no such run, a check failed): show why. Nothing else runs. */
  failed(plan: RestorePlan, exitCode: number): void
}

/** `restore production` from a workstation, on one SSH connection: first `restore production <args> --dry-run
 *  --json` in the accessory, which resolves the run and runs the checks that change nothing; then, once the
 *  operator confirmed that plan, the restore itself with `--expect-run <id>`, so a backup finishing in between
 *  (a new `latest`) is refused instead of restored unseen. */
export async function restoreInAccessory(options: RemoteRunOptions, hooks: RemoteRestoreHooks): Promise<number> {
  const remote = prepareRemote(options)
  const argv = accessoryArgv(options.argv)
  const {connect} = await import('./session.js')
  const connection = await connect(remote.settings, {ui: options.ui, signal: options.signal})
  try {
    options.ui.info(`resolving the run and checking the targets in the accessory ${remote.accessory.container} on ${remote.settings.hostName} (a dry run: nothing is changed)`)
    const planned = await execStep(connection, remote, options, {label: [...options.command, '--dry-run'], argv: dryRunArgv(argv), continues: false, captureStdout: true, warnPatch: true})
    const planCode = settle(planned, connection, remote, options)
    if (planCode === ExitCode.interrupted || planCode === 141) return planCode
    const plan = parsePlan(planned.result.captured ?? '')
    if (planCode !== 0) {
      if (plan.kind === 'plan') {
        hooks.failed(plan.plan, planCode)
        return planCode
      }
      if (plan.kind === 'error') throw planError(plan.error, planCode, remote)
      if (planned.result.captured) options.ui.raw(planned.result.captured)
      return planCode
    }
    if (plan.kind !== 'plan' || plan.plan.status !== 'ok' || !plan.plan.run) {
      throw new KamalBackupError(`the accessory's dry run (kamal-backup restore production --dry-run --json) did not print a restore plan; nothing was restored`, {
        code: 'accessory-protocol',
        suggestions: [`run the same kamal-backup release on both sides (the accessory: kamal accessory reboot ${remote.accessory.name}${remote.destination ? ` -d ${remote.destination}` : ''})`],
      })
    }
    await hooks.confirm(plan.plan)
    if (options.signal.aborted) return ExitCode.interrupted
    const restoreArgv = hasFlag(argv, '--expect-run') ? argv : [...argv, '--expect-run', plan.plan.run.id]
    const restored = await execStep(connection, remote, options, {label: options.command, argv: restoreArgv, continues: true, holdJson: options.json, watchSafety: true, warnPatch: false})
    return settle(restored, connection, remote, options)
  } finally {
    connection.close()
  }
}

/** The argv of the dry run: the same selection and flags, `--dry-run --json` (once). */
export function dryRunArgv(argv: readonly string[]): string[] {
  const end = argv.indexOf('--')
  const flags = (end < 0 ? argv : argv.slice(0, end)).filter((word) => word !== '--json' && word !== '--dry-run')
  return [...flags, '--dry-run', '--json', ...(end < 0 ? [] : argv.slice(end))]
}

function hasFlag(argv: readonly string[], flag: string): boolean {
  const end = argv.indexOf('--')
  return (end < 0 ? argv : argv.slice(0, end)).some((word) => word === flag || word.startsWith(flag + '='))
}

type ParsedPlan = {kind: 'plan'; plan: RestorePlan} | {kind: 'error'; error: {message?: string; code?: string; suggestions?: string[]}} | {kind: 'unknown'}

/** The dry run's stdout: a restore plan, an error document (bad arguments), or something else. */
export function parsePlan(text: string): ParsedPlan {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return {kind: 'unknown'}
  }
  if (doc && typeof doc === 'object') {
    const value = doc as Record<string, unknown>
    if (value.kind === 'restore-plan') return {kind: 'plan', plan: value as unknown as RestorePlan}
    if (value.error && typeof value.error === 'object') return {kind: 'error', error: value.error as {message?: string; code?: string; suggestions?: string[]}}
  }
  return {kind: 'unknown'}
}

/** The accessory refused the dry run's arguments (exit 2, usually): its error, as if raised here. */
function planError(error: {message?: string; code?: string; suggestions?: string[]}, exitCode: number, remote: RemoteTarget): KamalBackupError {
  const suggestions = [...(error.suggestions ?? [])]
  // An accessory from before --dry-run existed (same major.minor, older patch) does not know the flag.
  if (/--dry-run|--expect-run/.test(error.message ?? '')) suggestions.push(`the accessory's kamal-backup may predate restore production --dry-run: update its image, then kamal accessory reboot ${remote.accessory.name}${remote.destination ? ` -d ${remote.destination}` : ''}`)
  return new KamalBackupError(error.message ?? `the accessory refused the restore (exit ${exitCode})`, {code: error.code ?? 'failed', exitCode, suggestions})
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
