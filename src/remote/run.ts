// Remote execution entry point (issue: remote execution over SSH). Implemented in the remote-execution work.
import type {Ui} from '../cli/ui.js'
import type {CheckoutFlagValues} from '../cli/engine-command.js'
import {KamalBackupError, ExitCode} from '../errors.js'

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

export async function runInAccessory(options: RemoteRunOptions): Promise<number> {
  throw new KamalBackupError(`running \`${options.command.join(' ')}\` inside the accessory is not available in this build`, {
    code: 'remote-unavailable',
    exitCode: ExitCode.unreachable,
    suggestions: ['pass --local to run it on this machine'],
  })
}
