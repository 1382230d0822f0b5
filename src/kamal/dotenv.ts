// The dotenv dialect of `.kamal/secrets` files, as Kamal 2.x parses them with the dotenv gem 3.1
// (kamal-config.md 7.2): `KEY=value` lines, quotes, comments, `$VAR` / `${VAR}` from earlier keys then the
// environment, and `$(command)` run through /bin/sh, whose output is inserted literally.
//
// One deliberate difference: Kamal silently uses an empty value when a command fails. We use the empty value too,
// but record the failure (file, line, the command as written, never its output) on that key and on every key built
// from it with $VAR, so a caller that needs the value can stop with that error: an empty password is worse than
// no run. A failure in a key nobody needs (RAILS_MASTER_KEY=$(cat config/master.key) in CI) blocks nothing.

import {accessSync, constants, statSync} from 'node:fs'
import {delimiter, join} from 'node:path'

import {ConfigError, type ErrorCode, type FindingRule} from '../errors.js'
import {runSync} from '../exec/local.js'
import {Redactor} from '../redact.js'

export interface CommandRunner {
  (command: string, env: Readonly<Record<string, string | undefined>>): {status: number | null; stdout: string; stderr: string}
}

export interface DotenvEntry {
  name: string
  value: string
  /** The line of the definition that won (the last one for a key defined twice). */
  line: number
  /** Set when a `$(command)` of this value, or of a key it uses as $VAR, failed: the value is then empty. */
  failure?: ConfigError
  /** The `$VAR`s this value used that were set neither above in the file nor in the environment (each is ''). */
  unset?: string[]
}

/** Errors that spoil one key only (its value becomes empty, as in Kamal); anything else spoils the file. */
const PER_KEY_CODES = new Set<ErrorCode | FindingRule>(['secrets/command-failed', 'secrets/needs-kamal'])

/** A $VAR a value used: its value, and whether it was set at all. */
interface Used {
  name: string
  value: string
  unset?: true
}

export interface DotenvResult {
  entries: DotenvEntry[]
  warnings: {message: string; line: number}[]
}

export interface DotenvOptions {
  /** How the file is named in messages. */
  file: string
  /** The process environment: `$VAR` falls back to it, and commands run with it. */
  env: Readonly<Record<string, string | undefined>>
  /** Runs `$(…)` commands. Defaults to `/bin/sh -c` in `cwd`. */
  run?: CommandRunner
  /** The directory commands run in with the default runner (Kamal runs them in the app root). */
  cwd?: string
}

