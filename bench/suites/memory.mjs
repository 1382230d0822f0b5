// memory: the Node process's own peak memory during `kamal-backup backup` of a small and a large PostgreSQL database.
// The dump streams from pg_dump to restic through an OS pipe (restic 0.14) or restic's --stdin-from-command
// (0.17+): it never passes through Node's buffers, so Node's peak must not grow with the dump.
import {existsSync, mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {fmtBytes, fmtMs, interleave, log, markdownTable, summarize} from '../lib.mjs'
import {cliEnv, freshRepo, kb, resticVersions, scratchDir, writeBackupConfig} from '../support/app.mjs'
import {ensureBenchDatabase} from '../support/pg.mjs'

export const description = "Node's own peak RSS during `kamal-backup backup` of a ~100 MiB and a ~1 GiB PostgreSQL dump (BENCH_MEMORY_MB database sizes, default 128,1300), per restic version"
export const defaultIterations = 3

export async function run({iterations}) {
  const sizes = (process.env.BENCH_MEMORY_MB ?? '128,1300').split(',').map(Number)
  const databases = []
  for (const mb of sizes) databases.push(await ensureBenchDatabase(mb))
  const work = scratchDir('memory')
  const cases = []
  try {
    for (const db of databases) {
      for (const restic of resticVersions()) {
        const dir = join(work, `${db.mb}-${restic.version}`)
        mkdirSync(dir, {recursive: true})
        const repo = join(dir, 'repo')
        const state = join(dir, 'state')
        const config = writeBackupConfig(dir, {database: db.name, repo, state})
        const env = cliEnv(restic)
        cases.push({
          name: `${fmtBytes(db.dumpBytes)} dump, restic ${restic.version}`,
          db,
          version: restic.version,
          run: async () => {
            rmSync(state, {recursive: true, force: true})
            freshRepo(restic, repo)
            const r = await kb(['backup', '--force', '--local', '--backup-config', config], {cwd: dir, env})
            rmSync(repo, {recursive: true, force: true})
            return r
          },
        })
      }
    }
    log(`memory: ${databases.map((d) => `${d.name} (dump ${fmtBytes(d.dumpBytes)})`).join(', ')}; ${iterations} rounds of ${cases.length} cases`)
    const summary = summarize(await interleave(cases, {iterations, warmup: 0, label: 'memory'}))
    const rows = summary.map((r, i) => [r.name, String(r.n), fmtMs(r.median), `${fmtBytes(r.nodeRssMedianKiB * 1024)} / ${fmtBytes(r.nodeRssMaxKiB * 1024)}`, fmtBytes(r.rssMedianKiB * 1024), `${(cases[i].db.dumpBytes / (1 << 20) / (r.median / 1000)).toFixed(0)} MiB/s`])
    // Per restic version: the large dump's Node peak against the small one's.
    const growth = resticVersions().map(({version}) => {
      const mine = summary.filter((r, i) => cases[i].version === version)
      const small = mine[0]
      const large = mine.at(-1)
      return `restic ${version}: ${fmtBytes(large.nodeRssMaxKiB * 1024)} (largest of ${large.n} runs, ${large.name.split(',')[0]}) against ${fmtBytes(small.nodeRssMaxKiB * 1024)} (${small.name.split(',')[0]}), ${((large.nodeRssMaxKiB / small.nodeRssMaxKiB - 1) * 100).toFixed(1)} %`
    })
    const markdown = [
      markdownTable(['case', 'n', 'wall median', 'Node peak RSS (median / max)', 'max RSS of any process (median)', 'dump throughput'], rows),
      '',
      `Node's peak for the largest dump against the smallest: ${growth.join('; ')}.`,
    ].join('\n')
    return {databases, summary, markdown}
  } finally {
    if (existsSync(work)) rmSync(work, {recursive: true, force: true})
  }
}
