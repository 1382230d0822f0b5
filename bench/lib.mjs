// Shared helpers for the benchmarks in bench/: timing child processes, interleaving a candidate with its baseline
// in the same run, statistics (median, p90, min), markdown tables and a description of the machine.
// Node built-ins only, so `npm run bench` needs nothing beyond a built CLI (and the lab for the database benchmarks).
import {spawn, execFileSync} from 'node:child_process'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const BIN = join(ROOT, 'bin', 'run.js')
export const NODE = process.execPath

/** Progress goes to stderr so that stdout stays the report (markdown, or JSON with --json). */
export function log(...parts) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${parts.join(' ')}\n`)
}

// ---- processes ---------------------------------------------------------------------------------------------------

/**
 * Run a command to completion and return {ms, code, stdout, stderr}. `ms` is the wall clock from spawn to exit,
 * taken with hrtime in this process (the same spawn overhead applies to every case, baseline included).
 * Throws when the exit code is not `expect` (default 0), with the end of stderr.
 */
export function timed(cmd, args, {cwd, env, expect = 0, input, timeoutMs = 30 * 60_000, shell = false, cpu = false} = {}) {
  if (cpu && existsSync(TIME)) return timedWithCpu(cmd, args, {cwd, env, expect, input, timeoutMs, shell})
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(cmd, args, {cwd, env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], shell})
    const out = []
    const err = []
    let outBytes = 0
    child.stdout.on('data', (b) => {
      // Keep the head only: some commands print a lot and the report needs none of it.
      if (outBytes < 1 << 20) out.push(b)
      outBytes += b.length
    })
    child.stderr.on('data', (b) => err.push(b))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      clearTimeout(timer)
      const stdout = Buffer.concat(out).toString('utf8')
      const stderr = Buffer.concat(err).toString('utf8')
      if (expect !== null && code !== expect) {
        const shown = [cmd, ...args].join(' ')
        reject(new Error(`${shown} exited ${code ?? signal} (expected ${expect})\n--- stderr ---\n${stderr.slice(-3000)}\n--- stdout ---\n${stdout.slice(-1500)}`))
        return
      }
      resolve({ms, code, stdout, stderr})
    })
    child.stdin.on('error', () => {})
    child.stdin.end(input ?? '')
  })
}

const TIME = '/usr/bin/time'
let timeFiles = 0

/**
 * timed() under GNU time: also the CPU time (user + system) of the command and every descendant it waited for,
 * and the largest resident set of any one of them. CPU time is less sensitive than the wall clock to other jobs on
 * the machine. time's own start (about 1 ms) is in `ms`, for the baseline too.
 */
async function timedWithCpu(cmd, args, options) {
  const file = join(os.tmpdir(), `kb-bench-time-${process.pid}-${++timeFiles}`)
  try {
    const r = await timed(TIME, ['-f', '%U %S %M', '-o', file, cmd, ...args], options)
    const [user, system, rssKiB] = readFileSync(file, 'utf8').trim().split('\n').at(-1).split(' ').map(Number)
    return {...r, cpuMs: (user + system) * 1000, maxRssKiB: rssKiB}
  } finally {
    rmSync(file, {force: true})
  }
}

/**
 * A shell pipeline, timed as a whole; `set -o pipefail` is not in POSIX sh, so bash is used. --norc matters: bash
 * reads ~/.bashrc when its stdin is a socket (it guesses it was started by sshd), and Node's stdio pipes are
 * sockets; here root's .bashrc runs `pyenv init`, 60 processes, which the baseline must not pay.
 */
export function timedPipeline(script, options = {}) {
  return timed('bash', PIPELINE_ARGS(script), options)
}

export const PIPELINE_ARGS = (script) => ['--norc', '--noprofile', '-o', 'pipefail', '-c', script]

/** Synchronous command for set-up steps; returns trimmed stdout, throws with stderr on failure. */
export function sh(cmd, args, {env, cwd, input} = {}) {
  try {
    return execFileSync(cmd, args, {env: env ?? process.env, cwd, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20}).trim()
  } catch (error) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${error.stderr || error.message}`)
  }
}

// ---- interleaving ------------------------------------------------------------------------------------------------