/** The default runner: `/bin/sh -c COMMAND`, like Ruby's backticks, with the given environment. */
export function shellRunner(cwd?: string): CommandRunner {
  return (command, env) => {
    const clean: Record<string, string> = {}
    for (const [name, value] of Object.entries(env)) if (value !== undefined) clean[name] = value
    const result = runSync(['/bin/sh', '-c', command], {env: clean, cwd})
    if (result.error) return {status: null, stdout: result.stdout, stderr: result.error.message}
    return {status: result.status, stdout: result.stdout, stderr: result.stderr}
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Line grammar. dotenv scans the whole text with one pattern anchored at line starts; text that does not match is
// skipped. Written out here from the documented behaviour: optional `export `, a key of [A-Za-z0-9_.], then
// `=` (spaces allowed) or `: `, then a single-quoted, double-quoted (may span lines) or unquoted value, then an
// optional comment.

const SPACE = '[ \\t\\r\\n\\f\\v]'
const LINE = new RegExp(
  [
    `^${SPACE}*`,
    `(?<export>export${SPACE}+)?`,
    `(?<key>[A-Za-z0-9_.]+)`,
    `(?:(?:${SPACE}*=${SPACE}*?|:${SPACE}+?)`,
    `(?<value>${SPACE}*'(?:\\\\'|[^'])*'|${SPACE}*"(?:\\\\"|[^"])*"|[^#\\n]+)?`,
    `)?`,
    `${SPACE}*(?:#.*)?$`,
  ].join(''),
  'gmd',
)

const VARIABLE = /(\\)?\$(?!\()\{?([A-Za-z0-9_]+)?\}?/g
const UNSUPPORTED_DEFAULT = /(?<!\\)\$\{([A-Za-z0-9_]+)([^}A-Za-z0-9_][^}]*)\}/g
const IN_PROCESS = /^\s*kamal\s+secrets\s+/

function rubyStrip(text: string): string {
  return text.replace(/^[\t\n\v\f\r ]+|[\0\t\n\v\f\r ]+$/g, '')
}

function chomp(text: string): string {
  return text.replace(/(?:\r\n|\n|\r)$/, '')
}

interface CommandMatch {
  start: number
  end: number
  escaped: boolean
  /** The text between the outer parentheses. */
  command: string
}

/** Finds `$(…)` with balanced parentheses (a backslash escapes the next character), optionally preceded by `\`. */
function findCommands(text: string): CommandMatch[] {
  const found: CommandMatch[] = []
  let index = 0
  while (index < text.length) {
    const dollar = text.indexOf('$(', index)
    if (dollar < 0) break
    let depth = 0
    let cursor = dollar + 1
    let close = -1
    for (; cursor < text.length; cursor++) {
      const char = text[cursor]
      if (char === '\\') {
        cursor++
        continue
      }
      if (char === '(') depth++
      else if (char === ')') {
        depth--
        if (depth === 0) {
          close = cursor
          break
        }
      }
    }
    if (close < 0 || close === dollar + 2) {
      index = dollar + 1
      continue
    }
    const escaped = dollar > 0 && text[dollar - 1] === '\\'
    found.push({start: escaped ? dollar - 1 : dollar, end: close + 1, escaped, command: text.slice(dollar + 2, close)})
    index = close + 1
  }
  return found
}

/** Splits a command line into words like a POSIX shell would for quoting (Ruby's Shellwords.split). */
export function shellSplit(line: string): string[] {
  const words: string[] = []
  let word: string | undefined
  for (let index = 0; index < line.length; index++) {
    const char = line[index]!
    if (/\s/.test(char)) {
      if (word !== undefined) words.push(word)
      word = undefined
      continue
    }
    word ??= ''
    if (char === "'") {
      const close = line.indexOf("'", index + 1)
      if (close < 0) throw new Error('unmatched single quote')
      word += line.slice(index + 1, close)
      index = close
    } else if (char === '"') {
      let cursor = index + 1
      for (; cursor < line.length && line[cursor] !== '"'; cursor++) {
        const inner = line[cursor]!
        if (inner === '\\' && cursor + 1 < line.length) {
          const next = line[cursor + 1]!
          if ('$`"\\\n'.includes(next)) {
            if (next !== '\n') word += next
          } else {
            word += inner + next
          }
          cursor++
        } else {
          word += inner
        }
      }
      if (cursor >= line.length) throw new Error('unmatched double quote')
      index = cursor
    } else if (char === '\\') {
      const next = line[index + 1]
      if (next !== undefined && next !== '\n') word += next
      index++
    } else {
      word += char
    }
  }
  if (word !== undefined) words.push(word)
  return words
}

function lineStarts(text: string): number[] {
  const starts = [0]
  for (let index = text.indexOf('\n'); index >= 0; index = text.indexOf('\n', index + 1)) starts.push(index + 1)
  return starts
}

function lineOf(starts: number[], offset: number): number {
  let low = 0
  let high = starts.length - 1
  while (low < high) {
    const mid = (low + high + 1) >> 1
    if (starts[mid]! <= offset) low = mid
    else high = mid - 1
  }
  return low + 1
}

function onPath(program: string, env: DotenvOptions['env']): boolean {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    try {
      const candidate = join(dir, program)
      if (!statSync(candidate).isFile()) continue
      accessSync(candidate, constants.X_OK)
      return true
    } catch {
      // not here
    }
  }
  return false
}

