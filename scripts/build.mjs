#!/usr/bin/env node
// Builds the CLI: schema code → one CommonJS bundle (esbuild) → oclif manifest → V8 code cache.
// Each step exists because it measurably shortens start-up (see BENCHMARKS.md).
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdirSync, renameSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

// One build at a time per machine (tests and a developer may build at once): re-run under flock when it exists.
if (!process.env.KAMAL_BACKUP_BUILD_LOCKED && spawnSync('flock', ['--version']).status === 0) {
  const locked = spawnSync('flock', [join(tmpdir(), 'kamal-backup-build.lock'), process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: {...process.env, KAMAL_BACKUP_BUILD_LOCKED: '1'},
  })
  process.exit(locked.status ?? 1)
}
const dist = join(root, 'dist')
const started = Date.now()
const step = (text) => process.stderr.write(`[build ${((Date.now() - started) / 1000).toFixed(1)}s] ${text}\n`)

// 1. Generated code (JSON Schema validators and types) must be current before bundling.
execFileSync(process.execPath, [join(root, 'scripts/gen-schemas.mjs')], {stdio: 'inherit'})
step('schemas generated')

// 2. One CommonJS file: fewer files to resolve, and V8 can cache its compiled code (step 4).
// Written beside the old bundle and renamed over it, so a CLI starting meanwhile sees one or the other, whole.
mkdirSync(dist, {recursive: true})
rmSync(join(dist, 'kamal-backup.cjs.next'), {force: true})
await build({
  entryPoints: [join(root, 'src/main.ts')],
  outfile: join(dist, 'kamal-backup.cjs.next'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // ssh2 ships optional native addons; it is loaded only for remote commands, from node_modules.
  external: ['ssh2', 'cpu-features', 'typescript'],
  // import.meta.url has no meaning in a CJS bundle; point it at the bundle file.
  define: {'import.meta.url': '__kamalBackupBundleUrl'},
  banner: {js: 'var __kamalBackupBundleUrl = require("node:url").pathToFileURL(__filename).href;'},
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
})
rmSync(join(dist, 'kamal-backup.cjs.cache'), {force: true})
renameSync(join(dist, 'kamal-backup.cjs.next'), join(dist, 'kamal-backup.cjs'))
step(`bundled dist/kamal-backup.cjs (${(statSync(join(dist, 'kamal-backup.cjs')).size / 1024).toFixed(0)} KiB)`)

// 3. The manifest lets oclif answer --help and find commands without loading them.
execFileSync(join(root, 'node_modules/.bin/oclif'), ['manifest'], {cwd: root, stdio: ['ignore', 'ignore', 'inherit']})
step('oclif.manifest.json written')

// 4. V8 code cache, produced by a representative run (validate on the bundled sample app).
const env = {...process.env, KAMAL_BACKUP_WRITE_CODE_CACHE: '1'}
const sample = join(root, 'examples/sample-app')
try {
  execFileSync(process.execPath, [join(root, 'bin/run.js'), 'validate'], {cwd: sample, env, stdio: 'ignore'})
} catch {
  // validate may report findings (exit 1); the cache is written on exit either way.
}
try {
  step(`code cache written (${(statSync(join(dist, 'kamal-backup.cjs.cache')).size / 1024).toFixed(0)} KiB)`)
} catch {
  step('code cache not written (the CLI starts without it, only slower)')
}
