import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../../cli/base.js'
import type {HooksInstallResult} from '../../config/hooks.js'

export default class HooksInstall extends BaseCommand {
  static override summary = "Add a restore point before every deploy to Kamal's pre-deploy hook"
  static override description = `Writes .kamal/hooks/pre-deploy (or under deploy.yml's hooks_path), executable, POSIX sh. An existing hook is kept: a marked block is appended to it; running this again changes nothing, and a newer kamal-backup replaces only its own block. Before every deploy, Kamal runs it from the checkout with KAMAL_DESTINATION and KAMAL_VERSION set; it runs \`kamal-backup validate\` and then \`kamal-backup backup --force --reason deploy --deploy-version <KAMAL_VERSION>\` (with -d <KAMAL_DESTINATION> when deploying to a destination), inside the backup accessory. The run is tagged type:pre-deploy, \`list\` shows it as "before deploy <version>", it never counts as the scheduled run and keeps its own retention (backup.pre_deploy_keep, default 10). When either command fails, the hook exits 1 and the deploy stops; KAMAL_BACKUP_HOOK_OPTIONAL=1 in the deploy's environment lets it go on (it says so). KAMAL_BACKUP_HOOK_ARGS adds arguments to the backup command. Always runs on this machine.`

  static override examples = [
    {description: 'Install the hook in this checkout', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Deploy even when the restore point fails', command: 'KAMAL_BACKUP_HOOK_OPTIONAL=1 kamal deploy'},
  ]

  static override flags = {
    'config-file': Flags.string({char: 'c', summary: 'Kamal deploy config file (default config/deploy.yml), for its hooks_path.', helpGroup: 'KAMAL'}),
  }

  async run(): Promise<HooksInstallResult> {
    const {flags} = await this.parse(HooksInstall)
    const {installHooks} = await import('../../config/hooks.js')
    const result = installHooks({cwd: process.cwd(), ...(flags['config-file'] !== undefined && {configFile: flags['config-file']})})
    const s = this.ui.style
    const said = {created: `wrote ${result.file}`, appended: `appended the kamal-backup block to ${result.file}`, updated: `updated the kamal-backup block in ${result.file}`, unchanged: `${result.file} already has the kamal-backup block: nothing changed`}[result.status]
    const lines = [`${s.green('✔')} ${said}${result.made_executable ? ' (made it executable)' : ''}`]
    for (const note of result.notes) lines.push(`${s.yellow('!')} ${note}`)
    if (result.status !== 'unchanged') lines.push('', `Before every ${s.bold('kamal deploy')}: kamal-backup validate, then a backup tagged type:pre-deploy; a failure stops the deploy (KAMAL_BACKUP_HOOK_OPTIONAL=1 deploys anyway). Commit ${result.file}.`)
    this.out(lines.join('\n'))
    return result
  }
}