/**
 * Runs every case `iterations` times, interleaved: iteration i runs all cases, starting at a rotating offset, so
 * every case goes first equally often and slow drifts of the machine (other jobs, page cache, thermal) hit the
 * candidate and the baseline alike. Each case is {name, baseline?, run(i) → ms}; `run` does its own untimed set-up
 * and returns only the measured part. `warmup` rounds are run and discarded.
 */
export async function interleave(cases, {iterations, warmup = 1, label = ''} = {}) {
  const samples = new Map(cases.map((c) => [c.name, []]))
  const cpu = new Map(cases.map((c) => [c.name, []]))
  const rss = new Map(cases.map((c) => [c.name, []]))
  const nodeRss = new Map(cases.map((c) => [c.name, []]))
  for (let round = -warmup; round < iterations; round++) {
    const offset = ((round % cases.length) + cases.length) % cases.length
    const order = [...cases.slice(offset), ...cases.slice(0, offset)]
    for (const c of order) {
      // A case returns its wall-clock ms, or timed()'s result ({ms, cpuMs?, maxRssKiB?}).
      const result = await c.run(round)
      if (round < 0) continue
      samples.get(c.name).push(typeof result === 'number' ? result : result.ms)
      if (typeof result === 'object' && Number.isFinite(result.cpuMs)) cpu.get(c.name).push(result.cpuMs)
      if (typeof result === 'object' && Number.isFinite(result.maxRssKiB)) rss.get(c.name).push(result.maxRssKiB)
      if (typeof result === 'object' && Number.isFinite(result.nodeRssKiB)) nodeRss.get(c.name).push(result.nodeRssKiB)
    }
    if (round >= 0 && (iterations <= 10 || (round + 1) % 10 === 0 || round + 1 === iterations)) {
      log(`${label} round ${round + 1}/${iterations}: ${order.map((c) => `${c.name} ${fmtMs(samples.get(c.name).at(-1))}`).join(', ')}`)
    }
  }
  return cases.map((c) => ({name: c.name, baseline: Boolean(c.baseline), note: c.note, samples: samples.get(c.name), cpu: cpu.get(c.name), rss: rss.get(c.name), nodeRss: nodeRss.get(c.name)}))
}

// ---- statistics --------------------------------------------------------------------------------------------------

export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN
  // Nearest rank: p90 of 10 samples is the 9th smallest; with fewer than 10 samples it is close to the maximum.
  const rank = Math.max(1, Math.ceil(q * sorted.length))
  return sorted[rank - 1]
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

export function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  return {n: sorted.length, median: median(sorted), p90: quantile(sorted, 0.9), min: sorted[0], max: sorted.at(-1), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length}
}

/**
 * Adds statistics and, for every non-baseline case, its ratio to the baseline: the ratio of the medians, the median
 * of the per-round ratios (paired: each round's candidate over the same round's baseline), and the difference of the
 * medians in ms. `baselineOf(case)` picks the baseline (default: the case marked `baseline`).
 */
export function summarize(results, baselineOf) {
  const byName = new Map(results.map((r) => [r.name, r]))
  const pick = baselineOf ?? (() => results.find((r) => r.baseline))
  return results.map((r) => {
    const s = stats(r.samples)
    const base = r.baseline ? undefined : typeof pick === 'function' ? pick(r) : byName.get(pick)
    const out = {...r, ...s}
    if (r.cpu?.length) out.cpuMedian = median(r.cpu)
    if (r.rss?.length) out.rssMedianKiB = median(r.rss)
    if (r.nodeRss?.length) {
      out.nodeRssMedianKiB = median(r.nodeRss)
      out.nodeRssMaxKiB = Math.max(...r.nodeRss)
    }
    if (base && r.cpu?.length && base.cpu?.length) out.cpuRatio = out.cpuMedian / median(base.cpu)
    if (base) {
      const b = stats(base.samples)
      const n = Math.min(r.samples.length, base.samples.length)
      out.vs = base.name
      out.ratio = s.median / b.median
      out.pairedRatio = median(Array.from({length: n}, (_, i) => r.samples[i] / base.samples[i]))
      out.deltaMs = s.median - b.median
    }
    return out
  })
}

// ---- formatting --------------------------------------------------------------------------------------------------

export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return '–'
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`
  return `${ms.toFixed(1)} ms`
}

export function fmtRatio(x) {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : '–'
}

export function fmtDelta(ms) {
  if (!Number.isFinite(ms)) return '–'
  return `${ms >= 0 ? '+' : '−'}${fmtMs(Math.abs(ms))}`
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return '–'
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`
  return `${n} B`
}

