/**
 * Validates CLI output against the published JSON Schemas in schemas/output/ (all of them loaded together, so
 * their cross-references resolve).
 *   assertMatchesSchema('drill.schema.json', value)   throws an AssertionError listing every violation
 */
import {Ajv} from 'ajv'
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from './cli.ts'

let ajv: Ajv | undefined

function load(): Ajv {
  if (ajv) return ajv
  // Strict: a mistake in a schema itself (an unknown keyword, a misplaced property) fails the tests too.
  ajv = new Ajv({allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true})
  // date-time without ajv-formats: RFC 3339 shape and a real date.
  ajv.addFormat('date-time', (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)))
  const dir = join(ROOT, 'schemas', 'output')
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.schema.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(dir, name), 'utf8')) as object, name)
  }
  return ajv
}

export function assertMatchesSchema(schema: string, value: unknown): void {
  const validate = load().getSchema(schema)
  assert.ok(validate, `schemas/output/${schema} exists`)
  if (!validate(value)) {
    assert.fail(`${schema}: ${(validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}\n${JSON.stringify(value, null, 2).slice(0, 3000)}`)
  }
}
