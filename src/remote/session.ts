// One SSH connection to the accessory host with ssh2, set up the way Kamal would (src/remote/ssh-settings.ts):
// keys and agent, host key checks against known_hosts (unknown: recorded, or refused when strict; changed: always
// refused), keepalive, and ssh.proxy / proxy_command / ProxyJump.
//
// Decisions:
// - Known-hosts names are the HostName actually connected to (OpenSSH's rule), plus its IP for direct connections.
// - Authentication order: agent keys, then key files (ssh.keys / IdentityFile / defaults), then ssh.key_data. An
//   encrypted key file cannot be unlocked without a prompt: it is skipped and the auth error says to ssh-add it.
// - A single-hop ssh.proxy / ProxyJump is a second ssh2 connection with a direct-tcpip channel (`ssh -W` done
//   in-process; the jump host needs AllowTcpForwarding); the jump host's key is checked like the target's.
//   Several hops, and proxy commands, run the OpenSSH client / `sh -c` as Kamal (net-ssh) does.
import {spawn, type ChildProcess} from 'node:child_process'
import {lookup} from 'node:dns/promises'
import {readFileSync} from 'node:fs'
import {isIP} from 'node:net'
import {createRequire} from 'node:module'
import {homedir} from 'node:os'
import {Duplex} from 'node:stream'
import type {Client, ClientChannel, ConnectConfig} from 'ssh2'
import type {Ui} from '../cli/ui.js'
import {InterruptedError, KamalBackupError} from '../errors.js'
import {connectionError, describeTarget, hostKeyChangedError, hostKeyUnknownError, proxyError, type AuthAttempt, type Target} from './errors.js'
import {appendKnownHost, checkHostKey, fingerprint, knownHostKeyTypes, knownHostsNames, serverHostKeyAlgorithmsOption} from './known-hosts.js'
import {proxyArgv, type EffectiveSsh} from './ssh-settings.js'

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
  ui: Ui
  signal?: AbortSignal
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
  methods: Array<{type: 'agent'; username: string; agent: string} | {type: 'publickey'; username: string; key: Buffer}>
  labels: string[]
  skipped: string[]
}

function authPlan(settings: EffectiveSsh, username: string, ssh2: Ssh2Module): AuthPlan {
  const plan: AuthPlan = {methods: [], labels: [], skipped: []}
  if (settings.useAgent && settings.agentSocket) {
    plan.methods.push({type: 'agent', username, agent: settings.agentSocket})
    plan.labels.push(`ssh-agent (${settings.agentSocket})`)
  }
  const addKey = (data: Buffer, label: string) => {
    const parsed = ssh2.utils.parseKey(data)
    if (parsed instanceof Error) {
      plan.skipped.push(/encrypted|passphrase/i.test(parsed.message) ? `${label}: encrypted; add it to ssh-agent (ssh-add ${label})` : `${label}: ${parsed.message}`)
      return
    }
    plan.methods.push({type: 'publickey', username, key: data})
    plan.labels.push(label)
  }
  for (const file of settings.identityFiles) {
    let data: Buffer
    try {
      data = readFileSync(file)
    } catch (error) {
      plan.skipped.push(`${tilde(file)}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`)
      continue
    }
    addKey(data, tilde(file))
  }
  settings.keyData.forEach((text, i) => addKey(Buffer.from(text), `ssh.key_data #${i + 1}`))
  for (const file of settings.missingIdentityFiles) plan.skipped.push(`${tilde(file)}: does not exist`)
  return plan
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
async function connectHop(ssh2: Ssh2Module, settings: EffectiveSsh, hop: HopSpec, options: ConnectOptions & {stage: 'target' | 'jump'; via?: string}): Promise<Client> {
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
        options.ui.warn(`Permanently added ${names.join(',')} (${keyType} ${offered}) to ${tilde(settings.knownHostsAppendFile)}`)
      } catch (error) {
        options.ui.warn(`accepted the new host key of ${names[0]} (${keyType} ${offered}) but could not record it in ${tilde(settings.knownHostsAppendFile)}: ${(error as Error).message}`)
      }
    } else {
      options.ui.warn(`accepted the new host key of ${names[0]} (${keyType} ${offered}) without recording it (UserKnownHostsFile none)`)
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
      fail(connectionError(error, target, {auth: {tried, skipped: plan.skipped}, stage: options.stage, timeoutMs: settings.connectTimeoutMs}))
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

/** A Duplex over a proxy process's stdio (what ssh2 reads and writes instead of a TCP socket). */
function processSocket(child: ChildProcess): Duplex {
  return Duplex.from({readable: child.stdout!, writable: child.stdin!})
}

export async function connect(settings: EffectiveSsh, options: ConnectOptions): Promise<Connection> {
  const ssh2 = loadSsh2()
  const proxy = settings.proxy
  const targetBase: Target = {user: settings.user, host: settings.hostName, port: settings.port}

  if (!proxy) {
    let address: string | undefined
    if (isIP(settings.hostName) === 0) {
      try {
        address = (await lookup(settings.hostName)).address
      } catch (error) {
        throw connectionError(error, targetBase)
      }
    }
    const client = await connectHop(ssh2, settings, {host: settings.hostName, port: settings.port, user: settings.user, ...(address !== undefined && {address})}, {...options, stage: 'target'})
    return {client, target: targetBase, close: () => client.end()}
  }

  if (proxy.kind === 'jump' && proxy.next.length === 0) {
    const via = `jump host ${describeTarget(proxy)}`
    const jump = await connectHop(ssh2, settings, {host: proxy.host, port: proxy.port, user: proxy.user}, {...options, stage: 'jump'})
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
  const child = spawn(argv[0]!, argv.slice(1), {stdio: ['pipe', 'pipe', 'pipe']})
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
    if (error instanceof KamalBackupError && error.code !== 'ssh-proxy' && stderr.trim()) {
      throw proxyError(`${error.message}; the proxy said: ${stderr.trim().split('\n').slice(-3).join(' / ')}`, error.suggestions, error)
    }
    throw error
  }
}