// ---------------------------------------------------------------------------------------------------------------

interface LineContext {
  options: DotenvOptions
  run: CommandRunner
  line: number
  key: string
  /** Keys defined so far in this file. */
  values: Map<string, string>
  warnings: DotenvResult['warnings']
}

function redactorFor(ctx: LineContext, extra: string[]): Redactor {
  const redactor = new Redactor()
  for (const value of ctx.values.values()) redactor.add(value)
  for (const value of extra) redactor.add(value)
  return redactor
}

function substituteVariables(value: string, ctx: LineContext, used: Used[]): string {
  return value.replace(VARIABLE, (whole: string, backslash: string | undefined, name: string | undefined) => {
    if (backslash) return whole.slice(1)
    if (!name) return whole
    const found = ctx.values.get(name) ?? ctx.options.env[name]
    used.push({name, value: found ?? '', ...(found === undefined && {unset: true})})
    return found ?? ''
  })
}

function commandFailed(ctx: LineContext, written: string, status: number | null, stderr: string, used: {name: string; value: string}[]): ConfigError {
  const redactor = redactorFor(ctx, used.map((entry) => entry.value))
  const shown = redactor.redact(written)
  const tail = stderr
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .slice(-5)
    .map((line) => `  ${redactor.redact(line.length > 300 ? `${line.slice(0, 299)}…` : line)}`)
  const what = status === null ? 'could not be run' : `failed with exit status ${status}`
  const message = [`The command $(${shown}) on line ${ctx.line} of ${ctx.options.file} (for ${ctx.key}) ${what}`, ...(tail.length ? ['stderr:', ...tail] : [])].join('\n')

  let program = written.trim().split(/\s+/)[0] ?? ''
  try {
    program = shellSplit(written)[0] ?? program
  } catch {
    // keep the rough guess
  }
  const suggestions: string[] = []
  const name = program.replace(/^.*\//, '')
  if (status === 127) {
    suggestions.push(`Install ${program} and make sure it is on PATH (the command runs with /bin/sh -c)`)
  } else if (SIGN_IN[name]) {
    suggestions.push(`${name} may need a sign-in first (${SIGN_IN[name]}); then run kamal-backup again`)
  } else if (name === 'cat' || name === 'head' || name === 'tail') {
    suggestions.push('Check that the file exists here (a gitignored file, such as config/master.key, is missing in a fresh checkout or CI)')
  }
  for (const entry of new Map(used.map((u) => [u.name, u])).values()) {
    if (entry.value === '') suggestions.push(`${entry.name} was empty when the command ran: set it in the environment or earlier in ${ctx.options.file}`)
  }
  suggestions.push(`Run it in a shell to see the full error: ${shown}`)
  suggestions.push(readFromEnvironment(ctx.key))
  return new ConfigError(message, {code: 'secrets/command-failed', location: {file: ctx.options.file, line: ctx.line, key: ctx.key}, suggestions})
}

/** Password manager CLIs and how to sign in, for a failed command's suggestion. */
const SIGN_IN: Record<string, string> = {
  op: 'op signin',
  bw: 'bw unlock, then export BW_SESSION',
  bws: 'set BWS_ACCESS_TOKEN',
  lpass: 'lpass login',
  doppler: 'doppler login',
  passbolt: 'passbolt configure',
  'enpass-cli': 'unlock the vault',
  aws: 'aws sso login, or set AWS_PROFILE',
  gcloud: 'gcloud auth login',
  vault: 'vault login',
  gopass: 'gopass unlock',
}

/** Phrased without `NAME=value`, which the output redactor would (rightly) hide. */
function readFromEnvironment(key: string): string {
  return `Or set ${key} in the environment and make that line read it from there ($${key})`
}

/** `kamal secrets extract NAME SECRETS`: the value of NAME (or of a key ending in /NAME) in the JSON SECRETS. */
function extractSecret(args: string[], ctx: LineContext): string {
  const [name, json] = args
  const location = {file: ctx.options.file, line: ctx.line, key: ctx.key}
  if (name === undefined || json === undefined) {
    throw new ConfigError(`kamal secrets extract on line ${ctx.line} of ${ctx.options.file} needs a secret name and the output of kamal secrets fetch`, {
      code: 'secrets/command-failed',
      location,
      suggestions: ['Write it as $(kamal secrets extract NAME ${SECRETS}) after SECRETS=$(kamal secrets fetch …)'],
    })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    parsed = undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`kamal secrets extract ${name} on line ${ctx.line} of ${ctx.options.file}: its secrets argument is not a JSON object`, {
      code: 'secrets/command-failed',
      location,
      suggestions: ['Pass the output of kamal secrets fetch, e.g. $(kamal secrets extract NAME ${SECRETS}), and check that SECRETS is defined above this line'],
    })
  }
  const secrets = parsed as Record<string, unknown>
  let value = secrets[name]
  if (value === undefined || value === null || value === false) {
    value = Object.entries(secrets).find(([key]) => key.endsWith(`/${name}`))?.[1]
  }
  if (value === undefined || value === null || value === false) {
    throw new ConfigError(`Could not find secret ${name} (kamal secrets extract on line ${ctx.line} of ${ctx.options.file})`, {
      code: 'secrets/command-failed',
      location,
      suggestions: [`Check that the kamal secrets fetch call that produces the JSON asks for ${name} (with --from, its keys are FROM/NAME)`],
    })
  }
  return chomp(typeof value === 'string' ? value : JSON.stringify(value))
}

