// The evidence digest (src/engine/evidence.ts): canonical JSON and a SHA-256 over it that ignores key order and
// the digest member itself. Pure functions.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {canonicalJson, digest} from '../../../src/engine/evidence.ts'

describe('evidence digest', () => {
  test('canonical JSON: keys sorted at every level, no whitespace, digest and undefined members left out', () => {
    assert.equal(canonicalJson({b: 1, a: {d: [2, {z: null, y: 'x'}], c: undefined}, digest: {value: 'x'}}), '{"a":{"d":[2,{"y":"x","z":null}]},"b":1}')
  })
  test('the digest does not depend on key order or on the digest itself, and changes with any value', () => {
    const a = digest({app: 'shop', runs: {total: 2, complete: 1}})
    assert.equal(a, digest({runs: {complete: 1, total: 2}, app: 'shop', digest: {algorithm: 'sha256', value: 'whatever'}}))
    assert.notEqual(a, digest({app: 'shop', runs: {total: 2, complete: 2}}))
    assert.match(a, /^[0-9a-f]{64}$/)
  })
})
