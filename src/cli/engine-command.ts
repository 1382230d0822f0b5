// Bases for the commands that use the engine. EngineCommand runs it on this machine (restore local, drill local).
// AccessoryCommand, for backup, schedule, list, status, check, unlock, prune, evidence, version, restore production and
// drill production, owns the one rule for where they run (a template method): from an app checkout (config/
// deploy.yml found, or -c/-d given) inside the backup accessory over SSH; with `--local`, or inside the accessory
// image (KAMAL_BACKUP_IN_ACCESSORY=1), here. A command implements what it does here (`here`) and, only when it
// differs from "the same command in the accessory", what it does from a workstation (`inAccessory`).
import type {Command} from '@oclif/core/command'
import type * as Interfaces from '@oclif/core/interfaces'
import {resolve} from 'node:path'
import {loadLocalConfig, type LocalConfig} from '../config/backup-config.js'
import {workstationSecrets} from '../config/resolve.js'
import {backupConfigPath, DEFAULT_LOCAL_CONFIG, isAppCheckout} from '../config/validate.js'
import type {RestorePlan} from '../documents.js'
import {createEngine, type Engine, type EngineOptions} from '../engine/context.js'
import {silentProgress, type Progress} from '../engine/progress.js'
import type {RestoreSelection} from '../engine/restore.js'
import {InterruptedError, UsageError} from '../errors.js'
import {DEFAULT_SECRETS_PATH, kamalSecrets} from '../kamal/secrets.js'
import {throwOnErrors} from '../parse/findings.js'
import type {WorkstationFlags} from '../remote/target.js'
import {asKamalBackupError, BaseCommand} from './base.js'
import {failurePrinter} from './failures.js'
import {checkoutFlags, parseAt, remoteFlags} from './flags.js'
import {listrProgress, plainProgress} from './progress.js'
import {renderPlan} from './render/restore.js'

/** The run and parts a restore or drill was asked for: [SNAPSHOT] or --at (not both: a snapshot named next to
 *  --at would be silently ignored), --database and --files/--no-files. */
export function restoreSelection(
  args: {snapshot?: string | undefined},
  flags: {at?: string | undefined; database?: string[] | undefined; files?: boolean | undefined},
  raw: readonly {type: string}[],
): RestoreSelection {
  const named = raw.some((token) => token.type === 'arg')
  if (named && flags.at !== undefined) {
    throw new UsageError(`give either a SNAPSHOT (${args.snapshot}) or --at ${flags.at}, not both`, {suggestions: ['--at picks the latest complete run at or before that time; a run or snapshot id names one run']})
  }
  return {
    snapshot: args.snapshot ?? 'latest',
    ...(flags.at !== undefined && {at: parseAt(flags.at)!}),
    ...(flags.database && {databases: flags.database}),
    ...(flags.files !== undefined && {files: flags.files}),
  }
}

export const IN_ACCESSORY_ENV = 'KAMAL_BACKUP_IN_ACCESSORY'
/** Set by the workstation on `docker exec` (src/remote/protocol.ts). */
export const REMOTE_CLIENT_ENV = 'KAMAL_BACKUP_REMOTE_CLIENT'

export const WHERE_IT_RUNS = `WHERE IT RUNS
From a Rails app checkout (config/deploy.yml exists, or -c/-d is given) this command runs inside the backup accessory container, over SSH, like \`kamal accessory exec\` but without Ruby or Kamal. --local runs it on this machine instead; inside the accessory image (which sets ${IN_ACCESSORY_ENV}=1) it always runs locally.`

/** The engine on this machine: restore local and drill local use it directly; the accessory commands through
 *  AccessoryCommand, below, which adds where-it-runs and the SSH flags. */
export abstract class EngineCommand extends BaseCommand {
  static override baseFlags = {...BaseCommand.baseFlags, ...checkoutFlags}

  protected readonly abortController = new AbortController()
  #signalsInstalled = false
  readonly #engines: Engine[] = []

  /** Run by a workstation over SSH (src/remote/protocol.ts): announce our version and wait for its go-ahead first. */
  override async init(): Promise<void> {
    await super.init()
    if (process.env[REMOTE_CLIENT_ENV]) {
      const {acceptRemoteClient} = await import('../remote/accessory-side.js')
      await acceptRemoteClient({version: this.config.version})
    }
  }

