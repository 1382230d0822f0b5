// redactingWriter (src/remote/exec.ts): whole lines redacted across chunk boundaries, bytes passed through
// unchanged otherwise, backpressure passed on. execInAccessory itself is in exec-server.test.ts.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {redactingWriter} from '../../../src/remote/exec.js'
import {Redactor} from '../../../src/redact.js'

test('redactingWriter: whole lines are redacted even when a secret is split across chunks', () => {
  const redactor = new Redactor().add('s3cr3t-value')
  let out = ''
  const w = redactingWriter(redactor, (t) => {
    out += t
    return true
  })
  w.push(Buffer.from('first line\npassword is s3cr'))
  assert.equal(out, 'first line\n', 'an incomplete line is held back')
  w.push(Buffer.from('3t-value here\nlast without newline'))
  w.flush()
  assert.equal(out, 'first line\npassword is [REDACTED] here\nlast without newline')
})

test('redactingWriter: JSON passes byte for byte when nothing is secret, including multi-byte characters split across chunks', () => {
  const redactor = new Redactor().add('unrelated-secret')
  const doc = JSON.stringify([{name: 'ünïcødé ✓ 日本語', n: 1}], null, 2) + '\n'
  const bytes = Buffer.from(doc)
  let out = ''
  const w = redactingWriter(redactor, (t) => {
    out += t
    return true
  })
  for (let i = 0; i < bytes.length; i += 7) w.push(bytes.subarray(i, i + 7))
  w.flush()
  assert.equal(out, doc)
})

test('redactingWriter: passes the destination\'s backpressure on', () => {
  const w = redactingWriter(new Redactor(), () => false)
  assert.equal(w.push(Buffer.from('a\n')), false)
  assert.equal(w.push(Buffer.from('no newline yet')), true)
})
