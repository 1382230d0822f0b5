import {writeFileSync} from 'node:fs'

// A compact reporter for node:test: one line per test, failure details, and a final "N passed, N failed" line.
const green = (s) => (process.stdout.isTTY ? `\x1b[32m${s}\x1b[0m` : s)
const red = (s) => (process.stdout.isTTY ? `\x1b[31m${s}\x1b[0m` : s)
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s)

export default async function* reporter(source) {
  let passed = 0
  let failed = 0
  let skipped = 0
  const failures = []
  // Figures a suite reports about itself ("fault matrix: …") are shown where they happen and again at the end.
  const figures = []
  for await (const event of source) {
    const data = event.data
    if (event.type === 'test:pass' || event.type === 'test:fail') {
      // Suites report too; count only leaf tests. A suite's own failure (a failing before/after hook) is shown.
      if (data.details?.type === 'suite') {
        // A skipped suite (its tests never registered: the shared corpus is not there) is said, and counted once.
        if (data.skip) {
          skipped++
          yield `${'  '.repeat(data.nesting ?? 0)}${dim('- ' + data.name + ' (suite skipped' + (typeof data.skip === 'string' ? ': ' + data.skip : '') + ')')}\n`
          continue
        }
        const err = data.details?.error
        if (event.type === 'test:fail' && err && err.failureType !== 'subtestsFailed') {
          const cause = err.cause ?? err
          failures.push({name: `${data.name} (suite hook)`, where: data.file ?? '', text: String(cause?.stack ?? cause?.message ?? cause)})
        }
        continue
      }
      const ms = data.details?.duration_ms ?? 0
      const where = data.file ? data.file.replace(process.cwd() + '/', '') : ''
      const indent = '  '.repeat(data.nesting ?? 0)
      if (event.type === 'test:pass') {
        if (data.skip || data.todo) {
          skipped++
          yield `${indent}${dim('- ' + data.name + ' (skipped' + (typeof data.skip === 'string' ? ': ' + data.skip : '') + ')')}\n`
        } else {
          passed++
          yield `${indent}${green('✔')} ${data.name} ${dim(`(${ms.toFixed(0)} ms)`)}\n`
        }
      } else {
        failed++
        const err = data.details?.error
        const cause = err?.cause ?? err
        const text = (cause?.stack ?? cause?.message ?? String(cause ?? err)).toString()
        failures.push({name: data.name, where, text})
        yield `${indent}${red('✖')} ${data.name} ${dim(`(${ms.toFixed(0)} ms)`)}\n`
      }
    } else if (event.type === 'test:diagnostic' && /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(data.message)) {
      // node's own totals: ours follow below
    } else if (event.type === 'test:diagnostic' && /^fault matrix:/.test(data.message)) {
      figures.push(data.message)
      yield `${'  '.repeat(data.nesting ?? 0)}${dim(data.message)}\n`
    } else if (event.type === 'test:stderr' || event.type === 'test:stdout') {
      if (process.env.KB_TEST_VERBOSE) yield dim(data.message)
    }
  }
  if (failures.length > 0) {
    yield `\n${red('Failures:')}\n`
    for (const f of failures) yield `\n${red('✖')} ${f.name} ${dim(f.where)}\n${f.text.split('\n').map((l) => '    ' + l).join('\n')}\n`
  }
  // Under test/run.mjs (several runners in a row) the totals go to its file, and it writes the last line.
  if (process.env.KB_TEST_TOTALS) {
    writeFileSync(process.env.KB_TEST_TOTALS, JSON.stringify({passed, failed, skipped, figures}))
    return
  }
  for (const figure of figures) yield `\n${figure}`
  if (skipped > 0) yield `\n${skipped} skipped`
  yield `\n${passed} passed, ${failed} failed\n`
}
