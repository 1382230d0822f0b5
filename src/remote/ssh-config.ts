// An OpenSSH client configuration reader (ssh_config(5)), written for kamal-backup. It resolves the options for one
// host the way `ssh -G` does, limited to the keywords the CLI needs to reach a Kamal accessory.
//
// Semantics (checked against OpenSSH 9.2's `ssh -G`):
// - First obtained value wins. IdentityFile accumulates (duplicates dropped). UserKnownHostsFile and
//   GlobalKnownHostsFile take several files on ONE line, and the first line wins; they do not accumulate over lines.
// - ProxyJump and ProxyCommand compete: whichever is set first stops later lines of the other.
// - `Host` patterns are matched case-sensitively against the host as given; `Match host`/`originalhost` are
//   case-insensitive. `Match host` sees the HostName set so far (with %h expanded), like OpenSSH.
// - `Match all|host|originalhost|user|localuser|canonical|final` are evaluated, with `!` negation. `Match final`
//   triggers a second pass (which can only fill options still unset). `canonical` matches only in that pass (we never
//   canonicalise host names). Criteria we cannot or will not evaluate (`exec` runs commands, `localnetwork`, `tagged`,
//   ...) make the block not match, and a note is recorded.
// - `Include` applies only where it appears in an active block; relative paths are taken from ~/.ssh (user files) or
//   /etc/ssh (files under /etc); globs are expanded in lexical order; nesting is limited to 16 levels.
// - Tokens are expanded after all files are read, with the final HostName/Port/User: IdentityFile, IdentityAgent and
//   the known-hosts files get `~`, then %% %h %p %r %u %d %n %i %l %L, then `${ENV}`; ProxyCommand gets %% %h %n %p %r
//   only (it is a shell command, so no `~`). Unknown tokens are left as written and noted.
// - Missing or unreadable files are skipped.

import {readdirSync, readFileSync} from 'node:fs'
import {hostname as osHostname, userInfo} from 'node:os'
import {isAbsolute, join} from 'node:path'

export interface SshConfigHost {
  hostName?: string
  user?: string
  port?: number
  identityFiles: string[]
  identitiesOnly?: boolean
  proxyJump?: string
  proxyCommand?: string
  /** `UserKnownHostsFile none` gives an empty list. */
  userKnownHostsFiles?: string[]
  globalKnownHostsFiles?: string[]
  strictHostKeyChecking?: 'yes' | 'no' | 'accept-new' | 'ask'
  /** Seconds. */
  connectTimeout?: number
  /** As configured after expansion; may be `none` or `SSH_AUTH_SOCK` (meaning: use that variable). */
  identityAgent?: string
  /** Seconds. */
  serverAliveInterval?: number
  hashKnownHosts?: boolean
  /** Things the reader skipped or could not evaluate, as `file:line: message`. */
  notes?: string[]
  /** Every file actually read (top-level and included), in reading order. */
  filesRead?: string[]
}

export interface ReadSshConfigOptions {
  /** Local home directory for `~`, %d and relative Includes. Default: os.userInfo().homedir. */
  homeDir?: string
  /** The remote user when known (Kamal always knows it): %r and `Match user`. Default: config User, else local user. */
  user?: string
  /** The port when known (Kamal always knows it): %p. Default: config Port, else 22. */
  port?: number
  /** Local user name for %u and `Match localuser`. Default: os.userInfo().username. */
  localUser?: string
  /** Environment for `${VAR}` references. Default: process.env. */
  env?: Record<string, string | undefined>
}

const MAX_INCLUDE_DEPTH = 16

interface State {
  hostName?: string
  user?: string
  port?: number
  identityFiles: string[]
  identitiesOnly?: boolean
  proxyJump?: string
  proxyCommand?: string
  userKnownHostsFiles?: string[]
  globalKnownHostsFiles?: string[]
  strictHostKeyChecking?: SshConfigHost['strictHostKeyChecking']
  connectTimeout?: number
  identityAgent?: string
  serverAliveInterval?: number
  hashKnownHosts?: boolean
}

interface Context {
  host: string
  options: ReadSshConfigOptions
  homeDir: string
  localUser: string
  state: State
  finalPass: boolean
  wantFinalPass: boolean
  notes: string[]
  filesRead: string[]
}

