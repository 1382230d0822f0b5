// copy-pg: one run of the ~1 GiB PostgreSQL dump sent to a second local repository with a different password:
// `kamal-backup copy --local` (list both sides, restic copy, list the copy again as proof) next to the bare
// `restic copy <snapshot>` of the same snapshot with RESTIC_FROM_*, per restic version. Each round starts from an
// empty copy made with `restic init --copy-chunker-params` (not timed), so both sides copy every byte.
import {existsSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fmtBytes, interleave, log, resultTable, summarize, timedPipeline} from '../lib.mjs'
import {cliEnv, freshRepo, kb, postgresUrl, resticVersions, scratchDir} from '../support/app.mjs'
import {ensureBenchDatabase, lab} from '../support/pg.mjs'
import {execFileSync} from 'node:child_process'

export const description = '`kamal-backup copy --local` of one run (a BENCH_PG_MB MiB PostgreSQL database, dump about 1 GiB) to a second local repository vs bare `restic copy` of the same snapshot, per restic version'
export const defaultIterations = 5

const COPY_PASSWORD = 'bench-copy-password'

export async function run({iterations}) {
  const mb = Number(process.env.BENCH_PG_MB ?? 1300)
  const db = await ensureBenchDatabase(mb)
  const work = scratchDir('copy')
  const cases = []
  try {
    for (const restic of resticVersions()) {
      const v = restic.version
      const dir = join(work, `r${v}`)
      mkdirSync(dir, {recursive: true})
      const primary = join(dir, 'primary')
      const copy = join(dir, 'copy')
      const state = join(dir, 'state')
      const config = join(dir, 'kamal-backup.yml')
      // No retention on the copy: both sides do the copy and nothing else.
      writeFileSync(config, [
        'app: bench',
        'databases:',
        `  - {name: main, adapter: postgres, url: "${postgresUrl(db.name)}", password: {secret: BENCH_PG_PASSWORD}}`,
        'restic:',
        `  repository: ${primary}`,
        '  password: {secret: BENCH_RESTIC_PASSWORD}',
        '  forget_after_backup: false',
        '  copies:',
        `    - {name: second, repository: ${copy}, password: {secret: BENCH_COPY_PASSWORD}}`,
        `state: {path: ${state}}`,
        '',
      ].join('\n'))
      const env = {...cliEnv(restic), BENCH_COPY_PASSWORD: COPY_PASSWORD}
      // The primary holds one run of the dump (made once, by kamal-backup; its own copy step is what a backup does,
      // the copy is then emptied for the rounds).
      freshRepo(restic, primary)
      await kb(['backup', '--force', '--local', '--backup-config', config], {cwd: dir, env: {...env, BENCH_COPY_PASSWORD: 'unused'}, expect: 0})
      const snapshot = JSON.parse(execFileSync(restic.bin, ['snapshots', '--json', '--no-lock'], {env: {...process.env, RESTIC_REPOSITORY: primary, RESTIC_PASSWORD: lab().resticPassword}, encoding: 'utf8'}))[0].id
      const raw = {...process.env, RESTIC: restic.bin, RESTIC_REPOSITORY: copy, RESTIC_PASSWORD: COPY_PASSWORD, RESTIC_FROM_REPOSITORY: primary, RESTIC_FROM_PASSWORD: lab().resticPassword, RESTIC_CACHE_DIR: join(dir, 'raw-cache')}
      const emptyCopy = () => {
        rmSync(copy, {recursive: true, force: true})
        execFileSync(restic.bin, ['init', '--copy-chunker-params'], {env: raw, stdio: 'pipe'})
      }
      cases.push({
        name: `bare restic copy (restic ${v})`,
        baseline: true,
        version: v,
        run: async () => {
          emptyCopy()
          return timedPipeline(`"$RESTIC" copy ${snapshot}`, {env: raw, cwd: dir, cpu: true})
        },
      })
      cases.push({
        name: `kamal-backup copy (restic ${v})`,
        version: v,
        run: async () => {
          emptyCopy()
          return kb(['copy', '--local', '--backup-config', config], {cwd: dir, env})
        },
      })
      // The copy step of a backup, as every run does it: timed by the run itself (copies[].duration_ms: open the
      // copy, restic copy of the run's snapshot, the proof listing); the backup around it is not counted.
      cases.push({
        name: `copy step of kamal-backup backup (restic ${v})`,
        version: v,
        note: 'the step as the run record times it',
        run: async () => {
          emptyCopy()
          const r = await kb(['backup', '--force', '--local', '--json', '--backup-config', config], {cwd: dir, env})
          const copy = JSON.parse(r.stdout).copies?.[0]
          if (copy?.status !== 'ok') throw new Error(`the copy step did not succeed: ${JSON.stringify(copy)}`)
          return copy.duration_ms
        },
      })
    }
    log(`copy-pg: ${db.name} is ${fmtBytes(db.sizeBytes)} (dump ${fmtBytes(db.dumpBytes)}); ${iterations} rounds of ${cases.length} cases`)
    const results = await interleave(cases, {iterations, warmup: 1, label: 'copy-pg'})
    const summary = summarize(results, (r) => results.find((b) => b.baseline && cases.find((c) => c.name === b.name).version === cases.find((c) => c.name === r.name).version))
    const mbps = (r) => `${(db.dumpBytes / (1 << 20) / (r.median / 1000)).toFixed(0)} MiB/s`
    const markdown = [
      `One run of database ${db.name} (a ${fmtBytes(db.dumpBytes)} custom-format dump) in a local primary repository, copied to an empty local repository with another password (made with \`init --copy-chunker-params\` before each round, not timed). \`kamal-backup copy\` is the whole command: Node's start, the listing of the primary (to find the latest run), \`restic copy\`, the proof (the copy listed: the snapshot there with the run id and the primary's id as \`original\`) and the record. The copy step of a backup is the same minus the start and the primary's listing (the run knows its snapshots), timed by the run itself.`,
      '',
      resultTable(summary, [{title: 'throughput (dump bytes)', value: mbps}]),
    ].join('\n')
    return {database: db, summary, markdown}
  } finally {
    if (existsSync(work)) rmSync(work, {recursive: true, force: true})
  }
}
