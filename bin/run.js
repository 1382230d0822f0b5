#!/usr/bin/env node
// The kamal-backup executable. It loads the bundled CLI (dist/kamal-backup.cjs) through V8's code cache, which
// skips parsing and compiling most of the bundle on every start (BENCHMARKS.md has the figures).
import {readFileSync, renameSync, writeFileSync} from 'node:fs'
import Module, {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = load(join(root, 'dist', 'kamal-backup.cjs'))
await cli.run(process.argv.slice(2), root)

function load(file) {
  let source
  try {
    source = readFileSync(file, 'utf8')
  } catch {
    process.stderr.write(`kamal-backup is not built: ${file} is missing. Run \`npm run build\` (or \`bash scripts/setup.sh\`).\n`)
    process.exit(1)
  }
  const cacheFile = file + '.cache'
  let cachedData
  try {
    cachedData = readFileSync(cacheFile)
  } catch {}
  const script = new vm.Script(Module.wrap(source), {filename: file, cachedData})
  const module = new Module(file)
  module.filename = file
  module.paths = Module._nodeModulePaths(dirname(file))
  // Registered so that oclif's own require() of the bundle (package.json oclif.commands) gets this instance.
  Module._cache[file] = module
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  module.loaded = true
  const refresh = process.env.KAMAL_BACKUP_WRITE_CODE_CACHE === '1' || (cachedData && script.cachedDataRejected)
  if (refresh) {
    process.on('exit', () => {
      try {
        // Beside, then renamed: a CLI starting meanwhile reads the old cache or the new one, never half of one.
        writeFileSync(`${cacheFile}.${process.pid}`, script.createCachedData())
        renameSync(`${cacheFile}.${process.pid}`, cacheFile)
      } catch {}
    })
  }
  return module.exports
}
