// Evidence signatures: ed25519 over the document's canonical form (keys sorted, no whitespace, without `digest`
// and `signature`). The digest alone proves nothing against someone who edits the file (they recompute it); a
// signature made with a key only the accessory holds does, checked with `evidence verify --public-key`.
import {KamalBackupError} from '../errors.js'

export interface EvidenceSignature {
  algorithm: 'ed25519'
  /** base64 */
  value: string
  /** The public key (SPKI PEM) of the key that signed: informational; verify with a key you trust. */
  public_key: string
  /** SHA256:<base64 of the SHA-256 of the public key's DER>, as ssh-keygen prints fingerprints. */
  public_key_fingerprint: string
}

// node:crypto is loaded only where a signature is made or checked (start-up of every other command).
const crypto = () => process.getBuiltinModule('node:crypto')

/** JSON with keys sorted at every level, no whitespace, undefined members and `digest` members left out. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k, v]) => v !== undefined && k !== 'digest')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value ?? null)
}

/** SHA-256 (hex) of the signed content. */
export function digest(doc: Record<string, unknown>): string {
  return crypto().createHash('sha256').update(signedContent(doc)).digest('hex')
}

/** What is signed and digested: the document without its digest and signature. */
export function signedContent(doc: Record<string, unknown>): string {
  const {digest: _digest, signature: _signature, ...rest} = doc
  return canonicalJson(rest)
}

export function generateSigningKeys(): {private_key: string; public_key: string; public_key_fingerprint: string} {
  const {privateKey, publicKey} = crypto().generateKeyPairSync('ed25519')
  const publicPem = publicKey.export({type: 'spki', format: 'pem'}).toString()
  return {private_key: privateKey.export({type: 'pkcs8', format: 'pem'}).toString(), public_key: publicPem, public_key_fingerprint: fingerprint(publicPem)}
}

export function fingerprint(publicKeyPem: string): string {
  const {createHash, createPublicKey} = crypto()
  const der = createPublicKey(publicKeyPem).export({type: 'spki', format: 'der'})
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`
}

/** A PEM as a secret may hold it: with real line breaks, or with literal "\n" (a one-line .kamal/secrets entry). */
export function pemFromSecret(text: string): string {
  return text.includes('\\n') && !text.includes('\n') ? text.replace(/\\n/g, '\n') : text
}

export function signEvidence(doc: Record<string, unknown>, privateKeyText: string): EvidenceSignature {
  const {createPrivateKey, createPublicKey, sign} = crypto()
  let key
  try {
    key = createPrivateKey(pemFromSecret(privateKeyText))
  } catch (error) {
    throw new KamalBackupError(`evidence.signing_key is not a private key kamal-backup can read (${(error as Error).message.split('\n')[0]})`, {
      code: 'evidence/bad-key',
      suggestions: ['make a pair with `kamal-backup evidence keygen` and put its private_key (PEM) in the secret evidence.signing_key names'],
    })
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new KamalBackupError(`evidence.signing_key is a ${key.asymmetricKeyType} key; evidence is signed with ed25519`, {code: 'evidence/bad-key', suggestions: ['make a pair with `kamal-backup evidence keygen`']})
  const publicPem = createPublicKey(key).export({type: 'spki', format: 'pem'}).toString()
  return {algorithm: 'ed25519', value: sign(null, Buffer.from(signedContent(doc)), key).toString('base64'), public_key: publicPem, public_key_fingerprint: fingerprint(publicPem)}
}

export interface Verification {
  ok: boolean
  digest: 'ok' | 'mismatch' | 'missing'
  signature: 'ok' | 'invalid' | 'missing' | 'other-key' | 'not-checked'
  problems: string[]
}

/** Checks the digest, and with a public key the signature (made by that key, over this content). */
export function verifyEvidence(doc: Record<string, unknown>, publicKeyPem?: string): Verification {
  const {createHash, createPublicKey, verify} = crypto()
  const problems: string[] = []
  const content = signedContent(doc)
  const recorded = (doc.digest as {value?: unknown} | undefined)?.value
  const digest = typeof recorded !== 'string' ? 'missing' : createHash('sha256').update(content).digest('hex') === recorded ? 'ok' : 'mismatch'
  if (digest === 'missing') problems.push('the document has no digest')
  if (digest === 'mismatch') problems.push('the digest does not match the content: the document was changed after it was made')
  let signature: Verification['signature'] = 'not-checked'
  if (publicKeyPem !== undefined) {
    const sig = doc.signature as Partial<EvidenceSignature> | null | undefined
    const key = createPublicKey(publicKeyPem)
    if (!sig || typeof sig.value !== 'string') {
      signature = 'missing'
      problems.push('the document is not signed (evidence.signing_key was not set where it was made)')
    } else if (sig.public_key_fingerprint !== fingerprint(publicKeyPem)) {
      signature = 'other-key'
      problems.push(`it was signed by ${String(sig.public_key_fingerprint)}, not by the key given (${fingerprint(publicKeyPem)})`)
    } else if (!verify(null, Buffer.from(content), key, Buffer.from(sig.value, 'base64'))) {
      signature = 'invalid'
      problems.push('the signature does not match the content: the document was changed after it was signed')
    } else signature = 'ok'
  }
  return {ok: problems.length === 0, digest, signature, problems}
}
