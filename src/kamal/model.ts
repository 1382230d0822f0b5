// The typed model of what kamal-backup needs from deploy.yml: which accessory is the backup accessory, where it
// runs (hosts), what its container is called, what it mounts, what environment it gets, and how to SSH there.
// Host resolution mirrors Kamal 2.x exactly, including its quirks; where a quirk would surprise, we warn.
import type {Position} from './yaml.js'
import {didYouMean, finding, type Finding} from '../config/findings.js'
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
}

/** Picks the backup accessory: by name if given, else the one whose image contains kamal-backup, else `backup`. */
export function buildDeployModel(source: DeploySource, requested?: {name: string; position: Position}): {model?: DeployModel; findings: Finding[]} {
  const findings: Finding[] = []
  const data = source.data
  const at = (path: (string | number)[]) => source.positions.nearest(path)
  const service = String(data.service ?? '')
  const accessories = (isObject(data.accessories) ? data.accessories : {}) as Record<string, Record<string, unknown>>
  const names = Object.keys(accessories)
  const containers = Object.fromEntries(names.map((n) => [n, containerName(service, n, accessories[n]!)]))

  let name: string | undefined
  if (requested) {
    if (accessories[requested.name]) name = requested.name
    else {
      const guess = didYouMean(requested.name, names)
      findings.push(
        finding('error', 'kamal/accessory-missing', requested.position, 'accessory', `accessory "${requested.name}" is not defined in ${source.files.join(' + ')}`, guess ? `did you mean "${guess}"?` : names.length > 0 ? `accessories defined: ${names.join(', ')}` : 'add the backup accessory to config/deploy.yml (`kamal-backup init` prints it)'),
      )
      return {findings}
    }
  } else {
    const byImage = names.filter((n) => String(accessories[n]!.image ?? '').includes('kamal-backup'))
    if (byImage.length === 1) name = byImage[0]
    else if (byImage.length > 1) {
      findings.push(finding('error', 'kamal/accessory-ambiguous', at(['accessories']), 'accessories', `several accessories use a kamal-backup image: ${byImage.join(', ')}`, 'set `accessory: <name>` in config/kamal-backup.yml'))
      return {findings}
    } else if (accessories.backup) name = 'backup'
    else {
      findings.push(
        finding('error', 'kamal/accessory-missing', at(names.length > 0 ? ['accessories'] : []), 'accessories', names.length > 0 ? `no backup accessory: none of the accessories (${names.join(', ')}) uses a kamal-backup image or is named "backup"` : `${source.configFile} defines no accessories, so there is no backup accessory`, names.length > 0 ? 'set `accessory: <name>` in config/kamal-backup.yml, or add the backup accessory (`kamal-backup init` prints it)' : 'add the backup accessory to config/deploy.yml (`kamal-backup init` prints it)'),
      )
      return {findings}
    }
  }
  const raw = accessories[name!]!
  const base = ['accessories', name!]
  const hosts = resolveHosts(name!, raw, data, at, findings)
  const env = accessoryEnv(raw.env)
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
      ...(raw.image !== undefined && {image: String(raw.image)}),
      container: containers[name!]!,
      hosts: hosts.hosts,
      hostsFrom: hosts.from,
      files: mounts(raw.files),
      directories: mounts(raw.directories),
      volumes: volumes(raw.volumes),
      env,
      ...(raw.cmd !== undefined && {cmd: String(raw.cmd)}),
      position: at(base),
    },
    ssh: (isObject(data.ssh) ? data.ssh : {}) as SshSection,
  }
  if (source.hostsUnknown?.selectors.some((k) => raw[k] !== undefined && raw[k] !== null)) {
    // --kamal-config with several roles: the roles exist (Kamal validated them), their hosts are just not printed.
    for (let i = findings.length - 1; i >= 0; i--) if (/^kamal\/(unknown-role|no-hosts|tag-)/.test(findings[i]!.rule)) findings.splice(i, 1)
    findings.push(finding('warning', 'kamal/hosts-unknown', at(base), base, `the hosts of accessory "${name}" are not checked: ${source.hostsUnknown.reason}`, 'give the accessory `host:` or `hosts:`, or run without --kamal-config'))
  } else if (model.accessory.hosts.length === 0 && !findings.some((f) => f.rule === 'kamal/no-hosts' || f.rule === 'kamal/unknown-role')) {
    findings.push(finding('error', 'kamal/no-hosts', at(base), base, `accessory "${name}" has no hosts`, 'add `host: <server>` to the accessory (or `roles: [web]`)'))
  }
  return {model, findings}
}

export function containerName(service: string, name: string, accessory: Record<string, unknown>): string {
  return accessory.service !== undefined && accessory.service !== null ? String(accessory.service) : `${service}-${name}`
}

type At = (path: (string | number)[]) => Position

