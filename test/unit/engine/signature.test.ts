// Evidence digests and signatures (src/engine/signature.ts): canonical JSON, a SHA-256 over it that ignores key
// order and the digest/signature members, and ed25519 signatures made and checked with real keys.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {canonicalJson, digest, fingerprint, generateSigningKeys, pemFromSecret, signEvidence, verifyEvidence} from '../../../src/engine/signature.ts'

describe('evidence digest', () => {
  test('canonical JSON: keys sorted at every level, no whitespace, digest and undefined members left out', () => {
    assert.equal(canonicalJson({b: 1, a: {d: [2, {z: null, y: 'x'}], c: undefined}, digest: {value: 'x'}}), '{"a":{"d":[2,{"y":"x","z":null}]},"b":1}')
  })
  test('the digest does not depend on key order or on the digest itself, and changes with any value', () => {
    const a = digest({app: 'shop', runs: {total: 2, complete: 1}})
    assert.equal(a, digest({runs: {complete: 1, total: 2}, app: 'shop', digest: {algorithm: 'sha256', value: 'whatever'}, signature: null}))
    assert.notEqual(a, digest({app: 'shop', runs: {total: 2, complete: 2}}))
    assert.match(a, /^[0-9a-f]{64}$/)
  })
})

describe('evidence signatures', () => {
  const pair = generateSigningKeys()
  const signed = (doc: Record<string, unknown>, key = pair.private_key) => {
    const out = {...doc, signature: signEvidence(doc, key), digest: {algorithm: 'sha256', value: digest(doc)}}
    return JSON.parse(JSON.stringify(out)) as Record<string, unknown>
  }

  test('a signed document verifies with its key; any change, a stripped signature or another key does not', () => {
    const doc = signed({app: 'shop', runs: {total: 2}})
    assert.deepEqual(verifyEvidence(doc, pair.public_key), {ok: true, digest: 'ok', signature: 'ok', problems: []})
    assert.equal(verifyEvidence({...doc, runs: {total: 3}}, pair.public_key).signature, 'invalid')
    assert.equal(verifyEvidence({...doc, runs: {total: 3}}).digest, 'mismatch')
    // An editor who recomputes the digest still cannot sign.
    const edited = {...doc, runs: {total: 3}}
    const forged = {...edited, digest: {algorithm: 'sha256', value: digest(edited)}}
    assert.deepEqual([verifyEvidence(forged).ok, verifyEvidence(forged, pair.public_key).signature], [true, 'invalid'])
    assert.equal(verifyEvidence({...doc, signature: null}, pair.public_key).signature, 'missing')
    const other = generateSigningKeys()
    assert.equal(verifyEvidence(doc, other.public_key).signature, 'other-key')
    assert.equal(verifyEvidence(signed({app: 'shop'}, other.private_key), pair.public_key).signature, 'other-key')
  })

  test('keys: PKCS8/SPKI PEM, an ssh-style fingerprint; a one-line secret with literal \\n is read; a non-ed25519 key is refused', async () => {
    assert.match(pair.private_key, /^-----BEGIN PRIVATE KEY-----\n/)
    assert.match(pair.public_key_fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/)
    assert.equal(fingerprint(pair.public_key), pair.public_key_fingerprint)
    const oneLine = pair.private_key.trim().replace(/\n/g, '\\n')
    assert.equal(pemFromSecret(oneLine), pair.private_key.trim())
    assert.equal(verifyEvidence(signed({app: 'x'}, oneLine), pair.public_key).ok, true)
    const {generateKeyPairSync} = await import('node:crypto')
    const rsa = generateKeyPairSync('rsa', {modulusLength: 1024}).privateKey.export({type: 'pkcs8', format: 'pem'}).toString()
    assert.throws(() => signEvidence({app: 'x'}, rsa), /is a rsa key; evidence is signed with ed25519/)
    assert.throws(() => signEvidence({app: 'x'}, 'not a key'), /not a private key/)
  })
})
