// A remote `restore production` (src/remote/restore.ts): the dry run's argv built from the operator's, and what
// the dry run's stdout is (a plan, an error document, or neither). Pure functions, no connection.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {dryRunArgv, parsePlan} from '../../../src/remote/restore.js'

test('the dry run of a remote restore gets the same selection and flags, with --dry-run --json once; arguments after -- stay last', () => {
  assert.deepEqual(dryRunArgv(['latest', '--database', 'primary', '--confirm', 'app']), ['latest', '--database', 'primary', '--confirm', 'app', '--dry-run', '--json'])
  assert.deepEqual(dryRunArgv(['--json', '--no-safety-backup', '--dry-run']), ['--no-safety-backup', '--dry-run', '--json'])
  assert.deepEqual(dryRunArgv(['--at', '2026-01-01T00:00:00Z', '--', '--json']), ['--at', '2026-01-01T00:00:00Z', '--dry-run', '--json', '--', '--json'])
})

test('the dry run\'s stdout: a plan, an error document, or neither', () => {
  const plan = {kind: 'restore-plan', status: 'ok', run: {id: '20261120T030000Z'}}
  assert.deepEqual(parsePlan(JSON.stringify(plan, null, 2) + '\n'), {kind: 'plan', plan})
  assert.deepEqual(parsePlan(JSON.stringify({error: {code: 'usage/invalid', message: 'no database "x"', suggestions: []}})), {kind: 'error', error: {code: 'usage/invalid', message: 'no database "x"', suggestions: []}})
  assert.deepEqual(parsePlan(''), {kind: 'unknown'})
  assert.deepEqual(parsePlan('{"argv": []}'), {kind: 'unknown'})
  assert.deepEqual(parsePlan('[1]'), {kind: 'unknown'})
})
