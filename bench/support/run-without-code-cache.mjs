#!/usr/bin/env node
// For the startup benchmark only: starts the bundled CLI the way bin/run.js does, but without V8's code cache
// (dist/kamal-backup.cjs.cache): a plain require() of the bundle, so the benchmark can show what the cache saves.
// Never used by the CLI itself.
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const file = join(root, 'dist', 'kamal-backup.cjs')
const cli = createRequire(import.meta.url)(file)
await cli.run(process.argv.slice(2), root)
