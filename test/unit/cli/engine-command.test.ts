// The engine commands' shared flag handling (src/cli/engine-command.ts): a restore's selection (a SNAPSHOT or --at,
// --database, --files) from the parsed arguments and flags. A pure function.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {restoreSelection} from '../../../src/cli/engine-command.ts'
import {errorOf} from '../engine/support.ts'

describe('small rules', () => {
  test('a SNAPSHOT next to --at is a usage error', () => {
    const error = errorOf(() => restoreSelection({snapshot: '20261120T030000Z'}, {at: '2026-11-21T00:00:00Z'}, [{type: 'arg'}, {type: 'flag'}]))
    assert.equal(error.exitCode, 2)
    assert.match(error.message, /either a SNAPSHOT \(20261120T030000Z\) or --at/)
    assert.equal(restoreSelection({snapshot: 'latest'}, {at: '2026-11-21T00:00:00Z'}, [{type: 'flag'}]).at?.toISOString(), '2026-11-21T00:00:00.000Z')
    assert.deepEqual(restoreSelection({snapshot: 'latest'}, {database: ['a'], files: false}, []), {snapshot: 'latest', databases: ['a'], files: false})
  })
})
