// The small protocol between the workstation CLI and the CLI inside the accessory, over one `docker exec -i`.
//
// 1. The workstation runs `docker exec -i -e KAMAL_BACKUP_REMOTE_CLIENT=<its version> <container> kamal-backup ...`.
// 2. The accessory CLI, seeing KAMAL_BACKUP_REMOTE_CLIENT, writes ONE line on stderr before doing anything else:
//      @kamal-backup-handshake {"protocol":1,"version":"0.1.0","node":"v20.19.0"}
//    and then waits for a line on stdin.
// 3. The workstation strips that line, compares versions, and writes `go\n` (compatible) or closes stdin
//    (incompatible: the accessory exits 4 without having done anything).
// 4. After `go`, stdin stays open as the control channel: a 0x03 byte interrupts the command as SIGINT would
//    (restic gets SIGINT and removes its lock). End of file (the workstation went away, the connection dropped)
//    interrupts it too, unless the workstation passed KAMAL_BACKUP_REMOTE_ON_HANGUP=continue: then the command
//    runs to its end (`restore production`, `drill production`: stopping those halfway leaves more damage than
//    finishing them; their records in the state directory say how they ended).
//
// Other -e variables, never secrets: KAMAL_BACKUP_OPERATOR (the human running a drill), KAMAL_BACKUP_DESTINATION
// and KAMAL_BACKUP_CONFIG_FILE (the workstation's -d and -c, for commands the accessory prints, like an undo).
//
// Why not SSH signals: OpenSSH's sshd ignores "signal" channel requests in common setups and cannot deliver them
// through `docker exec` anyway; stdin is the one thing that reaches the process inside the container.

export const REMOTE_CLIENT_ENV = 'KAMAL_BACKUP_REMOTE_CLIENT'
export const OPERATOR_ENV = 'KAMAL_BACKUP_OPERATOR'
export const DESTINATION_ENV = 'KAMAL_BACKUP_DESTINATION'
export const CONFIG_FILE_ENV = 'KAMAL_BACKUP_CONFIG_FILE'
/** `continue`: end of stdin (the connection dropped) does not interrupt the command; only 0x03 does. */
export const ON_HANGUP_ENV = 'KAMAL_BACKUP_REMOTE_ON_HANGUP'
export const HANDSHAKE_PREFIX = '@kamal-backup-handshake '
/** `dump -o -` for a workstation: the plan (run, snapshot, size) as one stderr line before the bytes on stdout. */
export const DUMP_PLAN_PREFIX = '@kamal-backup-dump-plan '
export const PROTOCOL_VERSION = 1
export const GO = 'go\n'
/** ETX, what Ctrl-C sends on a terminal. */
export const INTERRUPT_BYTE = 0x03

export interface Handshake {
  protocol: number
  version: string
  node?: string
}

export function formatHandshake(handshake: Handshake): string {
  return `${HANDSHAKE_PREFIX}${JSON.stringify(handshake)}\n`
}

/** The JSON object a protocol line carries after `prefix` (with or without its newline), or undefined. */
export function prefixedObject(line: string, prefix: string): Record<string, unknown> | undefined {
  const text = line.replace(/\r?\n$/, '')
  if (!text.startsWith(prefix)) return undefined
  try {
    const value = JSON.parse(text.slice(prefix.length)) as unknown
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** The handshake carried by one stderr line (with or without its newline), or undefined. */
export function parseHandshake(line: string): Handshake | undefined {
  const value = prefixedObject(line, HANDSHAKE_PREFIX) as Partial<Handshake> | undefined
  if (!value || typeof value.version !== 'string') return undefined
  return {protocol: typeof value.protocol === 'number' ? value.protocol : 0, version: value.version, ...(typeof value.node === 'string' && {node: value.node})}
}

export type Compatibility = 'same' | 'patch' | 'incompatible'

/** Whether the accessory speaks our protocol. A handshake without a number (0) predates numbering: refused, like
 *  any other number, since the meaning of `go`, 0x03 and EOF could differ. */
export function protocolCompatible(handshake: Handshake): boolean {
  return handshake.protocol === PROTOCOL_VERSION
}

interface SemVer {
  major: number
  minor: number
  patch: string
}

function parseVersion(version: string): SemVer | undefined {
  const match = /^v?(\d+)\.(\d+)(?:\.(.+))?$/.exec(version.trim())
  if (!match) return undefined
  return {major: Number(match[1]), minor: Number(match[2]), patch: match[3] ?? '0'}
}

/** Same major.minor is compatible (a differing patch only warrants a warning); anything else, or an unparsable
 *  version, is not. */
export function compareVersions(local: string, remote: string): Compatibility {
  const a = parseVersion(local)
  const b = parseVersion(remote)
  if (!a || !b || a.major !== b.major || a.minor !== b.minor) return 'incompatible'
  return a.patch === b.patch ? 'same' : 'patch'
}

/** `0.1` from `0.1.3`, for messages. */
export function majorMinor(version: string): string {
  const v = parseVersion(version)
  return v ? `${v.major}.${v.minor}` : version
}
