#!/usr/bin/env node
// Runs the benchmarks: `npm run bench` (all), `npm run bench -- startup backup-pg` (some), `--list`.
// Options: --n=N (iterations for every selected benchmark), --json (one JSON document on stdout instead of markdown),
// --out=FILE (also write the markdown report there, and the JSON to FILE.json, after each benchmark), --against=DIR
// (startup: also time the CLI of another checkout, built, in the same interleaved rounds). Progress goes
// to stderr. An interrupted run may leave /tmp/kb-bench-* directories behind.
// Environment: BENCH_PG_MB (database size for backup-pg/restore-pg, default 1300: a dump of about 1 GiB), BENCH_MEMORY_MB (memory, default 128,1300), BENCH_RESTIC (0.14,0.18),
// BENCH_N (like --n). See BENCHMARKS.md for what each benchmark measures and the figures.
import {writeFileSync} from 'node:fs'
import {log, machine, machineMarkdown} from './lib.mjs'

const SUITES = ['startup', 'validate-large', 'backup-small', 'backup-pg', 'restore-pg', 'copy-pg', 'dump-pg', 'memory', 'notify']

const args = process.argv.slice(2)
const names = args.filter((a) => !a.startsWith('-'))
const flag = (name) => args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`))
const value = (name) => flag(name)?.split('=').slice(1).join('=')

if (flag('list') || flag('help')) {
  for (const name of SUITES) {
    const suite = await import(`./suites/${name}.mjs`)
    process.stdout.write(`${name.padEnd(16)} ${suite.description} (default ${suite.defaultIterations} iterations)\n`)
  }
  process.stdout.write('\nUsage: npm run bench [-- NAME... --n=N --json --out=FILE --against=DIR]\n')
  process.exit(0)
}

const unknown = names.filter((n) => !SUITES.includes(n))
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${SUITES.join(', ')}\n`)
  process.exit(2)
}
const selected = names.length > 0 ? names : SUITES
const n = Number(value('n') ?? process.env.BENCH_N ?? NaN)
if (flag('n') && !(Number.isInteger(n) && n > 0)) {
  process.stderr.write('--n must be a positive integer\n')
  process.exit(2)
}

const info = machine()
const report = {machine: info, benchmarks: {}}
const sections = [`# kamal-backup benchmarks\n\n${machineMarkdown(info)}`]
let failed = false
for (const name of selected) {
  const suite = await import(`./suites/${name}.mjs`)
  const iterations = Number.isInteger(n) && n > 0 ? n : suite.defaultIterations
  const started = Date.now()
  try {
    const result = await suite.run({iterations, against: value('against')})
    const seconds = (Date.now() - started) / 1000
    report.benchmarks[name] = {iterations, seconds, ...result}
    sections.push(`## ${name}\n\n${suite.description}; ${iterations} interleaved rounds; the benchmark took ${seconds.toFixed(0)} s.\n\n${result.markdown}`)
    log(`${name} done in ${seconds.toFixed(0)} s`)
    if (!flag('json')) process.stdout.write(`${sections.length === 2 ? sections[0] + '\n\n' : ''}${sections.at(-1)}\n\n`)
    save()
  } catch (error) {
    failed = true
    report.benchmarks[name] = {iterations, error: String(error?.stack ?? error)}
    log(`${name} FAILED: ${error?.stack ?? error}`)
  }
}
if (flag('json')) process.stdout.write(JSON.stringify(report, null, 2) + '\n')
save()
process.exitCode = failed ? 1 : 0

/** --out gets the report so far after every benchmark (a long run that is interrupted keeps what it measured),
 *  and FILE.json the JSON beside it. */
function save() {
  const out = value('out')
  if (!out) return
  writeFileSync(out, sections.join('\n\n') + '\n')
  writeFileSync(out.replace(/(\.md)?$/, '.json'), JSON.stringify(report, null, 2) + '\n')
}
