// Shared by the restore and drill tests: an app config in a temporary directory, the built CLI run against it
// with --local, and small readers for the repository and the state directory.
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kb, kbJson, type CliResult} from '../../support/cli.ts'
import {createPostgresDatabase, freshRepo, lab, psql, resticBin, tempDir, uniqueName, type TestDatabase} from '../../support/lab.ts'

export interface App {
  dir: string
  config: string
  state: string
  env: Record<string, string>
  app: string
  repo: string
}

export function writeApp(options: {databases: string[]; paths: string[]; repo: string; version?: '0.14' | '0.18'; extra?: string; dir?: string; repository?: string}): App {
  const dir = options.dir ?? tempDir('restore')
  const app = uniqueName('rt')
  const state = join(dir, 'state')
  const config = join(dir, 'kamal-backup.yml')
  writeFileSync(
    config,
    [
      `app: ${app}`,
      ...(options.databases.length > 0 ? ['databases:', ...options.databases] : []),
      ...(options.paths.length > 0 ? ['paths:', ...options.paths.map((p) => `  - ${p}`)] : []),
      'restic:',
      `  repository: ${options.repository ?? options.repo}`,
      '  password: {secret: RESTIC_PASSWORD}',
      '  retention: {keep_last: 20}',
      `state: {path: ${state}}`,
      options.extra ?? '',
    ].join('\n') + '\n',
  )
  const env = {
    RESTIC_PASSWORD: lab().resticPassword,
    PG_PW: lab().postgres.appPassword,
    MY_PW: lab().mariadb.password,
    KAMAL_BACKUP_RESTIC: resticBin(options.version ?? '0.18'),
  }
  return {dir, config, state, env, app, repo: options.repo}
}

export const cli = (app: App, args: string[], extra: {env?: Record<string, string | undefined>; input?: string; timeoutMs?: number} = {}): Promise<CliResult> =>
  kb([...args, '--local', '--backup-config', app.config], {cwd: app.dir, env: {...app.env, ...extra.env}, ...(extra.input !== undefined && {input: extra.input}), ...(extra.timeoutMs !== undefined && {timeoutMs: extra.timeoutMs})})

export async function runs(app: App): Promise<{id: string; complete: boolean; pre_restore: boolean}[]> {
  return (await kbJson(['list', '--local', '--backup-config', app.config], {cwd: app.dir, env: app.env})).json
}

export async function backup(app: App, env: Record<string, string> = {}): Promise<string> {
  const result = await cli(app, ['backup', '--force'], {env})
  if (result.code !== 0) throw new Error(`backup failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`)
  const match = /backup run (\d{8}T\d{6}Z) ok/.exec(result.stdout)
  if (match) return match[1]!
  return (await runs(app))[0]!.id
}

export function sqlite(path: string, sql: string): string {
  return execFileSync(lab().bins.sqlite3, [path, sql], {encoding: 'utf8'}).trim()
}

/** A checksum of every row of a SQLite table, in rowid order, each value as SQLite itself quotes it. */
export function sqliteRowsChecksum(path: string, table: string): string {
  const rows = execFileSync(lab().bins.sqlite3, ['-batch', '-cmd', '.mode quote', path, `SELECT * FROM "${table}" ORDER BY rowid;`], {encoding: 'utf8'})
  return `${rows.split('\n').filter(Boolean).length}:${createHash('sha256').update(rows).digest('hex')}`
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T
}

export function historyLines(path: string): any[] {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
  } catch {
    return []
  }
}

/** Two PostgreSQL databases a and b (a table t with one value v) and a files directory (f.txt holding v), backed
 *  up twice into a fresh restic 0.18 repository: the first run with v = 1, the second with v = 2; then v = 3
 *  everywhere, so that restoring either run changes something. */
export interface TwoRuns {
  a: TestDatabase
  b: TestDatabase
  app: App
  files: string
  first: {id: string; time: string}
  second: string
  /** Sets v in both databases and in f.txt. */
  setAll(v: number): Promise<void>
}

export async function twoRuns(prefix: string): Promise<TwoRuns> {
  const a = await createPostgresDatabase()
  const b = await createPostgresDatabase()
  for (const db of [a, b]) await psql(db.name, 'CREATE TABLE t (v int); INSERT INTO t VALUES (1);', {as: 'app'})
  const dir = tempDir(prefix)
  const files = join(dir, 'storage')
  mkdirSync(files)
  writeFileSync(join(files, 'f.txt'), '1\n')
  const app = writeApp({dir, repo: freshRepo('0.18'), databases: [`  - {name: a, adapter: postgres, url: "${a.url}", password: {secret: PG_PW}}`, `  - {name: b, adapter: postgres, url: "${b.url}", password: {secret: PG_PW}}`], paths: [files]})
  const setAll = async (v: number) => {
    await psql(a.name, `UPDATE t SET v = ${v}`, {as: 'app'})
    await psql(b.name, `UPDATE t SET v = ${v}`, {as: 'app'})
    writeFileSync(join(files, 'f.txt'), `${v}\n`)
  }
  await backup(app)
  await setAll(2)
  const second = await backup(app)
  const first = (await runs(app)).find((r) => r.id !== second) as unknown as {id: string; time: string}
  await setAll(3)
  return {a, b, app, files, first, second, setAll}
}
