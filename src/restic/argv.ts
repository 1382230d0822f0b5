// Pure builders for every restic invocation kamal-backup makes. They read nothing from the process: the
// repository environment (credentials included) is passed in and travels in `env`, never in argv.
import {Secret} from '../redact.js'
import type {Argv, CommandSpec} from '../exec/spec.js'
import type {RetentionPolicy} from '../config/types.js'

export interface ResticTarget {
  bin: string
  env: Readonly<Record<string, string | Secret | undefined>>
  /** `-o key=value` extended options. */
  options: readonly string[]
}

export interface SnapshotTags {
  /** Written as repeated --tag flags. */
  tags: readonly string[]
  host: string
  /** The run's start (`--time`, UTC: restic's environment has TZ=UTC): every snapshot of a run gets the same time,
   *  so retention buckets (keep_daily...) never split a run that straddles midnight. */
  time?: Date
}

/** `--time` wants "2006-01-02 15:04:05" in restic's local time zone, which resticTarget sets to UTC. */
export function resticTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ')
}

const snapshotArgs = (snapshot: SnapshotTags) => ['--host', snapshot.host, ...(snapshot.time ? ['--time', resticTime(snapshot.time)] : []), ...tagArgs(snapshot.tags)]

function spec(target: ResticTarget, args: string[], label: string, extraEnv?: Record<string, string | Secret | undefined>): CommandSpec {
  const options = target.options.flatMap((o) => ['-o', o])
  return {argv: [target.bin, ...options, ...args] as unknown as Argv, env: {...target.env, ...extraEnv}, label}
}

const tagArgs = (tags: readonly string[]) => tags.flatMap((t) => ['--tag', t])

export const resticArgv = {
  version: (target: ResticTarget): CommandSpec => ({argv: [target.bin, 'version'], label: 'restic version'}),

  /** The cheapest call that opens the repository: tells "not initialised" from "wrong password". */
  catConfig: (target: ResticTarget): CommandSpec => spec(target, ['cat', 'config'], 'restic cat config'),

  init: (target: ResticTarget): CommandSpec => spec(target, ['init'], 'restic init'),

  /** A database dump read from stdin (restic < 0.17, and SQLite copies). */
  backupStdin: (target: ResticTarget, filename: string, snapshot: SnapshotTags): CommandSpec =>
    spec(target, ['backup', '--json', '--stdin', '--stdin-filename', filename, ...snapshotArgs(snapshot)], `restic backup ${filename}`),

  /** restic ≥ 0.17 runs the dump itself and saves no snapshot if it exits non-zero. The dump runs through `env -i`
   *  with only its own variables (isolatedProducer): restic's credentials never reach it, and its never reach
   *  restic. `base` is the environment the variables it inherits come from. */
  backupFromCommand: (target: ResticTarget, filename: string, snapshot: SnapshotTags, producer: CommandSpec, base: NodeJS.ProcessEnv): CommandSpec =>
    spec(target, ['backup', '--json', '--stdin-filename', filename, ...snapshotArgs(snapshot), '--stdin-from-command', '--', ...isolatedProducer(producer, base)], `restic backup ${filename}`),

  backupPaths: (target: ResticTarget, paths: readonly string[], excludes: readonly string[], snapshot: SnapshotTags): CommandSpec =>
    spec(target, ['backup', '--json', ...snapshotArgs(snapshot), ...excludes.flatMap((e) => ['--exclude', e]), '--', ...paths], 'restic backup files'),

  /** One --tag with commas means AND in restic. --no-lock: listing reads only snapshot files, so it needs no lock,
   *  which saves the lock file's write and removal (about 0.2 s of every listing) and lets `list` and the choice
   *  of a run to restore work while a prune holds the exclusive lock. Whatever reads data (dump, restore, ls)
   *  still locks, so a prune cannot remove packs under it. */
  snapshots: (target: ResticTarget, allTags: readonly string[]): CommandSpec => spec(target, ['snapshots', '--json', '--no-lock', '--tag', allTags.join(',')], 'restic snapshots'),

  /** One forget for every group: each database and the files have stable host + paths. `keepTags`: snapshots with
   *  these tags stay whatever the policy says (the newest complete run). */
  forget: (target: ResticTarget, allTags: readonly string[], policy: RetentionPolicy, prune: boolean, keepTags: readonly string[] = []): CommandSpec =>
    spec(target, ['forget', '--json', '--tag', allTags.join(','), '--group-by', 'host,paths', ...keepArgs(policy), ...keepTags.flatMap((t) => ['--keep-tag', t]), ...(prune ? ['--prune'] : [])], prune ? 'restic forget --prune' : 'restic forget'),

  forgetIds: (target: ResticTarget, ids: readonly string[]): CommandSpec => spec(target, ['forget', ...ids], 'restic forget'),

  check: (target: ResticTarget, readDataSubset?: string): CommandSpec =>
    spec(target, ['check', ...(readDataSubset ? ['--read-data-subset', readDataSubset] : [])], 'restic check'),

  unlock: (target: ResticTarget): CommandSpec => spec(target, ['unlock'], 'restic unlock'),

  /** Into `target` (the copy), from `source`: restic reads the source through RESTIC_FROM_* (0.14 to 0.18), so
   *  neither repository nor password is ever on argv. */
  copy: (target: ResticTarget, source: ResticTarget, ids: readonly string[]): CommandSpec => spec(bothBackends(target, source), ['copy', ...ids], 'restic copy', fromEnvironment(source)),

  /** A new copy that chunks files as `source` does, so the same data deduplicates the same way in both. */
  initCopy: (target: ResticTarget, source: ResticTarget): CommandSpec => spec(bothBackends(target, source), ['init', '--copy-chunker-params'], 'restic init --copy-chunker-params', fromEnvironment(source)),

  /** The lock files' ids, without taking a lock (a stale exclusive one would refuse it). */
  listLocks: (target: ResticTarget): CommandSpec => spec(target, ['list', 'locks', '--no-lock'], 'restic list locks'),

  catLock: (target: ResticTarget, id: string): CommandSpec => spec(target, ['cat', 'lock', id, '--no-lock'], 'restic cat lock'),

  dump: (target: ResticTarget, snapshotId: string, path: string): CommandSpec => spec(target, ['dump', snapshotId, path], `restic dump ${path}`),

  restore: (target: ResticTarget, snapshotId: string, destination: string, includes: readonly string[] = []): CommandSpec =>
    spec(target, ['restore', snapshotId, '--target', destination, ...includes.flatMap((i) => ['--include', i])], 'restic restore'),

  ls: (target: ResticTarget, snapshotId: string): CommandSpec => spec(target, ['ls', '--json', snapshotId], 'restic ls'),
}

