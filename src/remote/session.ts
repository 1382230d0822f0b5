// One SSH connection to the accessory host with ssh2, set up the way Kamal would (src/remote/ssh-settings.ts):
// keys and agent, host key checks against known_hosts (unknown: recorded, or refused when strict; changed: always
// refused), keepalive, and ssh.proxy / proxy_command / ProxyJump.
//
// Decisions:
// - Known-hosts names are the HostName actually connected to (OpenSSH's rule), plus the IP address the TCP
//   connection was made to, for direct connections.
// - A host name resolving to several addresses: each is tried in turn until one accepts the TCP connection (as
//   OpenSSH does; ConnectTimeout applies to each). Only then does SSH start, so an authentication or host key
//   failure is never retried on another address.
// - Authentication order: agent keys, then key files (ssh.keys / IdentityFile / defaults), then ssh.key_data. With
//   keys_only the agent is offered only the identities whose public key is one of those keys' (from the key, its
//   .pub, or the public half an OpenSSH-format key stores unencrypted), as net-ssh does: an encrypted key loaded
//   into the agent works. An encrypted key file cannot be unlocked without a prompt: it is skipped, and the auth
//   error says what would make it usable.
// - A single-hop ssh.proxy / ProxyJump is a second ssh2 connection with a direct-tcpip channel (`ssh -W` done
//   in-process; the jump host needs AllowTcpForwarding); the jump host's key is checked like the target's.
//   Several hops, and proxy commands, run the OpenSSH client / `sh -c` as Kamal (net-ssh) does.
import {lookup} from 'node:dns/promises'
import {readFileSync} from 'node:fs'
import {connect as tcpConnect, isIP, type Socket} from 'node:net'
import {createRequire} from 'node:module'
import {homedir} from 'node:os'
import {Duplex} from 'node:stream'
import type {Client, ClientChannel, ConnectConfig} from 'ssh2'
import {InterruptedError, KamalBackupError} from '../errors.js'
import {startStreamProcess, type ChildProcess} from '../exec/local.js'
import type {Log} from '../log.js'
import {connectionError, describeTarget, hostKeyChangedError, hostKeyUnknownError, proxyError, type Target} from './errors.js'
import {appendKnownHost, checkHostKey, fingerprint, knownHostKeyTypes, knownHostsNames, serverHostKeyAlgorithmsOption} from './known-hosts.js'
import {proxyArgv, type EffectiveSsh, type JumpSettings} from './ssh-settings.js'

type Ssh2Module = typeof import('ssh2')

/** ssh2 is external to the bundle and loaded only here. Through require: the bundle runs in a vm.Script
 *  (bin/run.js), where a dynamic import() of a package is not available. */
function loadSsh2(): Ssh2Module {
  return createRequire(import.meta.url)('ssh2') as Ssh2Module
}

export interface Connection {
  client: Client
  target: Target
  /** Closes the connection (and the jump connection or proxy process). */
  close(): void
}

export interface ConnectOptions {
  log: Log
  signal?: AbortSignal
  /** Every address of a host name, in the resolver's order (default: dns.lookup with all: true). */
  lookup?: (hostName: string) => Promise<string[]>
}

async function lookupAll(hostName: string): Promise<string[]> {
  return (await lookup(hostName, {all: true})).map((a) => a.address)
}

/** The key type inside an SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown'
  const length = blob.readUInt32BE(0)
  return blob.subarray(4, 4 + length).toString('latin1')
}

function tilde(path: string): string {
  const home = homedir()
  return home && path.startsWith(home + '/') ? '~' + path.slice(home.length) : path
}

interface AuthPlan {
  methods: Array<{type: 'agent'; username: string; agent: string | import('ssh2').BaseAgent} | {type: 'publickey'; username: string; key: Buffer}>
  labels: string[]
  skipped: string[]
}

/** What connectHop needs to authenticate and check one host: the target's settings, or the jump host's. */
type HopAuth = Pick<EffectiveSsh, 'identityFiles' | 'missingIdentityFiles' | 'keyData' | 'keysOnly' | 'useAgent' | 'agentSocket' | 'knownHostsFiles' | 'knownHostsAppendFile' | 'hashKnownHosts' | 'strictHostKey' | 'connectTimeoutMs' | 'keepaliveIntervalMs' | 'keepaliveCountMax'>

