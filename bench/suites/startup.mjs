// startup: how long the CLI takes to start and answer, next to `node -e 0` (the floor any Node CLI pays).
// `validate` runs in every CI job, so its start-up is the figure that matters most.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {BIN, NODE, ROOT, fmtMs, interleave, log, markdownTable, resultTable, summarize, timed} from '../lib.mjs'
import {countExecs, EXEC_ALIGN, EXEC_HEADER, execTable} from '../support/execs.mjs'

export const description = '`node bin/run.js validate` (examples/sample-app), `version`, `--help` vs `node -e 0`'
export const defaultIterations = 30

export async function run({iterations, against}) {
  const sample = join(ROOT, 'examples', 'sample-app')
  // `version` from an app checkout asks the accessory over SSH; from a plain directory it only prints the version.
  const plain = mkdtempSync(join(tmpdir(), 'kb-bench-startup-'))
  const env = {...process.env, NO_COLOR: '1'}
  delete env.CI
  const noCache = join(ROOT, 'bench', 'support', 'run-without-code-cache.mjs')
  const node = (args, cwd) => () => timed(NODE, args, {cwd, env, cpu: true})
  const cases = [
    {name: 'node -e 0', baseline: true, run: node(['-e', '0'], plain)},
    {name: 'validate', run: node([BIN, 'validate'], sample), note: 'in examples/sample-app'},
    {name: 'validate --skip-secrets', run: node([BIN, 'validate', '--skip-secrets'], sample), note: 'does not evaluate .kamal/secrets'},
    {name: 'version', run: node([BIN, 'version'], plain), note: 'outside an app checkout'},
    {name: '--help', run: node([BIN, '--help'], plain)},
    {name: 'validate, no code cache', run: node([noCache, 'validate'], sample), note: 'bench/support/run-without-code-cache.mjs'},
    // --against=DIR: another checkout's build (an earlier commit), timed in the same rounds.
    ...(against ? [{name: `validate (${against})`, run: node([join(against, 'bin', 'run.js'), 'validate'], sample), note: 'the other checkout'}] : []),
  ]
  try {
    log(`startup: ${iterations} rounds of ${cases.length} cases`)
    const results = await interleave(cases, {iterations, warmup: 2, label: 'startup'})
    const summary = summarize(results)
    const byName = Object.fromEntries(summary.map((r) => [r.name, r]))
    const cacheSaves = byName['validate, no code cache'].median - byName.validate.median
    const execs = await countExecs(NODE, [BIN, 'validate'], {cwd: sample, env})
    const markdown = [
      resultTable(summary),
      '',
      `Absolute cost over a bare Node start (median): validate ${fmtMs(byName.validate.deltaMs)}, version ${fmtMs(byName.version.deltaMs)}, --help ${fmtMs(byName['--help'].deltaMs)}. ` +
        `The V8 code cache saves ${fmtMs(cacheSaves)} per validate (median without cache minus median with it).`,
      ...(execs ? ['', `Processes started by one \`validate\` in examples/sample-app (strace -f):`, '', markdownTable(EXEC_HEADER, execTable('validate', execs), EXEC_ALIGN)] : []),
    ].join('\n')
    return {summary, execs, markdown}
  } finally {
    rmSync(plain, {recursive: true, force: true})
  }
}
