// notify: what telling people costs a backup run. The same small backup (one SQLite database, one path, restic
// 0.18, a fresh repository each time) without notify targets; with a webhook (on every event: started and ok) and a
// healthchecks target (start and success pings) that answer at once; and with a webhook that never answers (its
// 5 s deadline). Target: answering targets add at most 30 ms; a silent one at most its deadline, nothing else.
import {createServer} from 'node:http'
import {existsSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {interleave, log, resultTable, summarize} from '../lib.mjs'
import {cliEnv, freshRepo, kb, resticVersions, scratchDir} from '../support/app.mjs'
import {lab} from '../support/pg.mjs'
import {execFileSync} from 'node:child_process'

export const description = '`backup --force --local` without notify targets, with a webhook + healthchecks answering at once, and with a webhook that never answers (restic 0.18)'
export const defaultIterations = 10

export async function run({iterations}) {
  const work = scratchDir('notify')
  const restic = resticVersions().find((r) => r.version === '0.18') ?? resticVersions()[0]
  const storage = join(work, 'storage')
  mkdirSync(join(storage, 'uploads'), {recursive: true})
  for (let i = 0; i < 50; i++) writeFileSync(join(storage, 'uploads', `f-${i}.bin`), Buffer.alloc(4096, i))
  const db = join(work, 'app.sqlite3')
  execFileSync(lab().bins.sqlite3, [db, 'CREATE TABLE t(v); INSERT INTO t VALUES (1);'])
  const received = {count: 0}
  const hanging = new Set()
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      received.count++
      if (req.url.startsWith('/hang')) return void hanging.add(res)
      res.writeHead(200).end('OK')
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  const variants = {
    none: [],
    answering: [`  - {type: webhook, url: "${url}/hook", events: [started, ok]}`, `  - {type: healthchecks, url: "${url}/hc"}`],
    silent: [`  - {type: webhook, url: "${url}/hang", events: [ok]}`],
  }
  const cases = []
  try {
    for (const [name, notify] of Object.entries(variants)) {
      const dir = join(work, name)
      mkdirSync(dir)
      const repo = join(dir, 'repo')
      const state = join(dir, 'state')
      const config = join(dir, 'kamal-backup.yml')
      writeFileSync(config, ['app: bench', 'databases:', `  - {name: primary, adapter: sqlite, path: ${db}}`, 'paths:', `  - ${storage}`, 'restic:', `  repository: ${repo}`, '  password: {secret: BENCH_RESTIC_PASSWORD}', `state: {path: ${state}}`, ...(notify.length > 0 ? ['notify:', ...notify] : []), ''].join('\n'))
      const reset = () => {
        rmSync(state, {recursive: true, force: true})
        freshRepo(restic, repo)
      }
      const label = {none: 'no notify targets', answering: 'webhook (started, ok) + healthchecks (start, success), answering', silent: 'a webhook that never answers (5 s deadline)'}[name]
      cases.push({name: `backup, ${label}`, baseline: name === 'none', run: async () => (reset(), kb(['backup', '--force', '--local', '--backup-config', config], {cwd: dir, env: cliEnv(restic)}))})
    }
    log(`notify: ${iterations} rounds of ${cases.length} cases`)
    const results = await interleave(cases, {iterations, warmup: 1, label: 'notify'})
    const summary = summarize(results)
    const markdown = [resultTable(summary), '', `Requests the targets received over the whole benchmark: ${received.count}.`].join('\n')
    return {summary, markdown}
  } finally {
    for (const res of hanging) res.destroy()
    server.closeAllConnections()
    server.close()
    if (existsSync(work)) rmSync(work, {recursive: true, force: true})
  }
}
