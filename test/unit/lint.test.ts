// The lint gate (npm run lint): ESLint (eslint.config.mjs) passes on the whole tree and dependency-cruiser's
// layer rules (.dependency-cruiser.cjs) pass on src/. And each kind of rule can fail: both configs run over
// test/fixtures/layers/src, a small tree shaped like src/ with deliberate violations, and exactly the expected
// rules fire there (a fixture line ESLint must report ends with `// expect: <rule>[, <rule>]`).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join, relative} from 'node:path'
import {ESLint} from 'eslint'
import {ROOT} from '../support/cli.ts'

const FIXTURE = join(ROOT, 'test/fixtures/layers')
const FIXTURE_SRC = relative(ROOT, join(FIXTURE, 'src'))
const ESLINT_CONFIG = join(ROOT, 'eslint.config.mjs')
const DEPCRUISE_CONFIG = join(ROOT, '.dependency-cruiser.cjs')

interface Violation {
  type: string
  from: string
  to: string
  rule: {name: string; severity: string}
  cycle?: {name: string; dependencyTypes: string[]}[]
}

interface Cruise {
  violations: Violation[]
  /** Modules cruised: 0 would mean a wrong root, and a vacuous pass. */
  cruised: number
  /** Set when depcruise printed no JSON (a broken config, a crash). */
  error?: string
}

/** depcruise <root> --output-type json, with the real config; never rejects (violations make it exit non-zero). */
function depcruise(root: string): Promise<Cruise> {
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/depcruise'), [root, '--config', DEPCRUISE_CONFIG, '--output-type', 'json'], {cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', (err) => resolve({violations: [], cruised: 0, error: String(err)}))
    child.on('close', (code) => {
      try {
        const {summary} = JSON.parse(stdout) as {summary: {violations: Violation[]; totalCruised: number}}
        resolve({violations: summary.violations, cruised: summary.totalCruised})
      } catch {
        resolve({violations: [], cruised: 0, error: `depcruise printed no JSON (exit ${code}): ${stderr}${stdout.slice(0, 2000)}`})
      }
    })
  })
}

const describeViolation = (v: Violation) =>
  `${v.rule.name}: ${v.from}${v.type === 'module' ? '' : ` → ${v.to}`}${v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`

const eslintProblems = (results: ESLint.LintResult[], cwd: string) =>
  results.flatMap((r) => r.messages.map((m) => ({file: relative(cwd, r.filePath), line: m.line, rule: m.ruleId ?? (m.fatal ? 'parse-error' : 'eslint-directive'), severity: m.severity, message: m.message})))

// Both depcruise runs are separate processes: start them now, so they run while ESLint works in this one.
const realCruise = depcruise('src')
const fixtureCruise = depcruise(FIXTURE_SRC)

describe('the real tree', () => {
  test('ESLint: no errors in src/, test/, bench/, scripts/, bin/ (eslint .)', async () => {
    // Cached by content (a file is linted again when it or the config changes): ~2 s instead of ~12 s when warm.
    const eslint = new ESLint({cwd: ROOT, cache: true, cacheStrategy: 'content', cacheLocation: join(ROOT, 'node_modules/.cache/eslint-test/')})
    const results = await eslint.lintFiles(['.'])
    assert.ok(results.some((r) => r.filePath.startsWith(join(ROOT, 'src') + '/')), 'src/ was linted')
    assert.ok(!results.some((r) => r.filePath.startsWith(FIXTURE + '/')), 'test/fixtures/ is ignored')
    const errors = eslintProblems(results, ROOT).filter((p) => p.severity === 2)
    assert.equal(errors.length, 0, `${errors.length} ESLint errors (npm run lint), the first ones:\n` +
      errors.slice(0, 40).map((p) => `  ${p.file}:${p.line} ${p.rule}: ${p.message}`).join('\n'))
  })

  test('dependency-cruiser: src/ keeps to its layers, has no cycles, resolves every import', async () => {
    const {violations, cruised, error} = await realCruise
    assert.equal(error, undefined)
    assert.ok(cruised > 50, `${cruised} modules cruised`)
    assert.equal(violations.length, 0, `${violations.length} dependency-cruiser violations (npm run lint):\n` +
      violations.map((v) => `  ${describeViolation(v)}`).join('\n'))
  })
})

