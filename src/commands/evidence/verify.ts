import {readFileSync} from 'node:fs'
import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../../cli/base.js'
import {KamalBackupError, UsageError} from '../../errors.js'

export interface VerifyResult {
  file: string
  ok: boolean
  digest: string
  signature: string
  signed_by: string | null
  problems: string[]
}

export default class EvidenceVerify extends BaseCommand {
  static override summary = 'Check that an evidence document is untouched, and signed by your key'
  static override description = `Recomputes the document's digest over its canonical form and, with --public-key, checks its ed25519 signature against that key (not the one the document carries). Runs on this machine; needs no configuration.

EXIT CODES
  0  the digest matches (and, with --public-key, the document is signed by that key and untouched)
  1  the document was changed, is not signed, or was signed by another key (what is wrong is printed)
  2  the file or the key cannot be read`

  static override examples = [
    {description: 'Check a document attached to a review ticket', command: '<%= config.bin %> <%= command.id %> evidence.json --public-key config/evidence.pub'},
    {description: 'Only the digest (an unsigned document)', command: '<%= config.bin %> <%= command.id %> evidence.json'},
  ]

  static override args = {
    file: Args.string({description: 'The evidence document (JSON, as `kamal-backup evidence` printed it).', required: true}),
  }

  static override flags = {
    'public-key': Flags.string({summary: 'The public key (PEM) the document must be signed with (`evidence keygen` printed it).'}),
  }

  async run(): Promise<VerifyResult> {
    const {args, flags} = await this.parse(EvidenceVerify)
    const doc = readJson(args.file)
    const publicKey = flags['public-key'] !== undefined ? readKey(flags['public-key']) : undefined
    const {fingerprint, verifyEvidence} = await import('../../engine/signature.js')
    if (publicKey !== undefined) {
      try {
        fingerprint(publicKey)
      } catch (error) {
        throw new UsageError(`${flags['public-key']} is not a public key kamal-backup can read (${(error as Error).message.split('\n')[0]})`)
      }
    }
    const verification = verifyEvidence(doc, publicKey)
    const signature = doc.signature as {public_key_fingerprint?: string} | null | undefined
    const result: VerifyResult = {file: args.file, ok: verification.ok, digest: verification.digest, signature: verification.signature, signed_by: signature?.public_key_fingerprint ?? null, problems: verification.problems}
    if (!verification.ok) {
      throw new KamalBackupError(`${args.file}: ${verification.problems.join('; ')}`, {code: 'evidence/unverified', suggestions: publicKey ? [] : ['pass --public-key to check who signed it']})
    }
    const s = this.ui.style
    this.out(publicKey ? `${s.green('✔')} ${args.file}: untouched, signed by ${fingerprint(publicKey)}` : `${s.green('✔')} ${args.file}: the digest matches (${signature ? `signed by ${signature.public_key_fingerprint}: pass --public-key to check the signature` : 'unsigned: anyone who edits it can recompute the digest'})`)
    return result
  }
}

function readJson(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  try {
    const doc = JSON.parse(text) as unknown
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) return doc as Record<string, unknown>
  } catch {}
  throw new UsageError(`${file} is not an evidence document (one JSON object)`)
}

function readKey(file: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read the public key ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  if (!/^\s*-----BEGIN PUBLIC KEY-----/.test(text)) throw new UsageError(`${file} is not a public key in PEM (-----BEGIN PUBLIC KEY-----); \`kamal-backup evidence keygen\` prints one`)
  return text
}
