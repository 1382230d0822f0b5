#!/usr/bin/env node
// Runs the CLI from the TypeScript sources (no build needed), for development.
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {register} from 'tsx/esm/api'

register()
const {Config} = await import('@oclif/core/config')

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const {run} = await import('../src/main.ts')
// Point oclif's explicit command discovery at the sources instead of the bundle.
const pjson = JSON.parse((await import('node:fs')).readFileSync(join(root, 'package.json'), 'utf8'))
pjson.oclif.commands = {...pjson.oclif.commands, target: './src/main.ts'}
const config = await Config.load({root, pjson})
await run(process.argv.slice(2), config)
