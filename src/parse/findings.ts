// A finding is one problem in one place: what `validate` reports, and what every other command turns into an
// error before it does anything. Rule ids are stable (README "Validation rules") so CI can allow-list them.
import {ConfigError, type FindingRule} from '../errors.js'
import {isAbsolute, relative} from 'node:path'
import type {Position, YamlPath} from './yaml.js'

export type Severity = 'error' | 'warning'

export interface Finding {
  severity: Severity
  rule: FindingRule
  file: string
  line: number
  column: number
  /** The key path, e.g. `databases[0].password` or `accessories.backup.volumes`. */
  path: string
  message: string
  suggestion?: string
}

export function finding(
  severity: Severity,
  rule: FindingRule,
  position: Position,
  path: YamlPath | string,
  message: string,
  suggestion?: string,
): Finding {
  return {
    severity,
    rule,
    file: position.file,
    line: position.line,
    column: position.column,
    // A finding about a whole file has the path "(top level)", like formatPath([]).
    path: typeof path === 'string' ? path || '(top level)' : formatPath(path),
    message,
    ...(suggestion ? {suggestion} : {}),
  }
}

/** `['databases', 0, 'password']` → `databases[0].password`. */
export function formatPath(path: YamlPath): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out.length === 0 ? part : `.${part}`
  }
  return out || '(top level)'
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error')
}

/** Errors first, then by file and line. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort(
    (a, b) =>
      (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1) ||
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column,
  )
}

/** Several suggestions as one finding's suggestion: sentences, each ended once (a finding has one suggestion). */
export function joinSuggestions(suggestions: readonly string[]): string | undefined {
  const parts = suggestions.map((t) => t.trim()).filter((t) => t.length > 0)
  if (parts.length <= 1) return parts[0]
  return parts.map((t) => (/[.?!]$/.test(t) ? t : `${t}.`)).join(' ')
}

/** For commands other than `validate`: the first error finding becomes the one error the user sees. */
export function throwOnErrors(findings: readonly Finding[]): void {
  const errors = findings.filter((f) => f.severity === 'error')
  const first = errors[0]
  if (!first) return
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more; run \`kamal-backup validate\` to see all)` : ''
  throw new ConfigError(`${first.message}${more}`, {
    rule: first.rule,
    location: {file: first.file, line: first.line, column: first.column},
    suggestions: first.suggestion ? [first.suggestion] : [],
  })
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = dp[0]!
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = dp[j]!
      dp[j] = a[i - 1] === b[j - 1] ? previous : 1 + Math.min(previous, dp[j]!, dp[j - 1]!)
      previous = current
    }
  }
  return dp[b.length]!
}

/** The closest candidate, if it is close enough to be a likely typo. */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  const lower = input.toLowerCase()
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  if (best === undefined) return undefined
  const threshold = Math.max(2, Math.floor(Math.max(input.length, best.length) / 3))
  return bestDistance <= threshold ? best : undefined
}

/** A file as findings and messages name it: relative to cwd when it is inside it, else absolute. */
export function displayPath(absolute: string, cwd: string): string {
  const rel = relative(cwd, absolute)
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absolute
}
