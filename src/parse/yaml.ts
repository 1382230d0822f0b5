// YAML the way Kamal sees it. Kamal loads its config with Ruby's Psych (YAML 1.1, aliases and `<<` merge keys
// allowed, duplicate keys silently last-wins). We parse with the `yaml` package for the syntax tree and positions,
// then build the plain JS value ourselves: plain scalars get Psych's typing (kamal-config.md 6.2), every node's
// position is kept, and surprising Psych readings (base-60, octal, duplicate keys) produce warnings.

import {LineCounter, Parser, isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, visit} from 'yaml'
import type {Alias, Document, Node as YamlNode, Pair, Scalar, YAMLError, YAMLMap, YAMLSeq} from 'yaml'

import {ConfigError, type FindingRule} from '../errors.js'

/** A place in a source file. Lines and columns are 1-based. */
export interface Position {
  file: string
  line: number
  column: number
}

export type YamlPath = readonly (string | number)[]

export interface YamlDiagnostic {
  severity: 'error' | 'warning'
  rule: FindingRule
  message: string
  suggestion?: string
  path: YamlPath
  position: Position
}

type NodeKind = 'map' | 'seq' | 'scalar'

interface PositionEntry {
  path: YamlPath
  position: Position
  kind: NodeKind
}

function pathKey(path: YamlPath): string {
  return JSON.stringify(path)
}

function isUnder(path: YamlPath, ancestor: YamlPath): boolean {
  if (path.length <= ancestor.length) return false
  return ancestor.every((part, index) => path[index] === part)
}

/** Positions of every mapping key, sequence item and scalar of a document, addressed by their path. */
export class PositionMap {
  /** The file that `nearest` falls back to. When not given, the file of the root entry (or any entry). */
  readonly #file: string | undefined
  readonly #entries = new Map<string, PositionEntry>()

  constructor(file?: string) {
    this.#file = file
  }

  get file(): string {
    return this.#file ?? this.#entries.get(pathKey([]))?.position.file ?? this.#entries.values().next().value?.position.file ?? ''
  }

  /** Records where the node at `path` was written. `kind` tells whether it is a mapping, a sequence or a scalar. */
  set(path: YamlPath, position: Position, kind: NodeKind = 'scalar'): void {
    this.#entries.set(pathKey(path), {path: [...path], position, kind})
  }

  /** The exact node: a mapping entry's key, a sequence item, or the document root (`[]`). */
  get(path: YamlPath): Position | undefined {
    return this.#entries.get(pathKey(path))?.position
  }

  /** The deepest recorded node on the way to `path` (itself included), else line 1 column 1 of the file. */
  nearest(path: YamlPath): Position {
    for (let length = path.length; length >= 0; length--) {
      const found = this.get(path.slice(0, length))
      if (found) return found
    }
    return {file: this.file, line: 1, column: 1}
  }

