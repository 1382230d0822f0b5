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
  /** Inherit only these variables of this process (and add `env`): for commands that must not see the secrets
   *  this process holds (a user's notification command). Default: inherit everything. */
  readonly inheritEnv?: readonly string[]
}

/** The environment a child gets: the parent's (or only the names in `inheritEnv`), with the spec's additions
 *  revealed and removals applied. */
export function childEnvironment(spec: CommandSpec, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = spec.inheritEnv ? Object.fromEntries(spec.inheritEnv.filter((name) => base[name] !== undefined).map((name) => [name, base[name]])) : {...base}
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
