// Effective SSH connection settings for one accessory host, computed the way Kamal (SSHKit + net-ssh) would from the
// deploy.yml `ssh:` section and the OpenSSH client config files. Pure apart from reading config files and checking
// which key files exist. See kamal-config.md section 8.
//
// Decisions:
// - User and port: a `user@` / `:port` in the host string wins, then ssh.user / ssh.port, then root / 22. ssh_config
//   `User`/`Port` for the target are ignored, because Kamal always passes its own (they still apply to jump hosts).
// - Config files: ssh.config true/absent -> ~/.ssh/config, /etc/ssh_config, /etc/ssh/ssh_config, ./.ssh/config (the
//   last one is SSHKit's addition, read last); false -> none; a string or list -> those (`~` expanded, relative to
//   the cwd).
// - Proxy: ssh.proxy beats ssh.proxy_command beats ssh_config ProxyCommand/ProxyJump. A ssh.proxy with no `@`
//   anywhere gets `root@` prepended - NOT ssh.user (Kamal quirk, kept). A comma list is several hops: the first is
//   connected to, the rest go to `ssh -J` verbatim. A ssh_config ProxyJump hop without a user uses that hop's own
//   `User`, else the local user (OpenSSH rules). The hop port is explicit, else the hop's ssh_config `Port`, else 22.
// - The first hop is a host of its own, as for the `ssh -W` net-ssh spawns: its ssh_config HostName (where to
//   connect, and the known_hosts name, as OpenSSH records it), IdentityFile (tried before the deploy.yml keys),
//   IdentitiesOnly, IdentityAgent, UserKnownHostsFile, StrictHostKeyChecking and ConnectTimeout apply (`jump`).
// - ssh.proxy_command gets %h (HostName) %p %r %% expanded, like net-ssh.
// - Keys: ssh.keys, else IdentityFile, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa (only when there is no key_data
//   either). Files that don't exist are dropped, as net-ssh and OpenSSH do; explicit ones are listed in
//   missingIdentityFiles so the caller can warn.
// - keys_only (or IdentitiesOnly) limits the agent to the listed keys, as net-ssh does: the agent may sign only for
//   an identity whose public key is one of theirs (the session matches them; an encrypted key in the agent then
//   works). IdentityAgent: `none` disables, `SSH_AUTH_SOCK` / `$VAR` read the environment.
// - forwardAgent is true unless ssh.forward_agent is false (Kamal's default); whether to honour it is the caller's call.
// - Host keys: lookups in UserKnownHostsFile (default ~/.ssh/known_hosts, ~/.ssh/known_hosts2) then
//   GlobalKnownHostsFile (default /etc/ssh/ssh_known_hosts, /etc/ssh/ssh_known_hosts2); new keys go to the first user
//   file. Unknown hosts are accepted and recorded (Kamal's accept-new) unless StrictHostKeyChecking yes, or the
//   caller's `strictHostKey` flag. StrictHostKeyChecking ask becomes yes (we cannot ask mid-operation; refusing is the
//   safe reading), no stays no. Kamal's tolerance of changed keys on 127.0.0.1/::1 tunnels is NOT mirrored.
// - Timeouts: ConnectTimeout seconds, else 15 s (Kamal has none; ssh2's own default is 20 s). It bounds the whole
//   ssh2 handshake (readyTimeout), so callers going through a proxy may want to add to it. Keepalive every 30 s, 3
//   misses (Kamal's values; ssh_config ServerAliveInterval is overridden by Kamal).

import {existsSync} from 'node:fs'
import {userInfo} from 'node:os'
import {isAbsolute, join, resolve} from 'node:path'
import {ConfigError} from '../errors.js'
import {expandTilde, expandTokens, readSshConfig, type SshConfigHost} from './ssh-config.js'

export interface KamalSshSection {
  user?: string
  port?: number | string
  proxy?: string
  proxy_command?: string
  keys?: string[]
  keys_only?: boolean
  key_data?: string[]
  config?: boolean | string | string[]
  log_level?: string
  forward_agent?: boolean
}

export type EffectiveProxy =
  /** `next`: further hops after the first, in OpenSSH -J syntax (`[user@]host[:port]`), traversed left to right. */
  | {kind: 'jump'; user: string; host: string; port: number; next: string[]}
  | {kind: 'command'; command: string}

