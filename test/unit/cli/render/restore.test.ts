// The restore plan as an operator reads it before confirming (src/cli/render/restore.ts): a run's age in words and
// the confirmation text. Pure functions, plain style (no colour).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {age, confirmationText} from '../../../../src/cli/render/restore.js'
import {style} from '../../../../src/cli/style.js'

test('how old a run is, in words an operator reads at a glance', () => {
  assert.deepEqual([0, 59, 60, 3599, 3600, 7380, 86_399, 86_400, 183_600].map(age), ['0 s', '59 s', '1 min', '59 min', '1 h', '2 h 3 min', '23 h 59 min', '1 d', '2 d 3 h'])
  assert.equal(age(-5), '0 s', 'a clock a little ahead never shows a negative age')
})

test('the confirmation names the run first (id, how it was picked, time, age), then what goes where and the safety backup', () => {
  const plain = style(false)
  const plan = {
    run: {id: '20261120T030000Z', time: '2026-11-20T03:00:04Z', age_seconds: 7380, pre_restore: false},
    requested: {snapshot: 'latest', at: null},
    targets: {databases: [{name: 'primary', target: 'db:5432/app_production'}], files: [{from: '/rails/storage', to: '/rails/storage'}]},
    safety_backup: false,
  }
  const text = confirmationText('app', plan, plain)
  assert.equal(text.split('\n')[0], 'This restores run 20261120T030000Z (the latest complete backup run) into PRODUCTION for app "app", overwriting its current data:')
  assert.match(text, /run {6}20261120T030000Z, taken 2026-11-20T03:00:04Z \(2 h 3 min ago\)/)
  assert.match(text, /database primary → db:5432\/app_production/)
  assert.match(text, /files {4}\/rails\/storage → \/rails\/storage/)
  assert.match(text, /safety {3}NONE \(--no-safety-backup\)/)
  assert.doesNotMatch(text, /checks/, 'no claim about checks that have not run')
  const remote = confirmationText('app', {...plan, requested: {snapshot: 'latest', at: '2026-11-21T03:00:00.000Z'}, safety_backup: true, checks: [{name: 'x', status: 'ok' as const}, {name: 'y', status: 'ok' as const}]}, plain)
  assert.match(remote, /\(the latest complete run at or before 2026-11-21T03:00:00\.000Z\)/)
  assert.match(remote, /safety {3}yes/)
  assert.match(remote, /checks {3}all 2 checks of the targets passed in the accessory just now/)
  assert.equal(confirmationText('app', {...plan, requested: {snapshot: '20261120T030000Z', at: null}}, plain).split('\n')[0], 'This restores run 20261120T030000Z into PRODUCTION for app "app", overwriting its current data:')
})