export function readSshConfig(files: string[], host: string, options: ReadSshConfigOptions = {}): SshConfigHost {
  let info: {homedir: string; username: string} | undefined
  const lazyInfo = () => (info ??= userInfo())
  const ctx: Context = {
    host,
    options,
    homeDir: options.homeDir ?? lazyInfo().homedir,
    localUser: options.localUser ?? lazyInfo().username,
    state: {identityFiles: []},
    finalPass: false,
    wantFinalPass: false,
    notes: [],
    filesRead: [],
  }
  for (const file of files) readFile(ctx, file, true, 0, !isSystemFile(file))
  if (ctx.wantFinalPass) {
    ctx.finalPass = true
    for (const file of files) readFile(ctx, file, true, 0, !isSystemFile(file))
  }
  return finish(ctx)
}

function isSystemFile(file: string): boolean {
  return file.startsWith('/etc/')
}

function note(ctx: Context, message: string): void {
  if (!ctx.notes.includes(message)) ctx.notes.push(message)
}

function readFile(ctx: Context, file: string, active: boolean, depth: number, userFile: boolean): void {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return // missing or unreadable: skipped, as OpenSSH does for the default files
  }
  if (!ctx.filesRead.includes(file)) ctx.filesRead.push(file)
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const where = `${file}:${i + 1}`
    active = processLine(ctx, lines[i] ?? '', active, where, depth, userFile)
  }
}

/** Splits a line into keyword and the rest, accepting `Key value`, `Key=value` and `Key = value`. */
export function splitKeyword(line: string): {keyword: string; rest: string} | undefined {
  const trimmed = line.replace(/[\s\r]+$/, '')
  const match = /^\s*([^\s=]+)\s*(?:=\s*)?(.*)$/s.exec(trimmed)
  if (!match || match[1] === undefined || match[1].startsWith('#')) return undefined
  return {keyword: match[1].toLowerCase(), rest: match[2] ?? ''}
}

/**
 * Splits arguments like OpenSSH: whitespace separates words, single and double quotes group, a backslash escapes a
 * quote, backslash or whitespace, and an unquoted word starting with `#` ends the line.
 */