/** How to reach and authenticate to the first jump host (ssh.proxy / ProxyJump), from its own ssh_config. */
export interface JumpSettings {
  /** Where to connect (its HostName, else the host as written). */
  hostName: string
  port: number
  user: string
  identityFiles: string[]
  missingIdentityFiles: string[]
  keysOnly: boolean
  useAgent: boolean
  agentSocket?: string
  knownHostsFiles: string[]
  knownHostsAppendFile?: string
  hashKnownHosts: boolean
  strictHostKey: 'yes' | 'accept-new' | 'no'
  connectTimeoutMs: number
}

export interface EffectiveSsh {
  /** The host as configured in deploy.yml (without any user@ or :port). */
  host: string
  /** Where to connect: ssh_config HostName, else host. */
  hostName: string
  port: number
  user: string
  /** Private key files that exist, in the order to try. */
  identityFiles: string[]
  /** Explicitly configured key files (ssh.keys / IdentityFile) that don't exist. */
  missingIdentityFiles: string[]
  keyData: string[]
  /** keys_only / IdentitiesOnly: the agent may sign only for the identity files' keys. */
  keysOnly: boolean
  useAgent: boolean
  agentSocket?: string
  forwardAgent: boolean
  proxy?: EffectiveProxy
  /** With a `jump` proxy: the first hop's own settings. */
  jump?: JumpSettings
  /** Lookup order: user files, then global files. */
  knownHostsFiles: string[]
  /** Where accept-new records new keys; absent with `UserKnownHostsFile none`. */
  knownHostsAppendFile?: string
  hashKnownHosts: boolean
  strictHostKey: 'yes' | 'accept-new' | 'no'
  connectTimeoutMs: number
  keepaliveIntervalMs: number
  keepaliveCountMax: number
  /** Config files actually read (includes Included files). */
  configFiles: string[]
  /** `ssh -F` value matching ssh.config for a spawned `ssh -W`: the one listed file, or `none` for false. */
  sshConfigArg?: string
  /** Things ignored or not understood, for `--verbose` / doctor output. */
  notes: string[]
}