  /** SIGINT/SIGTERM abort the running work: children get SIGINT (restic removes its lock). A second signal exits. */
  protected installSignalHandlers(onSignal?: (signal: NodeJS.Signals) => void): void {
    if (this.#signalsInstalled) return
    this.#signalsInstalled = true
    let count = 0
    const handler = (signal: NodeJS.Signals) => {
      count++
      onSignal?.(signal)
      if (count === 1) {
        this.ui.warn(`${signal} received: stopping (press Ctrl-C again to quit at once)`)
        this.abortController.abort(new InterruptedError())
      } else {
        process.exit(130)
      }
    }
    process.on('SIGINT', handler)
    process.on('SIGTERM', handler)
  }

  protected async progress(): Promise<Progress> {
    if (this.jsonEnabled()) return silentProgress
    if (this.ui.isTTY && process.env.CI === undefined) return listrProgress(this.ui)
    return plainProgress(this.ui)
  }

  /** The engine, its failures printed as they happen, and (unless `report` is false: a workstation's own restores)
   *  notify[] told what happens and the metrics textfile rewritten after each run, drill and check. */
  protected async engine(flags: WorkstationFlags, overrides: Pick<EngineOptions, 'secrets' | 'stateDir'> = {}, options: {report?: boolean; copy?: string | undefined} = {}): Promise<Engine> {
    this.installSignalHandlers()
    const cwd = process.cwd()
    const engine = createEngine({
      configFile: backupConfigPath({cwd, env: process.env, ...(flags['backup-config'] !== undefined && {backupConfigFile: resolve(cwd, flags['backup-config'])})}),
      cwd,
      env: process.env,
      log: this.ui,
      progress: await this.progress(),
      signal: this.abortController.signal,
      ...overrides,
    })
    if (options.copy !== undefined) {
      const {withCopyAsPrimary} = await import('../engine/copies.js')
      engine.config = withCopyAsPrimary(engine.config, options.copy)
      this.ui.info(`using the copy ${options.copy} (restic.copies) instead of the primary repository`)
    }
    engine.events.on(failurePrinter(this.ui))
    if (options.report !== false) {
      if (engine.config.notify.length > 0) {
        const {notifier} = await import('../notify/index.js')
        engine.events.on(notifier({app: engine.config.app, targets: engine.config.notify, secrets: engine.secrets, redactor: engine.redactor, exec: engine.exec, state: engine.state, log: this.ui, version: this.config.version, logTail: () => this.ui.recentLines()}))
      }
      const {textfileWriter} = await import('../metrics/index.js')
      engine.events.on(textfileWriter(engine.config, engine.state, this.ui))
    }
    this.#engines.push(engine)
    return engine
  }

  /** Before the command exits: what listeners of the engine's events still do (a notification being sent). */
  override async finally(error: Error | undefined): Promise<unknown> {
    for (const engine of this.#engines) await engine.events.settled()
    return super.finally(error)
  }

  /** A dry run's plan, printed (or the --json document); a failed plan is the command's error, and under --json
   *  its exit code. */
  protected finishPlan({plan, error}: {plan: RestorePlan; error?: unknown}): RestorePlan {
    this.out(renderPlan(plan, this.ui.style))
    if (error && !this.jsonEnabled()) throw error
    if (error) process.exitCode = asKamalBackupError(error).exitCode
    return plan
  }

  /** The engine for restores onto this workstation: secrets from the environment and .kamal/secrets (for the
   *  destination), the workstation's own state directory, and config/kamal-backup.local.yml. */
  protected async workstationEngine(flags: WorkstationFlags, options: {copy?: string | undefined} = {}): Promise<{engine: Engine; local: LocalConfig | undefined}> {
    const cwd = process.cwd()
    const localFile = loadLocalConfig(resolve(cwd, DEFAULT_LOCAL_CONFIG), cwd)
    throwOnErrors(localFile.findings)
    const secretsPath = DEFAULT_SECRETS_PATH
    const files = kamalSecrets({cwd, secretsPath, env: process.env, ...(flags.destination !== undefined && {destination: flags.destination})})
    // A developer's restore onto their own machine is nobody else's news: no notifications from here.
    const engine = await this.engine(flags, {
      secrets: workstationSecrets(process.env, files, secretsPath),
      stateDir: localFile.config?.statePath ?? resolve(cwd, 'tmp/kamal-backup'),
    }, {report: false, copy: options.copy})
    // The local file's restic settings are for the primary repository; a copy is reached as configured.
    if (localFile.config && options.copy === undefined) {
      // Workstation overrides for reaching the repository (e.g. a password command using a password manager).
      Object.assign(engine.config.restic, Object.fromEntries(Object.entries(localFile.config.restic).filter(([, v]) => v !== undefined)))
    }
    return {engine, local: localFile.config}
  }
}

/** What an accessory command's own flags and arguments parse to (its static `flags` and `args` plus the base flags). */
export interface Parsed<C extends typeof Command> {
  flags: Interfaces.InferredFlags<(typeof AccessoryCommand)['baseFlags'] & C['flags']>
  args: Interfaces.InferredArgs<C['args']>
  raw: Interfaces.ParserOutput['raw']
}

/** The accessory commands: from an app checkout they run inside the backup accessory over SSH (WHERE_IT_RUNS). */
export abstract class AccessoryCommand<C extends typeof Command> extends EngineCommand {
  static override baseFlags = {...EngineCommand.baseFlags, ...remoteFlags}

  /** Decides where this invocation runs, once, for every accessory command. */
  async run(): Promise<unknown> {
    const input = await this.parseInput()
    if (this.runsRemotely(input.flags)) {
      process.exitCode = await this.inAccessory(input)
      return undefined
    }
    return this.here(input)
  }

  /** What the command does where it runs: in the accessory, with --local, or outside an app checkout. Returns the
   *  --json document. */
  protected abstract here(input: Parsed<C>): Promise<unknown>

  /** What the command does from a workstation: by default the same command, with the argv as typed, inside the
   *  accessory; returns its exit code. */
  protected inAccessory(input: Parsed<C>): Promise<number> {
    return this.runRemote(input.flags, this.argv)
  }

  /** This command's flags and arguments, typed from its static declarations. */
  protected async parseInput(): Promise<Parsed<C>> {
    const ctor = this.ctor as unknown as C
    const {flags, args, raw} = await this.parse({flags: ctor.flags, baseFlags: (this.ctor as unknown as typeof AccessoryCommand).baseFlags, args: ctor.args, strict: ctor.strict, enableJsonFlag: ctor.enableJsonFlag})
    return {flags: flags as Parsed<C>['flags'], args: args as Parsed<C>['args'], raw}
  }

  /** Running on a workstation with --local (not in the accessory, not for a workstation over SSH). */
  protected ranWithLocalFlag(flags: WorkstationFlags): boolean {
    return Boolean(flags.local) && process.env[IN_ACCESSORY_ENV] !== '1' && !process.env[REMOTE_CLIENT_ENV]
  }

  /** Should this invocation run inside the accessory? */
  private runsRemotely(flags: WorkstationFlags): boolean {
    if (flags.local) {
      const ignored = (['host', 'strict-host-key'] as const).filter((name) => flags[name] !== undefined && flags[name] !== false)
      if (ignored.length > 0) this.ui.warn(`${ignored.map((name) => `--${name}`).join(' and ')} ${ignored.length === 1 ? 'applies' : 'apply'} only to the SSH connection: ignored with --local`)
    }
    if (flags.local || process.env[IN_ACCESSORY_ENV] === '1' || process.env[REMOTE_CLIENT_ENV]) return false
    return isAppCheckout({
      cwd: process.cwd(),
      ...(flags['config-file'] !== undefined && {configFile: flags['config-file']}),
      ...(flags.destination !== undefined && {destination: flags.destination}),
    })
  }

  /** How the accessory is reached from here: the checkout, the flags, this CLI's version, the abort signal. */
  protected remoteOptions(flags: WorkstationFlags, argv: string[], options: {operator?: string} = {}) {
    this.installSignalHandlers()
    return {
      cwd: process.cwd(),
      env: process.env,
      flags,
      command: this.id!.split(':'),
      argv,
      json: this.jsonEnabled(),
      log: this.ui,
      signal: this.abortController.signal,
      version: this.config.version,
      ...(options.operator !== undefined && {operator: options.operator}),
    }
  }

  /** Runs this same command inside the accessory, with `argv` (the flags that only make sense here are removed on
   *  the way), and returns its exit code. Output streams through as it arrives. */
  protected async runRemote(flags: WorkstationFlags, argv: string[], options: {operator?: string} = {}): Promise<number> {
    const {runInAccessory} = await import('../remote/run.js')
    return runInAccessory(this.remoteOptions(flags, argv, options))
  }
}
