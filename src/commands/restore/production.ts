import * as Flags from '@oclif/core/flags'
import {asKamalBackupError} from '../../cli/base.js'
import {ExitCode} from '../../errors.js'
import {resolve} from 'node:path'
import {confirmProductionRestore} from '../../cli/confirm.js'
import {EngineCommand, WHERE_IT_RUNS} from '../../cli/engine-command.js'
import {parseAt, selectionFlags, snapshotArg} from '../../cli/flags.js'
import {renderRestore} from '../../cli/render/restore.js'
import {loadBackupConfig} from '../../config/backup-config.js'
import {throwOnErrors} from '../../config/findings.js'
import {backupConfigPath} from '../../config/validate.js'
import {restoreProduction, type RestoreResult} from '../../engine/restore-flows.js'

export default class RestoreProduction extends EngineCommand {
  static override summary = 'Restore a backup run into the production databases and paths'
  static override description = `Destructive, and built to be hard to trigger by accident: in a terminal you type the app name and then RESTORE PRODUCTION; without a terminal only --confirm <app> proceeds (--yes is refused). Before anything is overwritten it takes a safety backup of the current production data (a normal run, tagged type:pre-restore) and prints the exact command that undoes the restore.

Files are restored first (staged on the target's filesystem, verified, then the directory's contents replaced, so volume mount points stay), then each database: PostgreSQL is reset and restored with pg_restore in one transaction; MySQL/MariaDB objects are dropped and the dump streamed in; SQLite is staged, checked and applied with SQLite's backup API (refused, unchanged, while another connection writes).

${WHERE_IT_RUNS} The confirmation is always asked on this machine.

EXIT CODES
  0    restored
  1    failed (what was restored so far is printed)
  2    not confirmed, or bad arguments
  130  interrupted`

  static override examples = [
    {description: 'Restore the latest complete run (asks for the typed confirmation)', command: '<%= config.bin %> <%= command.id %> -d production'},
    {description: 'From a script: a specific run, confirmed by app name', command: '<%= config.bin %> <%= command.id %> 20261120T030000Z --confirm myapp -d production'},
    {description: 'Only the primary database, as it was yesterday at 03:00 UTC', command: '<%= config.bin %> <%= command.id %> --at 2026-11-21T03:00:00Z --database primary --no-files'},
  ]

  static override args = snapshotArg
  static override flags = {
    ...selectionFlags,
    database: Flags.string({summary: 'Restore only this database (repeatable).', multiple: true}),
    files: Flags.boolean({summary: 'Restore the files (--no-files skips them).', allowNo: true}),
    confirm: Flags.string({summary: 'The app name: confirms a restore without a terminal.'}),
    yes: Flags.boolean({char: 'y', summary: 'Refused: a production restore needs --confirm <app>.', hidden: true}),
    'safety-backup': Flags.boolean({summary: 'Take a safety backup first (--no-safety-backup skips it, with a warning).', allowNo: true, default: true}),
  }

  async run(): Promise<RestoreResult | void> {
    const {args, flags} = await this.parse(RestoreProduction)
    const what = flags.at ? `the latest complete run at or before ${flags.at}` : args.snapshot === 'latest' ? 'the latest complete backup run' : `run ${args.snapshot}`
    if (this.runsRemotely(flags)) {
      const cwd = process.cwd()
      const config = loadBackupConfig(backupConfigPath({cwd, env: process.env, ...(flags['backup-config'] !== undefined && {backupConfigFile: resolve(cwd, flags['backup-config'])})}), cwd)
      throwOnErrors(config.findings)
      const app = config.config!.app
      await confirmProductionRestore(app, {confirm: flags.confirm, yes: flags.yes, what})
      const argv = this.argv.filter((a) => a !== '--yes' && a !== '-y')
      process.exitCode = await this.runRemote(flags, flags.confirm === undefined ? [...argv, '--confirm', app] : argv)
      return
    }
    const engine = await this.engine(flags)
    await confirmProductionRestore(engine.config.app, {confirm: flags.confirm, yes: flags.yes, what})
    const {result, error} = await restoreProduction(
      engine,
      {snapshot: args.snapshot, ...(flags.at !== undefined && {at: parseAt(flags.at)!}), ...(flags.database && {databases: flags.database}), ...(flags.files !== undefined && {files: flags.files})},
      {safetyBackup: flags['safety-backup']},
    )
    this.out(renderRestore(result, this.ui.style))
    // Under --json a failed restore still prints its result (what was restored so far), with the failure's exit code.
    if (error && (!this.jsonEnabled() || asKamalBackupError(error).exitCode !== ExitCode.failed)) throw error
    if (error) process.exitCode = ExitCode.failed
    return result
  }
}
