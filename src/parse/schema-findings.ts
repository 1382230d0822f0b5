// Turns JSON Schema (ajv) errors into findings a person can act on: the file:line:column of the offending key,
// one message per problem (no "must match exactly one schema" noise), "did you mean" for typos, and a pointed
// message when a literal secret sits where a `{secret: NAME}` belongs.
import type {ErrorObject} from 'ajv'
import type {PositionMap, YamlPath} from './yaml.js'
import {isSecretName} from '../redact.js'
import {didYouMean, finding, formatPath, type Finding} from './findings.js'

export interface SchemaContext {
  /** The schema documents, by file name, to look up the allowed keys at a location. */
  schemas: Record<string, unknown>
  /** The file name of the root schema (its `$id` basename). */
  rootSchema: string
  positions: PositionMap
  /** Rule id prefix: `schema` for kamal-backup.yml, `deploy` for deploy.yml. */
  rulePrefix: 'schema' | 'deploy'
  /** Friendlier wording for `pattern` failures, keyed by the last key of the path. */
  patternHints?: Record<string, string>
  /** Paths (as `formatPath` strings, with `[]` for any index) where a scalar would be a literal secret. */
  secretPaths?: RegExp
  /** Mappings (as `formatPath` strings) whose secret-named keys (isSecretName) are secret paths too, e.g. restic.env. */
  secretMaps?: RegExp
  /** Filled with the paths (`formatPath` strings) that have a finding, and for an unknown key with a close match,
   *  the key it probably means: later checks skip what depends on them instead of repeating the problem. */
  invalid?: Set<string>
}

/** Whether the value at `path` belongs to a secret: never echoed, and a scalar there is a literal secret. */
export function isSecretPath(path: YamlPath, context: Pick<SchemaContext, 'secretPaths' | 'secretMaps'>): boolean {
  if (context.secretPaths?.test(anyIndex(formatPath(path)))) return true
  const last = path.at(-1)
  return typeof last === 'string' && isSecretName(last) && Boolean(context.secretMaps?.test(anyIndex(formatPath(path.slice(0, -1)))))
}

export function schemaFindings(errors: readonly ErrorObject[] | null | undefined, data: unknown, context: SchemaContext): Finding[] {
  if (!errors || errors.length === 0) return []
  const findings: Finding[] = []
  const seen = new Set<string>()
  // A conditional requirement (if adapter is sqlite then path, else url) is noise when the condition's own key is
  // already wrong: "adapter: sqlit" would otherwise also say "missing url".
  const invalidParents = new Set(errors.filter((e) => e.keyword === 'enum' || e.keyword === 'type').map((e) => e.instancePath.replace(/\/[^/]*$/, '')))
  for (const error of errors) {
    if (error.keyword === 'if' || error.keyword === 'oneOf' || error.keyword === 'anyOf') continue
    if (error.keyword === 'required' && /\/(then|else)\/required$/.test(error.schemaPath) && invalidParents.has(error.instancePath)) continue
    const path = pointerToPath(error.instancePath)
    const value = valueAt(data, path)
    const result = describe(error, path, value, context)
    if (!result) continue
    context.invalid?.add(result.path)
    const key = `${result.path}|${result.message}`
    if (seen.has(key)) continue
    seen.add(key)
    findings.push(result)
  }
  return findings
}

