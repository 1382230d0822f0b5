import {BaseCommand} from '../../cli/base.js'

export interface KeygenResult {
  private_key: string
  public_key: string
  public_key_fingerprint: string
}

export default class EvidenceKeygen extends BaseCommand {
  static override summary = 'Make an ed25519 key pair that signs evidence documents'
  static override description = `Prints a new private key and its public key (PEM). Put the private key in a secret of the backup accessory and name it in config/kamal-backup.yml (evidence: {signing_key: {secret: EVIDENCE_SIGNING_KEY}}); every evidence document is then signed. Keep the public key where reviewers find it (the app repository): \`kamal-backup evidence verify evidence.json --public-key evidence.pub\` checks a document with it. Nothing is written to disk. A one-line secret may hold the PEM with literal \\n for its line breaks.`

  static override examples = [
    {description: 'A pair, printed', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Keep the public key in the repository, the private key in your password manager', command: `<%= config.bin %> <%= command.id %> --json > /tmp/pair.json && jq -r .public_key /tmp/pair.json > config/evidence.pub`},
  ]

  async run(): Promise<KeygenResult> {
    await this.parse(EvidenceKeygen)
    const {generateSigningKeys} = await import('../../engine/signature.js')
    const pair = generateSigningKeys()
    const s = this.ui.style
    // The private key is the result: printed as is (stdout only), never through the redactor's logs.
    if (!this.jsonEnabled()) {
      process.stdout.write([
        `${s.bold('Private key')} (a secret of the backup accessory, e.g. EVIDENCE_SIGNING_KEY; then evidence: {signing_key: {secret: EVIDENCE_SIGNING_KEY}}):`,
        pair.private_key.trimEnd(),
        '',
        `${s.bold('Public key')} (fingerprint ${pair.public_key_fingerprint}; for \`kamal-backup evidence verify --public-key\`):`,
        pair.public_key.trimEnd(),
        '',
      ].join('\n'))
    }
    return pair
  }

  // The private key is the point of this command: --json prints it unredacted.
  protected override toSuccessJson(result: unknown): unknown {
    return result
  }
}
