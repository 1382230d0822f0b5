// The typed model of what kamal-backup needs from deploy.yml: which accessory is the backup accessory, where it
// runs (hosts), what its container is called, what it mounts, what environment it gets, and how to SSH there.
// Host resolution mirrors Kamal 2.x exactly, including its quirks; where a quirk would surprise, we warn.
import type {PositionMap, Position} from '../parse/yaml.js'
import {didYouMean, finding, formatPath, type Finding} from '../parse/findings.js'
import type {DeploySource} from './deploy.js'

export interface Mount {
  local: string
  remote: string
  options?: string
  mode?: string
  owner?: string
}

export interface Volume {
  /** A named Docker volume or an absolute host path. */
  source: string
  target: string
  options?: string
  readOnly: boolean
}

export interface SecretEnv {
  /** The variable name inside the container. */
  name: string
  /** The secret it is read from in .kamal/secrets (the same name unless written NAME:SECRET). */
  secret: string
}

export interface SshSection {
  user?: string
  port?: number | string
  proxy?: string
  proxy_command?: string
  keys?: string[]
  keys_only?: boolean
  key_data?: string[]
  config?: boolean | string | string[]
  forward_agent?: boolean
  log_level?: string
}

export interface BackupAccessory {
  name: string
  image?: string
  /** The container name: `service:` or `<service>-<name>`. The destination is never part of it. */
  container: string
  hosts: string[]
  /** How the hosts were chosen, for messages: `host`, `hosts`, `role web`, `tags backup`... */
  hostsFrom: string
  files: Mount[]
  directories: Mount[]
  volumes: Volume[]
  env: {clear: Record<string, string>; secret: SecretEnv[]}
  cmd?: string
  position: Position
  /** Keys whose value was unusable (already reported): the checks that depend on them are skipped. */
  invalidKeys: string[]
}

export interface DeployModel {
  configFile: string
  files: string[]
  destination?: string
  service: string
  secretsPath: string
  accessoryNames: string[]
  /** Every accessory's container name, for the "database host is an accessory" cross-check. */
  containers: Record<string, string>
  accessory: BackupAccessory
  ssh: SshSection
  /** Where each key was written (base or destination file), for findings about the accessory. */
  positions: PositionMap
  /** The hosts of every accessory (undefined where they cannot be known), e.g. to tell whether a database
   *  accessory runs on the backup accessory's host. */
  accessoryHosts: Record<string, string[] | undefined>
  /** The app's own volumes (top-level `volumes:`), to compare with what the backup accessory mounts. */
  appVolumes: Volume[]
}

/**
 * Wrong shapes (a string where a list belongs, an empty accessory) are findings, never crashes. A shape the deploy
 * schema already reported is skipped quietly (and so is everything built on it), so each problem is said once.
 */
class Shapes {
  constructor(
    private readonly source: DeploySource,
    private readonly findings: Finding[],
  ) {}

  /** Whether `path` or one of its ancestors already has a finding. */
  reported(path: (string | number)[]): boolean {
    for (let length = path.length; length >= 1; length--) if (this.source.invalid?.has(formatPath(path.slice(0, length)))) return true
    return false
  }

  /** Whether `path`, an ancestor or a descendant has a finding (a typo inside env makes env unreliable). */
  touched(path: (string | number)[]): boolean {
    if (this.reported(path)) return true
    const here = formatPath(path)
    for (const p of this.source.invalid ?? []) if (p.startsWith(`${here}.`) || p.startsWith(`${here}[`)) return true
    return false
  }

