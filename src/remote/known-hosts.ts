// known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT") lookups and appends, for ssh2's hostVerifier.
//
// Entry forms: comma-separated names or wildcard patterns (`*`, `?`, `!negation`, case-insensitive), `[host]:port`,
// hashed names `|1|<base64 salt>|<base64 HMAC-SHA1(salt, name)>`, and the markers `@revoked` and `@cert-authority`.
//
// Decisions (see kamal-config.md section 8):
// - Like Kamal (net-ssh + SSHKit), a recorded key of ANY type counts: a host with keys on record whose key matches
//   none of them is "changed", even when the server offers a key type that is not on record. OpenSSH instead would
//   call that "new" and add it, which lets a man in the middle pick an unrecorded key type. To avoid false alarms,
//   net-ssh and OpenSSH both put the recorded key types first in the host key negotiation; callers must do the same
//   with `algorithms: {serverHostKey: serverHostKeyAlgorithmsOption(knownHostKeyTypes(...))}`.
// - The first name is the host as configured and is authoritative. Further names (the peer IP) can only make a key
//   "known": a mismatch under the IP alone (IPs get reused) gives "unknown", as OpenSSH does with CheckHostIP=no.
// - `@revoked` entries whose key equals the server's key make the verdict "changed" with `revoked: true` (refuse).
//   `@cert-authority` lines are ignored (ssh2 host certificates are out of scope).
// - Unreadable or missing files are skipped; malformed lines are skipped.

import {createHash, createHmac, randomBytes} from 'node:crypto'
import {appendFileSync, mkdirSync, readFileSync, statSync} from 'node:fs'
import {dirname} from 'node:path'
import {matchPatternList} from './ssh-config.js'

/** `SHA256:` + unpadded base64 of sha256(key blob), exactly like `ssh-keygen -lf`. */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '')
}

export type HostKeyVerdict =
  | {status: 'known'}
  | {status: 'unknown'}
  | {status: 'changed'; knownFingerprints: string[]; file: string; line: number; revoked?: true}

export interface KnownHostsEntry {
  file: string
  /** 1-based. */
  line: number
  marker?: 'revoked' | 'cert-authority'
  hosts: string
  keyType: string
  key: Buffer
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/** Parses known_hosts text. Comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string, file = ''): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim()
    if (line === '' || line.startsWith('#')) continue
    const fields = line.split(/\s+/)
    let marker: KnownHostsEntry['marker']
    if (fields[0]?.startsWith('@')) {
      const name = fields.shift()
      if (name === '@revoked') marker = 'revoked'
      else if (name === '@cert-authority') marker = 'cert-authority'
      else continue
    }
    const [hosts, keyType, blob] = fields
    if (hosts === undefined || keyType === undefined || blob === undefined || !BASE64.test(blob)) continue
    const entry: KnownHostsEntry = {file, line: i + 1, hosts, keyType, key: Buffer.from(blob, 'base64')}
    if (marker) entry.marker = marker
    entries.push(entry)
  }
  return entries
}

/** The `|1|salt|hmac` form of a host name. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hmac = createHmac('sha1', salt).update(name).digest('base64')
  return `|1|${salt.toString('base64')}|${hmac}`
}

/** Whether the hosts field of an entry (hashed, or a pattern list) covers `name`. */
export function hostsFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const parts = hosts.split('|')
    const salt = parts[2]
    const hash = parts[3]
    if (parts.length !== 4 || salt === undefined || hash === undefined) return false
    const expected = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64')
    return expected === hash
  }
  return matchPatternList(name.toLowerCase(), hosts.toLowerCase())
}

function readEntries(files: string[]): KnownHostsEntry[] {
  const all: KnownHostsEntry[] = []
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    all.push(...parseKnownHosts(text, file))
  }
  return all
}

/**
 * Verdict for the server's host key. `hostnames` as from knownHostsNames(): the configured host first, then the IP.
 * `keyType` is informational (the blob carries its own type); comparison is on the whole blob.
 */
