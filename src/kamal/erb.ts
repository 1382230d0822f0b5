// The ERB that Kamal configs use, evaluated without Ruby. Kamal renders the whole file with Ruby's ERB (trim mode
// "-") before YAML parsing (kamal-config.md 6.1, 12.2). We support the safe subset real configs need: output tags
// over literals and ENV lookups, comments, and trim markers. Anything else fails with the tag's location, except
// inside a YAML comment line, where the output would be discarded anyway: there it renders as nothing, with a warning.

import {ConfigError, type ErrorCode} from '../errors.js'
import type {Position} from '../parse/yaml.js'

export interface ErbOptions {
  file: string
  env: Readonly<Record<string, string | undefined>>
  /** Render an output tag with Ruby we do not run as nothing and record it in `deferred`, instead of failing: the
   *  caller decides once it knows which key the tag is in (deploy.yml's builder.arch is never read by us). */
  deferUnsupportedOutput?: boolean
}

/** An output tag rendered as nothing because it is Ruby we do not run (with deferUnsupportedOutput). */
export interface ErbDeferred {
  message: string
  position: Position
  suggestions: string[]
}

export interface ErbWarning {
  message: string
  position: Position
  suggestion?: string
}

/** An output tag that rendered as nothing because the ENV variables it read are not set. */
export interface ErbEmptyEnv {
  names: string[]
  position: Position
}

export interface ErbResult {
  output: string
  /** The source line that a line of `output` came from (1-based in, 1-based out). */
  sourceLine(renderedLine: number): number
  warnings: ErbWarning[]
  /** Output tags that rendered empty because an ENV variable is unset (YAML then reads null there). */
  emptyEnv: ErbEmptyEnv[]
  /** With deferUnsupportedOutput: the output tags that were not evaluated (rendered as nothing). */
  deferred: ErbDeferred[]
  /** Whether the text had any ERB tag (`<%%`, the escape for a literal `<%`, does not count). */
  usedErb: boolean
}

export const SUPPORTED_METHODS = ['strip', 'chomp', 'to_s', 'to_i', 'downcase', 'upcase', 'presence'] as const

const FALLBACK_SUGGESTIONS = [
  'Rewrite it with an environment variable, e.g. <%= ENV["NAME"] %> or <%= ENV.fetch("NAME", "default") %>, and set NAME before running kamal-backup',
  'Or run with --kamal-config to read the output of `kamal config` instead (needs kamal installed)',
]

// ---------------------------------------------------------------------------------------------------------------
// Values and errors of the expression language.

/** Ruby values we can produce: String, Integer (bigint), Float (number), true/false, nil. */
type RubyValue = string | bigint | number | boolean | null

/** Something Ruby would run but we do not. `reason` completes "… because <reason>". */
class Unsupported extends Error {
  constructor(readonly reason: string) {
    super(reason)
  }
}

/** Something Ruby would raise while evaluating (KeyError, NoMethodError). */
class RubyRaise extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode,
    readonly suggestions: string[],
  ) {
    super(message)
  }
}

