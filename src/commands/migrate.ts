import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../cli/base.js'
import type {MigrateResult} from '../config/migrate.js'

export default class Migrate extends BaseCommand {
  static override summary = 'Rewrite the Ruby gem\'s config/kamal-backup.yml (and .local.yml) into this format'
  static override description = `For teams coming from crmne/kamal-backup. Shows the changes as a diff, each with why (the gem's key names and defaults, what it ignored), and writes them only with --write, each file replaced in one step; comments are kept where the YAML allows. The gem's retention defaults (keep_last 7, keep_daily 7, keep_weekly 4, keep_monthly 6, keep_yearly 2) are written out, because kamal-backup never deletes without a policy. Never edits config/deploy.yml or .kamal/secrets: what only they can fix (a password written in the file, now a secret) is listed. The gem's backups stay readable: list shows them as legacy runs, and restore and drill use them like any other.`

  static override examples = [
    {description: 'See what would change', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Apply it, then check the result', command: '<%= config.bin %> <%= command.id %> --write && <%= config.bin %> validate --strict'},
  ]

  static override flags = {
    write: Flags.boolean({summary: 'Write the rewritten files (default: only show the diff).'}),
    gem: Flags.boolean({summary: 'The files are the gem\'s even where nothing in them says so: write out its defaults (retention, no check).'}),
    'backup-config': Flags.string({summary: 'kamal-backup config file (default config/kamal-backup.yml).'}),
  }

  async run(): Promise<MigrateResult> {
    const {flags} = await this.parse(Migrate)
    const {migrateCheckout} = await import('../config/migrate.js')
    const result = migrateCheckout({cwd: process.cwd(), env: process.env, ...(flags['backup-config'] !== undefined && {backupConfigFile: flags['backup-config']}), write: flags.write, gem: flags.gem})
    const s = this.ui.style
    const lines: string[] = []
    const changed = result.files.filter((f) => f.changes.length > 0)
    if (changed.length === 0) lines.push(`${s.green('✔')} ${result.files.map((f) => f.file).join(' and ')}: already in kamal-backup's format, nothing to change`)
    for (const file of changed) {
      lines.push(s.bold(`${file.file}: ${file.changes.length} change${file.changes.length === 1 ? '' : 's'}`))
      for (const change of file.changes) lines.push(`  line ${change.line}: ${change.message}`)
      lines.push('', file.diff.trimEnd(), '')
    }
    const heldBack = result.files.flatMap((f) => f.heldBack.map((c) => `${f.file}:${c.line}: ${c.message}`))
    if (heldBack.length > 0) lines.push('', `If the file was written for the Ruby gem, it also meant what ${s.bold('kamal-backup migrate --gem')} would write out:`, ...heldBack.map((h) => `  - ${h}`), '')
    if (result.actions.length > 0) lines.push(s.yellow('Then, by hand (kamal-backup does not edit these files):'), ...result.actions.map((a) => `  - ${a}`), '')
    if (changed.length > 0) lines.push(result.written ? `${s.green('✔')} wrote ${changed.map((f) => f.file).join(' and ')}; now: kamal-backup validate --strict` : `nothing written: run ${s.bold('kamal-backup migrate --write')} to apply this`)
    this.out(lines.join('\n'))
    return result
  }
}