export function checkHostKey(files: string[], hostnames: string[], keyType: string, key: Buffer): HostKeyVerdict {
  const entries = readEntries(files).filter((e) => e.marker !== 'cert-authority')
  const matching = entries.filter((e) => hostnames.some((name) => hostsFieldMatches(e.hosts, name)))

  const revoked = matching.find((e) => e.marker === 'revoked' && e.key.equals(key))
  if (revoked) return {status: 'changed', knownFingerprints: [], file: revoked.file, line: revoked.line, revoked: true}

  const plain = matching.filter((e) => e.marker === undefined)
  if (plain.some((e) => e.key.equals(key))) return {status: 'known'}

  const primary = hostnames[0]
  const recorded = primary === undefined ? [] : plain.filter((e) => hostsFieldMatches(e.hosts, primary))
  const first = recorded[0]
  if (!first) return {status: 'unknown'}
  const knownFingerprints = [...new Set(recorded.map((e) => fingerprint(e.key)))]
  return {status: 'changed', knownFingerprints, file: first.file, line: first.line}
}

/** Key types on record for these names, in file order: for ordering the host key negotiation. */
export function knownHostKeyTypes(files: string[], hostnames: string[]): string[] {
  const types: string[] = []
  for (const e of readEntries(files)) {
    if (e.marker !== undefined) continue
    if (!hostnames.some((name) => hostsFieldMatches(e.hosts, name))) continue
    if (!types.includes(e.keyType)) types.push(e.keyType)
  }
  return types
}

// Host key algorithms ssh2 1.17 can negotiate (its SUPPORTED_SERVER_HOST_KEY); ssh2 throws on anything else.
const SSH2_HOST_KEY_ALGORITHMS = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
  'ssh-dss',
])

/**
 * Host key algorithm names that negotiate the given recorded key types, in order, limited to what ssh2 supports.
 * An `ssh-rsa` key can be negotiated as rsa-sha2-512, rsa-sha2-256 or ssh-rsa.
 */
export function preferredHostKeyAlgorithms(keyTypes: string[]): string[] {
  const out: string[] = []
  for (const type of keyTypes) {
    const algorithms = type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]
    for (const algorithm of algorithms) if (SSH2_HOST_KEY_ALGORITHMS.has(algorithm) && !out.includes(algorithm)) out.push(algorithm)
  }
  return out
}

/**
 * The ssh2 `algorithms.serverHostKey` value that puts the recorded key types first, or undefined for none.
 * Both keys are needed, in this order: ssh2's `prepend` skips names already in its default list, so they are
 * removed first.
 */
export function serverHostKeyAlgorithmsOption(keyTypes: string[]): {remove: string[]; prepend: string[]} | undefined {
  const preferred = preferredHostKeyAlgorithms(keyTypes)
  return preferred.length === 0 ? undefined : {remove: [...preferred], prepend: [...preferred]}
}

/** The names OpenSSH and net-ssh look up: `host` (or `[host]:port` when port != 22), plus the IP when it differs. */
export function knownHostsNames(host: string, port: number, ip?: string): string[] {
  const bare = (h: string) => h.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  const format = (h: string) => (port === 22 ? h : `[${h}]:${port}`)
  const names = [format(bare(host))]
  if (ip !== undefined && ip !== '' && bare(ip) !== bare(host)) names.push(format(bare(ip)))
  return names
}

/**
 * Appends one entry (`names` comma-joined; or, with `hash`, one hashed line per name as OpenSSH writes them).
 * Creates the directory (0700) and the file (0600) when missing.
 */
export function appendKnownHost(file: string, names: string[], keyType: string, key: Buffer, options: {hash?: boolean} = {}): void {
  if (names.length === 0) throw new Error('appendKnownHost: no host names')
  for (const name of [...names, keyType]) {
    if (name === '' || /[\s,]/.test(name)) throw new Error(`appendKnownHost: invalid name ${JSON.stringify(name)}`)
  }
  mkdirSync(dirname(file), {recursive: true, mode: 0o700})
  const blob = key.toString('base64')
  const lines = options.hash ? names.map((n) => `${hashHostName(n)} ${keyType} ${blob}\n`) : [`${names.join(',')} ${keyType} ${blob}\n`]
  let prefix = ''
  try {
    if (statSync(file).size > 0) {
      const text = readFileSync(file)
      if (text[text.length - 1] !== 0x0a) prefix = '\n'
    }
  } catch {
    // new file
  }
  appendFileSync(file, prefix + lines.join(''), {mode: 0o600})
}