function describe(error: ErrorObject, path: YamlPath, value: unknown, context: SchemaContext): Finding | undefined {
  const {positions, rulePrefix} = context
  const here = formatPath(path)
  const at = (p: YamlPath) => positions.nearest(p)
  // propertyNames: the error is about a key of the mapping at `path`, not about the mapping's value.
  const key = (error as ErrorObject & {propertyName?: string}).propertyName
  if (key !== undefined && (error.keyword === 'pattern' || error.keyword === 'not')) {
    const keyPath = [...path, key]
    if (error.keyword === 'not') {
      const why = path[0] === 'aliases' ? `"${key}" is one of Kamal's own commands, and an alias cannot take its name` : `"${key}" is a reserved name`
      return finding('error', `${rulePrefix}/invalid`, at(keyPath), keyPath, `${here}: ${why}`, `rename ${formatPath(keyPath)}`)
    }
    const pattern = (error.params as {pattern: string}).pattern
    return finding('error', `${rulePrefix}/format`, at(keyPath), keyPath, `${here}: the key ${JSON.stringify(key)} does not have the expected format`, `name it to match ${pattern}`)
  }
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as {additionalProperty: string}).additionalProperty)
      const allowed = allowedKeys(path, context)
      const where = path.length === 0 ? 'at the top level' : `in ${here}`
      // YAML 1.1 (how Kamal reads YAML) reads a bare on, off, yes or no as a boolean: as a key it becomes "true".
      if (key === 'true' || key === 'false') {
        return finding(
          'error',
          `${rulePrefix}/unknown-key`,
          at([...path, key]),
          [...path, key],
          `a key ${where} is read as ${key}: YAML 1.1 (as Kamal reads YAML) takes a bare on/off/yes/no for a boolean`,
          allowed.includes('events') ? 'the list of events is "events:" (e.g. events: [failed, recovered])' : 'quote the key ("on":), or use the name the schema expects',
        )
      }
      const guess = didYouMean(key, allowed)
      if (guess) context.invalid?.add(formatPath([...path, guess]))
      return finding(
        'error',
        `${rulePrefix}/unknown-key`,
        at([...path, key]),
        [...path, key],
        `unknown key "${key}" ${where}`,
        guess ? `did you mean "${guess}"?` : allowed.length > 0 ? `allowed keys: ${allowed.join(', ')}` : `remove "${key}"`,
      )
    }
    case 'required': {
      const missing = String((error.params as {missingProperty: string}).missingProperty)
      return finding(
        'error',
        `${rulePrefix}/required`,
        at(path),
        path,
        `${here === '(top level)' ? 'the file' : here} is missing the required key "${missing}"`,
        requiredHint(path, missing, value) ?? `add ${missing}: to ${here === '(top level)' ? 'the top level of the file' : here}`,
      )
    }
    case 'type': {
      const expected = String((error.params as {type: string}).type)
      const secret = isSecretPath(path, context)
      if (secret && value !== null && value !== undefined && typeof value !== 'object') {
        return finding(
          'error',
          `${rulePrefix}/literal-secret`,
          at(path),
          path,
          `${here} is a literal secret; it would be committed to git and uploaded in clear text`,
          `write \`{secret: NAME}\` instead, put NAME in .kamal/secrets and list it under the backup accessory's env.secret in config/deploy.yml`,
        )
      }
      // (describeValue shows only scalars, and a scalar at a secret path was handled above.)
      return finding('error', `${rulePrefix}/type`, at(path), path, `${here} must be ${article(expected)}, not ${describeValue(value)}`, typeHint(expected, here))
    }
    case 'enum': {
      const allowed = ((error.params as {allowedValues: unknown[]}).allowedValues ?? []).map(String)
      const guess = typeof value === 'string' ? didYouMean(value, allowed) : undefined
      return finding(
        'error',
        `${rulePrefix}/enum`,
        at(path),
        path,
        `${here} is ${JSON.stringify(value)}, which is not one of: ${allowed.join(', ')}`,
        guess ? `did you mean "${guess}"?` : `use one of: ${allowed.join(', ')}`,
      )
    }
    case 'pattern': {
      const last = [...path].reverse().find((p) => typeof p === 'string') as string | undefined
      const hint = last ? context.patternHints?.[last] : undefined
      const shown = isSecretPath(path, context) ? '' : ` ${JSON.stringify(value)}`
      return finding(
        'error',
        `${rulePrefix}/format`,
        at(path),
        path,
        hint ? `${here}${shown}: ${hint}` : `${here}${shown} does not have the expected format`,
        hint ?? `write it to match ${(error.params as {pattern: string}).pattern}`,
      )
    }
    case 'propertyNames':
      return undefined // reported by the nested pattern error
    case 'minLength':
      return finding('error', `${rulePrefix}/empty`, at(path), path, `${here} must not be empty`, `give ${here} a value, or remove the key`)
    case 'minProperties':
    case 'maxProperties': {
      const allowed = allowedKeys(path, context)
      if (allowed.length > 0 && allowed.length <= 3) {
        return finding('error', `${rulePrefix}/one-of`, at(path), path, `${here} must have exactly one of: ${allowed.join(', ')}`, oneOfHint(path, allowed))
      }
      if (error.keyword === 'maxProperties' && (error.params as {limit: number}).limit === 1) {
        return finding('error', `${rulePrefix}/invalid`, at(path), path, `${here} must have a single key`, 'write each entry as its own list item (`- host: tag`)')
      }
      return finding('error', `${rulePrefix}/empty`, at(path), path, `${here} must not be empty`, `give ${here} a value, or remove the key`)
    }
    case 'minimum':
    case 'maximum': {
      const limit = (error.params as {limit: number}).limit
      const bound = error.keyword === 'minimum' ? `${limit} or more` : `${limit} or less`
      return finding('error', `${rulePrefix}/range`, at(path), path, `${here} must be ${bound}${typeof value === 'number' ? `, not ${value}` : ''}`, `use a number that is ${bound}`)
    }
    default:
      return finding('error', `${rulePrefix}/invalid`, at(path), path, `${here} ${error.message ?? 'is invalid'}`, 'check this value against README "Configuration" (or the JSON Schema in schemas/)')
  }
}