export function keepArgs(policy: RetentionPolicy): string[] {
  const out: string[] = []
  const add = (flag: string, value: number | string | undefined) => {
    if (value === undefined || value === 0) return
    out.push(flag, String(value))
  }
  add('--keep-last', policy.keepLast)
  add('--keep-hourly', policy.keepHourly)
  add('--keep-daily', policy.keepDaily)
  add('--keep-weekly', policy.keepWeekly)
  add('--keep-monthly', policy.keepMonthly)
  add('--keep-yearly', policy.keepYearly)
  add('--keep-within', policy.keepWithin)
  return out
}

/** A producer as restic runs it: `env -i NAME=value … argv`, with the variables it inherits (`inheritEnv`, from
 *  `base`) and its own. Those values are on a command line, so a producer's env may hold no secret: its password
 *  travels in a file (src/db/credentials.ts). */
export function isolatedProducer(producer: CommandSpec, base: NodeJS.ProcessEnv): string[] {
  if (!producer.inheritEnv) throw new Error(`internal: ${producer.label ?? producer.argv[0]} must say what it inherits (inheritEnv) to run under restic`)
  const own = producer.env ?? {}
  const pairs: string[] = []
  for (const name of producer.inheritEnv) if (base[name] !== undefined && !(name in own)) pairs.push(`${name}=${base[name]}`)
  for (const [name, value] of Object.entries(own)) {
    if (value === undefined) continue
    if (value instanceof Secret) throw new Error(`internal: ${name} of ${producer.label ?? producer.argv[0]} is a secret: it cannot go on restic's command line`)
    pairs.push(`${name}=${value}`)
  }
  return ['env', '-i', ...pairs, ...producer.argv]
}

const FROM_NAMES: Record<string, string> = {RESTIC_REPOSITORY: 'RESTIC_FROM_REPOSITORY', RESTIC_REPOSITORY_FILE: 'RESTIC_FROM_REPOSITORY_FILE', RESTIC_PASSWORD: 'RESTIC_FROM_PASSWORD', RESTIC_PASSWORD_FILE: 'RESTIC_FROM_PASSWORD_FILE', RESTIC_PASSWORD_COMMAND: 'RESTIC_FROM_PASSWORD_COMMAND'}

/** The source repository of `restic copy`/`init --copy-chunker-params`, as restic's RESTIC_FROM_* variables. */
export function fromEnvironment(source: ResticTarget): Record<string, string | Secret | undefined> {
  return Object.fromEntries(Object.entries(FROM_NAMES).map(([own, from]) => [from, source.env[own]]))
}

/** One process reaches both repositories: the source's backend settings (its S3 keys, its -o sftp.command) are
 *  needed too. The target's win where both set one (the config refuses backend variables that differ). */
function bothBackends(target: ResticTarget, source: ResticTarget): ResticTarget {
  const backend = Object.fromEntries(Object.entries(source.env).filter(([name]) => !(name in FROM_NAMES)))
  return {...target, env: {...backend, ...target.env}, options: [...new Set([...target.options, ...source.options])]}
}
