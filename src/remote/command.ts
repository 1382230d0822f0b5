// The one command line the workstation sends over SSH: `docker exec -i -e ... <container> kamal-backup <argv...>`,
// every word POSIX-quoted by shellJoin (src/exec/quote.ts). No secret is ever part of it: the accessory has its
// secrets in its own environment.
import {shellJoin} from '../exec/quote.js'
import {CONFIG_FILE_ENV, DESTINATION_ENV, ON_HANGUP_ENV, OPERATOR_ENV, REMOTE_CLIENT_ENV} from './protocol.js'

/** Flags that only mean something on the workstation (which checkout, which host, how to SSH), with whether they
 *  take a value. They are removed before the argv goes to the accessory. */
const WORKSTATION_FLAGS: Record<string, boolean> = {
  '--config-file': true,
  '-c': true,
  '--destination': true,
  '-d': true,
  '--backup-config': true,
  '--host': true,
  '--strict-host-key': false,
  '--local': false,
}

/** The argv as typed, minus the workstation-only flags in every spelling oclif accepts (`--flag value`,
 *  `--flag=value`, `-d value`, `-dvalue`, `-d=value`). Words after `--` are arguments and are kept. */
export function accessoryArgv(argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!
    if (word === '--') {
      out.push(...argv.slice(i))
      break
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=')
      const name = eq >= 0 ? word.slice(0, eq) : word
      const takesValue = WORKSTATION_FLAGS[name]
      if (takesValue === undefined) {
        out.push(word)
        continue
      }
      if (takesValue && eq < 0) i++
      continue
    }
    if (/^-[a-zA-Z]/.test(word)) {
      const short = word.slice(0, 2)
      if (WORKSTATION_FLAGS[short] === true) {
        if (word.length === 2) i++
        continue
      }
    }
    out.push(word)
  }
  return out
}

export interface AccessoryCommand {
  container: string
  /** Command id parts, e.g. ['restore', 'production']. */
  command: readonly string[]
  /** What follows the command id, already stripped of workstation-only flags. */
  argv: readonly string[]
  /** The workstation's kamal-backup version (turns on the handshake). */
  clientVersion: string
  operator?: string
  /** The workstation's -d, for commands the accessory prints (the undo command of a restore). */
  destination?: string
  /** The workstation's -c, as typed, for the same reason. */
  configFile?: string
  /** Let the command finish when the connection drops (only the interrupt byte stops it). */
  continueOnHangup?: boolean
  /** The executable inside the container. */
  executable?: string
}

/** argv of the `docker exec` to run on the accessory host. */
export function dockerExecArgv(spec: AccessoryCommand): string[] {
  const env = [`${REMOTE_CLIENT_ENV}=${spec.clientVersion}`]
  if (spec.operator !== undefined) env.push(`${OPERATOR_ENV}=${spec.operator}`)
  if (spec.destination !== undefined) env.push(`${DESTINATION_ENV}=${spec.destination}`)
  if (spec.configFile !== undefined) env.push(`${CONFIG_FILE_ENV}=${spec.configFile}`)
  if (spec.continueOnHangup) env.push(`${ON_HANGUP_ENV}=continue`)
  return ['docker', 'exec', '-i', ...env.flatMap((e) => ['-e', e]), spec.container, spec.executable ?? 'kamal-backup', ...spec.command, ...spec.argv]
}

/** The shell command line sshd hands to the login shell. */
export function remoteCommandLine(spec: AccessoryCommand): string {
  return shellJoin(dockerExecArgv(spec))
}
