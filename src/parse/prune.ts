// The parts of a document that failed its JSON Schema, cut out, so that everything else can still be normalised
// and checked: `validate` reports every finding in one pass instead of stopping at the first schema error.
import type {ErrorObject} from 'ajv'
import {pointerToPath} from './schema-findings.js'
import type {YamlPath} from './yaml.js'

export interface Pruned<T> {
  /** A copy of the document without its invalid parts (array entries become null, so indices keep their lines). */
  data: T
  /** What was cut out (or is missing where the schema requires it). */
  paths: YamlPath[]
}

/** Undefined when the document is not a mapping (nothing can be checked then). A missing required key outside a
 *  list is reported as cut (it is absent): whoever reads the copy must allow for it. */
export function pruneInvalid<T>(data: T, errors: readonly ErrorObject[]): Pruned<T> | undefined {
  const copy = structuredClone(data) as unknown
  if (copy === null || typeof copy !== 'object' || Array.isArray(copy)) return undefined
  const paths: YamlPath[] = []
  for (const error of errors) {
    const at = pointerToPath(error.instancePath)
    if (error.keyword === 'additionalProperties') {
      // An unknown key (often a misspelt one): the rest of its object is fine.
      paths.push([...at, String((error.params as {additionalProperty: string}).additionalProperty)])
      continue
    }
    // Inside a list, the whole entry goes: an entry is checked as one (a database without its adapter is nothing).
    const entry = at.findIndex((key) => typeof key === 'number')
    if (entry >= 0) paths.push(at.slice(0, entry + 1))
    else if (error.keyword === 'required') paths.push([...at, String((error.params as {missingProperty: string}).missingProperty)])
    else if (at.length > 0) paths.push(at)
  }
  for (const path of paths) cut(copy as Record<string, unknown>, path)
  return {data: copy as T, paths}
}

function cut(root: Record<string, unknown>, path: YamlPath): void {
  let node: unknown = root
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return
    node = (node as Record<string | number, unknown>)[key]
  }
  const last = path.at(-1)!
  if (Array.isArray(node) && typeof last === 'number' && last < node.length) node[last] = null
  else if (node !== null && typeof node === 'object') delete (node as Record<string | number, unknown>)[last]
}