export interface EffectiveSshOptions {
  cwd: string
  homeDir: string
  env: Record<string, string | undefined>
  /** Refuse unknown host keys (CLI flag). */
  strictHostKey?: boolean
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000
export const KEEPALIVE_INTERVAL_MS = 30_000
export const KEEPALIVE_COUNT_MAX = 3
const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa']

export function effectiveSsh(host: string, section: KamalSshSection, options: EffectiveSshOptions): EffectiveSsh {
  const {cwd, homeDir, env} = options
  const localUser = env.USER ?? env.LOGNAME ?? userInfo().username
  const target = parseHostSpec(host)
  if (target.host === '') throw new ConfigError(`SSH host ${JSON.stringify(host)} has no host name`, {code: 'ssh/host'})

  const user = target.user ?? nonEmpty(section.user) ?? 'root'
  const port = target.port ?? parsePortSetting(section.port) ?? 22
  const candidates = configFileCandidates(section.config, cwd, homeDir)
  const readOptions = {homeDir, env, localUser}
  const cfg = readSshConfig(candidates, target.host, {...readOptions, user, port})
  const notes = [...(cfg.notes ?? [])]
  const hostName = cfg.hostName ?? target.host

  // Keys
  const keysOnly = section.keys_only ?? cfg.identitiesOnly ?? false
  const keyData = section.key_data ?? []
  const explicitKeys = section.keys && section.keys.length > 0 ? section.keys.map((k) => absolutePath(k, cwd, homeDir)) : undefined
  const configured = explicitKeys ?? (cfg.identityFiles.length > 0 ? cfg.identityFiles : undefined)
  const identityFiles: string[] = []
  const missingIdentityFiles: string[] = []
  if (configured) {
    for (const file of configured) (existsSync(file) ? identityFiles : missingIdentityFiles).push(file)
  } else if (keyData.length === 0) {
    for (const name of DEFAULT_IDENTITIES) {
      const file = join(homeDir, '.ssh', name)
      if (existsSync(file)) identityFiles.push(file)
    }
  }

  // Agent (with keys_only, filtered by the session to the listed keys)
  const agentSocket = agentFrom(cfg.identityAgent, env, notes)
  const useAgent = agentSocket !== undefined && !(keysOnly && identityFiles.length === 0 && keyData.length === 0)

  const result: EffectiveSsh = {
    host: target.host,
    hostName,
    port,
    user,
    identityFiles,
    missingIdentityFiles,
    keyData,
    keysOnly,
    useAgent,
    forwardAgent: section.forward_agent !== false && agentSocket !== undefined,
    knownHostsFiles: [],
    hashKnownHosts: cfg.hashKnownHosts ?? false,
    strictHostKey: 'accept-new',
    connectTimeoutMs: cfg.connectTimeout && cfg.connectTimeout > 0 ? cfg.connectTimeout * 1000 : DEFAULT_CONNECT_TIMEOUT_MS,
    keepaliveIntervalMs: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    configFiles: cfg.filesRead ?? [],
    notes,
  }
  if (agentSocket !== undefined) result.agentSocket = agentSocket
  if (section.config === false) result.sshConfigArg = 'none'
  else if (typeof section.config === 'string' || (Array.isArray(section.config) && section.config.length === 1)) result.sshConfigArg = candidates[0]
  else if (Array.isArray(section.config) && section.config.length > 1) {
    notes.push('ssh.config lists several files; a spawned ssh (proxy) reads only its default config files')
  }

  // Host keys
  Object.assign(result, hostKeySettings(cfg, options, notes))

  // Proxy
  const jumpHop = (spec: string, defaultUser: string | undefined) => {
    const hops = spec.split(',').map((s) => s.trim()).filter((s) => s !== '')
    const first = parseHostSpec((hops[0] ?? '').replace(/^ssh:\/\//, ''))
    if (first.host === '') throw new ConfigError(`SSH proxy ${JSON.stringify(spec)} has no host`, {code: 'ssh/proxy'})
    const hopUser = first.user ?? defaultUser
    const hopCfg = readSshConfig(candidates, first.host, {...readOptions, ...(hopUser !== undefined && {user: hopUser}), ...(first.port !== undefined && {port: first.port})})
    for (const n of hopCfg.notes ?? []) if (!notes.includes(n)) notes.push(n)
    const proxy = {
      kind: 'jump' as const,
      user: hopUser ?? hopCfg.user ?? localUser,
      host: first.host,
      port: first.port ?? hopCfg.port ?? 22,
      next: hops.slice(1),
    }
    // The hop's own keys first, then the deploy.yml ones (which reach a bastion that shares the deploy key).
    const hopFiles: string[] = []
    const hopMissing: string[] = []
    for (const file of hopCfg.identityFiles) (existsSync(file) ? hopFiles : hopMissing).push(file)
    const hopKeysOnly = hopCfg.identitiesOnly ?? keysOnly
    const hopAgent = hopCfg.identityAgent === undefined ? agentSocket : agentFrom(hopCfg.identityAgent, env, notes)
    const identityFilesForHop = [...new Set([...hopFiles, ...identityFiles])]
    const jump: JumpSettings = {
      hostName: hopCfg.hostName ?? first.host,
      port: proxy.port,
      user: proxy.user,
      identityFiles: identityFilesForHop,
      missingIdentityFiles: hopMissing,
      keysOnly: hopKeysOnly,
      useAgent: hopAgent !== undefined && !(hopKeysOnly && identityFilesForHop.length === 0 && keyData.length === 0),
      ...(hopAgent !== undefined && {agentSocket: hopAgent}),
      ...hostKeySettings(hopCfg, options, notes),
      connectTimeoutMs: hopCfg.connectTimeout && hopCfg.connectTimeout > 0 ? hopCfg.connectTimeout * 1000 : result.connectTimeoutMs,
    }
    return {proxy, jump}
  }
  const proxy = nonEmpty(section.proxy)
  const proxyCommand = nonEmpty(section.proxy_command)
  let hop: ReturnType<typeof jumpHop> | undefined
  if (proxy !== undefined) {
    hop = jumpHop(proxy, proxy.includes('@') ? undefined : 'root')
  } else if (proxyCommand !== undefined) {
    result.proxy = {kind: 'command', command: expandTokens(proxyCommand, {'%': '%', h: hostName, p: String(port), r: user})}
  } else if (cfg.proxyCommand !== undefined && cfg.proxyCommand.trim().toLowerCase() !== 'none') {
    result.proxy = {kind: 'command', command: cfg.proxyCommand}
  } else if (cfg.proxyJump !== undefined && cfg.proxyJump.toLowerCase() !== 'none') {
    hop = jumpHop(cfg.proxyJump, undefined)
  }
  if (hop) {
    result.proxy = hop.proxy
    result.jump = hop.jump
  }
  return result

  function hostKeySettings(c: SshConfigHost, o: EffectiveSshOptions, n: string[]): Pick<JumpSettings, 'knownHostsFiles' | 'knownHostsAppendFile' | 'hashKnownHosts' | 'strictHostKey'> {
    const userFiles = c.userKnownHostsFiles ?? [join(homeDir, '.ssh', 'known_hosts'), join(homeDir, '.ssh', 'known_hosts2')]
    const globalFiles = c.globalKnownHostsFiles ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']
    const out: ReturnType<typeof hostKeySettings> = {
      knownHostsFiles: [...userFiles, ...globalFiles].map((f) => absolutePath(f, cwd, homeDir)),
      hashKnownHosts: c.hashKnownHosts ?? false,
      strictHostKey: 'accept-new',
    }
    if (userFiles[0] !== undefined) out.knownHostsAppendFile = absolutePath(userFiles[0], cwd, homeDir)
    if (o.strictHostKey) out.strictHostKey = 'yes'
    else if (c.strictHostKeyChecking === 'yes' || c.strictHostKeyChecking === 'ask') out.strictHostKey = 'yes'
    else if (c.strictHostKeyChecking === 'no') out.strictHostKey = 'no'
    const askNote = 'StrictHostKeyChecking ask: kamal-backup cannot ask, so unknown host keys are refused (as with yes)'
    if (c.strictHostKeyChecking === 'ask' && !o.strictHostKey && !n.includes(askNote)) n.push(askNote)
    return out
  }
}

/** The agent socket for an IdentityAgent value (undefined: none). */
function agentFrom(setting: string | undefined, env: Record<string, string | undefined>, notes: string[]): string | undefined {
  if (setting === undefined || setting === 'SSH_AUTH_SOCK') return nonEmpty(env.SSH_AUTH_SOCK)
  if (setting === 'none') return undefined
  if (setting.includes('${')) {
    notes.push(`IdentityAgent ${setting}: unresolved variable; no agent`)
    return undefined
  }
  return setting
}

/** `[user@]host[:port]`, `[user@][v6addr]:port`; a bare IPv6 address is a host. */
export function parseHostSpec(spec: string): {user?: string; host: string; port?: number} {
  let rest = spec.trim()
  const result: {user?: string; host: string; port?: number} = {host: ''}
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    const user = rest.slice(0, at)
    if (user !== '') result.user = user
    rest = rest.slice(at + 1)
  }
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(rest)
  const hostPort = /^([^:]*):(\d+)$/.exec(rest)
  if (bracketed) {
    result.host = bracketed[1] ?? ''
    if (bracketed[2] !== undefined) result.port = checkPort(bracketed[2], spec)
  } else if (hostPort) {
    result.host = hostPort[1] ?? ''
    result.port = checkPort(hostPort[2] ?? '', spec)
  } else {
    result.host = rest
  }
  return result
}

function checkPort(text: string, context: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`Invalid SSH port in ${JSON.stringify(context)}`, {code: 'ssh/port'})
  }
  return port
}

