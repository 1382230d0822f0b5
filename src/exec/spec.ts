// What to run, as data. Builders return these; executors run them. argv is execve-style: never a shell string.
import {Secret} from '../redact.js'
import {shellQuote} from './quote.js'

export type Argv = readonly [program: string, ...args: string[]]

export interface CommandSpec {
  readonly argv: Argv
  /** Added to (or, with `undefined`, removed from) the inherited environment. Secrets travel here, never in argv. */
  readonly env?: Readonly<Record<string, string | Secret | undefined>>
  readonly cwd?: string
  /** A short human name for logs and progress ("pg_dump primary"). */
  readonly label?: string
}

/** The environment a child gets: the parent's, with the spec's additions revealed and removals applied. */
export function childEnvironment(spec: CommandSpec, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...base}
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (value === undefined) delete env[name]
    else env[name] = value instanceof Secret ? value.reveal() : value
  }
  return env
}

/** How a command is shown in logs and errors: the quoted argv, with only the *names* of the variables set. */
export function displayCommand(spec: CommandSpec): string {
  const names = Object.entries(spec.env ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k)
    .sort()
  const prefix = names.length > 0 ? `[env ${names.join(' ')}] ` : ''
  return prefix + spec.argv.map((a) => shellQuote(a)).join(' ')
}
