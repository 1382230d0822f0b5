// The confirmation prompt's wording (src/cli/confirm.ts): what is kept of the question. A pure function.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {firstSentence} from '../../../src/cli/confirm.ts'

describe('small rules', () => {
  test('the confirmation question\'s first sentence', () => {
    assert.equal(firstSentence('Restore run 20261120T030000Z (x) into 127.0.0.1/db? This overwrites local data.'), 'Restore run 20261120T030000Z (x) into 127.0.0.1/db')
    assert.equal(firstSentence('Run a production drill? It restores into scratch targets.'), 'Run a production drill')
  })
})
