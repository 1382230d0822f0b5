// Signed evidence, end to end with the built CLI: `evidence keygen` makes a pair, the accessory side signs with the
// private key (evidence.signing_key: {secret: …}), and `evidence verify` checks a copy with the public key: exit 0
// untouched, 1 after any edit (even with the digest recomputed), with another key or without a signature.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kb} from '../../support/cli.ts'
import {freshRepo, tempDir} from '../../support/lab.ts'
import {digest} from '../../../src/engine/signature.ts'
import {assertSchema, cli, cliJson, localRestic, writeApp} from './support.ts'

async function keygen(): Promise<{private_key: string; public_key: string; public_key_fingerprint: string}> {
  const r = await kb(['evidence', 'keygen', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const pair = JSON.parse(r.stdout)
  assertSchema('evidence-keygen', pair)
  return pair
}

describe('signed evidence', {concurrency: true}, () => {
  test('signed by the key the config names; verify says untouched, and catches an edit, another key and a missing signature', async () => {
    const pair = await keygen()
    const dir = tempDir('evidence-signing')
    mkdirSync(join(dir, 'files'))
    writeFileSync(join(dir, 'files', 'a.txt'), 'a\n')
    const repo = freshRepo('0.18')
    const app = writeApp({version: '0.18', repo, paths: [`  - ${join(dir, 'files')}`], restic: localRestic(repo), extra: ['evidence: {signing_key: {secret: EVIDENCE_KEY}}'], env: {EVIDENCE_KEY: pair.private_key}})
    assert.equal((await cli(app, ['backup', '--force'])).code, 0)
    const {result, json: doc} = await cliJson(app, ['evidence'])
    assert.equal(result.code, 0, result.stderr)
    assertSchema('evidence', doc)
    assert.equal(doc.signature.algorithm, 'ed25519')
    assert.equal(doc.signature.public_key_fingerprint, pair.public_key_fingerprint)
    assert.ok(!result.stdout.includes('PRIVATE KEY'), 'the private key is not in the document')

    const file = join(dir, 'evidence.json')
    const pub = join(dir, 'evidence.pub')
    writeFileSync(file, result.stdout)
    writeFileSync(pub, pair.public_key)
    const ok = await kb(['evidence', 'verify', file, '--public-key', pub, '--json'])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assertSchema('evidence-verify', JSON.parse(ok.stdout))
    assert.match((await kb(['evidence', 'verify', file, '--public-key', pub])).stdout, new RegExp(`untouched, signed by ${pair.public_key_fingerprint.replace(/[+/]/g, '\\$&')}`))

    // An edit, with the digest recomputed as an editor would: the signature still catches it.
    const edited = {...doc, runs: {...doc.runs, complete: doc.runs.complete + 1}}
    writeFileSync(file, JSON.stringify({...edited, digest: {algorithm: 'sha256', value: digest(edited)}}, null, 2))
    const changed = await kb(['evidence', 'verify', file, '--public-key', pub])
    assert.equal(changed.code, 1, changed.stdout + changed.stderr)
    assert.match(changed.stderr, /the signature does not match the content/)
    // A plain edit: the digest says so too, without a key.
    writeFileSync(file, result.stdout.replace(`"app": "${app.name}"`, '"app": "someone-else"'))
    const plain = await kb(['evidence', 'verify', file])
    assert.equal(plain.code, 1)
    assert.match(plain.stderr, /the digest does not match the content/)
    // Another key.
    writeFileSync(file, result.stdout)
    const other = await keygen()
    writeFileSync(pub, other.public_key)
    const wrongKey = await kb(['evidence', 'verify', file, '--public-key', pub])
    assert.equal(wrongKey.code, 1)
    assert.match(wrongKey.stderr, new RegExp(`signed by ${pair.public_key_fingerprint.replace(/[+/]/g, '\\$&')}, not by the key given`))
    // Not a key, not a document: usage errors.
    assert.equal((await kb(['evidence', 'verify', file, '--public-key', file])).code, 2)
    assert.equal((await kb(['evidence', 'verify', pub])).code, 2)
  })

  test('unsigned evidence carries the digest and says it is unsigned; verify with a key refuses it', async () => {
    const dir = tempDir('evidence-unsigned')
    mkdirSync(join(dir, 'files'))
    writeFileSync(join(dir, 'files', 'a.txt'), 'a\n')
    const repo = freshRepo('0.14')
    const app = writeApp({version: '0.14', repo, paths: [`  - ${join(dir, 'files')}`], restic: localRestic(repo)})
    assert.equal((await cli(app, ['backup', '--force'])).code, 0)
    const {result, json: doc} = await cliJson(app, ['evidence'])
    assertSchema('evidence', doc)
    assert.equal(doc.signature, null)
    const file = join(dir, 'evidence.json')
    writeFileSync(file, result.stdout)
    const digestOnly = await kb(['evidence', 'verify', file])
    assert.equal(digestOnly.code, 0, digestOnly.stderr)
    assert.match(digestOnly.stdout, /the digest matches \(unsigned: anyone who edits it can recompute the digest\)/)
    const pub = join(dir, 'evidence.pub')
    writeFileSync(pub, (await keygen()).public_key)
    const withKey = await kb(['evidence', 'verify', file, '--public-key', pub])
    assert.equal(withKey.code, 1)
    assert.match(withKey.stderr, /is not signed/)
  })

  test('a signing key that is not an ed25519 private key: evidence fails with evidence/bad-key, naming the setting', async () => {
    const dir = tempDir('evidence-bad-key')
    const repo = freshRepo('0.18')
    const app = writeApp({version: '0.18', repo, paths: [`  - ${dir}`], restic: localRestic(repo), extra: ['evidence: {signing_key: {secret: EVIDENCE_KEY}}'], env: {EVIDENCE_KEY: 'not a key'}})
    const r = await cli(app, ['evidence'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /evidence\.signing_key is not a private key/)
  })
})