/** The public key blob inside an OpenSSH-format private key (`openssh-key-v1`), which stays readable when the
 *  private part is encrypted. */
export function opensshPublicKey(pem: string): Buffer | undefined {
  const match = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(pem)
  if (!match) return undefined
  const data = Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64')
  const magic = Buffer.from('openssh-key-v1\0', 'latin1')
  if (data.length < magic.length || !data.subarray(0, magic.length).equals(magic)) return undefined
  let offset = magic.length
  const string = (): Buffer | undefined => {
    if (offset + 4 > data.length) return undefined
    const length = data.readUInt32BE(offset)
    offset += 4
    if (offset + length > data.length) return undefined
    const value = data.subarray(offset, offset + length)
    offset += length
    return value
  }
  for (let i = 0; i < 3; i++) if (!string()) return undefined // cipher, kdf, kdf options
  if (offset + 4 > data.length || data.readUInt32BE(offset) < 1) return undefined
  offset += 4
  return string()
}

/** A key file's public key without its passphrase: from the key itself, its .pub, or the OpenSSH header. */
export function publicKeyOf(file: string | undefined, data: Buffer, ssh2: Ssh2Module): Buffer | undefined {
  const parsed = ssh2.utils.parseKey(data)
  if (!(parsed instanceof Error)) return (Array.isArray(parsed) ? parsed[0] : parsed)?.getPublicSSH()
  if (file !== undefined) {
    try {
      const blob = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/)[1]
      if (blob) return Buffer.from(blob, 'base64')
    } catch {
      // no .pub
    }
  }
  return opensshPublicKey(data.toString('latin1'))
}

/** The ssh-agent, offering only the identities whose public key is in `allowed` (keys_only). */
function listedKeysAgent(ssh2: Ssh2Module, socket: string, allowed: Buffer[]): import('ssh2').BaseAgent {
  const inner = ssh2.createAgent(socket)
  class ListedKeysAgent extends ssh2.BaseAgent {
    getIdentities(cb: (err: Error | undefined, keys?: import('ssh2').ParsedKey[]) => void): void {
      inner.getIdentities((err, keys) => {
        if (err) return cb(err)
        cb(undefined, ((keys ?? []) as import('ssh2').ParsedKey[]).filter((key) => allowed.some((a) => a.equals(key.getPublicSSH()))))
      })
    }
    sign(...args: unknown[]): unknown {
      return (inner.sign as (...a: unknown[]) => unknown)(...args)
    }
  }
  return new ListedKeysAgent() as unknown as import('ssh2').BaseAgent
}

function authPlan(settings: HopAuth, username: string, ssh2: Ssh2Module): AuthPlan {
  const plan: AuthPlan = {methods: [], labels: [], skipped: []}
  const keys: Array<{data: Buffer; label: string; file?: string}> = []
  for (const file of settings.identityFiles) {
    try {
      keys.push({data: readFileSync(file), label: tilde(file), file})
    } catch (error) {
      plan.skipped.push(`${tilde(file)}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`)
    }
  }
  settings.keyData.forEach((text, i) => keys.push({data: Buffer.from(text), label: `ssh.key_data #${i + 1}`}))

  const agentSocket = settings.useAgent ? settings.agentSocket : undefined
  if (agentSocket) {
    if (settings.keysOnly) {
      const allowed = keys.map((k) => publicKeyOf(k.file, k.data, ssh2)).filter((b): b is Buffer => b !== undefined)
      if (allowed.length > 0) {
        plan.methods.push({type: 'agent', username, agent: listedKeysAgent(ssh2, agentSocket, allowed)})
        plan.labels.push(`ssh-agent (${agentSocket}), for the listed keys only (keys_only)`)
      }
    } else {
      plan.methods.push({type: 'agent', username, agent: agentSocket})
      plan.labels.push(`ssh-agent (${agentSocket})`)
    }
  }
  for (const key of keys) {
    const parsed = ssh2.utils.parseKey(key.data)
    if (!(parsed instanceof Error)) {
      plan.methods.push({type: 'publickey', username, key: key.data})
      plan.labels.push(key.label)
      continue
    }
    if (!/encrypted|passphrase/i.test(parsed.message)) {
      plan.skipped.push(`${key.label}: ${parsed.message}`)
      continue
    }
    plan.skipped.push(`${key.label}: ${encryptedKeyAdvice(key, settings, agentSocket, ssh2)}`)
  }
  for (const file of settings.missingIdentityFiles) plan.skipped.push(`${tilde(file)}: does not exist`)
  return plan
}

