#!/usr/bin/env node
// Builds the CLI: schema code → one CommonJS bundle (esbuild) → oclif manifest → V8 code cache.
// Each step exists because it measurably shortens start-up (see BENCHMARKS.md).
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdirSync, renameSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {createRequire} from 'node:module'
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
  plugins: [lazyOclifDependencies()],
})
rmSync(join(dist, 'kamal-backup.cjs.cache'), {force: true})
renameSync(join(dist, 'kamal-backup.cjs.next'), join(dist, 'kamal-backup.cjs'))
step(`bundled dist/kamal-backup.cjs (${(statSync(join(dist, 'kamal-backup.cjs')).size / 1024).toFixed(0)} KiB)`)

/**
 * Two packages @oclif/core requires at start-up and a normal run never uses (3-4 ms of every start, BENCHMARKS.md):
 * `debug`, whose loggers do nothing unless DEBUG is set, and `tinyglobby`, which oclif calls only to discover
 * commands by file pattern (ours are listed explicitly). They are replaced by stand-ins that load the real package
 * (bundled as usual) when it is actually needed: debug when DEBUG is set, tinyglobby at its first call.
 */
function lazyOclifDependencies() {
  const real = (name) => JSON.stringify(createRequire(join(root, 'node_modules/@oclif/core/package.json')).resolve(name))
  const standIns = {
    debug: `const noop = Object.assign(() => {}, {enabled: false, namespace: '', log() {}, destroy() { return false }})
noop.extend = () => noop
module.exports = process.env.DEBUG ? require(${real('debug')}) : Object.assign(() => noop, {enable() {}, disable() { return '' }, enabled: () => false})`,
    tinyglobby: `let loaded
const load = () => (loaded ??= require(${real('tinyglobby')}))
module.exports = {glob: (...args) => load().glob(...args), globSync: (...args) => load().globSync(...args), escapePath: (...args) => load().escapePath(...args), isDynamicPattern: (...args) => load().isDynamicPattern(...args), convertPathToPattern: (...args) => load().convertPathToPattern(...args)}`,
  }
  return {
    name: 'lazy-oclif-dependencies',
    setup(b) {
      b.onResolve({filter: /^(debug|tinyglobby)$/}, (args) => (/[\\/]@oclif[\\/]core[\\/]/.test(args.importer) ? {path: args.path, namespace: 'lazy-stand-in'} : undefined))
      b.onLoad({filter: /.*/, namespace: 'lazy-stand-in'}, (args) => ({contents: standIns[args.path], loader: 'js', resolveDir: root}))
    },
  }
}

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
