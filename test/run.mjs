#!/usr/bin/env node
// Runs the test suite with Node's built-in runner (TypeScript through tsx) and ends with "N passed, N failed".
//   node test/run.mjs            unit + integration (integration needs the lab: bash test/lab/up.sh)
//   node test/run.mjs --unit     unit tests only (no servers needed)
//   node test/run.mjs <files...> just those files
import {spawn} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
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

const files = explicit.length > 0
  ? explicit
  : [...collect(join(root, 'test/unit')), ...(unitOnly ? [] : collect(join(root, 'test/integration')))]

const child = spawn(process.execPath, [
  '--import', 'tsx',
  '--import', './test/support/file-exit.mjs',
  '--test',
  '--test-concurrency=' + (process.env.KB_TEST_CONCURRENCY ?? '2'),
  // A test that hangs fails after 4 minutes (the slowest takes about 20 s); see also test/support/file-exit.mjs.
  '--test-timeout=240000',
  '--test-reporter', join(root, 'test/support/reporter.mjs'),
  '--test-reporter-destination', 'stdout',
  ...files.map((f) => relative(root, f)),
], {cwd: root, stdio: 'inherit', env: {...process.env, NODE_ENV: 'test', KB_TEST_UNIT_ONLY: unitOnly ? '1' : ''}})
child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 1))
