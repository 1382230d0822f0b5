import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {buildEvidence, type Evidence as EvidenceDocument} from '../engine/evidence.js'

export default class Evidence extends AccessoryCommand<typeof Evidence> {
  static override summary = 'Print a redacted JSON evidence document for a security review'
  static override description = `What is backed up and where (credentials redacted), retention, schedule, the latest complete run with each snapshot, the age of the latest backup against the schedule, the last run, check, prune, restore drill and restore (with who ran them), a summary of the drill and restore history, tool versions, and a SHA-256 digest of the document's canonical form. Always JSON; the schema is schemas/output/evidence.schema.json.

${WHERE_IT_RUNS}`

  static override examples = [
    {description: 'Attach to a review ticket', command: '<%= config.bin %> <%= command.id %> -d production > evidence.json'},
  ]

  protected async here({flags}: Parsed<typeof Evidence>): Promise<EvidenceDocument> {
    const doc = await buildEvidence(await this.engine(flags), this.config.version)
    if (!this.jsonEnabled()) process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
    return doc
  }
}