/** Kamal's servers: a list (all in role "web") or a map of role → list or {hosts: list}. Entries: "host" or {host: tag(s)}. */
export interface RoleHosts {
  role: string
  /** Roles written as a plain list (Kamal scans only these for accessory tags). */
  listForm: boolean
  hosts: {host: string; tags: string[]}[]
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

function hostEntries(list: unknown[]): {host: string; tags: string[]}[] {
  return list.flatMap((entry) => {
    if (isObject(entry)) {
      const [host, tags] = Object.entries(entry)[0] ?? []
      if (host === undefined) return []
      return [{host, tags: Array.isArray(tags) ? tags.map(String) : tags === undefined || tags === null ? [] : [String(tags)]}]
    }
    return entry === null || entry === undefined ? [] : [{host: String(entry), tags: []}]
  })
}

function resolveHosts(name: string, raw: Record<string, unknown>, data: Record<string, unknown>, at: At, findings: Finding[]): {hosts: string[]; from: string} {
  const base = ['accessories', name]
  const selectors = ['host', 'hosts', 'role', 'roles', 'tag', 'tags'].filter((k) => raw[k] !== undefined && raw[k] !== null)
  if (selectors.length !== 1) {
    findings.push(
      finding('error', 'kamal/host-selector', at(base), base, selectors.length === 0 ? `accessory "${name}" has no host` : `accessory "${name}" sets ${selectors.join(' and ')}; Kamal needs exactly one of host, hosts, role, roles, tag or tags`, selectors.length === 0 ? 'add `host: <server>`' : undefined),
    )
    if (selectors.length === 0) return {hosts: [], from: 'nothing'}
  }
  const key = selectors[0]!
  const value = raw[key]
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : [String(v)])
  const allRoles = roles(data.servers)
  switch (key) {
    case 'host':
      return {hosts: [String(value)], from: 'host'}
    case 'hosts':
      return {hosts: unique(hostEntries(value as unknown[]).map((h) => h.host)), from: 'hosts'}
    case 'role':
    case 'roles': {
      const wanted = list(value)
      const known = new Set(allRoles.map((r) => r.role))
      const unknown = wanted.filter((r) => !known.has(r))
      if (unknown.length > 0) {
        findings.push(finding('error', 'kamal/unknown-role', at([...base, key]), [...base, key], `accessory "${name}" uses unknown role(s): ${unknown.join(', ')}`, known.size > 0 ? `roles defined in servers: ${[...known].join(', ')}` : 'define servers in config/deploy.yml'))
      }
      const hosts = wanted.flatMap((r) => allRoles.find((x) => x.role === r)?.hosts.map((h) => h.host) ?? [])
      return {hosts: unique(hosts), from: `${key} ${wanted.join(', ')}`}
    }
    default: {
      // tag/tags: Kamal scans only hash-form servers, only roles written as plain lists; a single `tag` string is
      // matched as a substring. We reproduce that, and warn where it surprises.
      const wanted = list(value)
      if (Array.isArray(data.servers)) {
        findings.push(finding('error', 'kamal/no-hosts', at([...base, key]), [...base, key], `accessory "${name}" selects hosts by ${key}, but Kamal only resolves tags when servers is a map of roles; with a list of servers it gets no hosts`, 'use `host:` or `roles: [web]` instead'))
        return {hosts: [], from: `${key} ${wanted.join(', ')}`}
      }
      const hosts: string[] = []
      for (const role of allRoles) {
        for (const h of role.hosts) {
          const matches = key === 'tag' ? h.tags.some((t) => t.includes(wanted[0]!)) : h.tags.some((t) => wanted.includes(t))
          if (!matches) continue
          if (!role.listForm) {
            findings.push(finding('warning', 'kamal/tag-skipped', at(['servers', role.role]), ['servers', role.role], `host ${h.host} has tag ${wanted.join(', ')}, but Kamal ignores it for accessory "${name}" because role "${role.role}" lists its hosts under \`hosts:\``, 'write the role as a plain list of hosts, or use `host:` on the accessory'))
            continue
          }
          if (key === 'tag' && !h.tags.includes(wanted[0]!)) {
            findings.push(finding('warning', 'kamal/tag-substring', at([...base, key]), [...base, key], `tag "${wanted[0]}" matches host ${h.host} only as part of its tag ${h.tags.join(', ')} (Kamal matches a single tag as a substring)`, 'use `tags: [exact-tag]` for an exact match'))
          }
          hosts.push(h.host)
        }
      }
      return {hosts: unique(hosts), from: `${key} ${wanted.join(', ')}`}
    }
  }
}

function mounts(value: unknown): Mount[] {
  if (!Array.isArray(value)) return []
  return value.flatMap((entry): Mount[] => {
    if (isObject(entry)) {
      return [{
        local: String(entry.local ?? ''),
        remote: String(entry.remote ?? ''),
        ...(entry.options !== undefined && {options: String(entry.options)}),
        ...(entry.mode !== undefined && {mode: String(entry.mode)}),
        ...(entry.owner !== undefined && {owner: String(entry.owner)}),
      }]
    }
    const [local = '', remote = '', options] = String(entry).split(':')
    return [{local, remote, ...(options !== undefined && {options})}]
  })
}

function volumes(value: unknown): Volume[] {
  if (!Array.isArray(value)) return []
  return value.flatMap((entry): Volume[] => {
    const parts = String(entry).split(':')
    if (parts.length < 2) return [{source: '', target: parts[0]!, readOnly: false}] // anonymous volume
    const [source, target, options] = parts as [string, string, string | undefined]
    return [{source, target, ...(options !== undefined && {options}), readOnly: (options ?? '').split(',').includes('ro')}]
  })
}

function accessoryEnv(env: unknown): {clear: Record<string, string>; secret: SecretEnv[]} {
  if (!isObject(env)) return {clear: {}, secret: []}
  const complex = 'clear' in env || 'secret' in env || 'tags' in env
  const clearSource = complex ? env.clear : env
  const clear: Record<string, string> = {}
  if (isObject(clearSource)) for (const [k, v] of Object.entries(clearSource)) clear[k] = v === null || v === undefined ? '' : String(v)
  const secret: SecretEnv[] = []
  if (complex && Array.isArray(env.secret)) {
    for (const item of env.secret) {
      const text = String(item)
      const index = text.indexOf(':')
      secret.push(index >= 0 ? {name: text.slice(0, index), secret: text.slice(index + 1)} : {name: text, secret: text})
    }
  }
  return {clear, secret}
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)]
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