function runCommand(command: string, written: string, ctx: LineContext, used: {name: string; value: string}[]): string {
  if (IN_PROCESS.test(command)) {
    let args: string[]
    try {
      args = shellSplit(command)
    } catch (error) {
      throw new ConfigError(`Cannot split the kamal secrets command on line ${ctx.line} of ${ctx.options.file}: ${(error as Error).message}`, {
        code: 'secrets/command-failed',
        location: {file: ctx.options.file, line: ctx.line, key: ctx.key},
        suggestions: ['Check the quotes in the command'],
      })
    }
    if (args[2] === 'extract') return extractSecret(args.slice(3), ctx)
    if (!onPath('kamal', ctx.options.env)) {
      const subcommand = args[2] ?? ''
      throw new ConfigError(
        `Line ${ctx.line} of ${ctx.options.file} (${ctx.key}) runs "kamal secrets ${subcommand}", which needs the kamal CLI, and kamal is not on PATH`,
        {
          code: 'secrets/needs-kamal',
          location: {file: ctx.options.file, line: ctx.line, key: ctx.key},
          suggestions: [
            'Install Kamal (gem install kamal) so that kamal-backup can run it, then run kamal-backup again',
            readFromEnvironment(ctx.key),
          ],
        },
      )
    }
  }
  const result = ctx.run(command, ctx.options.env)
  if (result.status !== 0) throw commandFailed(ctx, written, result.status, result.stderr, used)
  const output = chomp(result.stdout)
  if (output.includes('$')) {
    ctx.warnings.push({
      line: ctx.line,
      message: `The output of the command on line ${ctx.line} (${ctx.key}) contains "$". kamal-backup keeps it as is (dotenv 3.1), but Kamal with dotenv 3.2 would expand it as a variable and may get a different value`,
    })
  }
  return output
}

function substituteCommands(value: string, raw: string, ctx: LineContext, used: {name: string; value: string}[]): string {
  const matches = findCommands(value)
  if (matches.length === 0) return value
  // For messages, the command as the user wrote it (before variables were filled in), when it can be matched up.
  const written = findCommands(raw)
  let out = ''
  let cursor = 0
  matches.forEach((match, index) => {
    out += value.slice(cursor, match.start)
    cursor = match.end
    if (match.escaped) {
      out += value.slice(match.start + 1, match.end)
      return
    }
    const shown = written.length === matches.length ? written[index]!.command : match.command
    out += runCommand(match.command, shown, ctx, used)
  })
  return out + value.slice(cursor)
}