/** Why an encrypted key could not be used, and what would make it usable (there is no passphrase prompt). */
function encryptedKeyAdvice(key: {data: Buffer; label: string; file?: string}, settings: HopAuth, agentSocket: string | undefined, ssh2: Ssh2Module): string {
  const add = key.file !== undefined ? `ssh-add ${key.label}` : 'ssh-add the key'
  if (!settings.agentSocket) return `encrypted, and no ssh-agent is available to unlock it (SSH_AUTH_SOCK is not set, or IdentityAgent none): start one (eval "$(ssh-agent)") and ${add}`
  if (settings.keysOnly && publicKeyOf(key.file, key.data, ssh2) === undefined) {
    return `encrypted, and with keys_only the agent is used only for keys whose public half is known, which this one's is not: create it (ssh-keygen -y -f ${key.label} > ${key.label}.pub), then ${add}`
  }
  return `encrypted and not in ssh-agent (${agentSocket}); unlock it there: ${add}`
}

interface HopSpec {
  host: string
  port: number
  user: string
  /** Connect to this address instead of host (the resolved IP), when known. */
  address?: string
  sock?: Duplex
}

/** Connects and authenticates one ssh2 client. Rejects with a KamalBackupError. */
async function connectHop(ssh2: Ssh2Module, settings: HopAuth, hop: HopSpec, options: ConnectOptions & {stage: 'target' | 'jump'; via?: string}): Promise<Client> {
  const names = knownHostsNames(hop.host, hop.port, hop.address)
  const plan = authPlan(settings, hop.user, ssh2)
  const tried: string[] = []
  const target: Target = {user: hop.user, host: hop.host, port: hop.port, ...(options.via !== undefined && {via: options.via})}
  let hostKeyError: KamalBackupError | undefined
  const client = new ssh2.Client()

  const hostVerifier = (key: Buffer): boolean => {
    const keyType = keyTypeOf(key)
    const offered = fingerprint(key)
    const verdict = checkHostKey(settings.knownHostsFiles, names, keyType, key)
    if (verdict.status === 'known') return true
    if (verdict.status === 'changed') {
      hostKeyError = hostKeyChangedError({names, keyType, offered, known: verdict.knownFingerprints, file: verdict.file, displayFile: tilde(verdict.file), line: verdict.line, ...(verdict.revoked && {revoked: true})})
      return false
    }
    if (settings.strictHostKey === 'yes') {
      hostKeyError = hostKeyUnknownError({names, keyType, offered, reason: 'strict'})
      return false
    }
    if (settings.knownHostsAppendFile) {
      try {
        appendKnownHost(settings.knownHostsAppendFile, names, keyType, key, {hash: settings.hashKnownHosts})
        options.log.warn(`Permanently added ${names.join(',')} (${keyType} ${offered}) to ${tilde(settings.knownHostsAppendFile)}`)
      } catch (error) {
        options.log.warn(`accepted the new host key of ${names[0]} (${keyType} ${offered}) but could not record it in ${tilde(settings.knownHostsAppendFile)}: ${(error as Error).message}`)
      }
    } else {
      options.log.warn(`accepted the new host key of ${names[0]} (${keyType} ${offered}) without recording it (UserKnownHostsFile none)`)
    }
    return true
  }

  const config: ConnectConfig = {
    username: hop.user,
    readyTimeout: settings.connectTimeoutMs,
    keepaliveInterval: settings.keepaliveIntervalMs,
    keepaliveCountMax: settings.keepaliveCountMax,
    hostVerifier,
    authHandler: (methodsLeft, _partial, next) => {
      const method = plan.methods.shift()
      if (!method) return next(false as never)
      tried.push(plan.labels.shift()!)
      next(method as never)
    },
  }
  const algorithms = serverHostKeyAlgorithmsOption(knownHostKeyTypes(settings.knownHostsFiles, names))
  if (algorithms) config.algorithms = {serverHostKey: algorithms as never}
  if (hop.sock) config.sock = hop.sock
  else {
    config.host = hop.address ?? hop.host
    config.port = hop.port
  }

  return new Promise<Client>((resolve, reject) => {
    let settled = false
    const onAbort = () => fail(new InterruptedError())
    const fail = (error: KamalBackupError) => {
      if (settled) return
      settled = true
      options.signal?.removeEventListener('abort', onAbort)
      client.end()
      client.destroy?.()
      reject(error)
    }
    client.once('ready', () => {
      if (settled) return
      settled = true
      options.signal?.removeEventListener('abort', onAbort)
      resolve(client)
    })
    client.on('error', (error: Error & {level?: string}) => {
      if (hostKeyError) return fail(hostKeyError)
      // ssh2 reports an unusable agent (a stale SSH_AUTH_SOCK) or key and then goes on with the next method.
      if (!settled && (error.level === 'agent' || /^Error signing data with key/.test(error.message))) {
        plan.skipped.push(`${error.level === 'agent' ? `ssh-agent (${settings.agentSocket})` : 'a key'}: ${error.message}`)
        return
      }
      fail(connectionError(error, target, {auth: {tried, skipped: plan.skipped, keysOnly: settings.keysOnly, agent: settings.agentSocket !== undefined}, stage: options.stage, timeoutMs: settings.connectTimeoutMs}))
    })
    client.on('close', () => {
      if (hostKeyError) return fail(hostKeyError)
      fail(connectionError(Object.assign(new Error('Connection lost before handshake'), {code: 'ECONNRESET'}), target, {stage: options.stage}))
    })
    if (options.signal?.aborted) return onAbort()
    options.signal?.addEventListener('abort', onAbort, {once: true})
    try {
      client.connect(config)
    } catch (error) {
      fail(connectionError(error, target, {stage: options.stage}))
    }
  })
}

