// src/generated/* (ahead-of-time ajv validators and the config types) is derived from schemas/*.json by
// scripts/gen-schemas.mjs. A schema edit without regenerating would leave the CLI validating against the old
// schema: this is the check that catches it.
import {after, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const scratch: string[] = []
after(() => {
  for (const dir of scratch) rmSync(dir, {recursive: true, force: true})
})

const check = (root: string) => spawnSync(process.execPath, [join(root, 'scripts/gen-schemas.mjs'), '--check'], {cwd: root, encoding: 'utf8'})

test('src/generated is current with schemas/ (node scripts/gen-schemas.mjs --check)', () => {
  const r = check(ROOT)
  assert.equal(r.status, 0, `${r.stderr}\nRun \`node scripts/gen-schemas.mjs\` (npm run build does it) and commit src/generated.`)
})

test('the check fails when a schema changed and src/generated did not', () => {
  const root = mkdtempSync(join(tmpdir(), 'kb-gen-'))
  scratch.push(root)
  for (const dir of ['scripts', 'schemas', 'src/generated']) cpSync(join(ROOT, dir), join(root, dir), {recursive: true})
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'))
  assert.equal(check(root).status, 0, 'the copy starts current')
  const file = join(root, 'schemas/kamal-deploy.schema.json')
  const schema = JSON.parse(readFileSync(file, 'utf8'))
  schema.properties.service.pattern = '^[a-z]+$'
  writeFileSync(file, JSON.stringify(schema, null, 2))
  const r = check(root)
  assert.equal(r.status, 1)
  assert.match(r.stderr, /Generated files are stale: src\/generated\/validators\.ts/)
})