describe('the rules can fail (test/fixtures/layers)', () => {
  test('ESLint: child_process outside src/exec, adapter compared with a kind, console, == — and nothing else', async () => {
    // The real config, with the fixture as the working directory: its src/... patterns then match the fixture's
    // src/; ignore: false because the real config ignores test/fixtures/ (seen from the repository root).
    const results = await new ESLint({cwd: FIXTURE, overrideConfigFile: ESLINT_CONFIG, ignore: false}).lintFiles(['src'])
    const expected: string[] = []
    for (const r of results) {
      readFileSync(r.filePath, 'utf8').split('\n').forEach((line, i) => {
        const marker = /\/\/ expect: (.+)$/.exec(line)
        for (const rule of marker?.[1]!.split(/,\s*/) ?? []) expected.push(`${relative(FIXTURE, r.filePath)}:${i + 1} ${rule}`)
      })
    }
    const actual = eslintProblems(results, FIXTURE).map((p) => `${p.file}:${p.line} ${p.rule}`)
    assert.deepEqual(actual.sort(), expected.sort(), eslintProblems(results, FIXTURE).map((p) => `${p.file}:${p.line} ${p.rule}: ${p.message}`).join('\n'))
    // Each rule the fixture is about is among them (so a fixture without markers cannot pass by expecting nothing).
    for (const rule of ['no-restricted-imports', 'no-restricted-syntax', 'no-console', 'eqeqeq']) assert.ok(actual.some((a) => a.endsWith(` ${rule}`)), rule)
    const messages = results.flatMap((r) => r.messages.map((m) => m.message))
    assert.ok(messages.some((m) => m.includes('database-specific behaviour belongs in the adapter (src/db/<kind>.ts)')), 'the adapter message')
    assert.ok(messages.some((m) => m.includes('only src/exec/ spawns processes')), 'the child_process message')
  })

  test('dependency-cruiser: an upward, a sideways and an engine → cli import, a cycle through a type-only import, an unresolvable import, a file in no layer', async () => {
    const {violations, error} = await fixtureCruise
    assert.equal(error, undefined)
    const at = (path: string) => (path.startsWith(FIXTURE_SRC + '/') ? path.slice(FIXTURE_SRC.length - 'src'.length) : path)
    const actual = violations.map((v) => `${v.rule.name}: ${at(v.from)} → ${at(v.to)}`).sort()
    assert.deepEqual(actual, [
      'db-not-to-restic: src/db/sideways.ts → src/restic/client.ts',
      'db-restic-remote-not-upward: src/db/upward.ts → src/engine/thing.ts',
      'engine-not-upward: src/engine/uses-ui.ts → src/cli/ui.ts',
      'no-circular: src/engine/cycle-a.ts → src/engine/cycle-b.ts',
      'not-to-unresolvable: src/engine/missing.ts → ./not-there.js',
      'src-file-in-no-layer: src/stray.ts → src/stray.ts',
    ], violations.map(describeViolation).join('\n'))
    const cycle = violations.find((v) => v.rule.name === 'no-circular')!.cycle!
    assert.deepEqual(cycle.map((c) => at(c.name)), ['src/engine/cycle-b.ts', 'src/engine/cycle-a.ts'])
    assert.ok(cycle[1]!.dependencyTypes.includes('type-only'), 'the edge back (import type) counted: tsPreCompilationDeps')
  })

  test('every dependency-cruiser rule is an error and says in a comment what to do', () => {
    const config = createRequire(import.meta.url)(DEPCRUISE_CONFIG) as {forbidden: {name: string; severity: string; comment?: string}[]}
    for (const rule of config.forbidden) {
      assert.equal(rule.severity, 'error', rule.name)
      assert.ok((rule.comment ?? '').length > 40, `${rule.name} has a comment`)
    }
    assert.equal(new Set(config.forbidden.map((r) => r.name)).size, config.forbidden.length, 'rule names are unique')
  })

})
