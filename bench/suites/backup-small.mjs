// backup-small: the small app of issue 3 — one SQLite database (in WAL mode, inside the Active Storage directory,
// as Rails 8 keeps it) and one path — backed up into a fresh repository with retention, next to the least a
// person could type for the same result. Every restic call that opens the repository pays key derivation, a lock
// and the index (0.3-0.9 s here), so the count of such calls is the figure that matters; the Ruby gem makes 8.
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {basename, join} from 'node:path'
import {BIN, NODE, PIPELINE_ARGS, interleave, log, markdownTable, resultTable, summarize, timedPipeline} from '../lib.mjs'
import {cliEnv, freshRepo, kb, resticVersions, scratchDir} from '../support/app.mjs'
import {countExecs} from '../support/execs.mjs'
import {lab} from '../support/pg.mjs'

export const description = '`kamal-backup backup --force --local` of one SQLite database and one path into a fresh repository (retention on), vs the same restic calls typed by hand; repository-opening calls counted'
export const defaultIterations = 10

/** restic subcommands that do not open the repository. */
const NO_REPOSITORY = new Set(['version', 'init', 'help', 'generate', 'self-update', 'cache'])

export async function run({iterations}) {
  const work = scratchDir('small')
  const sqlite3 = lab().bins.sqlite3
  const storage = join(work, 'storage')
  const db = join(storage, 'production.sqlite3')
  makeApp(storage, db, sqlite3)
  const cases = []
  const counted = {}
  try {
    for (const restic of resticVersions()) {
      const v = restic.version
      const dir = join(work, `r${v}`)
      mkdirSync(dir, {recursive: true})
      const repo = join(dir, 'repo')
      const state = join(dir, 'state')
      const config = join(dir, 'kamal-backup.yml')
      writeFileSync(config, [
        'app: bench',
        'databases:',
        `  - {name: primary, adapter: sqlite, path: ${db}}`,
        'paths:',
        `  - ${storage}`,
        'restic:',
        `  repository: ${repo}`,
        '  password: {secret: BENCH_RESTIC_PASSWORD}',
        '  forget_after_backup: true',
        '  check_after_backup: false',
        '  retention: {keep_daily: 7, keep_weekly: 4}',
        `state: {path: ${state}}`,
        '',
      ].join('\n'))
      const env = cliEnv(restic)
      const tags = 'kamal-backup,app:bench'
      // The hand-typed equivalent: a consistent SQLite copy, two snapshots (database, files without the live
      // database), retention per group. Three repository-opening calls: the least there can be.
      const raw = {...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: lab().resticPassword, RESTIC_CACHE_DIR: join(dir, 'raw-cache'), RESTIC: restic.bin, SQLITE3: sqlite3, DB: db, STORAGE: storage, COPY: join(dir, 'copy.sqlite3')}
      const script = [
        '"$SQLITE3" "$DB" ".backup \'$COPY\'"',
        `"$RESTIC" backup -q --host kamal-backup-bench --tag ${tags},type:database,database:primary --stdin --stdin-filename bench.primary.sqlite3 < "$COPY"`,
        `"$RESTIC" backup -q --host kamal-backup-bench --tag ${tags},type:files --exclude "$DB" --exclude "$DB-wal" --exclude "$DB-shm" "$STORAGE"`,
        `"$RESTIC" forget -q --prune --tag ${tags} --group-by host,paths --keep-daily 7 --keep-weekly 4`,
        'rm -f "$COPY"',
      ].join(' && ')
      const reset = () => {
        for (const p of [state, join(dir, 'raw-cache'), join(dir, 'copy.sqlite3')]) rmSync(p, {recursive: true, force: true})
        freshRepo(restic, repo)
      }
      cases.push({name: `by hand: sqlite3 .backup, 2x restic backup, restic forget --prune (restic ${v})`, baseline: true, version: v, run: async () => (reset(), timedPipeline(script, {env: raw, cwd: dir, cpu: true}))})
      cases.push({name: `kamal-backup backup (restic ${v})`, version: v, run: async () => (reset(), kb(['backup', '--force', '--local', '--backup-config', config], {cwd: dir, env}))})
      // Counted once each, untimed (strace): which restic subcommands ran.
      reset()
      const cli = await countExecs(NODE, [BIN, 'backup', '--force', '--local', '--backup-config', config], {cwd: dir, env})
      reset()
      const byHand = await countExecs('bash', PIPELINE_ARGS(script), {cwd: dir, env: raw})
      counted[v] = {cli: resticCalls(cli, restic.bin), byHand: resticCalls(byHand, restic.bin)}
    }
    log(`backup-small: ${iterations} rounds of ${cases.length} cases`)
    const results = await interleave(cases, {iterations, warmup: 1, label: 'backup-small'})
    const summary = summarize(results, (r) => results.find((b) => b.baseline && cases.find((c) => c.name === b.name).version === cases.find((c) => c.name === r.name).version))
    const rows = Object.entries(counted).flatMap(([v, c]) => [
      [`kamal-backup backup (restic ${v})`, String(c.cli.opening.length), c.cli.all.join(', ')],
      [`by hand (restic ${v})`, String(c.byHand.opening.length), c.byHand.all.join(', ')],
    ])
    const markdown = [
      resultTable(summary),
      '',
      'restic calls per run (strace -f; "opening" = every subcommand but version/init/help/cache):',
      '',
      markdownTable(['run', 'repository-opening calls', 'restic calls'], rows, ['l', 'r', 'l']),
    ].join('\n')
    return {summary, counted, markdown}
  } finally {
    if (existsSync(work)) rmSync(work, {recursive: true, force: true})
  }
}

/** A small Rails-like storage directory: a WAL-mode SQLite database (about 4 MiB) and 200 uploaded files. */
function makeApp(storage, db, sqlite3) {
  mkdirSync(join(storage, 'uploads'), {recursive: true})
  for (let i = 0; i < 200; i++) writeFileSync(join(storage, 'uploads', `file-${i}.bin`), Buffer.alloc(8192, i))
  execFileSync(sqlite3, [db], {input: `PRAGMA journal_mode=WAL;
CREATE TABLE posts(id INTEGER PRIMARY KEY, title TEXT, body TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO posts(title, body) SELECT 'post ' || i, hex(randomblob(96)) FROM n;
`})
}

function resticCalls(calls, bin) {
  if (!calls) return {all: ['(strace not available)'], opening: []}
  const subcommands = calls.filter((c) => c.program === bin || basename(c.program) === basename(bin)).map((c) => c.argv.slice(1).find((a) => !a.startsWith('-')) ?? '?')
  return {all: subcommands.map((s) => `restic ${s}`), opening: subcommands.filter((s) => !NO_REPOSITORY.has(s))}
}