/** A TCP connection to the first address of `hostName` that accepts one, trying each in the resolver's order. */
async function openTcp(hostName: string, port: number, timeoutMs: number, target: Target, options: ConnectOptions & {stage: 'target' | 'jump'}): Promise<{socket: Socket; address: string}> {
  let addresses: string[]
  if (isIP(hostName) !== 0) addresses = [hostName]
  else {
    try {
      addresses = await (options.lookup ?? lookupAll)(hostName)
    } catch (error) {
      throw connectionError(error, target, {stage: options.stage})
    }
    if (addresses.length === 0) throw connectionError(Object.assign(new Error(`no address for ${hostName}`), {code: 'ENOTFOUND'}), target, {stage: options.stage})
  }
  const failures: string[] = []
  let last: unknown
  for (const address of addresses) {
    if (options.signal?.aborted) throw new InterruptedError()
    try {
      return {socket: await tcpAttempt(address, port, timeoutMs, options.signal), address}
    } catch (error) {
      if (error instanceof InterruptedError) throw error
      last = error
      failures.push(`${address}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
  }
  const error = connectionError(last, target, {stage: options.stage, timeoutMs})
  if (addresses.length > 1) error.suggestions.unshift(`${hostName} has ${addresses.length} addresses, all tried: ${failures.join(', ')}`)
  throw error
}

function tcpAttempt(address: string, port: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = tcpConnect({host: address, port})
    const done = (error?: unknown) => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.off('connect', onConnect)
      socket.off('error', done)
      if (error === undefined) return resolve(socket)
      socket.destroy()
      reject(error)
    }
    const onConnect = () => done()
    const onAbort = () => done(new InterruptedError())
    const timer = setTimeout(() => done(Object.assign(new Error(`connect ETIMEDOUT ${address}:${port}`), {code: 'ETIMEDOUT'})), timeoutMs)
    socket.once('connect', onConnect)
    socket.once('error', done)
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}

/** A Duplex over a proxy process's stdio (what ssh2 reads and writes instead of a TCP socket). */
function processSocket(child: ChildProcess): Duplex {
  return Duplex.from({readable: child.stdout!, writable: child.stdin!})
}

export async function connect(settings: EffectiveSsh, options: ConnectOptions): Promise<Connection> {
  const ssh2 = loadSsh2()
  const proxy = settings.proxy
  const targetBase: Target = {user: settings.user, host: settings.hostName, port: settings.port}

  if (!proxy) {
    const tcp = await openTcp(settings.hostName, settings.port, settings.connectTimeoutMs, targetBase, {...options, stage: 'target'})
    const client = await connectHop(ssh2, settings, {host: settings.hostName, port: settings.port, user: settings.user, address: tcp.address, sock: tcp.socket}, {...options, stage: 'target'})
    return {client, target: targetBase, close: () => client.end()}
  }

  if (proxy.kind === 'jump' && proxy.next.length === 0) {
    const hop: JumpSettings = settings.jump ?? {...settings, hostName: proxy.host, port: proxy.port, user: proxy.user}
    const hopTarget: Target = {user: hop.user, host: hop.hostName, port: hop.port}
    const via = `jump host ${describeTarget(proxy)}${hop.hostName !== proxy.host ? ` (${hop.hostName})` : ''}`
    const hopAuth: HopAuth = {...hop, keyData: settings.keyData, keepaliveIntervalMs: settings.keepaliveIntervalMs, keepaliveCountMax: settings.keepaliveCountMax}
    const tcp = await openTcp(hop.hostName, hop.port, hop.connectTimeoutMs, hopTarget, {...options, stage: 'jump'})
    const jump = await connectHop(ssh2, hopAuth, {host: hop.hostName, port: hop.port, user: hop.user, address: tcp.address, sock: tcp.socket}, {...options, stage: 'jump'})
    let stream: ClientChannel
    try {
      stream = await new Promise<ClientChannel>((resolve, reject) => {
        jump.forwardOut('127.0.0.1', 0, settings.hostName, settings.port, (error, channel) => (error ? reject(error) : resolve(channel)))
      })
    } catch (error) {
      jump.end()
      throw proxyError(`the jump host ${describeTarget(proxy)} could not open a connection to ${settings.hostName}:${settings.port}: ${(error as Error).message}`, [
        `check that ${settings.hostName}:${settings.port} is reachable from ${proxy.host}, and that its sshd allows TCP forwarding (AllowTcpForwarding)`,
      ], error)
    }
    try {
      const client = await connectHop(ssh2, settings, {host: settings.hostName, port: settings.port, user: settings.user, sock: stream as unknown as Duplex}, {...options, stage: 'target', via})
      client.on('close', () => jump.end())
      return {client, target: {...targetBase, via}, close: () => {
        client.end()
        jump.end()
      }}
    } catch (error) {
      jump.end()
      throw error
    }
  }

  // ProxyCommand, ssh.proxy_command, or a multi-hop jump: a local process carries the connection.
  const argv = proxyArgv(settings)!
  const via = proxy.kind === 'command' ? `proxy command \`${proxy.command}\`` : `ssh ${argv.slice(1).join(' ')}`
  const child = startStreamProcess(argv as [string, ...string[]])
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<string>((resolve) => {
    child.on('error', (error) => resolve(`could not start ${argv[0]}: ${error.message}`))
    child.on('exit', (code, signal) => resolve(`exited ${code ?? signal}`))
  })
  try {
    const client = await Promise.race([
      connectHop(ssh2, settings, {host: settings.hostName, port: settings.port, user: settings.user, sock: processSocket(child)}, {...options, stage: 'target', via}),
      exited.then((how) => {
        // Give ssh2 a moment to report its own error first; a dead proxy explains it better.
        throw proxyError(`the SSH proxy (${via}) ${how} before the connection was set up${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`, [
          proxy.kind === 'command' ? 'check ssh.proxy_command (or ProxyCommand in ~/.ssh/config) by running it by hand' : `check the jump hosts with: ssh -J ${proxy.next.join(',')} ${proxy.user}@${proxy.host}`,
        ])
      }),
    ])
    client.on('close', () => child.kill())
    return {client, target: {...targetBase, via}, close: () => {
      client.end()
      child.kill()
    }}
  } catch (error) {
    child.kill()
    if (error instanceof KamalBackupError && error.code !== 'ssh/proxy' && stderr.trim()) {
      throw proxyError(`${error.message}; the proxy said: ${stderr.trim().split('\n').slice(-3).join(' / ')}`, error.suggestions, error)
    }
    throw error
  }
}
