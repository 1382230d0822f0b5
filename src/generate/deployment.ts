// What every runtime's artifacts are made from: the validated kamal-backup.yml, reduced to what a unit, a
// container or a CronJob must know — the app, what is read (directories and named volumes), which secrets must be
// provided (names only: a generated file never holds a value), the schedule as a calendar, the image.
import {dirname, posix} from 'node:path'
import type {BackupConfig} from '../config/types.js'
import {DATABASE_KINDS, mountedVolumePath} from '../config/types.js'
import {IMAGE} from '../config/init.js'
import {onCalendar, scheduleAsCron} from '../config/calendar.js'
import {appSlug} from '../config/host-checks.js'

/** Where `npm install -g kamal-backup` puts the command with Debian's Node. */
export const DEFAULT_BIN = '/usr/local/bin/kamal-backup'

export const RUNTIME_TARGETS = ['systemd', 'quadlet', 'compose', 'kubernetes', 'proxmox'] as const
export type RuntimeTarget = (typeof RUNTIME_TARGETS)[number]

export interface GeneratedFile {
  /** The file's name inside --out. */
  name: string
  content: string
  /** Scripts are written executable. */
  mode?: number
}

export interface Deployment {
  app: string
  /** A name safe in unit, container and Kubernetes object names: lowercase letters, digits and hyphens. */
  slug: string
  image: string
  /** Where kamal-backup is installed on the host (systemd, proxmox). */
  bin: string
  /** Where the host keeps this app's kamal-backup.yml (host mode and the runtimes that mount it). */
  hostConfig: string
  /** The config file's text, for a Kubernetes ConfigMap. */
  configText: string
  volumes: {name: string; runtime?: 'docker' | 'podman'; mountedAt: string; writable: boolean}[]
  /** Directories read (path entries) and the directories of SQLite files; mounted at the same path in containers. */
  directories: {path: string; writable: boolean; backedUp: boolean}[]
  /** Environment variables the configuration reads its `{secret: NAME}` values from. */
  secrets: string[]
  /** Files the configuration reads (`{file:}` passwords, restic.repository_file): mounted read-only, same path. */
  files: string[]
  cron: string
  onCalendar: string[]
  scheduleText: string
  /** Where state lives inside a container (the image's default). */
  containerStateDir: string
  usesVolumes: boolean
}

/** Every `{secret: NAME}` the normalised config reads, in order of first use. */
export function secretNames(config: BackupConfig): string[] {
  const names = new Set<string>()
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit)
    else if (value && typeof value === 'object') {
      const v = value as {kind?: unknown; name?: unknown}
      if (v.kind === 'secret' && typeof v.name === 'string') names.add(v.name)
      else Object.values(value).forEach(visit)
    }
  }
  visit(config)
  return [...names]
}

/** Every file the config reads a credential or the repository from. */
function readFiles(config: BackupConfig): string[] {
  const files = new Set<string>()
  const password = (ref: BackupConfig['restic']['password'] | undefined) => ref?.kind === 'file' && files.add(ref.path)
  password(config.restic.password)
  if (config.restic.repositoryFile) files.add(config.restic.repositoryFile)
  for (const db of config.databases) password(db.password)
  return [...files]
}

export function deployment(config: BackupConfig, options: {configText: string; hostConfig?: string; image?: string; bin?: string; version: string}): Deployment {
  const slug = appSlug(config.app)
  const [major, minor] = options.version.split('.')
  // A database in a file (SQLite) is read with its own engine: its directory must be writable (WAL); the rest is
  // mounted read-only.
  const sqliteDirs = config.databases.flatMap((db) => (DATABASE_KINDS[db.adapter].location === 'file' && db.path?.kind === 'value' ? [posix.dirname(db.path.value)] : []))
  const underSqlite = (dir: string) => sqliteDirs.some((d) => d === dir || d.startsWith(dir + '/'))
  const directories = config.paths.filter((p) => !p.volume).map((p) => ({path: p.path, writable: underSqlite(p.path), backedUp: true}))
  for (const dir of sqliteDirs) if (!directories.some((d) => dir === d.path || dir.startsWith(d.path + '/'))) directories.push({path: dir, writable: true, backedUp: false})
  return {
    app: config.app,
    slug,
    image: options.image ?? `${IMAGE}:${major}.${minor}`,
    bin: options.bin ?? DEFAULT_BIN,
    hostConfig: options.hostConfig ?? `/etc/kamal-backup/${slug}.yml`,
    configText: options.configText,
    volumes: config.paths.flatMap((p) => (p.volume ? [{name: p.volume.name, ...(p.volume.runtime && {runtime: p.volume.runtime}), mountedAt: mountedVolumePath(p.volume.name), writable: false}] : [])),
    directories,
    secrets: secretNames(config),
    files: readFiles(config),
    cron: scheduleAsCron(config.schedule, config.app),
    onCalendar: onCalendar(config.schedule, config.app),
    scheduleText: config.schedule.text,
    containerStateDir: '/var/lib/kamal-backup',
    usesVolumes: config.paths.some((p) => p.volume),
  }
}

/** The directory holding `file` (for bind mounts of a file's directory). */
export const parentOf = (file: string): string => dirname(file)

/** The header every generated file starts with: what wrote it and how to keep it current. */
export function header(comment: string, d: Deployment, runtime: RuntimeTarget): string {
  return [
    `${comment} Generated by \`kamal-backup generate ${runtime}\` for app ${d.app} from its kamal-backup.yml.`,
    `${comment} Regenerate after changing that file; \`kamal-backup generate ${runtime} --out DIR --check\` fails when this copy is stale.`,
    `${comment} No secret values are written here: see the comments for what to fill in, and where.`,
  ].join('\n')
}