/** `align`: 'l' or 'r' per column; by default the first column is left-aligned and the others (figures) right. */
export function markdownTable(header, rows, align = header.map((_, i) => (i === 0 ? 'l' : 'r'))) {
  const lines = [`| ${header.join(' | ')} |`, `| ${align.map((a) => (a === 'r' ? '---:' : '---')).join(' | ')} |`]
  // A "|" inside a cell (a shell pipeline in a case name) would split the cell.
  for (const row of rows) lines.push(`| ${row.map((cell) => String(cell).replaceAll('|', '\\|')).join(' | ')} |`)
  return lines.join('\n')
}

/** The standard table of a summarized benchmark: one row per case. `extra` adds columns: [{title, value(row)}]. */
export function resultTable(summary, extra = []) {
  if (summary.some((r) => Number.isFinite(r.cpuMedian))) {
    extra = [
      {title: 'CPU median (user+sys)', value: (r) => fmtMs(r.cpuMedian)},
      {title: 'CPU ratio', value: (r) => (r.baseline ? '1.00×' : fmtRatio(r.cpuRatio))},
      {title: 'max RSS (one process)', value: (r) => (Number.isFinite(r.rssMedianKiB) ? fmtBytes(r.rssMedianKiB * 1024) : '–')},
      ...(summary.some((r) => Number.isFinite(r.nodeRssMedianKiB)) ? [{title: 'Node peak RSS (median / max)', value: (r) => (Number.isFinite(r.nodeRssMedianKiB) ? `${fmtBytes(r.nodeRssMedianKiB * 1024)} / ${fmtBytes(r.nodeRssMaxKiB * 1024)}` : '–')}] : []),
      ...extra,
    ]
  }
  return markdownTable(
    ['case', 'n', 'median', 'p90', 'min', 'ratio to baseline (medians)', 'paired ratio', 'Δ median', ...extra.map((e) => e.title)],
    summary.map((r) => [
      r.baseline ? `${r.name} (baseline)` : r.name,
      String(r.n),
      fmtMs(r.median),
      fmtMs(r.p90),
      fmtMs(r.min),
      r.baseline ? '1.00×' : fmtRatio(r.ratio),
      r.baseline ? '–' : fmtRatio(r.pairedRatio),
      r.baseline ? '–' : fmtDelta(r.deltaMs),
      ...extra.map((e) => e.value(r)),
    ]),
  )
}

// ---- the machine ---------------------------------------------------------------------------------------------------

function tryRun(cmd, args) {
  try {
    return execFileSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000}).trim()
  } catch {
    return null
  }
}

export function labEnv() {
  const file = join(process.env.KB_LAB || '/tmp/kb-lab', 'env.json')
  if (!existsSync(file)) return undefined
  return JSON.parse(readFileSync(file, 'utf8'))
}

export function machine() {
  const lab = labEnv()
  const cpus = os.cpus()
  const restic = {}
  for (const r of lab?.restic ?? []) restic[r.version] = tryRun(r.bin, ['version'])?.split(' ').slice(0, 2).join(' ') ?? null
  const commit = tryRun('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'])
  const dirty = tryRun('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin', 'scripts'])
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism?.() ?? cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    ramGiB: Math.round(os.totalmem() / (1 << 30)),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    restic,
    postgres: lab ? tryRun(join(lab.postgres.binDir, 'pg_dump'), ['--version']) : null,
    commit: commit ? `${commit}${dirty ? ' (with uncommitted changes in src/bin/scripts)' : ''}` : null,
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  }
}

export function machineMarkdown(m) {
  const restic = Object.entries(m.restic).map(([k, v]) => v ?? `${k}: missing`).join(', ') || 'not in the lab'
  return [
    `- date: ${m.date}`,
    `- machine: ${m.nproc} CPUs (${m.cpu}), ${m.ramGiB} GiB RAM, ${m.kernel}, load average at start ${m.loadavg}`,
    `- Node ${m.node}; ${restic}; ${m.postgres ?? 'pg_dump not found'}`,
    `- kamal-backup at ${m.commit ?? 'unknown commit'}`,
  ].join('\n')
}
