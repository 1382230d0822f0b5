// restore-pg: `kamal-backup restore local` and `drill local` of the BENCH_PG_MB PostgreSQL backup into an empty local
// database, next to the raw pipeline they wrap: `restic dump | pg_restore --single-transaction --exit-on-error`.
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, PIPELINE_ARGS, fmtBytes, interleave, log, markdownTable, resultTable, summarize, timedPipeline} from '../lib.mjs'
import {cliEnv, freshRepo, kb, rawEnv, resticVersions, scratchDir, writeBackupConfig, writeLocalConfig} from '../support/app.mjs'
import {countExecs, EXEC_ALIGN, EXEC_HEADER, execTable} from '../support/execs.mjs'
import {dropDatabase, ensureBenchDatabase, psql, recreateDatabase} from '../support/pg.mjs'

export const description = '`kamal-backup restore local` and `drill local` of the BENCH_PG_MB (default 1300: a dump of about 1 GiB) MiB PostgreSQL backup vs `restic dump | pg_restore`, per restic version'
export const defaultIterations = 3

const RESTORE = '"$PG_RESTORE" --no-owner --no-privileges --single-transaction --exit-on-error'
const TARGETS = {raw: 'kb_bench_restore_raw', hand: 'kb_bench_restore_hand', restore: 'kb_bench_restore_cli', drill: 'kb_bench_restore_drill'}

export async function run({iterations}) {
  const mb = Number(process.env.BENCH_PG_MB ?? 1300)
  const db = await ensureBenchDatabase(mb)
  const count = (name) => psql(name, 'SELECT (SELECT count(*) FROM users) || \'/\' || (SELECT count(*) FROM events);')
  const expected = count(db.name)
  // Each run starts from the same quiet server and disk: an empty target, the earlier runs' writes on disk (sync),
  // and no restored database left behind, whose autovacuum (a VACUUM ANALYZE of 5.6 M fresh rows, about a minute
  // after the restore) would otherwise compete with whichever run comes next. The rows are checked after every
  // run, untimed, before the target is dropped.
  const isolated = async (target, work) => {
    recreateDatabase(target)
    execFileSync('sync')
    const result = await work()
    const rows = count(target)
    dropDatabase(target)
    if (rows !== expected) throw new Error(`${target} has ${rows} rows (users/events), the source ${expected}`)
    return result
  }
  const work = scratchDir('restore')
  const cases = []
  const setups = {}
  try {
    for (const restic of resticVersions()) {
      const v = restic.version
      const dir = join(work, `r${v}`)
      mkdirSync(dir, {recursive: true})
      const repo = freshRepo(restic, join(dir, 'repo'))
      const state = join(dir, 'state')
      const config = writeBackupConfig(dir, {database: db.name, repo, state})
      const env = cliEnv(restic)
      // The backup to restore, made once by the CLI (not timed). The snapshot's file is /bench.main.pgdump.
      log(`restore-pg: backing up ${db.name} with restic ${v} (set-up)`)
      await kb(['backup', '--force', '--local', '--backup-config', config], {cwd: dir, env})
      // Both CLI commands read config/kamal-backup.local.yml from their working directory: one directory each.
      const cliDirs = {}
      for (const kind of ['restore', 'drill']) {
        cliDirs[kind] = join(dir, kind)
        mkdirSync(cliDirs[kind])
        writeLocalConfig(cliDirs[kind], {database: TARGETS[kind], state: join(cliDirs[kind], 'state')})
      }
      const raw = rawEnv(restic, {repo, cache: join(dir, 'raw-cache'), database: TARGETS.raw})
      const rawScript = `"$RESTIC" dump latest /bench.main.pgdump | ${RESTORE} --dbname="$PGDATABASE"`
      // What a person types who first finds the snapshot to restore (the latest of this app's database), as the
      // CLI must: one more repository open, for the listing.
      const handScript =
        `id=$("$RESTIC" snapshots --json --no-lock --latest 1 --tag kamal-backup,app:bench,database:main | sed -n 's/.*"id":"\\([0-9a-f]*\\)".*/\\1/p') && ` +
        `"$RESTIC" dump "$id" /bench.main.pgdump | ${RESTORE} --dbname="$PGDATABASE"`
      const args = {
        restore: ['restore', 'local', 'latest', '--yes', '--backup-config', config],
        drill: ['drill', 'local', 'latest', '--yes', '--backup-config', config],
      }
      setups[v] = {dir, raw, rawScript, env, cliDirs, args}
      cases.push({
        name: `raw restic dump | pg_restore (restic ${v})`,
        baseline: true,
        version: v,
        run: () => isolated(TARGETS.raw, () => timedPipeline(rawScript, {env: raw, cwd: dir, cpu: true})),
      })
      const hand = {...raw, PGDATABASE: TARGETS.hand}
      cases.push({
        name: `by hand: restic snapshots, then restic dump <id> | pg_restore (restic ${v})`,
        version: v,
        run: () => isolated(TARGETS.hand, () => timedPipeline(handScript, {env: hand, cwd: dir, cpu: true})),
      })
      for (const kind of ['restore', 'drill']) {
        cases.push({
          name: `kamal-backup ${kind} local (restic ${v})`,
          version: v,
          run: () => isolated(TARGETS[kind], () => kb(args[kind], {cwd: cliDirs[kind], env})),
        })
      }
    }
    log(`restore-pg: ${iterations} rounds of ${cases.length} cases (no warm-up round: the set-up backup read the data)`)
    const results = await interleave(cases, {iterations, warmup: 0, label: 'restore-pg'})
    const summary = summarize(results, (r) => results.find((b) => b.baseline && cases.find((c) => c.name === b.name).version === cases.find((c) => c.name === r.name).version))

    const execRows = []
    const execDetails = {}
    for (const restic of resticVersions()) {
      const v = restic.version
      const s = setups[v]
      recreateDatabase(TARGETS.restore)
      const cli = await countExecs(process.execPath, [BIN, ...s.args.restore], {cwd: s.cliDirs.restore, env: s.env})
      recreateDatabase(TARGETS.raw)
      const base = await countExecs('bash', PIPELINE_ARGS(s.rawScript), {cwd: s.dir, env: s.raw})
      execDetails[v] = {cli, raw: base}
      if (cli) execRows.push(...execTable(`kamal-backup restore local (restic ${v})`, cli), ...execTable(`raw pipe (restic ${v})`, base))
    }
    const mbps = (r) => `${(db.dumpBytes / (1 << 20) / (r.median / 1000)).toFixed(0)} MiB/s`
    const markdown = [
      `Restores the ${fmtBytes(db.dumpBytes)} dump of ${db.name} (${fmtBytes(db.sizeBytes)} on disk: 2 tables, 3 indexes, a view) into an empty local database, re-created before every run (not timed). ` +
        `Each run starts from an empty target after \`sync\`, and its target is dropped after its row counts were checked against the source (${expected} users/events; untimed): no restored database is left for autovacuum to work on during the next run.`,
      '',
      resultTable(summary, [{title: 'dump throughput', value: mbps}]),
      '',
      execRows.length > 0 ? `Processes started per run (strace -f, successful execve):\n\n${markdownTable(EXEC_HEADER, execRows, EXEC_ALIGN)}` : 'Process counts: strace is not available, skipped.',
    ].join('\n')
    return {database: db, summary, execs: execDetails, markdown}
  } finally {
    for (const t of Object.values(TARGETS)) {
      try {
        dropDatabase(t)
      } catch {}
    }
    if (existsSync(work)) rmSync(work, {recursive: true, force: true})
  }
}
