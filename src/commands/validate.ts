import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../cli/base.js'
import {checkoutFlags} from '../cli/flags.js'
import {renderFindings, renderGithub} from '../cli/render/findings.js'
import {validateCheckout, type ValidateReport} from '../config/validate.js'
import {ExitCode} from '../errors.js'

export default class Validate extends BaseCommand {
  static override summary = 'Check config/kamal-backup.yml and the backup accessory in config/deploy.yml'
  static override description = `Runs offline from the Rails app checkout: no Ruby, Kamal, Docker or restic needed. Reads config/deploy.yml (with -d, also config/deploy.<destination>.yml) the way Kamal does, validates both files against their JSON Schemas, and cross-checks them: the backup accessory exists and uploads config/kamal-backup.yml, every backed-up path and SQLite database lies on a mounted volume, every {secret: NAME} is passed to the accessory and has a value in .kamal/secrets, retention is set, and database hosts name real accessories.

Outside an app checkout (host mode: no config/deploy.yml, the backup runs on this host) it checks this host instead of deploy.yml: backed-up directories and SQLite files exist, named volumes exist in their runtime (when it answers), and the installed systemd timer fires when backup.schedule says (--no-host-checks, or CI set, skips the host; --timer checks a given timer file anywhere).

Every finding has a severity, a stable rule id, file:line:column, the key path, a message and a suggestion.

EXIT CODES
  0  valid (warnings allowed)
  1  errors found (or warnings, with --strict)
  2  usage error (unknown flag, bad value)`

  static override examples = [
    {description: 'Validate the app in the current directory', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Validate the staging destination, failing on warnings too', command: '<%= config.bin %> <%= command.id %> -d staging --strict'},
    {description: 'In GitHub Actions: annotate the pull request', command: '<%= config.bin %> <%= command.id %> -d production --format github'},
    {description: 'When config/deploy.yml uses Ruby in ERB that kamal-backup does not evaluate (needs Kamal installed)', command: '<%= config.bin %> <%= command.id %> --kamal-config'},
    {description: 'In CI without access to the password manager', command: '<%= config.bin %> <%= command.id %> --skip-secrets --json'},
    {description: 'On a host outside Kamal: the config, this host\'s paths and volumes, the installed timer', command: '<%= config.bin %> <%= command.id %> --backup-config /etc/kamal-backup/myapp.yml'},
    {description: 'In CI: the committed timer still keeps backup.schedule', command: '<%= config.bin %> <%= command.id %> --timer deploy/systemd/kamal-backup-myapp.timer'},
  ]

  static override flags = {
    ...checkoutFlags,
    format: Flags.option({options: ['human', 'json', 'github'] as const, summary: 'Output format (--json is the same as --format json).'})(),
    strict: Flags.boolean({summary: 'Treat warnings as errors (exit 1).'}),
    'kamal-config': Flags.boolean({
      summary: 'Read config/deploy.yml through `kamal config` (needs Kamal installed): for ERB beyond what kamal-backup evaluates.',
      helpGroup: 'KAMAL',
    }),
    'skip-secrets': Flags.boolean({summary: 'Do not read .kamal/secrets: only check that secrets are declared, not that they have values.'}),
    'host-checks': Flags.boolean({
      allowNo: true,
      summary: 'Host mode (no config/deploy.yml): check this host too — paths and SQLite files exist, volumes exist in their runtime, the installed timer keeps backup.schedule. Default: on, unless CI is set.',
      helpGroup: 'HOST MODE',
    }),
    timer: Flags.string({summary: 'A systemd timer file to compare with backup.schedule (default in host mode: /etc/systemd/system/kamal-backup-<app>.timer when installed).', helpGroup: 'HOST MODE'}),
  }

  async run(): Promise<ValidateReport> {
    const {flags} = await this.parse(Validate)
    const report = validateCheckout({
      cwd: process.cwd(),
      env: process.env,
      ...(flags['config-file'] !== undefined && {configFile: flags['config-file']}),
      ...(flags.destination !== undefined && {destination: flags.destination}),
      ...(flags['kamal-config'] && {kamalConfig: true}),
      ...(flags['backup-config'] !== undefined && {backupConfigFile: flags['backup-config']}),
      skipSecrets: flags['skip-secrets'],
      ...(flags['host-checks'] !== undefined && {host: flags['host-checks']}),
      ...(flags.timer !== undefined && {timer: flags.timer}),
      strict: flags.strict,
    })
    if (!report.valid) process.exitCode = ExitCode.failed
    const format = this.jsonEnabled() ? 'json' : (flags.format ?? 'human')
    if (format === 'json' && !this.jsonEnabled()) process.stdout.write(JSON.stringify(this.redactor.redactValue(report), null, 2) + '\n')
    else if (format === 'github') this.out(renderGithub(report))
    else if (format === 'human') this.out(renderFindings(report, this.ui.style))
    return report
  }
}
