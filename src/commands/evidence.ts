import * as Flags from '@oclif/core/flags'
import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {buildEvidence, type Evidence as EvidenceDocument} from '../engine/evidence.js'
import {damageText} from '../engine/damage.js'
import {ExitCode} from '../errors.js'

export default class Evidence extends AccessoryCommand<typeof Evidence> {
  static override summary = 'Print a redacted JSON evidence document for a security review'
  static override description = `What is backed up and where (credentials redacted), retention, schedule, the latest complete run with each snapshot, the age of the latest backup against the schedule, the last run, check, prune, restore drill and restore (with who ran them), a summary of the drill and restore history, tool versions, a SHA-256 digest of the document's canonical form and, with evidence.signing_key in config/kamal-backup.yml, an ed25519 signature of it (kamal-backup evidence verify FILE --public-key KEYFILE checks a copy; evidence keygen makes the keys). Always JSON; the schema is schemas/output/evidence.schema.json.

The document is printed in every case; the exit code says whether it shows healthy backups, so a CI job that collects evidence also notices when there is nothing good to collect. --report-only always exits 0.

${WHERE_IT_RUNS}

EXIT CODES
  0  printed, and the latest backup is on time (or backups are disabled); always with --report-only
  1  printed, but there is no complete backup run, the latest one is late, or the repository is damaged (a check
     found errors, and none has passed since)
  3  printed, but the repository cannot be opened (repository_error says why)`

  static override examples = [
    {description: 'Attach to a review ticket', command: '<%= config.bin %> <%= command.id %> -d production > evidence.json'},
    {description: 'A monthly report that must be written whatever it says', command: '<%= config.bin %> <%= command.id %> --report-only > evidence.json'},
    {description: 'Check a copy: untouched, and signed by your key', command: '<%= config.bin %> evidence verify evidence.json --public-key config/evidence.pub'},
  ]

  static override flags = {
    'report-only': Flags.boolean({summary: 'Exit 0 whatever the evidence shows (the document says it).'}),
  }

  protected async here({flags}: Parsed<typeof Evidence>): Promise<EvidenceDocument> {
    const doc = await buildEvidence(await this.engine(flags), this.config.version)
    if (!this.jsonEnabled()) process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
    // Said whatever the exit code: a damaged repository is not something to find in a JSON field later.
    if (doc.repository_damage) this.ui.error(damageText(doc.repository_damage))
    if (flags['report-only']) return doc
    const age = doc.latest_backup_age.status
    if (doc.repository_error !== null) {
      this.ui.error(`the repository cannot be opened: ${doc.repository_error}`)
      process.exitCode = ExitCode.unreachable
    } else if (age === 'late' || age === 'missing') {
      this.ui.error(age === 'missing' ? 'there is no complete backup run in the repository' : `the latest backup is late: ${doc.latest_backup_age.seconds} s old, ${doc.latest_backup_age.allowed_seconds} s allowed`)
      process.exitCode = ExitCode.failed
    } else if (doc.repository_damage) process.exitCode = ExitCode.failed
    return doc
  }
}
