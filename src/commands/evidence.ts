import * as Flags from '@oclif/core/flags'
import {resolve} from 'node:path'
import {replaceFile} from '../files.js'
import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {buildEvidence, type Evidence as EvidenceDocument} from '../engine/evidence.js'
import {damageText} from '../engine/damage.js'
import type {Report} from '../engine/report.js'
import {errorMessage, ExitCode, KamalBackupError} from '../errors.js'

export default class Evidence extends AccessoryCommand<typeof Evidence> {
  static override summary = 'Print a redacted JSON evidence document for a security review'
  static override description = `What is backed up and where (credentials redacted), retention, schedule, the latest complete run with each snapshot, the age of the latest backup against the schedule, the last run, check, prune, restore drill and restore (with who ran them), a summary of the drill and restore history, tool versions, a SHA-256 digest of the document's canonical form and, with evidence.signing_key in config/kamal-backup.yml, an ed25519 signature of it (kamal-backup evidence verify FILE --public-key KEYFILE checks a copy; evidence keygen makes the keys). Always JSON; the schema is schemas/output/evidence.schema.json.

--html FILE writes an HTML report instead: one self-contained page (no network requests, printable) with the current status, a timeline of the runs against the schedule with the allowed age (RPO) as a band, snapshot sizes and file counts over time, the drills and their recovery time (RTO), the last restores, the repository check, the retention in force, the copies and the evidence's signature status. From an app checkout the accessory sends the data and the page is written on this machine. With --json the report's data (the evidence document and the recent history: schemas/output/report.schema.json) is printed too; without it nothing goes to stdout.

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
    {description: 'An HTML report for a review, written on this machine (printable, no network requests)', command: '<%= config.bin %> <%= command.id %> -d production --html backups-report.html'},
    {description: 'Check a copy: untouched, and signed by your key', command: '<%= config.bin %> evidence verify evidence.json --public-key config/evidence.pub'},
  ]

  static override flags = {
    'report-only': Flags.boolean({summary: 'Exit 0 whatever the evidence shows (the document says it).'}),
    html: Flags.string({summary: 'Write an HTML report to FILE (on this machine, also when the evidence comes from the accessory).', helpValue: 'FILE'}),
    /** What a workstation asks the accessory for, to render --html itself: the report document on stdout. */
    'report-data': Flags.boolean({summary: 'Print the report document (evidence and history) instead of the evidence.', hidden: true}),
  }

  protected async here({flags}: Parsed<typeof Evidence>): Promise<EvidenceDocument | Report> {
    const engine = await this.engine(flags)
    if (flags.html !== undefined || flags['report-data']) {
      const {buildReport} = await import('../engine/report.js')
      const report = await buildReport(engine, this.config.version)
      if (flags.html !== undefined) await this.writeReport(flags.html, report)
      else if (!this.jsonEnabled()) process.stdout.write(JSON.stringify(report) + '\n')
      this.judge(report.evidence, flags['report-only'])
      return report
    }
    const doc = await buildEvidence(engine, this.config.version)
    if (!this.jsonEnabled()) process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
    this.judge(doc, flags['report-only'])
    return doc
  }

  /** From a workstation with --html: the accessory builds the report (its stdout captured), the page is rendered
   *  and written here; the exit code is the accessory's. Without --html, the command runs there as it is. */
  protected override async inAccessory(input: Parsed<typeof Evidence>): Promise<number> {
    const {flags} = input
    if (flags.html === undefined) return super.inAccessory(input)
    const {captureInAccessory} = await import('../remote/run.js')
    const argv = ['--json', '--report-data', ...(flags['report-only'] ? ['--report-only'] : [])]
    const {exitCode, stdout} = await captureInAccessory(this.remoteOptions(flags, argv))
    let report: Report | undefined
    try {
      const parsed = JSON.parse(stdout) as Report
      if (parsed?.kind === 'report') report = parsed
    } catch {}
    if (!report) {
      // The accessory said why on stderr (an older release without reports is a usage error there).
      throw new KamalBackupError(`the accessory sent no report (exit ${exitCode}); ${flags.html} was not written`, {
        code: 'command/failed',
        ...(exitCode !== 0 && {exitCode}),
        suggestions: ['run the same kamal-backup release on this machine and in the accessory'],
      })
    }
    await this.writeReport(flags.html, report)
    if (this.jsonEnabled()) process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    return exitCode
  }

  /** The page, written beside FILE and renamed over it: nothing half-written. */
  private async writeReport(file: string, report: Report): Promise<void> {
    const {renderReportHtml} = await import('../cli/render/report-html.js')
    const html = renderReportHtml(report, {now: new Date()})
    try {
      replaceFile(resolve(file), html)
    } catch (error) {
      throw new KamalBackupError(`cannot write the report to ${file}: ${errorMessage(error)}`, {code: 'command/failed', cause: error})
    }
    this.ui.success(`wrote ${file}`)
  }

  /** What the evidence says about the backups, on stderr, and as the exit code (0 with --report-only). */
  private judge(doc: EvidenceDocument, reportOnly: boolean): void {
    // Said whatever the exit code: a damaged repository is not something to find in a JSON field later.
    if (doc.repository_damage) this.ui.error(damageText(doc.repository_damage))
    if (reportOnly) return
    const age = doc.latest_backup_age.status
    if (doc.repository_error !== null) {
      this.ui.error(`the repository cannot be opened: ${doc.repository_error}`)
      process.exitCode = ExitCode.unreachable
    } else if (age === 'late' || age === 'missing') {
      this.ui.error(age === 'missing' ? 'there is no complete backup run in the repository' : `the latest backup is late: ${doc.latest_backup_age.seconds} s old, ${doc.latest_backup_age.allowed_seconds} s allowed`)
      process.exitCode = ExitCode.failed
    } else if (doc.repository_damage) process.exitCode = ExitCode.failed
  }
}