  /** Moves the node at `from` and everything under it to `to` (a key renamed after parsing). */
  move(from: YamlPath, to: YamlPath): void {
    for (const [key, entry] of [...this.#entries]) {
      if (entry.path.length < from.length || from.some((part, i) => entry.path[i] !== part)) continue
      this.#entries.delete(key)
      const path = [...to, ...entry.path.slice(from.length)]
      this.#entries.set(pathKey(path), {...entry, path})
    }
  }

  /** Whether the node at `path` is a mapping, a sequence or a scalar, when recorded. */
  kindAt(path: YamlPath): NodeKind | undefined {
    return this.#entries.get(pathKey(path))?.kind
  }

  /** Every recorded path, in the order they were recorded. */
  paths(): YamlPath[] {
    return [...this.#entries.values()].map((entry) => entry.path)
  }

  get size(): number {
    return this.#entries.size
  }

  /** Forgets the node at `path` and everything below it. */
  deleteSubtree(path: YamlPath): void {
    this.#entries.delete(pathKey(path))
    for (const [key, entry] of this.#entries) if (isUnder(entry.path, path)) this.#entries.delete(key)
  }

  /**
   * For a deep merge, where `other`'s value at `at` replaced ours: our node at `at` and everything below it are
   * replaced by `other`'s node at `at` and everything below it. Paths are the same in both maps (document
   * coordinates). `at` defaults to the root, i.e. take all of `other`. When `other` has nothing at `at`, ours stays.
   */
  overlay(other: PositionMap, at: YamlPath = []): void {
    const incoming = [...other.#entries.values()].filter((entry) => isUnder(entry.path, at) || pathKey(entry.path) === pathKey(at))
    if (incoming.length === 0) return
    // Nothing is ever recorded below a path that is not recorded itself (a key is set before its value is read).
    if (this.#entries.has(pathKey(at))) this.deleteSubtree(at)
    for (const entry of incoming) this.#entries.set(pathKey(entry.path), entry)
  }
}

export interface ParsedYaml {
  value: unknown
  positions: PositionMap
  diagnostics: YamlDiagnostic[]
}

export interface ParseYamlOptions {
  /** Maps a line of the text being parsed (e.g. ERB output) back to the line the user wrote. */
  sourceLine?: (renderedLine: number) => number
}

// ---------------------------------------------------------------------------------------------------------------
// Psych's typing of plain (unquoted, untagged) scalars, re-stated from its observed behaviour.

interface ScalarReading {
  value: unknown
  warning?: {rule: FindingRule; message: string; suggestion: string}
}

// Text that starts like a word: at most one leading character that is not a digit, `.`, `:` or `-`, then letters,
// whitespace or common punctuation. Psych only considers null and booleans for such text, and only when short.
const WORDLIKE = /^[^\d.:-]?[\p{Alphabetic}_ \t\r\n\f\v!@#$%^&*(){}<>|/\\~;=]+/u
const SEXAGESIMAL_INT = /^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}$/
const SEXAGESIMAL_FLOAT = /^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}\.[0-9_]*$/
const FLOAT = /^(?:[-+]?(?:[0-9][0-9_,]*)?\.[0-9]*(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/
const INT_BINARY = /^[-+]?0b[01_,]+$/
const INT_OCTAL = /^[-+]?0[0-7_,]+$/
const INT_DECIMAL = /^[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)$/
const INT_HEX = /^[-+]?0x[0-9a-fA-F_,]+$/

/** Base-60 the way Psych computes it: the parts are weighted 60², 60¹, 60⁰ counted from the first part, so a
 *  two-part `22:22` is 22·3600 + 22·60 = 80520 (not 22·60 + 22). */
function psychBase60(text: string, toNumber: (part: string) => number): number {
  const parts = text.split(':')
  let total = 0
  parts.forEach((part, index) => {
    total += toNumber(part) * 60 ** Math.abs(index - 2)
  })
  return total
}

/** Ruby's String#to_i for the digit runs used above: optional sign, digits and underscores. */
function rubyToI(text: string): number {
  const match = /^[-+]?[0-9][0-9_]*/.exec(text)
  return match ? Number.parseInt(match[0].replace(/_/g, ''), 10) : 0
}

function signed(text: string, parse: (unsigned: string) => number): number {
  const negative = text.startsWith('-')
  const unsigned = text.replace(/^[-+]/, '')
  const value = parse(unsigned)
  return negative ? -value : value
}

function quoteSuggestion(text: string): string {
  return `Quote it if you mean the text: "${text}"`
}

export function readPlainScalar(text: string): ScalarReading {
  if (text === '') return {value: null}
  if (WORDLIKE.test(text) || text.includes('\n')) {
    if (text.length > 5) return {value: text}
    if (text === '~' || /^null$/i.test(text)) return {value: null}
    if (/^(?:yes|true|on)$/i.test(text)) return {value: true}
    if (/^(?:no|false|off)$/i.test(text)) return {value: false}
    return {value: text} // includes y/Y/n/N, which YAML 1.1 parsers other than Psych read as booleans
  }
  // Dates and timestamps: Psych makes Date/Time objects; we keep the text (callers treat them as strings).
  if (/^\+?\.inf$/i.test(text)) return {value: Number.POSITIVE_INFINITY}
  if (/^-\.inf$/i.test(text)) return {value: Number.NEGATIVE_INFINITY}
  if (/^\.nan$/i.test(text)) return {value: Number.NaN}
  if (/^:./.test(text)) {
    // A Ruby symbol. Kamal turns it back into a string where it matters, which loses the colon.
    const quoted = /^:(["'])(.*)\1/s.exec(text)
    return {value: quoted ? quoted[2]!.replace(/^:/, '') : text.slice(1)}
  }
  const sexagesimal = SEXAGESIMAL_INT.test(text) ? rubyToI : SEXAGESIMAL_FLOAT.test(text) ? (part: string) => Number.parseFloat(part.replace(/_/g, '')) || 0 : undefined
  if (sexagesimal) {
    const value = psychBase60(text, sexagesimal)
    return {
      value,
      warning: {
        rule: 'yaml/sexagesimal',
        message: `${text} is read as the base-60 number ${value} (Kamal's YAML parser does the same)`,
        suggestion: quoteSuggestion(text),
      },
    }
  }
  if (FLOAT.test(text)) {
    if (/^[-+]?\.$/.test(text)) return {value: text}
    const cleaned = text.replace(/[,_]/g, '').replace(/\.([eE]|$)/, '$1')
    const value = /inf$/i.test(cleaned)
      ? cleaned.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
      : /nan$/i.test(cleaned) ? Number.NaN : Number(cleaned)
    return withCommaWarning(text, value)
  }
  if (INT_BINARY.test(text)) return withCommaWarning(text, signed(text, (u) => Number.parseInt(u.slice(2).replace(/[,_]/g, '') || 'x', 2)))
  if (INT_HEX.test(text)) return withCommaWarning(text, signed(text, (u) => Number.parseInt(u.slice(2).replace(/[,_]/g, '') || 'x', 16)))
  if (INT_OCTAL.test(text)) {
    const digits = text.replace(/[,_]/g, '')
    const value = signed(digits, (u) => Number.parseInt(u, 8))
    const decimal = Number.parseInt(digits, 10)
    if (value !== decimal) {
      return {
        value,
        warning: {
          rule: 'yaml/octal',
          message: `${text} starts with 0, so it is read as the octal number ${value} (Kamal's YAML parser does the same)`,
          suggestion: `${quoteSuggestion(text)}, or write the number without the leading zero`,
        },
      }
    }
    return withCommaWarning(text, value)
  }
  if (INT_DECIMAL.test(text)) return withCommaWarning(text, Number.parseInt(text.replace(/[,_]/g, ''), 10))
  return {value: text}
}

function withCommaWarning(text: string, value: number): ScalarReading {
  if (Number.isNaN(value)) return {value: text}
  if (!text.includes(',')) return {value}
  return {
    value,
    warning: {
      rule: 'yaml/comma-number',
      message: `${text} is read as the number ${value}: Kamal's YAML parser ignores commas in numbers`,
      suggestion: quoteSuggestion(text),
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Building the value.

const MAX_NODES = 200_000

interface Context {
  doc: Document.Parsed
  file: string
  lineCounter: LineCounter
  sourceLine: ((renderedLine: number) => number) | undefined
  positions: PositionMap
  diagnostics: YamlDiagnostic[]
  /** Set while expanding an alias: its target was already visited where it was defined, so stay quiet. */
  quiet: boolean
  /** Nodes being converted right now, to catch an alias that points at its own ancestor. */
  active: Set<YamlNode>
  count: {nodes: number}
  /** Alias → target, filled by one walk of the document at the first alias (shared by the copies of the context). */
  aliases: {targets?: Map<Alias, YamlNode | undefined>}
}

function positionAt(ctx: Pick<Context, 'file' | 'lineCounter' | 'sourceLine'>, offset: number): Position {
  const {line, col} = ctx.lineCounter.linePos(offset)
  const renderedLine = Math.max(line, 1)
  return {file: ctx.file, line: ctx.sourceLine ? ctx.sourceLine(renderedLine) : renderedLine, column: Math.max(col, 1)}
}

function nodePosition(ctx: Context, node: YamlNode | null | undefined, fallback: number): Position {
  const start = node?.range?.[0]
  return positionAt(ctx, start ?? fallback)
}

/**
 * What an alias points at: the last node with its anchor before it, as Alias.resolve(doc) finds it. resolve() walks
 * the whole document on every call, which made a deploy.yml with many `<<: *defaults` quadratic (1.7 s for 200
 * accessories); here one walk records every alias's target.
 */
function resolveAlias(alias: Alias, ctx: Context): YamlNode | undefined {
  let targets = ctx.aliases.targets
  if (!targets) {
    const found = new Map<Alias, YamlNode | undefined>()
    const anchors = new Map<string, YamlNode>()
    visit(ctx.doc, {
      Node: (_key, node) => {
        if (isAlias(node)) found.set(node, anchors.get(node.source))
        else if (node.anchor) anchors.set(node.anchor, node)
      },
    })
    targets = ctx.aliases.targets = found
  }
  return targets.get(alias)
}

function kindOf(node: YamlNode | null | undefined, ctx: Context): NodeKind {
  let target: YamlNode | null | undefined = node
  if (isAlias(target)) target = resolveAlias(target, ctx)
  if (isMap(target)) return 'map'
  if (isSeq(target)) return 'seq'
  return 'scalar'
}

function warn(ctx: Context, path: YamlPath, position: Position, warning: {rule: FindingRule; message: string; suggestion?: string}): void {
  if (ctx.quiet) return
  ctx.diagnostics.push({severity: 'warning', path: [...path], position, ...warning})
}

function defineKey(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty so that a key named __proto__ is an ordinary key.
  Object.defineProperty(target, key, {value, enumerable: true, writable: true, configurable: true})
}

function syntaxError(message: string, position: Position, suggestion: string): ConfigError {
  return new ConfigError(message, {
    code: 'yaml/syntax',
    location: {file: position.file, line: position.line, column: position.column},
    suggestions: [suggestion],
  })
}

function convert(node: YamlNode | null | undefined, path: YamlPath, ctx: Context): unknown {
  if (node === null || node === undefined) return null
  if (++ctx.count.nodes > MAX_NODES) {
    throw syntaxError(
      `${ctx.file} expands to more than ${MAX_NODES} YAML nodes (aliases referring to aliases)`,
      nodePosition(ctx, node, 0),
      'Reduce the nesting of anchors and aliases',
    )
  }
  if (isAlias(node)) return convertAlias(node, path, ctx)
  if (isScalar(node)) return convertScalar(node, path, ctx)
  if (isMap(node)) return convertMap(node, path, ctx)
  if (isSeq(node)) return convertSeq(node, path, ctx)
  return null
}

function convertAlias(node: Alias, path: YamlPath, ctx: Context): unknown {
  const target = resolveAlias(node, ctx)
  if (!target) {
    throw syntaxError(
      `Unknown alias *${node.source}: no anchor &${node.source} is defined before it`,
      nodePosition(ctx, node, 0),
      `Define the anchor first (e.g. \`key: &${node.source} value\`) or fix the alias name`,
    )
  }
  if (ctx.active.has(target)) {
    throw syntaxError(
      `Alias *${node.source} refers to a node that contains it`,
      nodePosition(ctx, node, 0),
      'Point the alias at a node outside the one it appears in',
    )
  }
  const quiet = ctx.quiet
  ctx.quiet = true
  try {
    return convert(target, path, ctx)
  } finally {
    ctx.quiet = quiet
  }
}

function convertScalar(node: Scalar, path: YamlPath, ctx: Context): unknown {
  if (node.tag === undefined && node.type === 'PLAIN') {
    const text = node.source ?? (typeof node.value === 'string' ? node.value : String(node.value ?? ''))
    const reading = readPlainScalar(text)
    if (reading.warning) warn(ctx, path, nodePosition(ctx, node, 0), reading.warning)
    return reading.value
  }
  if (node.tag === undefined) return typeof node.value === 'string' ? node.value : node.source ?? ''
  // An explicit tag (`!!str 0755`): the `yaml` package already resolved it. Keep the result JSON-like.
  const value: unknown = node.value
  if (value instanceof Date) return node.source ?? value.toISOString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8')
  if (typeof value === 'bigint') return Number(value)
  if (value === undefined) return null
  return value
}

function convertSeq(node: YAMLSeq, path: YamlPath, ctx: Context): unknown[] {
  ctx.active.add(node)
  try {
    return node.items.map((item, index) => {
      const itemPath = [...path, index]
      const itemNode = item as YamlNode | null
      ctx.positions.set(itemPath, nodePosition(ctx, itemNode, node.range?.[0] ?? 0), kindOf(itemNode, ctx))
      return convert(itemNode, itemPath, ctx)
    })
  } finally {
    ctx.active.delete(node)
  }
}

function keyText(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return JSON.stringify(value)
}

function isMergeKey(pair: Pair): boolean {
  return isScalar(pair.key) && typeof pair.key.value === 'symbol'
}

interface MergeSource {
  value: Record<string, unknown>
  positions: PositionMap
}

/** Converts the value of a `<<` key into the mappings to merge, in document order, or undefined when it is not a
 *  mapping or a list of mappings (Psych then keeps `<<` as an ordinary key). */
function mergeSources(valueNode: YamlNode | null, path: YamlPath, ctx: Context): MergeSource[] | undefined {
  const target = isAlias(valueNode) ? resolveAlias(valueNode, ctx) : valueNode
  const candidates = isSeq(target) ? (target.items as (YamlNode | null)[]) : [valueNode]
  const sources: MergeSource[] = []
  for (const candidate of candidates) {
    const resolved = isAlias(candidate) ? resolveAlias(candidate, ctx) : candidate
    if (!isMap(resolved)) return undefined
  }
  for (const candidate of candidates) {
    const positions = new PositionMap(ctx.file)
    const value = convert(candidate, path, {...ctx, positions}) as Record<string, unknown>
    sources.push({value, positions})
  }
  return sources
}

/**
 * What one `<<` contributes, as Psych's revive_hash computes it: for a list of mappings it merges them in
 * reverse into an empty hash (so the first mapping that has a key wins), then that hash is merged into the
 * mapping being built. Keys come out in Ruby's order: a key keeps the place where it first appeared.
 */
function mergedEntries(sources: MergeSource[]): {key: string; value: unknown; source: MergeSource}[] {
  const merged = new Map<string, {key: string; value: unknown; source: MergeSource}>()
  for (const source of [...sources].reverse()) {
    for (const [key, value] of Object.entries(source.value)) merged.set(key, {key, value, source})
  }
  return [...merged.values()]
}

function convertKey(node: YamlNode | null, path: YamlPath, ctx: Context): string {
  return keyText(convert(node, path, {...ctx, positions: new PositionMap(ctx.file)}))
}

function convertMap(node: YAMLMap, path: YamlPath, ctx: Context): Record<string, unknown> {
  ctx.active.add(node)
  try {
    const out: Record<string, unknown> = {}
    // Keys written explicitly so far, with where. Psych builds the mapping in document order: `<<` does
    // `hash.merge!`, so a merge replaces the keys written before it, and keys written after it replace the merge.
    const explicit = new Map<string, Position>()

    for (const pair of node.items as Pair<YamlNode | null, YamlNode | null>[]) {
      if (!isPair(pair)) continue
      const keyPosition = nodePosition(ctx, pair.key ?? pair.value, node.range?.[0] ?? 0)

      if (isMergeKey(pair)) {
        const sources = mergeSources(pair.value, path, ctx)
        if (sources) {
          for (const {key, value, source} of mergedEntries(sources)) {
            const childPath = [...path, key]
            const earlier = explicit.get(key)
            if (earlier) {
              warn(ctx, childPath, keyPosition, {
                rule: 'yaml/merge-order',
                message: `"${key}" is set on line ${earlier.line}, and the << merge after it replaces that value (Ruby's YAML parser, which Kamal uses, applies merges in order)`,
                suggestion: `Put \`<<:\` first in the mapping if the value on line ${earlier.line} should win, or remove that line`,
              })
              explicit.delete(key)
            }
            if (Object.hasOwn(out, key)) ctx.positions.deleteSubtree(childPath)
            defineKey(out, key, value)
            ctx.positions.overlay(source.positions, childPath)
          }
          continue
        }
        warn(ctx, [...path, '<<'], keyPosition, {
          rule: 'yaml/merge-key',
          message: '<< (merge key) needs a mapping or a list of mappings, so it is kept as an ordinary key "<<"',
          suggestion: 'Point it at a mapping anchor, e.g. `<<: *defaults`',
        })
      }

      const key = isMergeKey(pair) ? '<<' : convertKey(pair.key, path, ctx)
      const childPath = [...path, key]
      const earlier = explicit.get(key)
      if (earlier) {
        warn(ctx, childPath, keyPosition, {
          rule: 'yaml/duplicate-key',
          message: `Duplicate key "${key}" (first on line ${earlier.line}): the last one wins, as in Kamal`,
          suggestion: `Remove one of the two "${key}" entries`,
        })
      }
      explicit.set(key, keyPosition)
      // Only a key set before (a duplicate, or one a merge brought) has positions to forget: deleteSubtree scans
      // every recorded position, and calling it for every key made large files quadratic.
      if (Object.hasOwn(out, key)) ctx.positions.deleteSubtree(childPath)
      ctx.positions.set(childPath, keyPosition, kindOf(pair.value, ctx))
      defineKey(out, key, convert(pair.value, childPath, ctx))
    }
    return out
  } finally {
    ctx.active.delete(node)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Syntax errors: one message, one place, one suggestion.

interface QuotedToken {
  type: string
  offset: number
  source: string
}

/** Finds a quoted scalar whose closing quote is missing, by walking the concrete syntax tree. */
function findUnclosedQuote(text: string): number | undefined {
  let found: number | undefined
  const visit = (value: unknown): void => {
    if (found !== undefined || value === null || typeof value !== 'object') return
    if (Array.isArray(value)) {
      for (const item of value) visit(item)
      return
    }
    const token = value as Partial<QuotedToken>
    if (typeof token.source === 'string' && typeof token.offset === 'number') {
      const closed =
        token.type === 'double-quoted-scalar' ? /^"(?:[^"\\]|\\[\s\S])*"$/.test(token.source)
        : token.type === 'single-quoted-scalar' ? /^'(?:[^']|'')*'$/.test(token.source)
        : true
      if (!closed) {
        found = token.offset
        return
      }
    }
    for (const [key, child] of Object.entries(value)) if (key !== 'source') visit(child)
  }
  for (const token of new Parser().parse(text)) visit(token)
  return found
}

function suggestionFor(error: YAMLError, text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1
  const lineEnd = text.indexOf('\n', offset)
  const line = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd)
  switch (error.code) {
    case 'TAB_AS_INDENT':
      return 'Indent with spaces: YAML does not allow tabs for indentation'
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return /:\s.*:\s/.test(line)
        ? 'A value that contains ": " must be quoted, e.g. key: "a: b"'
        : 'Check the indentation: a key must be on one line, and nested keys go on their own lines, indented'
    case 'BAD_INDENT':
    case 'UNEXPECTED_TOKEN':
    case 'MISSING_CHAR':
      if (/^\s*\t/.test(line)) return 'Indent with spaces: YAML does not allow tabs for indentation'
      return 'Check the indentation of this line against the lines above: entries of one mapping or list must start in the same column'
    case 'BAD_SCALAR_START':
      return 'Quote the value: plain values cannot start with this character (e.g. `@`, a backtick, `%`)'
    case 'BAD_ALIAS':
    case 'ALIAS_PROPS':
      return 'Check the anchor (&name) and alias (*name) syntax'
    default:
      return 'Check the YAML syntax near this line: indentation with spaces, a space after ":", and closed quotes and brackets'
  }
}

function syntaxErrorFrom(error: YAMLError, text: string, ctx: Pick<Context, 'file' | 'lineCounter' | 'sourceLine'>): ConfigError {
  const offset = error.pos[0]
  if (error.code === 'MISSING_CHAR' && /quote/i.test(error.message)) {
    const start = findUnclosedQuote(text)
    if (start !== undefined) {
      const quote = text[start] === "'" ? 'single' : 'double'
      const at = positionAt(ctx, start)
      return syntaxError(
        `Unclosed ${quote} quote in ${ctx.file}: the string starting at line ${at.line}, column ${at.column} never ends`,
        at,
        quote === 'double'
          ? 'Add the closing " (write \\" for a quote inside the value)'
          : "Add the closing ' (write '' for a quote inside the value)",
      )
    }
  }
  const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').trim()
  return syntaxError(`Invalid YAML in ${ctx.file}: ${message}`, positionAt(ctx, offset), suggestionFor(error, text, offset))
}

/** Parses one YAML document the way Kamal (Psych, YAML 1.1) reads it, keeping the position of every node. */
export function parseYaml(text: string, file: string, options: ParseYamlOptions = {}): ParsedYaml {
  const lineCounter = new LineCounter()
  const positions = new PositionMap(file)
  const diagnostics: YamlDiagnostic[] = []
  const base = {file, lineCounter, sourceLine: options.sourceLine}
  const documents = parseAllDocuments(text, {
    lineCounter,
    version: '1.1',
    merge: true,
    uniqueKeys: false,
    prettyErrors: false,
  })
  const list = Array.isArray(documents) ? documents : []
  const doc = list[0]
  if (!doc) {
    // An empty stream, or comments only. Psych would return false; null is what callers can handle.
    const firstError = (documents as {errors?: YAMLError[]}).errors?.[0]
    if (firstError) throw syntaxErrorFrom(firstError, text, base)
    positions.set([], {file, line: 1, column: 1}, 'scalar')
    return {value: null, positions, diagnostics}
  }
  const firstError = doc.errors[0]
  if (firstError) throw syntaxErrorFrom(firstError, text, base)

  const ctx: Context = {
    ...base,
    doc,
    positions,
    diagnostics,
    quiet: false,
    active: new Set(),
    count: {nodes: 0},
    aliases: {},
  }
  const root = doc.contents as YamlNode | null
  positions.set([], root?.range ? positionAt(ctx, root.range[0]) : {file, line: 1, column: 1}, kindOf(root, ctx))
  const value = convert(root, [], ctx)

  for (const warning of doc.warnings) {
    diagnostics.push({
      severity: 'warning',
      rule: 'yaml/parser',
      message: warning.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').trim(),
      path: [],
      position: positionAt(ctx, warning.pos[0]),
    })
  }
  const second = list[1]
  if (second) {
    diagnostics.push({
      severity: 'warning',
      rule: 'yaml/multiple-documents',
      message: `${file} contains more than one YAML document; Kamal reads only the first`,
      suggestion: 'Remove the `---` line and everything after it, or merge the documents',
      path: [],
      position: positionAt(ctx, second.range[0]),
    })
  }
  return {value, positions, diagnostics}
}