function requiredHint(path: YamlPath, missing: string, value: unknown): string | undefined {
  if (path[0] === 'databases' && path.length === 2) {
    const adapter = (value as {adapter?: string} | undefined)?.adapter
    if (missing === 'path') return `${adapter ?? 'sqlite'} databases need the database file inside the accessory, e.g. path: /rails/storage/production.sqlite3`
    if (missing === 'url') return `${adapter ?? 'this'} database needs a connection URL without the password, e.g. url: postgres://app@myapp-db:5432/myapp_production, with password: {secret: POSTGRES_PASSWORD}`
  }
  if (missing === 'password' && path.at(-1) === 'restic') return 'restic needs the repository password: password: {secret: RESTIC_PASSWORD}'
  return undefined
}

function typeHint(expected: string, here: string): string {
  const first = expected.split(',')[0]
  switch (first) {
    case 'object':
      return `write ${here} as indented \`key: value\` lines (a mapping), or remove it`
    case 'array':
      return `write ${here} as a list: one \`- item\` per line, or [a, b]`
    case 'boolean':
      return 'use true or false, without quotes'
    case 'integer':
    case 'number':
      return 'use a number, without quotes'
    default:
      return 'quote the value to make it text, e.g. "value"'
  }
}

function oneOfHint(path: YamlPath, allowed: string[]): string {
  if (path.at(-1) === 'password') return `keep one of them, e.g. password: {secret: ${path[0] === 'databases' ? 'POSTGRES_PASSWORD' : 'RESTIC_PASSWORD'}}`
  return `keep exactly one of: ${allowed.join(', ')}`
}

/** The keys the schema allows in the mapping at `path` (an instance path), found by walking the schema along it.
 *  (ajv's schemaPath is relative to whichever compiled function reported the error, so it cannot be trusted.) */
function allowedKeys(path: YamlPath, context: SchemaContext): string[] {
  const node = schemaAt(path, context)
  const properties = node?.schema.properties as Record<string, unknown> | undefined
  return properties ? Object.keys(properties).filter((k) => k !== '$schema') : []
}

interface SchemaNode {
  schema: Record<string, unknown>
  /** The document `schema` lives in, for local `#/...` references. */
  doc: string
}

function schemaAt(path: YamlPath, context: SchemaContext): SchemaNode | undefined {
  let node: SchemaNode | undefined = deref({schema: context.schemas[context.rootSchema] as Record<string, unknown>, doc: context.rootSchema}, context)
  for (const part of path) {
    if (!node) return undefined
    const s: Record<string, unknown> = node.schema
    let next: unknown
    if (typeof part === 'number') next = s.items
    else {
      const properties = s.properties as Record<string, unknown> | undefined
      const patterns = (s.patternProperties ?? {}) as Record<string, unknown>
      next = properties?.[part] ?? Object.entries(patterns).find(([pattern]) => new RegExp(pattern).test(part))?.[1] ?? s.additionalProperties
    }
    node = next && typeof next === 'object' ? deref({schema: next as Record<string, unknown>, doc: node.doc}, context) : undefined
  }
  return node
}

function deref(node: SchemaNode, context: SchemaContext): SchemaNode | undefined {
  let current: SchemaNode | undefined = node
  for (let guard = 0; current && typeof current.schema.$ref === 'string' && guard < 20; guard++) {
    const [file, pointer = ''] = (current.schema.$ref as string).split('#')
    const doc: string = file ? file.replace(/^.*\//, '') : current.doc
    let target: unknown = context.schemas[doc]
    for (const part of pointer.split('/').filter(Boolean).map(decodePointer)) target = (target as Record<string, unknown> | undefined)?.[part]
    current = target && typeof target === 'object' ? {schema: target as Record<string, unknown>, doc} : undefined
  }
  return current
}

export function pointerToPath(pointer: string): YamlPath {
  if (!pointer) return []
  return pointer
    .split('/')
    .slice(1)
    .map(decodePointer)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p))
}

function decodePointer(part: string): string {
  return part.replace(/~1/g, '/').replace(/~0/g, '~')
}

function valueAt(data: unknown, path: YamlPath): unknown {
  let node = data
  for (const part of path) node = (node as Record<string | number, unknown> | undefined)?.[part]
  return node
}

function anyIndex(path: string): string {
  return path.replace(/\[\d+\]/g, '[]')
}

function article(type: string): string {
  const names = type.split(',').map((t) => (t === 'object' ? 'a mapping' : t === 'array' ? 'a list' : t === 'integer' ? 'a whole number' : `a ${t}`))
  return names.join(' or ')
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 40 ? value.slice(0, 37) + '...' : value)}`
  return `${typeof value} ${JSON.stringify(value)}`
}
