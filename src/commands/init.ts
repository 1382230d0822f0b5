import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../cli/base.js'
import {checkoutFlags} from '../cli/flags.js'
import {initCheckout, type InitResult} from '../config/init.js'
import {DEFAULT_BACKUP_CONFIG} from '../config/validate.js'

export default class Init extends BaseCommand {
  static override summary = 'Write config/kamal-backup.yml for this app and print the accessory to add to config/deploy.yml'
  static override description = `Infers the configuration from the checkout: the app name from \`service\`, databases from postgres/mysql accessories (their container name becomes the URL host) or from the production entries of config/database.yml (SQLite), file paths from a storage volume, and a {secret: NAME} for every password. Line 1 points editors at the JSON Schema. Never edits config/deploy.yml or .kamal/secrets, and never overwrites without --force.`

  static override examples = [
    {description: 'Create config/kamal-backup.yml', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'With a known repository, overwriting an existing file', command: '<%= config.bin %> <%= command.id %> --repository s3:https://s3.eu-central-1.amazonaws.com/myapp-backups --force'},
  ]

  static override flags = {
    ...checkoutFlags,
    'kamal-config': Flags.boolean({
      summary: 'Read config/deploy.yml through `kamal config` (needs Kamal installed): for ERB beyond what kamal-backup evaluates.',
      helpGroup: 'KAMAL',
    }),
    force: Flags.boolean({summary: 'Overwrite an existing config/kamal-backup.yml.'}),
    repository: Flags.string({summary: 'The restic repository (default: read from the RESTIC_REPOSITORY secret).'}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    const result = initCheckout({
      cwd: process.cwd(),
      env: process.env,
      backupConfigFile: flags['backup-config'] ?? DEFAULT_BACKUP_CONFIG,
      version: this.config.version,
      force: flags.force,
      ...(flags['config-file'] !== undefined && {configFile: flags['config-file']}),
      ...(flags.destination !== undefined && {destination: flags.destination}),
      ...(flags['kamal-config'] && {kamalConfig: true}),
      ...(flags.repository !== undefined && {repository: flags.repository}),
    })
    const s = this.ui.style
    const lines = [`${s.green('✔')} wrote ${result.file}`]
    for (const db of result.databases) lines.push(`  database ${s.bold(db.name)} (${db.adapter}) from ${db.from}`)
    for (const p of result.paths) lines.push(`  files    ${s.bold(p)}`)
    if (result.accessoryBlock) {
      lines.push('', `Add the backup accessory to config/deploy.yml, under ${s.bold('accessories:')}`, '', result.accessoryBlock)
    }
    // With an accessory already there, the notes name exactly the secrets still to declare or set.
    if (result.accessoryBlock) lines.push('', `Define these secrets in .kamal/secrets (or your password manager): ${result.secrets.join(', ')}`)
    else lines.push('')
    for (const note of result.notes) lines.push(`${s.yellow('!')} ${note}`)
    lines.push('', `Then: ${s.bold('kamal-backup validate')} and ${s.bold(`kamal accessory boot ${result.accessoryName}`)}`)
    this.out(lines.join('\n'))
    return result
  }
}