export function splitArgs(text: string): string[] {
  const out: string[] = []
  let i = 0
  const n = text.length
  while (i < n) {
    while (i < n && /\s/.test(text[i] ?? '')) i++
    if (i >= n) break
    if (text[i] === '#') break
    let word = ''
    let quote: string | undefined
    for (; i < n; i++) {
      const ch = text[i] ?? ''
      if (quote) {
        if (ch === '\\' && (text[i + 1] === quote || text[i + 1] === '\\')) {
          word += text[++i] ?? ''
        } else if (ch === quote) {
          quote = undefined
        } else {
          word += ch
        }
        continue
      }
      if (/\s/.test(ch)) break
      if (ch === '"' || ch === "'") {
        quote = ch
      } else if (ch === '\\' && i + 1 < n && /[\s'"\\]/.test(text[i + 1] ?? '')) {
        word += text[++i] ?? ''
      } else {
        word += ch
      }
    }
    out.push(word)
  }
  return out
}

function processLine(ctx: Context, line: string, active: boolean, where: string, depth: number, userFile: boolean): boolean {
  const parsed = splitKeyword(line)
  if (!parsed) return active
  const {keyword, rest} = parsed

  if (keyword === 'host') {
    const patterns = splitArgs(rest)
    if (patterns.length === 0) {
      note(ctx, `${where}: Host without patterns; the block is ignored`)
      return false
    }
    return hostLineMatches(ctx.host, patterns)
  }
  if (keyword === 'match') return matchLine(ctx, splitArgs(rest), where)
  if (!active) return active

  const state = ctx.state
  // Commands take the raw rest of the line, as OpenSSH does (quotes and `#` included).
  if (keyword === 'proxycommand') {
    if (rest === '') return active
    if (state.proxyCommand === undefined && state.proxyJump === undefined) state.proxyCommand = rest
    return active
  }

  const args = splitArgs(rest)
  const first = args[0]
  if (first === undefined) {
    note(ctx, `${where}: ${keyword} without a value is ignored`)
    return active
  }
  switch (keyword) {
    case 'include':
      for (const pattern of args) include(ctx, pattern, where, depth, userFile)
      break
    case 'hostname':
      state.hostName ??= first
      break
    case 'user':
      state.user ??= first
      break
    case 'port': {
      const port = parsePort(first)
      if (port === undefined) note(ctx, `${where}: Port ${first} is not a port number; ignored`)
      else state.port ??= port
      break
    }
    case 'identityfile':
      if (!state.identityFiles.includes(first)) state.identityFiles.push(first)
      break
    case 'identitiesonly':
      state.identitiesOnly ??= parseFlag(ctx, first, where, keyword)
      break
    case 'hashknownhosts':
      state.hashKnownHosts ??= parseFlag(ctx, first, where, keyword)
      break
    case 'proxyjump':
      if (state.proxyCommand === undefined && state.proxyJump === undefined) state.proxyJump = first
      break
    case 'userknownhostsfile':
      state.userKnownHostsFiles ??= args
      break
    case 'globalknownhostsfile':
      state.globalKnownHostsFiles ??= args
      break
    case 'stricthostkeychecking': {
      const value = parseStrict(first)
      if (value === undefined) note(ctx, `${where}: StrictHostKeyChecking ${first} is not understood; ignored`)
      else state.strictHostKeyChecking ??= value
      break
    }
    case 'connecttimeout': {
      const seconds = first.toLowerCase() === 'none' ? undefined : parseTime(first)
      if (seconds === undefined && first.toLowerCase() !== 'none') note(ctx, `${where}: ConnectTimeout ${first} is not a time; ignored`)
      else if (!('connectTimeout' in state)) state.connectTimeout = seconds
      break
    }
    case 'serveraliveinterval': {
      const seconds = parseTime(first)
      if (seconds === undefined) note(ctx, `${where}: ServerAliveInterval ${first} is not a time; ignored`)
      else state.serverAliveInterval ??= seconds
      break
    }
    case 'identityagent':
      state.identityAgent ??= first
      break
    default:
      break // every other keyword is irrelevant here
  }
  return active
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

function parseFlag(ctx: Context, text: string, where: string, keyword: string): boolean | undefined {
  const value = text.toLowerCase()
  if (value === 'yes' || value === 'true') return true
  if (value === 'no' || value === 'false') return false
  note(ctx, `${where}: ${keyword} ${text} is not yes/no; ignored`)
  return undefined
}

function parseStrict(text: string): SshConfigHost['strictHostKeyChecking'] {
  switch (text.toLowerCase()) {
    case 'yes':
    case 'true':
      return 'yes'
    case 'no':
    case 'false':
    case 'off':
      return 'no'
    case 'ask':
      return 'ask'
    case 'accept-new':
      return 'accept-new'
    default:
      return undefined
  }
}

/** OpenSSH time format: `30`, `30s`, `1m`, `1h30m`, ... in seconds. */
export function parseTime(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text)
  const units: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86400, w: 604800}
  if (!/^(\d+[smhdw])+$/i.test(text)) return undefined
  let total = 0
  for (const part of text.matchAll(/(\d+)([smhdw])/gi)) total += Number(part[1]) * (units[(part[2] ?? 's').toLowerCase()] ?? 1)
  return total
}

// ---- patterns ------------------------------------------------------------------------------------------------------

/** OpenSSH wildcard match: `*` and `?` only, whole string. */
export function matchPattern(text: string, pattern: string, caseInsensitive = false): boolean {
  let source = '^'
  for (const ch of pattern) {
    if (ch === '*') source += '.*'
    else if (ch === '?') source += '.'
    else source += ch.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
  }
  return new RegExp(source + '$', caseInsensitive ? 'si' : 's').test(text)
}

/**
 * A comma-separated pattern list with `!negation`: true when some positive pattern matches and no negated one does
 * (OpenSSH match_pattern_list / match_hostname).
 */
