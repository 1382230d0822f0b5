// Confirmations for destructive commands. Prompts go to stderr and read stdin; without a terminal the explicit
// flag is required, so nothing destructive can happen by accident in a script.
import {createInterface} from 'node:readline/promises'
import {KamalBackupError, UsageError} from '../errors.js'

export function interactive(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY)
}

export async function ask(question: string): Promise<string> {
  const rl = createInterface({input: process.stdin, output: process.stderr, terminal: true})
  try {
    return (await rl.question(question)).trim()
  } finally {
    rl.close()
  }
}

function aborted(): KamalBackupError {
  return new KamalBackupError('aborted: nothing was changed', {code: 'aborted', exitCode: 1})
}

/** `[y/N]`, skipped with --yes; refused without a terminal unless --yes. */
export async function confirmYesNo(message: string, yes: boolean): Promise<void> {
  if (yes) return
  if (!interactive()) throw new UsageError(`${message.replace(/\?$/, '')}: confirmation required`, {suggestions: ['rerun with --yes to confirm without a terminal']})
  const answer = (await ask(`${message} [y/N] `)).toLowerCase()
  if (answer !== 'y' && answer !== 'yes') throw aborted()
}

/** Production restores need the app name typed, then RESTORE PRODUCTION — or, without a terminal, --confirm <app>.
 *  --yes never confirms one. */
export async function confirmProductionRestore(app: string, options: {confirm?: string | undefined; yes?: boolean | undefined; what: string}): Promise<void> {
  if (options.confirm !== undefined) {
    if (options.confirm !== app) throw new UsageError(`--confirm ${options.confirm} does not match the app name "${app}"`, {suggestions: [`pass --confirm ${app}`]})
    return
  }
  if (options.yes) throw new UsageError('--yes does not confirm a production restore', {suggestions: [`pass --confirm ${app} (the app name), or run it in a terminal and type the confirmation`]})
  if (!interactive()) throw new UsageError('a production restore needs --confirm <app> when not run in a terminal', {suggestions: [`pass --confirm ${app}`]})
  process.stderr.write(`\n  This restores ${options.what} into PRODUCTION for app "${app}", overwriting its current data.\n\n`)
  if ((await ask(`Type the app name (${app}) to continue: `)) !== app) throw aborted()
  if ((await ask('Type RESTORE PRODUCTION to continue: ')) !== 'RESTORE PRODUCTION') throw aborted()
}
