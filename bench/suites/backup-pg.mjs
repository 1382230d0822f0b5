// backup-pg: `kamal-backup backup --force --local` of a ~1 GiB PostgreSQL database next to the raw pipeline it wraps,
// `pg_dump --format=custom --compress=0 | restic backup --stdin`, on the same restic, each into a fresh repository.
// Also counts the processes each run starts (strace), against the minimum (pg_dump and restic).
import {existsSync, mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, PIPELINE_ARGS, fmtBytes, interleave, log, markdownTable, resultTable, summarize, timedPipeline} from '../lib.mjs'
import {cliEnv, freshRepo, kb, rawEnv, resticVersions, scratchDir, writeBackupConfig} from '../support/app.mjs'
import {ensureBenchDatabase} from '../support/pg.mjs'
import {countExecs, EXEC_ALIGN, EXEC_HEADER, execTable} from '../support/execs.mjs'

export const description = '`kamal-backup backup --force --local` of a BENCH_PG_MB (default 1300: a dump of about 1 GiB) MiB PostgreSQL database vs `pg_dump | restic backup --stdin`, per restic version'
export const defaultIterations = 5

const DUMP = '"$PG_DUMP" --format=custom --compress=0 --no-owner --no-privileges'

export async function run({iterations}) {
  const mb = Number(process.env.BENCH_PG_MB ?? 1300)
  const db = await ensureBenchDatabase(mb)
  const work = scratchDir('backup')
  const cases = []
  const envs = {}
  try {
    for (const restic of resticVersions()) {
      const v = restic.version
      const dir = join(work, `r${v}`)
      const paths = {cliRepo: join(dir, 'cli-repo'), rawRepo: join(dir, 'raw-repo'), state: join(dir, 'state'), cache: join(dir, 'raw-cache')}
      const fresh = (...extra) => {
        for (const p of [paths.cliRepo, paths.rawRepo, paths.state, paths.cache, ...extra]) rmSync(p, {recursive: true, force: true})
      }
      mkdirSync(dir, {recursive: true})
      const config = writeBackupConfig(dir, {database: db.name, repo: paths.cliRepo, state: paths.state})
      const env = cliEnv(restic)
      const raw = rawEnv(restic, {repo: paths.rawRepo, cache: paths.cache, database: db.name})
      envs[v] = {dir, config, env, raw, paths}
      cases.push({
        name: `raw pg_dump | restic backup --stdin (restic ${v})`,
        baseline: true,
        version: v,
        run: async () => {
          fresh()
          freshRepo(restic, paths.rawRepo)
          const r = await timedPipeline(`${DUMP} | "$RESTIC" backup --stdin --stdin-filename bench.main.pgdump`, {env: raw, cwd: dir, cpu: true})
          fresh()
          return r
        },
      })
      if (Number(v.split('.')[1]) >= 17) {
        cases.push({
          name: `raw restic backup --stdin-from-command (restic ${v})`,
          version: v,
          run: async () => {
            fresh()
            freshRepo(restic, paths.rawRepo)
            const r = await timedPipeline(`"$RESTIC" backup --stdin-filename bench.main.pgdump --stdin-from-command -- ${DUMP}`, {env: raw, cwd: dir, cpu: true})
            fresh()
            return r
          },
        })
      }
      cases.push({
        name: `kamal-backup backup (restic ${v})`,
        version: v,
        run: async () => {
          fresh()
          freshRepo(restic, paths.cliRepo)
          const r = await kb(['backup', '--force', '--local', '--backup-config', config], {cwd: dir, env})
          fresh()
          return r
        },
      })
    }
    log(`backup-pg: ${db.name} is ${fmtBytes(db.sizeBytes)} (dump ${fmtBytes(db.dumpBytes)})${db.cached ? ', reused' : `, generated in ${db.generatedSeconds.toFixed(0)} s`}; ${iterations} rounds of ${cases.length} cases`)
    const results = await interleave(cases, {iterations, warmup: 1, label: 'backup-pg'})
    const summary = summarize(results, (r) => results.find((b) => b.baseline && cases.find((c) => c.name === b.name).version === cases.find((c) => c.name === r.name).version))
    const mbps = (r) => `${(db.dumpBytes / (1 << 20) / (r.median / 1000)).toFixed(0)} MiB/s`

    // Processes started by one run of each (not timed; strace slows process start-up a little).
    const execRows = []
    const execDetails = {}
    for (const restic of resticVersions()) {
      const v = restic.version
      const {dir, config, env, raw, paths} = envs[v]
      for (const p of [paths.cliRepo, paths.rawRepo, paths.state, paths.cache]) rmSync(p, {recursive: true, force: true})
      freshRepo(restic, paths.cliRepo)
      const cli = await countExecs(process.execPath, [BIN, 'backup', '--force', '--local', '--backup-config', config], {cwd: dir, env})
      freshRepo(restic, paths.rawRepo)
      const base = await countExecs('bash', PIPELINE_ARGS(`${DUMP} | "$RESTIC" backup --stdin --stdin-filename bench.main.pgdump`), {cwd: dir, env: raw})
      for (const p of [paths.cliRepo, paths.rawRepo, paths.state, paths.cache]) rmSync(p, {recursive: true, force: true})
      execDetails[v] = {cli, raw: base}
      if (cli) execRows.push(...execTable(`kamal-backup backup (restic ${v})`, cli), ...execTable(`raw pipe (restic ${v})`, base))
    }

    const markdown = [
      `Database ${db.name}: ${fmtBytes(db.sizeBytes)} on disk, a ${fmtBytes(db.dumpBytes)} custom-format dump (uncompressed; restic compresses it). ` +
        `Generated once in ${Number(db.firstGeneratedSeconds).toFixed(0)} s and reused while it exists${db.cached ? ' (reused in this run)' : ''}. Every run writes into a fresh copy of the lab's empty repository.`,
      '',
      resultTable(summary, [{title: 'dump throughput', value: mbps}]),
      '',
      execRows.length > 0
        ? `Processes started per run (strace -f, successful execve; the raw pipeline's own bash counted):\n\n${markdownTable(EXEC_HEADER, execRows, EXEC_ALIGN)}`
        : 'Process counts: strace is not available, skipped.',
    ].join('\n')
    return {database: db, summary, execs: execDetails, markdown}
  } finally {
    if (existsSync(work)) rmSync(work, {recursive: true, force: true})
  }
}