export function matchPatternList(text: string, list: string, caseInsensitive = false): boolean {
  let matched = false
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!')
    const pattern = negated ? raw.slice(1) : raw
    if (matchPattern(text, pattern, caseInsensitive)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

function hostLineMatches(host: string, patterns: string[]): boolean {
  let matched = false
  for (const raw of patterns) {
    const negated = raw.startsWith('!')
    const pattern = negated ? raw.slice(1) : raw
    if (matchPattern(host, pattern)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

function matchLine(ctx: Context, args: string[], where: string): boolean {
  if (args.length === 0) {
    note(ctx, `${where}: Match without criteria; the block is ignored`)
    return false
  }
  let result = true
  for (let i = 0; i < args.length; i++) {
    let criterion = (args[i] ?? '').toLowerCase()
    const negated = criterion.startsWith('!')
    if (negated) criterion = criterion.slice(1)
    let ok: boolean
    if (criterion === 'all') {
      ok = true
    } else if (criterion === 'canonical' || criterion === 'final') {
      if (criterion === 'final') ctx.wantFinalPass = true
      ok = ctx.finalPass
    } else if (['host', 'originalhost', 'user', 'localuser'].includes(criterion)) {
      const arg = args[++i]
      if (arg === undefined) {
        note(ctx, `${where}: Match ${criterion} needs an argument; the block is ignored`)
        return false
      }
      ok = matchCriterion(ctx, criterion, arg)
    } else {
      note(ctx, `${where}: Match ${criterion} is not supported by kamal-backup; the block is ignored`)
      return false
    }
    if (negated) ok = !ok
    if (!ok) result = false
  }
  return result
}

function matchCriterion(ctx: Context, criterion: string, arg: string): boolean {
  switch (criterion) {
    case 'host': {
      const current = ctx.state.hostName === undefined ? ctx.host : expandTokens(ctx.state.hostName, {'%': '%', h: ctx.host})
      return matchPatternList(current, arg, true)
    }
    case 'originalhost':
      return matchPatternList(ctx.host, arg, true)
    case 'user':
      return matchPatternList(ctx.options.user ?? ctx.state.user ?? ctx.localUser, arg)
    default:
      return matchPatternList(ctx.localUser, arg)
  }
}

// ---- Include -------------------------------------------------------------------------------------------------------

function include(ctx: Context, pattern: string, where: string, depth: number, userFile: boolean): void {
  if (depth + 1 > MAX_INCLUDE_DEPTH) {
    note(ctx, `${where}: Include nested too deeply; skipped`)
    return
  }
  let path = userFile ? expandTilde(pattern, ctx.homeDir) : pattern
  if (!isAbsolute(path)) path = join(userFile ? join(ctx.homeDir, '.ssh') : '/etc/ssh', path)
  for (const file of expandGlob(path)) readFile(ctx, file, true, depth + 1, userFile)
}

/** glob(3)-style expansion of `*`, `?` and `[...]` per path segment; results sorted; no match gives nothing. */
export function expandGlob(path: string): string[] {
  if (!/[*?[]/.test(path)) return [path]
  const segments = path.split('/')
  let bases: string[] = [segments[0] === '' ? '/' : '.']
  for (let i = segments[0] === '' ? 1 : 0; i < segments.length; i++) {
    const segment = segments[i] ?? ''
    if (segment === '') continue
    const next: string[] = []
    for (const base of bases) {
      if (!/[*?[]/.test(segment)) {
        next.push(base === '.' && i === 0 ? segment : join(base, segment))
        continue
      }
      let names: string[]
      try {
        names = readdirSync(base)
      } catch {
        continue
      }
      const regex = segmentRegex(segment)
      for (const name of names.sort()) {
        if (name.startsWith('.') && !segment.startsWith('.')) continue
        if (regex.test(name)) next.push(join(base, name))
      }
    }
    bases = next
  }
  return bases.sort()
}

function segmentRegex(segment: string): RegExp {
  let source = '^'
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i] ?? ''
    if (ch === '*') source += '.*'
    else if (ch === '?') source += '.'
    else if (ch === '[') {
      const close = segment.indexOf(']', i + 2)
      if (close === -1) source += '\\['
      else {
        let body = segment.slice(i + 1, close)
        if (body.startsWith('!')) body = '^' + body.slice(1)
        source += '[' + body.replace(/\\/g, '\\\\') + ']'
        i = close
      }
    } else source += ch.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
  }
  return new RegExp(source + '$', 's')
}

// ---- expansion -----------------------------------------------------------------------------------------------------

/** `~` and `~/...` become the home directory; `~user` is left alone. */
export function expandTilde(path: string, homeDir: string): string {
  if (path === '~') return homeDir
  if (path.startsWith('~/')) return join(homeDir, path.slice(2))
  return path
}

/**
 * Replaces `%x` tokens from the map. Unknown tokens stay as written and are reported through `onUnknown`.
 */
export function expandTokens(text: string, tokens: Record<string, string>, onUnknown?: (token: string) => void): string {
  return text.replace(/%(.)/gs, (whole, key: string) => {
    const value = tokens[key]
    if (value !== undefined) return value
    onUnknown?.(whole)
    return whole
  })
}

function expandEnv(text: string, env: Record<string, string | undefined>, onMissing: (name: string) => void): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => {
    const value = env[name]
    if (value === undefined) {
      onMissing(name)
      return whole
    }
    return value
  })
}

function finish(ctx: Context): SshConfigHost {
  const {state, options} = ctx
  const original = ctx.host
  const hostName = state.hostName === undefined ? undefined : expandTokens(state.hostName, {'%': '%', h: original}).toLowerCase()
  const h = hostName ?? original
  const p = String(options.port ?? state.port ?? 22)
  const r = options.user ?? state.user ?? ctx.localUser
  const env = options.env ?? process.env
  const fullHost = (() => {
    try {
      return osHostname()
    } catch {
      return 'localhost'
    }
  })()
  const pathTokens: Record<string, string> = {
    '%': '%',
    h,
    p,
    r,
    n: original,
    u: ctx.localUser,
    d: ctx.homeDir,
    i: String(process.getuid?.() ?? ''),
    l: fullHost,
    L: fullHost.split('.')[0] ?? fullHost,
  }
  const path = (value: string, keyword: string): string => {
    const unknown = (token: string) => note(ctx, `${keyword} ${value}: token ${token} is not supported; left as written`)
    const missing = (name: string) => note(ctx, `${keyword} ${value}: environment variable ${name} is not set`)
    return expandEnv(expandTokens(expandTilde(value, ctx.homeDir), pathTokens, unknown), env, missing)
  }

  const result: SshConfigHost = {identityFiles: []}
  if (hostName !== undefined) result.hostName = hostName
  if (state.user !== undefined) result.user = state.user
  if (state.port !== undefined) result.port = state.port
  for (const file of state.identityFiles) {
    const expanded = path(file, 'IdentityFile')
    if (!result.identityFiles.includes(expanded)) result.identityFiles.push(expanded)
  }
  if (state.identitiesOnly !== undefined) result.identitiesOnly = state.identitiesOnly
  if (state.proxyJump !== undefined) result.proxyJump = state.proxyJump
  if (state.proxyCommand !== undefined) {
    const unknown = (token: string) => note(ctx, `ProxyCommand: token ${token} is not supported; left as written`)
    result.proxyCommand = expandTokens(state.proxyCommand, {'%': '%', h, p, r, n: original}, unknown)
  }
  const knownHosts = (files: string[] | undefined, keyword: string) =>
    files === undefined ? undefined : files.some((f) => f.toLowerCase() === 'none') ? [] : files.map((f) => path(f, keyword))
  const userKnown = knownHosts(state.userKnownHostsFiles, 'UserKnownHostsFile')
  if (userKnown !== undefined) result.userKnownHostsFiles = userKnown
  const globalKnown = knownHosts(state.globalKnownHostsFiles, 'GlobalKnownHostsFile')
  if (globalKnown !== undefined) result.globalKnownHostsFiles = globalKnown
  if (state.strictHostKeyChecking !== undefined) result.strictHostKeyChecking = state.strictHostKeyChecking
  if (state.connectTimeout !== undefined) result.connectTimeout = state.connectTimeout
  if (state.identityAgent !== undefined) {
    const agent = state.identityAgent
    result.identityAgent = agent === 'none' || agent === 'SSH_AUTH_SOCK' ? agent : path(agent.startsWith('$') && !agent.startsWith('${') ? `\${${agent.slice(1)}}` : agent, 'IdentityAgent')
  }
  if (state.serverAliveInterval !== undefined) result.serverAliveInterval = state.serverAliveInterval
  if (state.hashKnownHosts !== undefined) result.hashKnownHosts = state.hashKnownHosts
  if (ctx.notes.length > 0) result.notes = ctx.notes
  result.filesRead = ctx.filesRead
  return result
}