function rubyFloatToS(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity'
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0'
  const abs = Math.abs(value)
  if (abs >= 1e16 || abs < 1e-4) {
    const [mantissa = '', exponent = ''] = value.toExponential().split('e')
    const sign = exponent.startsWith('-') ? '-' : '+'
    const digits = exponent.replace(/^[-+]/, '').padStart(2, '0')
    return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}e${sign}${digits}`
  }
  const text = String(value)
  return text.includes('.') ? text : `${text}.0`
}

/** Ruby's `to_s`, which is what `<%= %>` outputs. */
function toS(value: RubyValue): string {
  if (value === null) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number') return rubyFloatToS(value)
  return value ? 'true' : 'false'
}

function truthy(value: RubyValue): boolean {
  return value !== null && value !== false
}

function rubyClass(value: RubyValue): string {
  if (value === null) return 'nil'
  if (typeof value === 'string') return 'String'
  if (typeof value === 'bigint') return 'Integer'
  if (typeof value === 'number') return 'Float'
  return value ? 'true' : 'false'
}

function rubyEquals(a: RubyValue, b: RubyValue): boolean {
  const numeric = (v: RubyValue) => typeof v === 'bigint' || typeof v === 'number'
  if (numeric(a) && numeric(b)) return Number(a) === Number(b)
  return a === b
}

// String#to_i: leading whitespace, an optional sign, then digits (underscores allowed between digits).
function stringToI(text: string): bigint {
  const match = /^[ \t\n\v\f\r]*([-+]?)(\d+(?:_\d+)*)/.exec(text)
  if (!match) return 0n
  const digits = BigInt(match[2]!.replace(/_/g, ''))
  return match[1] === '-' ? -digits : digits
}

const RUBY_SPACE = '[\\0\\t\\n\\v\\f\\r ]'

function isBlank(value: RubyValue): boolean {
  if (value === null || value === false) return true
  return typeof value === 'string' && /^\s*$/u.test(value)
}

// ---------------------------------------------------------------------------------------------------------------
// Expressions: a small recursive-descent parser producing a tree, then an evaluator over it.

type Expr =
  | {kind: 'literal'; value: RubyValue}
  | {kind: 'string'; parts: (string | Expr)[]}
  | {kind: 'env'; name: Expr}
  | {kind: 'fetch'; name: Expr; fallback?: Expr; block?: Expr; source: string}
  | {kind: 'has-key'; name: Expr}
  | {kind: 'or' | 'and' | 'eq' | 'ne'; left: Expr; right: Expr}
  | {kind: 'not'; operand: Expr}
  | {kind: 'ternary'; condition: Expr; then: Expr; otherwise: Expr}
  | {kind: 'call'; receiver: Expr; method: string; safe: boolean}

const ENV_KEY_METHODS = new Set(['key?', 'has_key?', 'include?', 'member?'])

class ExpressionParser {
  #pos = 0

  constructor(readonly text: string) {}

  /** Parses the whole text as one expression. */
  parseAll(): Expr {
    const expr = this.#expression()
    this.#skipSpace()
    if (this.#pos < this.text.length) throw this.#unexpected()
    return expr
  }

  #peek(offset = 0): string {
    return this.text[this.#pos + offset] ?? ''
  }

  #startsWith(token: string): boolean {
    return this.text.startsWith(token, this.#pos)
  }

  #skipSpace(): void {
    while (/[ \t\r\n]/.test(this.#peek())) this.#pos++
  }

  #accept(token: string): boolean {
    this.#skipSpace()
    if (!this.#startsWith(token)) return false
    this.#pos += token.length
    return true
  }

  #expect(token: string): void {
    if (!this.#accept(token)) throw this.#unexpected()
  }

  #unexpected(): Unsupported {
    this.#skipSpace()
    const rest = this.text.slice(this.#pos).trim()
    if (rest === '') return new Unsupported('the expression is incomplete')
    return new Unsupported(`kamal-backup cannot evaluate the Ruby at "${shorten(rest, 40)}"`)
  }

  #expression(): Expr {
    const condition = this.#or()
    this.#skipSpace()
    if (this.#peek() === '?' && this.#peek(1) !== '?') {
      this.#pos++
      const then = this.#expression()
      this.#expect(':')
      const otherwise = this.#expression()
      return {kind: 'ternary', condition, then, otherwise}
    }
    return condition
  }

  #or(): Expr {
    let left = this.#and()
    while (this.#accept('||')) left = {kind: 'or', left, right: this.#and()}
    return left
  }

  #and(): Expr {
    let left = this.#equality()
    while (this.#accept('&&')) left = {kind: 'and', left, right: this.#equality()}
    return left
  }

  #equality(): Expr {
    let left = this.#unary()
    for (;;) {
      this.#skipSpace()
      if (this.#startsWith('==') && this.#peek(2) !== '=') {
        this.#pos += 2
        left = {kind: 'eq', left, right: this.#unary()}
      } else if (this.#startsWith('!=')) {
        this.#pos += 2
        left = {kind: 'ne', left, right: this.#unary()}
      } else {
        return left
      }
    }
  }

  #unary(): Expr {
    this.#skipSpace()
    if (this.#peek() === '!' && this.#peek(1) !== '=') {
      this.#pos++
      return {kind: 'not', operand: this.#unary()}
    }
    return this.#postfix()
  }

  #postfix(): Expr {
    let receiver = this.#primary()
    for (;;) {
      this.#skipSpace()
      const safe = this.#startsWith('&.')
      if (!safe && !(this.#peek() === '.' && this.#peek(1) !== '.')) return receiver
      this.#pos += safe ? 2 : 1
      this.#skipSpace()
      const name = this.#methodName()
      if (!(SUPPORTED_METHODS as readonly string[]).includes(name)) {
        throw new Unsupported(`the method .${name} is not supported (supported: ${SUPPORTED_METHODS.map((m) => `.${m}`).join(' ')})`)
      }
      if (this.#accept('(')) this.#expect(')')
      receiver = {kind: 'call', receiver, method: name, safe}
    }
  }

  #methodName(): string {
    const match = /^[A-Za-z_]\w*[?!]?/.exec(this.text.slice(this.#pos))
    if (!match) throw this.#unexpected()
    this.#pos += match[0].length
    return match[0]
  }

  #primary(): Expr {
    this.#skipSpace()
    const char = this.#peek()
    if (char === '(') {
      this.#pos++
      const inner = this.#expression()
      this.#expect(')')
      return inner
    }
    if (char === '"') return this.#doubleQuoted()
    if (char === "'") return this.#singleQuoted()
    if (char === '`') throw new Unsupported('shell commands in backticks are not run by kamal-backup')
    if (this.#startsWith('%x')) throw new Unsupported('shell commands (%x) are not run by kamal-backup')
    if (/[-+\d]/.test(char)) {
      const number = /^[-+]?\d+(?:_\d+)*(\.\d+(?:_\d+)*)?(?:[eE][-+]?\d+)?/.exec(this.text.slice(this.#pos))
      if (number && /\d/.test(number[0])) {
        this.#pos += number[0].length
        const clean = number[0].replace(/_/g, '')
        const isFloat = number[1] !== undefined || /[eE]/.test(clean)
        return {kind: 'literal', value: isFloat ? Number(clean) : BigInt(clean.replace(/^\+/, ''))}
      }
    }
    const word = /^(?:::)?[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*[?!]?/.exec(this.text.slice(this.#pos))
    if (!word) throw this.#unexpected()
    const name = word[0]
    if (name === 'nil') return this.#keyword(name, null)
    if (name === 'true') return this.#keyword(name, true)
    if (name === 'false') return this.#keyword(name, false)
    if (name === 'ENV') {
      this.#pos += name.length
      return this.#env()
    }
    // Anything else is Ruby we do not run: name the whole call (e.g. Kamal::Utils.docker_arch, File.read).
    const call = /^[\w:]+(?:\s*\.\s*\w+[?!]?)*/.exec(this.text.slice(this.#pos))?.[0] ?? name
    if (/^\w+\s*=[^=]/.test(this.text.slice(this.#pos))) throw new Unsupported('assignments are not supported')
    throw new Unsupported(`${call.replace(/\s+/g, '')} is Ruby code that kamal-backup does not run`)
  }

  #keyword(name: string, value: RubyValue): Expr {
    this.#pos += name.length
    return {kind: 'literal', value}
  }

  #env(): Expr {
    if (this.#accept('[')) {
      const name = this.#expression()
      this.#expect(']')
      return {kind: 'env', name}
    }
    this.#skipSpace()
    if (!(this.#startsWith('.') || this.#startsWith('&.'))) throw new Unsupported('ENV on its own is not supported (use ENV["NAME"])')
    this.#pos += this.#startsWith('&.') ? 2 : 1
    this.#skipSpace()
    const start = this.#pos
    const method = this.#methodName()
    if (method === 'fetch') {
      const args = this.#arguments()
      if (args.length < 1 || args.length > 2) throw new Unsupported('ENV.fetch takes a name and an optional default')
      let block: Expr | undefined
      if (this.#accept('{')) {
        if (this.#accept('|')) throw new Unsupported('block parameters are not supported in ENV.fetch { … }')
        block = this.#expression()
        this.#expect('}')
      }
      const source = `ENV.${this.text.slice(start, this.#pos).trim()}`
      return {kind: 'fetch', name: args[0]!, fallback: args[1], block, source}
    }
    if (ENV_KEY_METHODS.has(method)) {
      const args = this.#arguments()
      if (args.length !== 1) throw new Unsupported(`ENV.${method} takes one name`)
      return {kind: 'has-key', name: args[0]!}
    }
    throw new Unsupported(`ENV.${method} is not supported (use ENV["NAME"], ENV.fetch or ENV.key?)`)
  }

  /** `(a, b)` or, Ruby command style, `a, b` without parentheses. */
  #arguments(): Expr[] {
    const args: Expr[] = []
    const before = this.#pos
    if (this.#accept('(')) {
      if (this.#accept(')')) return args
      do args.push(this.#expression())
      while (this.#accept(','))
      this.#expect(')')
      return args
    }
    this.#skipSpace()
    // Without parentheses, Ruby needs a space between the method and its first argument.
    if (this.#pos === before || !/["'\d(A-Za-z_:-]/.test(this.#peek())) {
      this.#pos = before
      return args
    }
    do args.push(this.#expression())
    while (this.#accept(','))
    return args
  }

  #singleQuoted(): Expr {
    this.#pos++ // opening '
    let value = ''
    for (;;) {
      const char = this.#peek()
      if (char === '') throw new Unsupported('a string is not closed')
      this.#pos++
      if (char === "'") return {kind: 'literal', value}
      if (char === '\\' && (this.#peek() === "'" || this.#peek() === '\\')) {
        value += this.#peek()
        this.#pos++
      } else {
        value += char
      }
    }
  }

  #doubleQuoted(): Expr {
    this.#pos++ // opening "
    const parts: (string | Expr)[] = []
    let text = ''
    for (;;) {
      const char = this.#peek()
      if (char === '') throw new Unsupported('a string is not closed')
      this.#pos++
      if (char === '"') break
      if (char === '\\') {
        text += this.#escape()
      } else if (char === '#' && this.#peek() === '{') {
        this.#pos++
        if (text) parts.push(text)
        text = ''
        parts.push(this.#expression())
        this.#expect('}')
      } else if (char === '#' && /[$@]/.test(this.#peek())) {
        throw new Unsupported('#$ and #@ interpolation of Ruby variables is not supported')
      } else {
        text += char
      }
    }
    if (text || parts.length === 0) parts.push(text)
    return parts.length === 1 && typeof parts[0] === 'string' ? {kind: 'literal', value: parts[0]} : {kind: 'string', parts}
  }

  #escape(): string {
    const char = this.#peek()
    this.#pos++
    const simple: Record<string, string> = {n: '\n', t: '\t', r: '\r', '0': '\0', s: ' ', e: '\x1b', a: '\x07', b: '\b', f: '\f', v: '\v'}
    if (char in simple) return simple[char]!
    if (char === 'u') {
      const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(this.text.slice(this.#pos))
      const plain = /^[0-9a-fA-F]{4}/.exec(this.text.slice(this.#pos))
      const match = braced ?? plain
      if (!match) throw new Unsupported('an invalid \\u escape')
      this.#pos += match[0].length
      return String.fromCodePoint(Number.parseInt(braced ? braced[1]! : match[0], 16))
    }
    if (char === 'x') {
      const match = /^[0-9a-fA-F]{1,2}/.exec(this.text.slice(this.#pos))
      if (!match) throw new Unsupported('an invalid \\x escape')
      this.#pos += match[0].length
      return String.fromCharCode(Number.parseInt(match[0], 16))
    }
    if (char === '') throw new Unsupported('a string is not closed')
    return char // \" \\ \# and any other escaped character stand for themselves
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation.

function evaluate(expr: Expr, env: ErbOptions['env'], unset: string[] = []): RubyValue {
  switch (expr.kind) {
    case 'literal':
      return expr.value
    case 'string':
      return expr.parts.map((part) => (typeof part === 'string' ? part : toS(evaluate(part, env, unset)))).join('')
    case 'env': {
      const name = envName(evaluate(expr.name, env, unset))
      if (env[name] === undefined) unset.push(name)
      return env[name] ?? null
    }
    case 'has-key':
      return env[envName(evaluate(expr.name, env, unset))] !== undefined
    case 'fetch': {
      const name = envName(evaluate(expr.name, env, unset))
      const fallback = expr.fallback ? evaluate(expr.fallback, env, unset) : undefined // Ruby evaluates arguments first
      const value = env[name]
      if (value !== undefined) return value
      if (expr.block) return evaluate(expr.block, env, unset)
      if (fallback !== undefined) return fallback
      throw new RubyRaise(`${expr.source} failed: key not found: "${name}" (KeyError)`, 'erb/env-missing', [
        `Set ${name} in the environment before running kamal-backup (Kamal needs it too)`,
        `Or give it a default in the config: ENV.fetch("${name}", "default")`,
      ])
    }
    case 'or': {
      const left = evaluate(expr.left, env, unset)
      return truthy(left) ? left : evaluate(expr.right, env, unset)
    }
    case 'and': {
      const left = evaluate(expr.left, env, unset)
      return truthy(left) ? evaluate(expr.right, env, unset) : left
    }
    case 'eq':
      return rubyEquals(evaluate(expr.left, env, unset), evaluate(expr.right, env, unset))
    case 'ne':
      return !rubyEquals(evaluate(expr.left, env, unset), evaluate(expr.right, env, unset))
    case 'not':
      return !truthy(evaluate(expr.operand, env, unset))
    case 'ternary':
      return truthy(evaluate(expr.condition, env, unset)) ? evaluate(expr.then, env, unset) : evaluate(expr.otherwise, env, unset)
    case 'call': {
      const receiver = evaluate(expr.receiver, env, unset)
      if (receiver === null && expr.safe) return null
      return callMethod(receiver, expr.method)
    }
  }
}

function envName(value: RubyValue): string {
  if (typeof value !== 'string') {
    throw new RubyRaise(`no implicit conversion of ${rubyClass(value)} into String (TypeError)`, 'erb/raised', [
      'Pass the variable name as a string, e.g. ENV["NAME"]',
    ])
  }
  return value
}

function callMethod(receiver: RubyValue, method: string): RubyValue {
  if (method === 'to_s') return toS(receiver)
  if (method === 'presence') return isBlank(receiver) ? null : receiver
  if (method === 'to_i') {
    if (receiver === null) return 0n
    if (typeof receiver === 'string') return stringToI(receiver)
    if (typeof receiver === 'bigint') return receiver
    if (typeof receiver === 'number' && Number.isFinite(receiver)) return BigInt(Math.trunc(receiver))
  }
  if (typeof receiver === 'string') {
    switch (method) {
      case 'strip':
        return receiver.replace(new RegExp(`^${RUBY_SPACE}+|${RUBY_SPACE}+$`, 'g'), '')
      case 'chomp':
        return receiver.replace(/(?:\r\n|\n|\r)$/, '')
      case 'downcase':
        return receiver.toLowerCase()
      case 'upcase':
        return receiver.toUpperCase()
    }
  }
  throw new RubyRaise(`undefined method '${method}' for ${receiver === null ? 'nil' : `an instance of ${rubyClass(receiver)}`} (NoMethodError)`, 'erb/raised', [
    receiver === null
      ? 'An ENV value it reads is not set: set it, or use ENV.fetch("NAME", "default") or ENV["NAME"].to_s'
      : `Only strings have .${method}`,
  ])
}

// ---------------------------------------------------------------------------------------------------------------
// The template scanner.

function shorten(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ')
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** Whether a line that starts with `prefix` is a YAML comment at the end of `prefix`: a `#` at the start of the
 *  line or after whitespace, outside quotes. */
export function endsInYamlComment(prefix: string): boolean {
  let quote: string | undefined
  for (let index = 0; index < prefix.length; index++) {
    const char = prefix[index]!
    if (quote) {
      if (char === quote) quote = undefined
      continue
    }
    if (char === '"' || char === "'") {
      const before = prefix[index - 1]
      // YAML quotes open a scalar only at its start (after `: `, `- `, `[`, `{`, `,`, or at the line start).
      if (before === undefined || /[\s[{,]/.test(before)) quote = char
      continue
    }
    if (char === '#' && (index === 0 || /[ \t]/.test(prefix[index - 1]!))) return true
  }
  return false
}

class LineIndex {
  readonly #starts: number[] = [0]
  constructor(text: string) {
    for (let index = text.indexOf('\n'); index >= 0; index = text.indexOf('\n', index + 1)) this.#starts.push(index + 1)
  }

  get lines(): number {
    return this.#starts.length
  }

  /** 1-based line and column of an offset. */
  at(offset: number): {line: number; column: number} {
    let low = 0
    let high = this.#starts.length - 1
    while (low < high) {
      const mid = (low + high + 1) >> 1
      if (this.#starts[mid]! <= offset) low = mid
      else high = mid - 1
    }
    return {line: low + 1, column: offset - this.#starts[low]! + 1}
  }
}

interface Tag {
  /** Offset of `<%`. */
  start: number
  /** Offset just after `%>` (and the newline that `-%>` swallows). */
  end: number
  type: 'output' | 'code' | 'comment'
  code: string
  trimLeft: boolean
  source: string
}

function readTag(text: string, start: number, options: ErbOptions, lines: LineIndex): Tag {
  let cursor = start + 2
  const trimLeft = text[cursor] === '-'
  if (trimLeft) cursor++
  const marker = text[cursor]
  const type = marker === '=' ? 'output' : marker === '#' ? 'comment' : 'code'
  if (type !== 'code') cursor++
  // The tag ends at the first `%>` that is not the escape `%%>`.
  let close = text.indexOf('%>', cursor)
  while (close > cursor && text[close - 1] === '%') close = text.indexOf('%>', close + 2)
  if (close < 0) {
    const at = lines.at(start)
    const lineEnd = text.indexOf('\n', start)
    const opening = text.slice(start, lineEnd < 0 ? undefined : lineEnd).trim()
    throw new ConfigError(`ERB tag ${shorten(opening, 40)} in ${options.file} is never closed with %>`, {
      code: 'erb/syntax',
      location: {file: options.file, line: at.line, column: at.column},
      suggestions: ['Close the tag with %>, or write <%% for a literal <%'],
    })
  }
  let code = text.slice(cursor, close)
  let end = close + 2
  if (code.endsWith('-')) {
    code = code.slice(0, -1)
    if (text[end] === '\n') end++
  }
  return {start, end, type, code: code.replace(/%%>/g, '%>'), trimLeft, source: text.slice(start, close + 2)}
}

/** A `<% %>` tag that Ruby would run as nothing: empty, or only Ruby comments. */
function isInertCode(code: string): boolean {
  return code.split('\n').every((line) => /^\s*(?:#.*)?$/.test(line))
}

/** Renders ERB the way Kamal does (trim mode "-"), for the supported subset. */
export function renderErb(text: string, options: ErbOptions): ErbResult {
  const lines = new LineIndex(text)
  const warnings: ErbWarning[] = []
  const emptyEnv: ErbEmptyEnv[] = []
  const deferred: ErbDeferred[] = []
  // lineOrigins[i] = source line of rendered line i + 1.
  const lineOrigins: number[] = [1]
  let output = ''
  let usedErb = false

  const appendSource = (from: number, to: number): void => {
    for (let index = text.indexOf('\n', from); index >= 0 && index < to; index = text.indexOf('\n', index + 1)) {
      lineOrigins.push(lines.at(index + 1).line)
    }
    output += text.slice(from, to)
  }
  const appendGenerated = (value: string, line: number): void => {
    for (let index = value.indexOf('\n'); index >= 0; index = value.indexOf('\n', index + 1)) lineOrigins.push(line)
    output += value
  }

  let cursor = 0
  for (;;) {
    const start = text.indexOf('<%', cursor)
    if (start < 0) break
    appendSource(cursor, start)
    if (text[start + 2] === '%') {
      appendGenerated('<%', lines.at(start).line)
      cursor = start + 3
      continue
    }
    usedErb = true
    const tag = readTag(text, start, options, lines)
    cursor = tag.end
    if (tag.trimLeft) {
      // `<%-` removes the indentation before it when only spaces and tabs precede it on the line.
      const lineStart = output.lastIndexOf('\n') + 1
      if (/^[ \t]*$/.test(output.slice(lineStart))) output = output.slice(0, lineStart)
    }
    if (tag.type === 'comment') continue
    const at = lines.at(start)
    const position: Position = {file: options.file, line: at.line, column: at.column}
    try {
      if (tag.type === 'code') {
        if (isInertCode(tag.code)) continue
        throw new Unsupported('<% … %> code (if/else, assignments, require, …) is not supported; only <%= … %> expressions are')
      }
      // `<%= %>` is Ruby's `().to_s`: nothing.
      const unset: string[] = []
      const value = tag.code.trim() === '' ? null : evaluate(new ExpressionParser(tag.code).parseAll(), options.env, unset)
      const text = toS(value)
      if (text === '' && unset.length > 0) emptyEnv.push({names: [...new Set(unset)], position})
      appendGenerated(text, at.line)
    } catch (error) {
      if (!(error instanceof Unsupported || error instanceof RubyRaise)) throw error
      const tagText = shorten(tag.source, 100)
      const inComment = endsInYamlComment(output.slice(output.lastIndexOf('\n') + 1))
      // Ruby code we do not run, inside a comment: Kamal would run it and throw the output away. But ERB runs
      // before YAML, so an error Ruby raises (a missing ENV.fetch) stops Kamal even there: that stays an error.
      if (inComment && error instanceof Unsupported) {
        warnings.push({
          message: `Skipped ERB tag ${tagText} in a YAML comment: ${error.reason}. Kamal would evaluate it but discard the output`,
          position,
          suggestion: 'Nothing to do if Kamal runs it fine; to silence this, delete the tag from the comment or write it as <%%= … %> (a literal)',
        })
        continue
      }
      if (inComment) {
        throw new ConfigError(`ERB tag ${tagText} raised an error: ${error.message}. It is inside a YAML comment, but Kamal renders ERB before it reads YAML, so Kamal stops here too`, {
          code: (error as RubyRaise).code,
          location: position,
          suggestions: [...(error as RubyRaise).suggestions, 'Or delete the tag from the comment (or write it as <%%= … %>, a literal)'],
        })
      }
      if (error instanceof Unsupported && tag.type === 'output' && options.deferUnsupportedOutput) {
        deferred.push({message: `Cannot evaluate ERB tag ${tagText}: ${error.reason}`, position, suggestions: FALLBACK_SUGGESTIONS})
        continue
      }
      if (error instanceof Unsupported) {
        throw new ConfigError(`Cannot evaluate ERB tag ${tagText}: ${error.reason}`, {
          code: 'erb/unsupported',
          location: position,
          suggestions: FALLBACK_SUGGESTIONS,
        })
      }
      throw new ConfigError(`ERB tag ${tagText} raised an error: ${error.message}`, {
        code: error.code,
        location: position,
        suggestions: error.suggestions,
      })
    }
  }
  appendSource(cursor, text.length)

  const sourceLine = (renderedLine: number): number => {
    if (renderedLine < 1) return 1
    const known = lineOrigins[renderedLine - 1]
    if (known !== undefined) return known
    const last = lineOrigins[lineOrigins.length - 1] ?? 1
    return Math.min(last + (renderedLine - lineOrigins.length), lines.lines)
  }
  return {output, sourceLine, warnings, emptyEnv, deferred, usedErb}
}