  /** Reports a value at `path` that is not `expected` (unless already reported), and returns false. */
  wrong(path: (string | number)[], value: unknown, expected: string, suggestion: string): false {
    if (!this.reported(path)) {
      const here = formatPath(path)
      this.findings.push(finding('error', 'deploy/type', this.source.positions.nearest(path), path, `${here} must be ${expected}, not ${describe(value)}`, suggestion))
      this.source.invalid?.add(here)
    }
    return false
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'empty'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return typeof value === 'string' ? 'text' : `a ${typeof value}`
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

/** Picks the backup accessory: by name if given, else the one whose image contains kamal-backup, else `backup`. */
export function buildDeployModel(source: DeploySource, requested?: {name: string; position: Position}): {model?: DeployModel; findings: Finding[]} {
  const findings: Finding[] = []
  const shapes = new Shapes(source, findings)
  const data = source.data
  const at = (path: (string | number)[]) => source.positions.nearest(path)
  const service = isScalar(data.service) ? String(data.service) : ''
  if (data.accessories !== undefined && !isObject(data.accessories)) {
    // Nothing can be looked up in it; the one finding is about its shape.
    shapes.wrong(['accessories'], data.accessories, 'a mapping of accessory names to accessories', 'write each accessory as `name:` with its keys indented below it')
    return {findings}
  }
  const accessories = (data.accessories ?? {}) as Record<string, unknown>
  const names = Object.keys(accessories)
  const containers = Object.fromEntries(names.map((n) => [n, containerName(service, n, accessories[n])]))

  let name: string | undefined
  if (requested) {
    if (Object.hasOwn(accessories, requested.name)) name = requested.name
    else {
      const guess = didYouMean(requested.name, names)
      findings.push(
        finding('error', 'kamal/accessory-missing', requested.position, 'accessory', `accessory "${requested.name}" is not defined in ${source.files.join(' + ')}`, guess ? `did you mean "${guess}"?` : names.length > 0 ? `accessories defined: ${names.join(', ')}` : 'add the backup accessory to config/deploy.yml (`kamal-backup init` prints it)'),
      )
      return {findings}
    }
  } else {
    const image = (n: string) => {
      const a = accessories[n]
      return isObject(a) && isScalar(a.image) ? String(a.image) : ''
    }
    const byImage = names.filter((n) => image(n).includes('kamal-backup'))
    if (byImage.length === 1) name = byImage[0]
    else if (byImage.length > 1) {
      findings.push(finding('error', 'kamal/accessory-ambiguous', at(['accessories']), 'accessories', `several accessories use a kamal-backup image: ${byImage.join(', ')}`, 'set `accessory: <name>` in config/kamal-backup.yml'))
      return {findings}
    } else if (Object.hasOwn(accessories, 'backup')) name = 'backup'
    else {
      findings.push(
        finding('error', 'kamal/accessory-missing', at(names.length > 0 ? ['accessories'] : []), 'accessories', names.length > 0 ? `no backup accessory: none of the accessories (${names.join(', ')}) uses a kamal-backup image or is named "backup"` : `${source.configFile} defines no accessories, so there is no backup accessory`, names.length > 0 ? 'set `accessory: <name>` in config/kamal-backup.yml, or add the backup accessory (`kamal-backup init` prints it)' : 'add the backup accessory to config/deploy.yml (`kamal-backup init` prints it)'),
      )
      return {findings}
    }
  }
  const base = ['accessories', name!]
  const raw = accessories[name!]
  if (!isObject(raw)) {
    // `backup:` with nothing under it (or `backup: ~` in a destination file, which replaces the whole accessory).
    shapes.wrong(base, raw, 'a mapping (image, host, files, volumes, env, …)', `give accessory "${name}" its keys, indented below it (\`kamal-backup init\` prints them); a destination file cannot remove an accessory`)
    return {findings}
  }
  /** Keys of the accessory whose value could not be used: the cross-checks built on them are skipped. */
  const invalidKeys = new Set<string>()
  const part = <T>(key: string, read: (value: unknown, path: (string | number)[]) => T | false, fallback: T): T => {
    const path = [...base, key]
    if (shapes.reported(path)) {
      invalidKeys.add(key)
      return fallback
    }
    if (shapes.touched(path)) invalidKeys.add(key)
    if (raw[key] === undefined) return fallback
    const result = read(raw[key], path)
    if (result === false) {
      invalidKeys.add(key)
      return fallback
    }
    return result
  }
  const allRoles = roles(data.servers)
  const hosts = resolveHosts(name!, raw, data, allRoles, at, findings, shapes, invalidKeys)
  const env = part('env', (value, path) => accessoryEnv(value, path, shapes), {clear: {}, secret: []})
  const files = part('files', (value, path) => mounts(value, path, shapes), [] as Mount[])
  const directories = part('directories', (value, path) => mounts(value, path, shapes), [] as Mount[])
  const volumeList = part('volumes', (value, path) => volumes(value, path, shapes), [] as Volume[])
  const image = part('image', (value, path) => (isScalar(value) ? String(value) : shapes.wrong(path, value, 'text', 'write the image name, e.g. ghcr.io/kamal-backup/kamal-backup:0.1')), undefined as string | undefined)
  const cmd = part('cmd', (value, path) => (isScalar(value) ? String(value) : shapes.wrong(path, value, 'text', 'write the command as one line of text')), undefined as string | undefined)
  const model: DeployModel = {
    configFile: source.configFile,
    files: source.files,
    ...(source.destination !== undefined && {destination: source.destination}),
    service,
    secretsPath: typeof data.secrets_path === 'string' ? data.secrets_path : '.kamal/secrets',
    accessoryNames: names,
    containers,
    accessory: {
      name: name!,
      ...(image !== undefined && {image}),
      container: containers[name!]!,
      hosts: hosts.hosts,
      hostsFrom: hosts.from,
      files,
      directories,
      volumes: volumeList,
      env,
      ...(cmd !== undefined && {cmd}),
      position: at(base),
      invalidKeys: [...invalidKeys],
    },
    ssh: sshSection(data.ssh, shapes),
    positions: source.positions,
    accessoryHosts: otherHosts(source, allRoles, name!, hosts.hosts),
    appVolumes: appVolumes(data.volumes),
  }
  if (source.hostsUnknown?.selectors.some((k) => raw[k] !== undefined && raw[k] !== null)) {
    // --kamal-config with several roles: the roles exist (Kamal validated them), their hosts are just not printed.
    for (let i = findings.length - 1; i >= 0; i--) if (/^kamal\/(unknown-role|no-hosts|tag-)/.test(findings[i]!.rule)) findings.splice(i, 1)
    findings.push(finding('warning', 'kamal/hosts-unknown', at(base), base, `the hosts of accessory "${name}" are not checked: ${source.hostsUnknown.reason}`, 'give the accessory `host:` or `hosts:`, or run without --kamal-config'))
  } else if (model.accessory.hosts.length === 0 && !hosts.explained && !findings.some((f) => f.rule === 'kamal/host-selector')) {
    findings.push(finding('error', 'kamal/no-hosts', at(base), base, `accessory "${name}" has no hosts`, 'add `host: <server>` to the accessory (or `roles: [web]`)'))
  }
  return {model, findings}
}

export function containerName(service: string, name: string, accessory: unknown): string {
  return isObject(accessory) && isScalar(accessory.service) ? String(accessory.service) : `${service}-${name}`
}

type At = (path: (string | number)[]) => Position

/** Kamal's servers: a list (all in role "web") or a map of role → list or {hosts: list}. Entries: "host" or {host: tag(s)}. */
export interface RoleHosts {
  role: string
  /** Roles written as a plain list (Kamal scans only these for accessory tags). */
  listForm: boolean
  hosts: HostEntry[]
}

export interface HostEntry {
  host: string
  /** The host's tags, as a list. */
  tags: string[]
  /** `10.0.0.2: writer` (a string) rather than `10.0.0.2: [writer]`: Kamal then matches a tag as a substring. */
  tagText?: string
}

export function roles(servers: unknown): RoleHosts[] {
  if (Array.isArray(servers)) return [{role: 'web', listForm: true, hosts: hostEntries(servers)}]
  if (!isObject(servers)) return []
  return Object.keys(servers)
    .sort()
    .map((role) => {
      const value = servers[role]
      if (Array.isArray(value)) return {role, listForm: true, hosts: hostEntries(value)}
      if (isObject(value) && Array.isArray(value.hosts)) return {role, listForm: false, hosts: hostEntries(value.hosts)}
      return {role, listForm: false, hosts: []}
    })
}

function hostEntries(list: unknown[]): HostEntry[] {
  return list.flatMap((entry): HostEntry[] => {
    if (isObject(entry)) {
      const [host, tags] = Object.entries(entry)[0] ?? []
      if (host === undefined) return []
      if (typeof tags === 'string') return [{host, tags: [tags], tagText: tags}]
      return [{host, tags: Array.isArray(tags) ? tags.filter(isScalar).map(String) : isScalar(tags) ? [String(tags)] : []}]
    }
    return isScalar(entry) ? [{host: String(entry), tags: []}] : []
  })
}

/** Kamal's `host.values.first.include?(tag)`: a substring of a string tag value, an element of a tag list. */
function hasTag(entry: HostEntry, tag: string): boolean {
  return entry.tagText !== undefined ? entry.tagText.includes(tag) : entry.tags.includes(tag)
}

const SELECTORS = ['host', 'hosts', 'role', 'roles', 'tag', 'tags'] as const

function resolveHosts(
  name: string,
  raw: Record<string, unknown>,
  data: Record<string, unknown>,
  allRoles: RoleHosts[],
  at: At,
  findings: Finding[],
  shapes: Shapes,
  invalidKeys: Set<string>,
): {hosts: string[]; from: string; explained: boolean} {
  const base = ['accessories', name]
  // Kamal counts the keys that are present (`key?`), whatever their value.
  const selectors = SELECTORS.filter((k) => Object.hasOwn(raw, k))
  if (selectors.length !== 1) {
    findings.push(
      finding(
        'error',
        'kamal/host-selector',
        at(selectors.length === 0 ? base : [...base, selectors[1]!]),
        base,
        selectors.length === 0 ? `accessory "${name}" has no host` : `accessory "${name}" sets ${selectors.join(' and ')}; Kamal needs exactly one of host, hosts, role, roles, tag or tags`,
        selectors.length === 0 ? 'add `host: <server>` (or `roles: [web]`) to the accessory' : `keep one of ${selectors.join(', ')} and remove the other${selectors.length > 2 ? 's' : ''}`,
      ),
    )
    if (selectors.length === 0) return {hosts: [], from: 'nothing', explained: true}
  }
  const key = selectors[0]!
  const value = raw[key]
  const path = [...base, key]
  const none = (why = true) => {
    invalidKeys.add(key)
    return {hosts: [], from: key, explained: why}
  }
  if (shapes.reported(path)) return none()
  const single = key === 'host' || key === 'role' || key === 'tag'
  if (single && !isScalar(value)) {
    shapes.wrong(path, value, 'text', key === 'host' ? 'write one server, e.g. host: 192.0.2.10 (or use hosts: for a list)' : `write one name, e.g. ${key}: web (or use ${key}s: for a list)`)
    return none()
  }
  if (!single && !Array.isArray(value)) {
    shapes.wrong(path, value, 'a list', `write it as a list, e.g. ${key}: [${isScalar(value) ? String(value) : key === 'hosts' ? '192.0.2.10' : 'web'}]`)
    return none()
  }
  const list = single ? [String(value)] : (value as unknown[]).filter(isScalar).map(String)
  switch (key) {
    case 'host':
      return {hosts: list, from: 'host', explained: false}
    case 'hosts': {
      const entries = value as unknown[]
      entries.forEach((entry, index) => {
        if (isObject(entry)) {
          findings.push(finding('warning', 'kamal/tagged-accessory-host', at([...path, index]), [...path, index], `accessory "${name}" lists a tagged host (${Object.keys(entry)[0] ?? '?'}: …); Kamal does not unwrap tags in an accessory's hosts, and would use the mapping itself as the host name`, `write just the host, e.g. - ${Object.keys(entry)[0] ?? '192.0.2.10'}`))
        }
      })
      return {hosts: unique(hostEntries(entries).map((h) => h.host)), from: 'hosts', explained: false}
    }
    case 'role':
    case 'roles': {
      const known = new Set(allRoles.map((r) => r.role))
      const unknown = list.filter((r) => !known.has(r))
      if (unknown.length > 0) {
        findings.push(finding('error', 'kamal/unknown-role', at(path), path, `accessory "${name}" uses unknown role(s): ${unknown.join(', ')}`, known.size > 0 ? `roles defined in servers: ${[...known].join(', ')}` : 'define servers in config/deploy.yml'))
      }
      const hosts = list.flatMap((r) => allRoles.find((x) => x.role === r)?.hosts.map((h) => h.host) ?? [])
      return {hosts: unique(hosts), from: `${key} ${list.join(', ')}`, explained: unknown.length > 0}
    }
    default: {
      // tag/tags (kamal-config.md 3.2): Kamal scans only hash-form servers, only roles written as plain lists, and
      // tests `host.values.first.include?(tag)`: a substring when the host's tag is a string (`10.0.0.2: writer`),
      // an exact element when it is a list (`10.0.0.2: [writer]`), for `tag:` and `tags:` alike. We reproduce that,
      // and warn where it surprises.
      const from = `${key} ${list.join(', ')}`
      if (Array.isArray(data.servers)) {
        findings.push(finding('error', 'kamal/no-hosts', at(path), path, `accessory "${name}" selects hosts by ${key}, but Kamal only resolves tags when servers is a map of roles; with a list of servers it gets no hosts`, 'use `host:` or `roles: [web]` instead'))
        return {hosts: [], from, explained: true}
      }
      const hosts: string[] = []
      for (const role of allRoles) {
        for (const h of role.hosts) {
          const matched = list.filter((t) => hasTag(h, t))
          if (matched.length === 0) continue
          if (!role.listForm) {
            findings.push(finding('warning', 'kamal/tag-skipped', at(['servers', role.role]), ['servers', role.role], `host ${h.host} has tag ${matched.join(', ')}, but Kamal ignores it for accessory "${name}" because role "${role.role}" lists its hosts under \`hosts:\``, 'write the role as a plain list of hosts, or use `host:` on the accessory'))
            continue
          }
          const partial = matched.filter((t) => !h.tags.includes(t))
          if (partial.length === matched.length) {
            findings.push(finding('warning', 'kamal/tag-substring', at(path), path, `${key} "${partial[0]}" matches host ${h.host} only as part of its tag "${h.tagText}" (Kamal matches inside a tag written as text)`, `use the full tag name, or write the host's tag as a list (${h.host}: [${h.tagText}]) so that only exact names match`))
          }
          hosts.push(h.host)
        }
      }
      return {hosts: unique(hosts), from, explained: false}
    }
  }
}

/** Every accessory's hosts (undefined where they cannot be resolved), without findings: for `init`. */
export function accessoryHostsOf(source: DeploySource): Record<string, string[] | undefined> {
  return otherHosts(source, roles(source.data.servers))
}

/** The hosts of the accessories (other than `known`, already resolved), without findings: theirs are not ours to
 *  report. Undefined for one whose hosts cannot be resolved. */
function otherHosts(source: DeploySource, allRoles: RoleHosts[], known?: string, knownHosts: string[] = []): Record<string, string[] | undefined> {
  const accessories = isObject(source.data.accessories) ? source.data.accessories : {}
  const sink: Finding[] = []
  const quiet = {...source, invalid: new Set(source.invalid)}
  const shapes = new Shapes(quiet, sink)
  const at: At = (path) => source.positions.nearest(path)
  const out: Record<string, string[] | undefined> = {}
  for (const [name, raw] of Object.entries(accessories)) {
    if (name === known) {
      out[name] = knownHosts
      continue
    }
    if (!isObject(raw) || source.hostsUnknown?.selectors.some((k) => Object.hasOwn(raw, k))) {
      out[name] = undefined
      continue
    }
    sink.length = 0
    const result = resolveHosts(name, raw, source.data, allRoles, at, sink, shapes, new Set())
    out[name] = sink.some((f) => f.severity === 'error') ? undefined : result.hosts
  }
  return out
}

function appVolumes(value: unknown): Volume[] {
  if (!Array.isArray(value)) return []
  return value.filter(isScalar).map((entry) => {
    const [source = '', target = '', options] = String(entry).split(':')
    return target ? {source, target, ...(options !== undefined && {options}), readOnly: (options ?? '').split(',').includes('ro')} : {source: '', target: source, readOnly: false}
  })
}

function mounts(value: unknown, path: (string | number)[], shapes: Shapes): Mount[] | false {
  if (!Array.isArray(value)) return shapes.wrong(path, value, 'a list', 'write one `- local:remote` entry per line, e.g. - config/kamal-backup.yml:/app/config/kamal-backup.yml:ro')
  const out: Mount[] = []
  for (const [index, entry] of value.entries()) {
    if (isObject(entry)) {
      if (!isScalar(entry.local) || !isScalar(entry.remote)) return shapes.wrong([...path, index], entry, 'a mapping with local: and remote:', 'give both local: and remote:, or write it as "local:remote"')
      out.push({
        local: String(entry.local),
        remote: String(entry.remote),
        ...(isScalar(entry.options) && {options: String(entry.options)}),
        ...(isScalar(entry.mode) && {mode: String(entry.mode)}),
        ...(isScalar(entry.owner) && {owner: String(entry.owner)}),
      })
      continue
    }
    if (!isScalar(entry)) return shapes.wrong([...path, index], entry, 'text or a mapping', 'write it as "local:remote" or {local: …, remote: …}')
    const [local = '', remote = '', options] = String(entry).split(':')
    out.push({local, remote, ...(options !== undefined && {options})})
  }
  return out
}

function volumes(value: unknown, path: (string | number)[], shapes: Shapes): Volume[] | false {
  if (!Array.isArray(value)) return shapes.wrong(path, value, 'a list', 'write one `- "volume:/path"` entry per line, e.g. - "myapp_storage:/rails/storage"')
  const out: Volume[] = []
  for (const [index, entry] of value.entries()) {
    if (!isScalar(entry)) return shapes.wrong([...path, index], entry, 'text', 'write it as "source:/path/in/container"')
    const parts = String(entry).split(':')
    if (parts.length < 2) {
      out.push({source: '', target: parts[0]!, readOnly: false}) // anonymous volume
      continue
    }
    const [source, target, options] = parts as [string, string, string | undefined]
    out.push({source, target, ...(options !== undefined && {options}), readOnly: (options ?? '').split(',').includes('ro')})
  }
  return out
}

function accessoryEnv(env: unknown, path: (string | number)[], shapes: Shapes): {clear: Record<string, string>; secret: SecretEnv[]} | false {
  if (!isObject(env)) return shapes.wrong(path, env, 'a mapping', 'write it as env: with clear: and secret: below it')
  const complex = 'clear' in env || 'secret' in env || 'tags' in env
  const clearSource = complex ? env.clear : env
  const clear: Record<string, string> = {}
  if (clearSource !== undefined) {
    if (!isObject(clearSource)) return shapes.wrong([...path, 'clear'], clearSource, 'a mapping', 'write one `NAME: value` per line under clear:')
    for (const [k, v] of Object.entries(clearSource)) {
      if (v !== null && v !== undefined && !isScalar(v)) return shapes.wrong(complex ? [...path, 'clear', k] : [...path, k], v, 'text', 'write the value on one line (quote it if needed)')
      clear[k] = v === null || v === undefined ? '' : String(v)
    }
  }
  const secret: SecretEnv[] = []
  if (complex && env.secret !== undefined) {
    if (!Array.isArray(env.secret)) return shapes.wrong([...path, 'secret'], env.secret, 'a list', 'write one `- NAME` per line under secret:')
    for (const item of env.secret) {
      if (!isScalar(item)) return shapes.wrong([...path, 'secret'], item, 'a list of names', 'write one `- NAME` (or `- NAME:SECRET`) per line')
      const text = String(item)
      const index = text.indexOf(':')
      secret.push(index >= 0 ? {name: text.slice(0, index), secret: text.slice(index + 1)} : {name: text, secret: text})
    }
  }
  return {clear, secret}
}

/** The top-level ssh settings, keeping only values of the types Kamal accepts (the schema reports the others). */
function sshSection(value: unknown, shapes: Shapes): SshSection {
  if (value === undefined) return {}
  if (!isObject(value)) {
    shapes.wrong(['ssh'], value, 'a mapping', 'write ssh: with user:, port:, … indented below it')
    return {}
  }
  const out: SshSection = {}
  const strings = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined)
  if (isScalar(value.user)) out.user = String(value.user)
  if (typeof value.port === 'number' || typeof value.port === 'string') out.port = value.port
  if (typeof value.proxy === 'string') out.proxy = value.proxy
  if (typeof value.proxy_command === 'string') out.proxy_command = value.proxy_command
  if (strings(value.keys)) out.keys = strings(value.keys)!
  if (typeof value.keys_only === 'boolean') out.keys_only = value.keys_only
  if (strings(value.key_data)) out.key_data = strings(value.key_data)!
  if (typeof value.config === 'boolean' || typeof value.config === 'string' || strings(value.config)) out.config = value.config as SshSection['config']
  if (typeof value.forward_agent === 'boolean') out.forward_agent = value.forward_agent
  if (isScalar(value.log_level)) out.log_level = String(value.log_level)
  return out
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)]
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
