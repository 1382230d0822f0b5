// `restore production` from a workstation, on one SSH connection: first `restore production <args> --dry-run
// --json` in the accessory, which resolves the run and runs the checks that change nothing; the operator confirms
// that plan here; then the restore itself with `--expect-run <id>`, so a backup finishing in between (a new
// `latest`) is refused instead of restored unseen. The command supplies only the presentation (the prompt, the
// rendered plan); what is run, in which order, and what a refusal means is decided here.
import type {RestorePlan} from '../documents.js'
import {ExitCode, KamalBackupError} from '../errors.js'
import {accessoryArgv} from './command.js'
import {execStep, settle, type RemoteRunOptions} from './run.js'
import {resolveTarget, type RemoteTarget} from './target.js'

export interface RemoteRestoreOptions extends RemoteRunOptions {
  /** The app name: what `--confirm` must say. Added to the accessory's argv when the operator confirmed here. */
  app: string
  /** The operator gave `--confirm <app>` (or was asked and answered): the accessory is told so. */
  confirmFlag: string | undefined
}

export interface RemoteRestorePresenter {
  /** The accessory's dry run resolved the run and its checks passed: show the plan and confirm it (throws when
   *  not confirmed). Nothing has changed yet. */
  confirm(plan: RestorePlan): Promise<void>
  /** Shows a plan whose checks failed (not under --json: the document itself is printed then). */
  show(plan: RestorePlan): void
}

/** Runs the dry run, the confirmation and the restore; returns the accessory's exit code. */
export async function restoreInAccessory(options: RemoteRestoreOptions, presenter: RemoteRestorePresenter): Promise<number> {
  const remote = resolveTarget(options)
  // The operator confirms here; the accessory, which has no terminal, is told with --confirm <app>.
  const typed = accessoryArgv(options.argv)
  const argv = options.confirmFlag === undefined ? withFlag(typed, ['--confirm', options.app]) : typed
  const {connect} = await import('./session.js')
  const connection = await connect(remote.settings, {log: options.log, signal: options.signal})
  try {
    options.log.info(`resolving the run and checking the targets in the accessory ${remote.accessory.container} on ${remote.settings.hostName} (a dry run: nothing is changed)`)
    const planned = await execStep(connection, remote, options, {label: [...options.command, '--dry-run'], argv: dryRunArgv(argv), continues: false, captureStdout: true, warnPatch: true})
    const planCode = settle(planned, connection, remote, options)
    if (planCode === ExitCode.interrupted || planCode === 141) return planCode
    const plan = parsePlan(planned.result.captured ?? '')
    if (planCode !== 0) {
      if (plan.kind === 'plan') return refuse(plan.plan, planCode, options, presenter)
      if (plan.kind === 'error') throw planError(plan.error, planCode, remote)
      if (planned.result.captured) options.log.raw(planned.result.captured)
      return planCode
    }
    if (plan.kind !== 'plan' || plan.plan.status !== 'ok' || !plan.plan.run) {
      throw new KamalBackupError(`the accessory's dry run (kamal-backup restore production --dry-run --json) did not print a restore plan; nothing was restored`, {
        code: 'accessory/protocol',
        suggestions: [`run the same kamal-backup release on both sides (the accessory: kamal accessory reboot ${remote.accessory.name}${remote.destination ? ` -d ${remote.destination}` : ''})`],
      })
    }
    await presenter.confirm(plan.plan)
    if (options.signal.aborted) return ExitCode.interrupted
    const restoreArgv = hasFlag(argv, '--expect-run') ? argv : withFlag(argv, ['--expect-run', plan.plan.run.id])
    const restored = await execStep(connection, remote, options, {label: options.command, argv: restoreArgv, continues: true, holdJson: options.json, watchSafety: true, warnPatch: false})
    return settle(restored, connection, remote, options)
  } finally {
    connection.close()
  }
}

/** The dry run stopped the restore (no such run, a failed check): under --json its plan is the document printed
 *  (with the dry run's exit code); otherwise the plan is shown and the refusal is the command's error. */
function refuse(plan: RestorePlan, exitCode: number, options: RemoteRestoreOptions, presenter: RemoteRestorePresenter): number {
  if (options.json) {
    process.stdout.write(JSON.stringify(plan, null, 2) + '\n')
    return exitCode
  }
  presenter.show(plan)
  throw new KamalBackupError(`not restoring: ${plan.error ?? 'the checks in the accessory failed'}`, {code: 'restore/refused', exitCode, suggestions: plan.suggestions})
}

/** The argv of the dry run: the same selection and flags, `--dry-run --json` (once). */
export function dryRunArgv(argv: readonly string[]): string[] {
  const end = argv.indexOf('--')
  const flags = (end < 0 ? argv : argv.slice(0, end)).filter((word) => word !== '--json' && word !== '--dry-run')
  return [...flags, '--dry-run', '--json', ...(end < 0 ? [] : argv.slice(end))]
}

/** `flag` added before a `--` (after it, words are arguments). */
function withFlag(argv: readonly string[], flag: readonly string[]): string[] {
  const end = argv.indexOf('--')
  return end < 0 ? [...argv, ...flag] : [...argv.slice(0, end), ...flag, ...argv.slice(end)]
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
  return KamalBackupError.fromDocument({...error, suggestions}, exitCode, `the accessory refused the restore (exit ${exitCode})`)
}
