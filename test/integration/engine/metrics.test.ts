// Prometheus metrics with the real tools: the textfile a backup writes passes `promtool check metrics`; `schedule
// --metrics-port` is scraped by a real Prometheus server on 127.0.0.1 and queried over its HTTP API; the example
// alert rules pass `promtool check rules` and `promtool test rules` (a stale, a failing and an undrilled app).
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {kbSpawn} from '../../support/cli.ts'
import {closedPort} from '../../support/http-recorder.ts'
import {freshRepo, lab, run, tempDir} from '../../support/lab.ts'
import {cli, localRestic, readState, writeApp, type App} from './support.ts'

const EXAMPLES = fileURLToPath(new URL('../../../examples/prometheus/', import.meta.url))

async function app(): Promise<App> {
  const dir = tempDir('metrics')
  const storage = join(dir, 'storage')
  mkdirSync(storage)
  for (let i = 0; i < 3; i++) writeFileSync(join(storage, `f${i}`), `${i}\n`)
  const db = join(dir, 'app.sqlite3')
  const r = await run(lab().bins.sqlite3, [db, 'CREATE TABLE t (v); INSERT INTO t VALUES (1);'])
  assert.equal(r.code, 0, r.stderr)
  const repo = freshRepo('0.18')
  return writeApp({version: '0.18', repo, databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], paths: [`  - ${storage}`], restic: localRestic(repo)})
}

async function promtool(args: string[], input?: string): Promise<{code: number | null; out: string}> {
  return new Promise((resolve) => {
    const child = spawn('promtool', args, {cwd: EXAMPLES, stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    child.stdout.on('data', (c) => (out += c))
    child.stderr.on('data', (c) => (out += c))
    child.stdin.end(input ?? '')
    child.on('close', (code) => resolve({code, out}))
  })
}

/** `name{labels} value` lines of the exposition format, as a map from the series to its value. */
function samples(text: string): Map<string, number> {
  return new Map(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]))
}

describe('metrics', () => {
  const children: ChildProcess[] = []
  after(() => {
    for (const c of children) c.kill('SIGKILL')
  })

  test('a backup writes <state>/metrics.prom; promtool accepts it; its values are the run\'s', async () => {
    const a = await app()
    assert.equal((await cli(a, ['backup', '--force'])).code, 0)
    const text = readFileSync(join(a.state, 'metrics.prom'), 'utf8')
    const check = await promtool(['check', 'metrics'], text)
    assert.equal(check.code, 0, check.out)
    const record = readState(a, 'last_backup.json')
    const values = samples(text)
    assert.equal(values.get(`kamal_backup_last_run_success{app="${a.name}"}`), 1)
    assert.equal(values.get(`kamal_backup_last_success_timestamp_seconds{app="${a.name}",group="database:main"}`), Date.parse(record.finished_at) / 1000)
    assert.equal(values.get(`kamal_backup_files{app="${a.name}",group="files",path="${record.file_counts[0].path}"}`), 3)
    assert.equal(values.get(`kamal_backup_schedule_interval_seconds{app="${a.name}"}`), 86_400)
    assert.ok(!values.has(`kamal_backup_last_drill_success{app="${a.name}"}`), 'no drill: no drill gauge (it would read as a failed one)')
  })

  test('schedule --metrics-port serves /metrics and /healthz; a real Prometheus scrapes it and answers a query', async () => {
    const a = await app()
    assert.equal((await cli(a, ['backup', '--force'])).code, 0)
    const finished = Date.parse(readState(a, 'last_backup.json').finished_at) / 1000
    const port = await closedPort()
    const scheduler = kbSpawn(['schedule', '--local', '--backup-config', a.config, '--metrics-port', String(port), '--metrics-address', '127.0.0.1'], {cwd: a.dir, env: a.env})
    children.push(scheduler)
    let log = ''
    scheduler.stderr!.on('data', (c) => (log += c))
    const base = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 20_000
    let metrics: Response | undefined
    while (!metrics && Date.now() < deadline) {
      metrics = await fetch(`${base}/metrics`).catch(() => undefined)
      if (!metrics) await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(metrics, `the endpoint answered (scheduler log:\n${log})`)
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const check = await promtool(['check', 'metrics'], await metrics.text())
    assert.equal(check.code, 0, check.out)
    const healthz = await fetch(`${base}/healthz`)
    assert.equal(healthz.status, 200)
    assert.equal((await fetch(`${base}/nope`)).status, 404)

    // A real Prometheus: scrape every second, then ask it over its HTTP API.
    const promDir = tempDir('prometheus')
    const webPort = await closedPort()
    writeFileSync(join(promDir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: kamal-backup\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`)
    const prometheus = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`], {stdio: ['ignore', 'ignore', 'pipe']})
    children.push(prometheus)
    let promLog = ''
    prometheus.stderr!.on('data', (c) => (promLog = (promLog + c).slice(-4000)))
    const query = `kamal_backup_last_success_timestamp_seconds{app="${a.name}",group="files"}`
    let value: number | undefined
    const until = Date.now() + 45_000
    while (value === undefined && Date.now() < until) {
      const answer = await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(query)}`).then((r) => r.json() as Promise<{data?: {result?: {value: [number, string]}[]}}>).catch(() => undefined)
      const result = answer?.data?.result?.[0]
      if (result) value = Number(result.value[1])
      else await new Promise((r) => setTimeout(r, 500))
    }
    assert.equal(value, finished, `Prometheus answered the query (its log:\n${promLog})`)
    prometheus.kill('SIGTERM')
    scheduler.kill('SIGTERM')
    await new Promise((r) => scheduler.once('close', r))
    assert.equal(scheduler.exitCode, 0, log)
  })

  test('the example alert rules: promtool check rules, and promtool test rules with a stale, a failing and an undrilled app, and a copy that fell behind', async () => {
    const check = await promtool(['check', 'rules', 'kamal-backup.rules.yml'])
    assert.equal(check.code, 0, check.out)
    assert.match(check.out, /SUCCESS: 5 rules found/)
    const unit = await promtool(['test', 'rules', 'kamal-backup.rules.test.yml'])
    assert.equal(unit.code, 0, unit.out)
  })
})
