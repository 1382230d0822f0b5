#!/usr/bin/env node
// Runs the test suite with Node's built-in runner (TypeScript through tsx) and ends with "N passed, N failed".
//   node test/run.mjs            unit + integration (integration needs the lab: bash test/lab/up.sh)
//   node test/run.mjs --unit     unit tests only (no servers needed)
//   node test/run.mjs <files...> just those files
// The fault suite (test/integration/faults/) runs after the rest, in a runner of its own: node's --test-timeout
// also bounds a whole file, and its matrix takes minutes; each of its cases has its own deadlines.
import {spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const unitOnly = args.includes('--unit')
const explicit = args.filter((a) => !a.startsWith('--'))

function collect(dir) {
  let out = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out = out.concat(collect(path))
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

const files = (explicit.length > 0
  ? explicit
  : [...collect(join(root, 'test/unit')), ...(unitOnly ? [] : collect(join(root, 'test/integration')))]
).map((f) => relative(root, resolve(root, f)))

const isFault = (f) => f.startsWith('test/integration/faults/')
const phases = [
  // A test that hangs fails after 4 minutes (the slowest takes about 20 s); see also test/support/file-exit.mjs.
  {files: files.filter((f) => !isFault(f)), timeoutMs: 240_000, concurrency: process.env.KB_TEST_CONCURRENCY ?? '2'},
  // About 3 minutes at most per case on a loaded 2-core machine; the file holds them all.
  {files: files.filter(isFault), timeoutMs: 1_500_000, concurrency: '1'},
].filter((p) => p.files.length > 0)

function runPhase(phase, totalsFile) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [
      '--import', 'tsx',
      '--import', './test/support/file-exit.mjs',
      '--test',
      '--test-concurrency=' + phase.concurrency,
      '--test-timeout=' + phase.timeoutMs,
      '--test-reporter', join(root, 'test/support/reporter.mjs'),
      '--test-reporter-destination', 'stdout',
      ...phase.files,
    ], {cwd: root, stdio: 'inherit', env: {...process.env, NODE_ENV: 'test', KB_TEST_UNIT_ONLY: unitOnly ? '1' : '', KB_TEST_TOTALS: totalsFile}})
    child.on('exit', (code, signal) => resolve(signal ? 1 : code ?? 1))
  })
}

// Each phase's reporter writes its totals to a file instead of the last line; the last line adds them up.
const dir = mkdtempSync(join(tmpdir(), 'kb-test-'))
const sum = {passed: 0, failed: 0, skipped: 0, figures: []}
let status = 0
for (const [i, phase] of phases.entries()) {
  const totalsFile = join(dir, `phase-${i}.json`)
  const code = await runPhase(phase, totalsFile)
  let totals
  try {
    totals = JSON.parse(readFileSync(totalsFile, 'utf8'))
  } catch {
    totals = {passed: 0, failed: 1, skipped: 0, figures: [`the runner of ${phase.files.length} file(s) ended (exit ${code}) without its totals`]}
  }
  for (const key of ['passed', 'failed', 'skipped']) sum[key] += totals[key]
  sum.figures.push(...totals.figures)
  if (code !== 0 && status === 0) status = code
}
rmSync(dir, {recursive: true, force: true})
for (const figure of sum.figures) process.stdout.write(`\n${figure}`)
if (sum.skipped > 0) process.stdout.write(`\n${sum.skipped} skipped`)
process.stdout.write(`\n${sum.passed} passed, ${sum.failed} failed\n`)
process.exit(sum.failed > 0 ? 1 : status)
