import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../cli/base.js'
import {checkoutFlags} from '../cli/flags.js'
import {ExitCode} from '../errors.js'
import type {RunbookResult} from '../generate/index.js'

export default class Runbook extends BaseCommand {
  static override summary = 'Write RUNBOOK.md: what is backed up, and every restore command as it must be typed for this app'
  static override description = `Made from config/kamal-backup.yml and config/deploy.yml (with -d, for that destination), offline: what is backed up and where it lives (in the accessory and on the host), the repository and the names of the secrets that open it (never a value), and the commands for the on-call engineer — status, list, restore production (a dry run first; one database; the files only; a point in time; a run by id), the undo from the safety backup, the checks afterwards, drill production and drill local, unlock, check — each with this app's -d/-c — and, with --evidence, the recovery time the last drills and restores took. Commit it beside the code; --check in CI fails when the config changed and the runbook did not.

EXIT CODES
  0  written (or, with --check, up to date)
  1  the config has errors, or (--check) RUNBOOK.md is stale or missing
  2  usage error`

  static override examples = [
    {description: 'Write RUNBOOK.md for the production destination', command: '<%= config.bin %> <%= command.id %> -d production'},
    {description: 'In CI: fail when the committed runbook no longer matches the config', command: '<%= config.bin %> <%= command.id %> -d production --check'},
    {description: 'With the recovery time measured by the last drills', command: '<%= config.bin %> evidence -d production --json > evidence.json && <%= config.bin %> <%= command.id %> -d production --evidence evidence.json'},
    {description: 'One runbook per destination', command: '<%= config.bin %> <%= command.id %> -d staging --out docs/RUNBOOK.staging.md'},
  ]

  static override flags = {
    ...checkoutFlags,
    out: Flags.string({char: 'o', summary: 'The file to write (default RUNBOOK.md).'}),
    evidence: Flags.string({summary: 'An `evidence --json` document (kamal-backup evidence -d ... --json > evidence.json): the runbook shows the recovery time measured by its drills and restores.'}),
    check: Flags.boolean({summary: 'Compare the file with what would be written; exit 1 if it differs or is missing. Writes nothing.'}),
  }

  async run(): Promise<RunbookResult> {
    const {flags} = await this.parse(Runbook)
    const {runbook} = await import('../generate/index.js')
    const result = runbook({
      cwd: process.cwd(),
      env: process.env,
      ...(flags.destination !== undefined && {destination: flags.destination}),
      ...(flags['config-file'] !== undefined && {configFile: flags['config-file']}),
      ...(flags['backup-config'] !== undefined && {backupConfigFile: flags['backup-config']}),
      ...(flags.out !== undefined && {out: flags.out}),
      ...(flags.evidence !== undefined && {evidence: flags.evidence}),
      check: flags.check,
    })
    const s = this.ui.style
    if (result.problems > 0) this.ui.warn(`kamal-backup validate${flags.destination ? ` -d ${flags.destination}` : ''} finds ${result.problems} error(s) in this setup: the runbook's commands fail until they are fixed`)
    if (flags.check) {
      if (result.missing) this.out(`${s.red('✖')} ${result.file} is missing: write it with kamal-backup runbook${flags.destination ? ` -d ${flags.destination}` : ''}${flags.out ? ` --out ${flags.out}` : ''}`)
      else if (result.stale) this.out(`${s.red('✖')} ${result.file} is stale: regenerate it with kamal-backup runbook${flags.destination ? ` -d ${flags.destination}` : ''}${flags.out ? ` --out ${flags.out}` : ''}\n${result.stale.trimEnd()}`)
      else this.out(`${s.green('✔')} ${result.file} matches the config`)
      if (result.missing || result.stale) process.exitCode = ExitCode.failed
    } else this.out(`${s.green('✔')} wrote ${result.file}`)
    return result
  }
}
