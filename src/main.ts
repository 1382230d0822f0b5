// The CLI's entry: the explicit command registry oclif reads (package.json oclif.commands) and run().
// Commands are small; the services they call are imported lazily inside run() so start-up stays fast.
import type {Config} from '@oclif/core/config'
import {execute} from '@oclif/core/execute'
import Backup from './commands/backup.js'
import Check from './commands/check.js'
import DrillLocal from './commands/drill/local.js'
import DrillProduction from './commands/drill/production.js'
import Dump from './commands/dump.js'
import Evidence from './commands/evidence.js'
import EvidenceKeygen from './commands/evidence/keygen.js'
import EvidenceVerify from './commands/evidence/verify.js'
import HooksInstall from './commands/hooks/install.js'
import Init from './commands/init.js'
import List from './commands/list.js'
import Migrate from './commands/migrate.js'
import Generate from './commands/generate.js'
import Runbook from './commands/runbook.js'
import NotifyTest from './commands/notify/test.js'
import Prune from './commands/prune.js'
import Copy from './commands/copy.js'
import RestoreLocal from './commands/restore/local.js'
import RestoreProduction from './commands/restore/production.js'
import Schedule from './commands/schedule.js'
import Status from './commands/status.js'
import Unlock from './commands/unlock.js'
import Validate from './commands/validate.js'
import Version from './commands/version.js'

export const COMMANDS = {
  backup: Backup,
  check: Check,
  'drill:local': DrillLocal,
  'drill:production': DrillProduction,
  dump: Dump,
  evidence: Evidence,
  'evidence:keygen': EvidenceKeygen,
  'evidence:verify': EvidenceVerify,
  'hooks:install': HooksInstall,
  init: Init,
  list: List,
  migrate: Migrate,
  generate: Generate,
  runbook: Runbook,
  'notify:test': NotifyTest,
  prune: Prune,
  copy: Copy,
  'restore:local': RestoreLocal,
  'restore:production': RestoreProduction,
  schedule: Schedule,
  status: Status,
  unlock: Unlock,
  validate: Validate,
  version: Version,
}

/** Runs the CLI. `from` is the package directory (where package.json lives) or a loaded oclif Config. */
export async function run(argv: string[], from: string | Config): Promise<void> {
  await execute({args: strayWordsAsArguments(argv), loadOptions: from})
}

/** `validate extra`: oclif would read the stray word as part of a command name (`command validate:extra not
 *  found`); after `--` the command's own parser reports it (`Unexpected argument: extra`, exit 2). */
export function strayWordsAsArguments(argv: string[]): string[] {
  const [first, second] = argv
  const command = first !== undefined && Object.hasOwn(COMMANDS, first) ? COMMANDS[first as keyof typeof COMMANDS] : undefined
  if (!command || second === undefined || second.startsWith('-') || Object.keys(command.args ?? {}).length > 0) return argv
  // `evidence keygen`: a command of the topic the first word also names.
  if (Object.hasOwn(COMMANDS, `${first}:${second}`)) return argv
  return [first!, '--', ...argv.slice(1)]
}
