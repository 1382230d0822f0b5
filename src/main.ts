// The CLI's entry: the explicit command registry oclif reads (package.json oclif.commands) and run().
// Commands are small; the services they call are imported lazily inside run() so start-up stays fast.
import type {Config} from '@oclif/core/config'
import {execute} from '@oclif/core/execute'
import Backup from './commands/backup.js'
import Check from './commands/check.js'
import DrillLocal from './commands/drill/local.js'
import DrillProduction from './commands/drill/production.js'
import Evidence from './commands/evidence.js'
import Init from './commands/init.js'
import List from './commands/list.js'
import Prune from './commands/prune.js'
import RestoreLocal from './commands/restore/local.js'
import RestoreProduction from './commands/restore/production.js'
import Schedule from './commands/schedule.js'
import Unlock from './commands/unlock.js'
import Validate from './commands/validate.js'
import Version from './commands/version.js'

export const COMMANDS = {
  backup: Backup,
  check: Check,
  'drill:local': DrillLocal,
  'drill:production': DrillProduction,
  evidence: Evidence,
  init: Init,
  list: List,
  prune: Prune,
  'restore:local': RestoreLocal,
  'restore:production': RestoreProduction,
  schedule: Schedule,
  unlock: Unlock,
  validate: Validate,
  version: Version,
}

/** Runs the CLI. `from` is the package directory (where package.json lives) or a loaded oclif Config. */
export async function run(argv: string[], from: string | Config): Promise<void> {
  await execute({args: argv, loadOptions: from})
}