function parseValue(rawValue: string, ctx: LineContext, used: {name: string; value: string}[]): string {
  let value = rubyStrip(rawValue)
  const quoted = /^(['"])([\s\S]*)\1$/.exec(value)
  const quote = quoted?.[1]
  if (quoted) value = quoted[2]!
  if (quote === "'") return value

  if (quote === '"') {
    const legacy = (ctx.values.get('DOTENV_LINEBREAK_MODE') ?? ctx.options.env.DOTENV_LINEBREAK_MODE) === 'legacy'
    value = legacy ? value.replace(/\\n/g, '\n').replace(/\\r/g, '\r') : value.replace(/\\n/g, '\\\\n').replace(/\\r/g, '\\\\r')
  }
  value = value.replace(/\\([^$])/g, '$1')

  for (const match of value.matchAll(UNSUPPORTED_DEFAULT)) {
    ctx.warnings.push({
      line: ctx.line,
      message: `\${${match[1]}${match[2]}} on line ${ctx.line} (${ctx.key}): shell-style defaults are not supported by Kamal's dotenv; ${ctx.key} gets the value of ${match[1]} followed by the literal text "${match[2]}}". Set ${match[1]} in the environment or earlier in the file instead`,
    })
  }
  const raw = value
  value = substituteVariables(value, ctx, used)
  return substituteCommands(value, raw, ctx, used)
}

/** Parses a `.kamal/secrets` style file. Commands run as they are reached, top to bottom, like Kamal does. */
export function parseDotenv(text: string, options: DotenvOptions): DotenvResult {
  const source = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n')
  const starts = lineStarts(source)
  const values = new Map<string, string>()
  const lines = new Map<string, number>()
  const failures = new Map<string, ConfigError>()
  const unset = new Map<string, string[]>()
  const warnings: DotenvResult['warnings'] = []
  const run = options.run ?? shellRunner(options.cwd)

  for (const match of source.matchAll(LINE)) {
    const groups = match.groups!
    const key = groups.key!
    const keyOffset = match.indices?.groups?.key?.[0] ?? match.index
    const line = lineOf(starts, keyOffset)
    if (groups.export !== undefined && groups.value === undefined) {
      // `export KEY` re-exports a key defined above; it cannot introduce one.
      if (!values.has(key)) {
        throw new ConfigError(`Line ${line} of ${options.file} exports ${key}, which has no value: "${match[0].trim()}"`, {
          code: 'secrets/format',
          location: {file: options.file, line, key},
          suggestions: [`Write export ${key}=value, or define ${key} on an earlier line`],
        })
      }
      continue
    }
    const ctx: LineContext = {options, run, line, key, values, warnings}
    const used: Used[] = []
    let value: string
    let failure: ConfigError | undefined
    try {
      value = parseValue(groups.value ?? '', ctx, used)
    } catch (error) {
      if (!(error instanceof ConfigError && PER_KEY_CODES.has(error.code))) throw error
      value = ''
      failure = error
    }
    // A key built from a failed one ($SECRETS after SECRETS=$(…) failed) fails with the first cause.
    const inherited = used.map((u) => failures.get(u.name)).find((f) => f !== undefined)
    failure = inherited ?? failure
    if (failure) {
      failures.set(key, failure)
      value = ''
    } else failures.delete(key)
    values.set(key, value)
    lines.set(key, line)
    const missing = [...new Set(used.filter((u) => u.unset).map((u) => u.name))]
    if (missing.length > 0) unset.set(key, missing)
    else unset.delete(key)
  }
  const entries = [...values].map(([name, value]): DotenvEntry => ({name, value, line: lines.get(name)!, ...(failures.has(name) && {failure: failures.get(name)!}), ...(unset.has(name) && {unset: unset.get(name)!})}))
  return {entries, warnings}
}
