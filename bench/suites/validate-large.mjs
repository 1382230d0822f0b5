// validate-large: `validate` on generated app checkouts with 10 to 200 accessories, next to `validate` on the sample
// app, to check that it scales with the size of config/deploy.yml (it runs in every CI job).
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {BIN, NODE, ROOT, fmtBytes, fmtMs, interleave, log, resultTable, summarize, timed} from '../lib.mjs'
import {writeLargeApp} from '../support/large-app.mjs'

export const description = '`validate` on generated checkouts with 10–200 accessories (and `-d production`) vs `validate` on examples/sample-app'
export const defaultIterations = 10

const SCALES = (process.env.BENCH_VALIDATE_SCALES ?? '10,50,100,200').split(',').map(Number)

export async function run({iterations}) {
  const work = mkdtempSync(join(tmpdir(), 'kb-bench-validate-'))
  const env = {...process.env, NO_COLOR: '1'}
  delete env.CI
  const validate = (cwd, extra = []) => () => timed(NODE, [BIN, 'validate', ...extra], {cwd, env, cpu: true})
  try {
    const sizes = {}
    const cases = [{name: 'validate, sample app', baseline: true, run: validate(join(ROOT, 'examples', 'sample-app'))}]
    sizes['validate, sample app'] = statSync(join(ROOT, 'examples', 'sample-app', 'config', 'deploy.yml')).size
    const largest = Math.max(...SCALES)
    for (const scale of SCALES) {
      const dir = join(work, `scale-${scale}`)
      const shape = writeLargeApp(dir, scale)
      const name = `validate, ${shape.accessories} accessories`
      sizes[name] = statSync(join(dir, 'config', 'deploy.yml')).size
      cases.push({name, run: validate(dir), shape})
      if (scale === largest) {
        cases.push({name: `validate -d production, ${shape.accessories} accessories`, run: validate(dir, ['-d', 'production']), shape})
        sizes[`validate -d production, ${shape.accessories} accessories`] = sizes[name]
        const plain = join(work, `scale-${scale}-no-anchors`)
        writeLargeApp(plain, scale, {anchors: false})
        const plainName = `validate, ${shape.accessories} accessories, no YAML merge keys`
        sizes[plainName] = statSync(join(plain, 'config', 'deploy.yml')).size
        cases.push({name: plainName, run: validate(plain), shape})
      }
    }
    log(`validate-large: ${iterations} rounds of ${cases.length} cases`)
    const results = await interleave(cases, {iterations, warmup: 1, label: 'validate-large'})
    const summary = summarize(results)
    const base = summary.find((r) => r.baseline)
    const perAccessory = (r) => {
      const shape = cases.find((c) => c.name === r.name).shape
      return shape ? fmtMs((r.median - base.median) / shape.accessories) : '–'
    }
    const markdown = [
      resultTable(summary, [
        {title: 'deploy.yml', value: (r) => fmtBytes(sizes[r.name])},
        {title: 'Δ per accessory', value: perAccessory},
      ]),
      '',
      `Each generated checkout has N accessories (N−1 PostgreSQL-like ones with env, files and directories, each merging \`<<: *accessory_defaults\`, plus the backup accessory), 2(N−1) servers, 3(N−1) app secrets, a destination file and secrets files with plain values (no \`$(...)\` commands), and a kamal-backup.yml with up to 50 databases.`,
    ].join('\n')
    return {summary, sizes, markdown}
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}
