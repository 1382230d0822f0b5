// The CLI's entry: the explicit command registry oclif reads (package.json oclif.commands) and run().
// Commands are small; the services they call are imported lazily inside run() so start-up stays fast.
import type {Config} from '@oclif/core/config'
import {execute} from '@oclif/core/execute'
import Init from './commands/init.js'
import Validate from './commands/validate.js'
import Version from './commands/version.js'

export const COMMANDS = {
  init: Init,
  validate: Validate,
  version: Version,
}

/** Runs the CLI. `from` is the package directory (where package.json lives) or a loaded oclif Config. */
export async function run(argv: string[], from: string | Config): Promise<void> {
  await execute({args: argv, loadOptions: from})
}
