// Confirmations for destructive commands. Prompts go to stderr and read stdin; without a terminal the explicit
// flag is required, so nothing destructive can happen by accident in a script. Any answer but the expected one
// is "not confirmed": exit 2, nothing changed.
import {createInterface} from 'node:readline/promises'
import {InterruptedError, KamalBackupError, UsageError} from '../errors.js'

export function interactive(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY)
}

/** Questions on stderr, answers from stdin, one line each. One reader for all of them: answers typed (or pasted)
 *  ahead of a question wait for it instead of being lost between two readers. */
export function prompter(): {ask(question: string): Promise<string>; close(): void} {
  const rl = createInterface({input: process.stdin, output: process.stderr, terminal: true})
  const lines = rl[Symbol.asyncIterator]()
  return {
    async ask(question: string): Promise<string> {
      rl.setPrompt(question)
      rl.prompt()
      const next = await lines.next()
      return next.done ? '' : String(next.value).trim()
    },
    close: () => rl.close(),
  }
}

export async function ask(question: string): Promise<string> {
  const p = prompter()
  try {
    return await p.ask(question)
  } finally {
    p.close()
  }
}

function notConfirmed(): KamalBackupError {
  return new KamalBackupError('not confirmed: nothing was changed', {code: 'usage/not-confirmed'})
}

/** The question's first sentence, for "…: confirmation required" (`Restore …? This overwrites local data.` →
 *  `Restore …`). Dots inside names (127.0.0.1) do not end a sentence. */
export function firstSentence(message: string): string {
  return message.split(/[?.!](?=\s|$)/)[0]!.trim()
}

/** Refuses early (before any work) when a [y/N] confirmation cannot be asked: no --yes and no terminal. */
export function assertCanConfirm(message: string, yes: boolean): void {
  if (yes || interactive()) return
  throw new UsageError(`${firstSentence(message)}: confirmation required`, {code: 'usage/not-confirmed', suggestions: ['rerun with --yes to confirm without a terminal']})
}

/** `[y/N]`, skipped with --yes; refused without a terminal unless --yes. */
export async function confirmYesNo(message: string, yes: boolean): Promise<void> {
  if (yes) return
  assertCanConfirm(message, yes)
  const answer = (await ask(`${message} [y/N] `)).toLowerCase()
  if (answer !== 'y' && answer !== 'yes') throw notConfirmed()
}

/** The flag rules of a production restore, checked before anything else: --yes never confirms one (not even with
 *  --confirm), --confirm must be the exact app name, and without a terminal only --confirm proceeds. Returns
 *  whether the typed confirmation must still be asked. */
export function checkProductionConfirmation(app: string, options: {confirm?: string | undefined; yes?: boolean | undefined}): 'confirmed' | 'ask' {
  if (options.yes) throw new UsageError('--yes is refused for a production restore', {suggestions: [`pass --confirm ${app} (the app name) alone, or run it in a terminal and type the confirmation`]})
  if (options.confirm !== undefined) {
    if (options.confirm !== app) throw new UsageError(`--confirm ${options.confirm} does not match the app name "${app}"`, {suggestions: [`pass --confirm ${app}`]})
    return 'confirmed'
  }
  if (!interactive()) throw new UsageError('a production restore needs --confirm <app> when not run in a terminal', {code: 'usage/not-confirmed', suggestions: [`pass --confirm ${app}`]})
  return 'ask'
}

/** The typed confirmation: the app name, then RESTORE PRODUCTION. `plan` says what is restored, where, from
 *  which run (confirmationText in render/restore.ts), and is shown first. */
export async function askProductionConfirmation(app: string, plan: string, signal?: AbortSignal): Promise<void> {
  process.stderr.write(`\n${plan.split('\n').map((line) => (line ? `  ${line}` : '')).join('\n')}\n\n`)
  const p = prompter()
  // A SIGINT/SIGTERM while the question waits (a remote restore holds its SSH connection open meanwhile) ends it.
  const onAbort = () => p.close()
  signal?.addEventListener('abort', onAbort, {once: true})
  const answer = async (question: string) => {
    const text = await p.ask(question)
    if (signal?.aborted) throw new InterruptedError('interrupted: nothing was changed')
    return text
  }
  try {
    if ((await answer(`Type the app name (${app}) to continue: `)) !== app) throw notConfirmed()
    if ((await answer('Type RESTORE PRODUCTION to continue: ')) !== 'RESTORE PRODUCTION') throw notConfirmed()
  } finally {
    signal?.removeEventListener('abort', onAbort)
    p.close()
  }
}

/** Production restores need the app name typed, then RESTORE PRODUCTION — or, without a terminal, --confirm <app>.
 *  --yes never confirms one. */
export async function confirmProductionRestore(app: string, options: {confirm?: string | undefined; yes?: boolean | undefined; what: string}): Promise<void> {
  if (checkProductionConfirmation(app, options) === 'ask') await askProductionConfirmation(app, `This restores ${options.what} into PRODUCTION for app "${app}", overwriting its current data.`)
}
