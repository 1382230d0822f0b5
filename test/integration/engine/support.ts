// Shared helpers for the engine's integration tests: an "app" is a temp dir with a kamal-backup.yml, its own
// state directory and its own repository; `cli()` runs the built CLI on it with --local, the way the accessory
// runs it. Nothing here fakes a component: restic, the databases and the repositories are the lab's.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {kb, type CliResult} from '../../support/cli.ts'
import {lab, restic, resticBin, tempDir, uniqueName, type RepoTarget, type ResticVersion} from '../../support/lab.ts'

export interface App {
  name: string
  dir: string
  config: string
  state: string
  env: Record<string, string | undefined>
  version: ResticVersion
  /** How the tests themselves reach the repository with restic. */
  repo: RepoTarget | string
}

export interface AppOptions {
  version: ResticVersion
  /** YAML lines under `databases:` (each starting with "  - "). */
  databases?: string[]
  /** YAML lines under `paths:`. */
  paths?: string[]
  /** YAML lines under `restic:` (repository and password included). Default: a local repo at `repo`. */
  restic: string[]
  /** Extra top-level YAML. */
  extra?: string[]
  env?: Record<string, string | undefined>
  repo: RepoTarget | string
  prefix?: string
}

export function writeApp(options: AppOptions): App {
  const dir = tempDir(options.prefix ?? 'eng')
  const name = uniqueName('eng').replace(/_/g, '-')
  const state = join(dir, 'state')
  const config = join(dir, 'kamal-backup.yml')
  const lines = [
    `app: ${name}`,
    ...(options.databases && options.databases.length > 0 ? ['databases:', ...options.databases] : []),
    ...(options.paths && options.paths.length > 0 ? ['paths:', ...options.paths] : []),
    'restic:',
    ...options.restic.map((l) => `  ${l}`),
    ...(options.extra ?? []),
  ]
  writeFileSync(config, lines.join('\n') + '\n')
  return {
    name,
    dir,
    config,
    state,
    version: options.version,
    repo: options.repo,
    env: {
      KAMAL_BACKUP_STATE_DIR: state,
      KAMAL_BACKUP_RESTIC: resticBin(options.version),
      RESTIC_PASSWORD: lab().resticPassword,
      PG_PW: lab().postgres.appPassword,
      MY_PW: lab().mariadb.password,
      // The tests' own environment must not leak into the CLI's decisions.
      KAMAL_BACKUP_IN_ACCESSORY: undefined,
      CI: '1',
      ...options.env,
    },
  }
}

/** A local repository app: `restic` lines for a repository path with the lab password. */
export function localRestic(repo: string, extra: string[] = []): string[] {
  return [`repository: ${repo}`, 'password: {secret: RESTIC_PASSWORD}', ...extra]
}

export function cli(app: App, args: string[], extra: {env?: Record<string, string | undefined>; timeoutMs?: number} = {}): Promise<CliResult> {
  return kb([...args, '--local', '--backup-config', app.config], {cwd: app.dir, env: {...app.env, ...extra.env}, ...(extra.timeoutMs !== undefined && {timeoutMs: extra.timeoutMs})})
}

export async function cliJson<T = any>(app: App, args: string[], extra: {env?: Record<string, string | undefined>} = {}): Promise<{result: CliResult; json: T}> {
  const result = await cli(app, [...args, '--json'], extra)
  let json: T
  try {
    json = JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`stdout of ${args.join(' ')} --json is not one JSON document (exit ${result.code}):\n${result.stdout.slice(0, 2000)}\nstderr:\n${result.stderr.slice(-2000)}`)
  }
  return {result, json}
}

export interface RepoSnapshot {
  id: string
  short_id: string
  time: string
  hostname: string
  paths: string[]
  tags?: string[]
}

/** The snapshots as restic itself lists them (not through kamal-backup). */
export async function repoSnapshots(app: App): Promise<RepoSnapshot[]> {
  const r = await restic(app.version, ['snapshots', '--json', '--no-lock'], {repo: app.repo})
  assert.equal(r.code, 0, `restic snapshots failed: ${r.stderr}`)
  return (JSON.parse(r.stdout) as RepoSnapshot[] | null) ?? []
}

export async function repoLocks(app: App): Promise<string[]> {
  const r = await restic(app.version, ['list', 'locks', '--no-lock'], {repo: app.repo})
  assert.equal(r.code, 0, `restic list locks failed: ${r.stderr}`)
  return r.stdout.split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l.trim()))
}

export function readState<T = any>(app: App, file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(join(app.state, file), 'utf8')) as T
  } catch {
    return undefined
  }
}

export function readHistory<T = any>(app: App, file = 'runs.jsonl'): T[] {
  try {
    return readFileSync(join(app.state, file), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T)
  } catch {
    return []
  }
}

/** A fault injector: an executable shell script. */
export function script(dir: string, name: string, body: string): string {
  mkdirSync(dir, {recursive: true})
  const path = join(dir, name)
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

/** Validates a document against schemas/output/<name>.schema.json (every output schema loaded, ajv strict). */
export function assertSchema(name: string, doc: unknown): void {
  assertMatchesSchema(`${name}.schema.json`, doc)
}

export function assertNoSecret(where: string, text: string, secrets: readonly string[]): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${where} contains the secret ${JSON.stringify(s)}:\n${text.slice(Math.max(0, text.indexOf(s) - 300), text.indexOf(s) + 300)}`)
}

export function pgDatabaseLine(name: string, db: {url: string}, password = '{secret: PG_PW}'): string {
  return `  - {name: ${name}, adapter: postgres, url: "${db.url}", password: ${password}}`
}

export function mariaDatabaseLine(name: string, db: {url: string}, password = '{secret: MY_PW}'): string {
  return `  - {name: ${name}, adapter: mysql, url: "${db.url}", password: ${password}}`
}
