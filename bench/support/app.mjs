// A throwaway kamal-backup "app" for the database benchmarks: a directory with kamal-backup.yml (repository,
// state directory, one PostgreSQL database), optional config/kamal-backup.local.yml, and fresh restic repositories
// copied from the lab's templates. Secrets reach the CLI through the environment ({secret: NAME}), never argv.
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {BIN, NODE, ROOT, timed} from '../lib.mjs'
import {lab, pgBin} from './pg.mjs'

export function resticVersions() {
  const wanted = (process.env.BENCH_RESTIC ?? '0.14,0.18').split(',').map((s) => s.trim()).filter(Boolean)
  return wanted.map((version) => {
    const r = lab().restic.find((x) => x.version === version)
    if (!r) throw new Error(`restic ${version} is not in the lab (env.json); BENCH_RESTIC=${process.env.BENCH_RESTIC}`)
    return r
  })
}

export function scratchDir(prefix) {
  return mkdtempSync(join(tmpdir(), `kb-bench-${prefix}-`))
}

/** A new, empty repository (a copy of the lab's template for that restic version, password lab().resticPassword). */
export function freshRepo(restic, dest) {
  rmSync(dest, {recursive: true, force: true})
  execFileSync('cp', ['-a', restic.template, dest])
  return dest
}

export function postgresUrl(database) {
  const pg = lab().postgres
  return `postgres://${pg.appUser}@${pg.host}:${pg.port}/${database}`
}

/** kamal-backup.yml for one PostgreSQL database; no retention and no check after the backup (the minimal run). */
export function writeBackupConfig(dir, {database, repo, state}) {
  const file = join(dir, 'kamal-backup.yml')
  writeFileSync(
    file,
    [
      'app: bench',
      'databases:',
      `  - {name: main, adapter: postgres, url: "${postgresUrl(database)}", password: {secret: BENCH_PG_PASSWORD}}`,
      'restic:',
      `  repository: ${repo}`,
      '  password: {secret: BENCH_RESTIC_PASSWORD}',
      '  forget_after_backup: false',
      '  check_after_backup: false',
      `state: {path: ${state}}`,
      '',
    ].join('\n'),
  )
  return file
}

/** config/kamal-backup.local.yml sending database "main" to a local database. */
export function writeLocalConfig(dir, {database, state}) {
  mkdirSync(join(dir, 'config'), {recursive: true})
  writeFileSync(
    join(dir, 'config', 'kamal-backup.local.yml'),
    ['databases:', `  - {name: main, url: "${postgresUrl(database)}", password: {secret: BENCH_PG_PASSWORD}}`, `state: {path: ${state}}`, ''].join('\n'),
  )
}

/** The CLI's environment: secrets, the restic binary, and the PostgreSQL clients found the way the accessory image
 *  finds them (KAMAL_BACKUP_POSTGRES_CLIENT_ROOT/<major>/bin, after asking the server for its version). */
export function cliEnv(restic) {
  const env = {
    ...process.env,
    NO_COLOR: '1',
    BENCH_PG_PASSWORD: lab().postgres.appPassword,
    BENCH_RESTIC_PASSWORD: lab().resticPassword,
    KAMAL_BACKUP_RESTIC: restic.bin,
    KAMAL_BACKUP_POSTGRES_CLIENT_ROOT: pgBin('').replace(/\/\d+\/bin\/?$/, ''),
  }
  for (const name of ['CI', 'RESTIC_REPOSITORY', 'RESTIC_PASSWORD', 'RESTIC_CACHE_DIR', 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE']) delete env[name]
  return env
}

/** The raw baseline's environment: restic and libpq settings only through the environment. */
export function rawEnv(restic, {repo, cache, database}) {
  const pg = lab().postgres
  return {
    ...process.env,
    RESTIC_REPOSITORY: repo,
    RESTIC_PASSWORD: lab().resticPassword,
    RESTIC_CACHE_DIR: cache,
    PGHOST: pg.host,
    PGPORT: String(pg.port),
    PGUSER: pg.appUser,
    PGPASSWORD: pg.appPassword,
    PGDATABASE: database,
    PGSSLMODE: 'disable',
    RESTIC: restic.bin,
    PG_DUMP: pgBin('pg_dump'),
    PG_RESTORE: pgBin('pg_restore'),
  }
}

/** Runs the built CLI, timed; the result also has `nodeRssKiB`, the Node process's own peak resident set. */
export async function kb(args, {cwd, env, expect = 0, cpu = true}) {
  const file = join(tmpdir(), `kb-bench-node-rss-${process.pid}-${++rssFiles}`)
  const preload = `--require ${join(ROOT, 'bench', 'support', 'node-peak-rss.cjs')}`
  const withRss = {...env, KB_BENCH_NODE_RSS_FILE: file, NODE_OPTIONS: [env?.NODE_OPTIONS, preload].filter(Boolean).join(' ')}
  try {
    const r = await timed(NODE, [BIN, ...args], {cwd, env: withRss, expect, cpu})
    return {...r, nodeRssKiB: Number(readFileSync(file, 'utf8'))}
  } finally {
    rmSync(file, {force: true})
  }
}
let rssFiles = 0