function parsePortSetting(value: number | string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  const text = String(value).trim()
  if (!/^\d+$/.test(text)) throw new ConfigError(`ssh.port must be a port number, got ${JSON.stringify(value)}`, {code: 'ssh/port'})
  return checkPort(text, `ssh.port ${text}`)
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

function absolutePath(path: string, cwd: string, homeDir: string): string {
  const expanded = expandTilde(path, homeDir)
  return isAbsolute(expanded) ? expanded : resolve(cwd, expanded)
}

/** The ssh_config files Kamal reads for a given `ssh.config` value. */
export function configFileCandidates(config: KamalSshSection['config'], cwd: string, homeDir: string): string[] {
  if (config === false) return []
  if (config === undefined || config === true) {
    const files = [join(homeDir, '.ssh', 'config'), '/etc/ssh_config', '/etc/ssh/ssh_config', join(cwd, '.ssh', 'config')]
    return [...new Set(files)]
  }
  const list = Array.isArray(config) ? config : [config]
  return list.map((f) => absolutePath(f, cwd, homeDir))
}

/**
 * argv for the local process that carries the connection when a proxy is set, as net-ssh spawns it:
 * `ssh -l <user> -p <port> [-J <next>] [-F <file>] -W <host>:<port> <jump>`, or `sh -c <command>`.
 * `-F` is passed when ssh.config names exactly one file, or `-F none` when it is false.
 */
export function proxyArgv(settings: EffectiveSsh): string[] | undefined {
  const proxy = settings.proxy
  if (!proxy) return undefined
  if (proxy.kind === 'command') return ['sh', '-c', proxy.command]
  const argv = ['ssh', '-l', proxy.user, '-p', String(proxy.port)]
  if (proxy.next.length > 0) argv.push('-J', proxy.next.join(','))
  if (settings.sshConfigArg !== undefined) argv.push('-F', settings.sshConfigArg)
  const target = settings.hostName.includes(':') ? `[${settings.hostName}]` : settings.hostName
  argv.push('-W', `${target}:${settings.port}`, proxy.host)
  return argv
}
