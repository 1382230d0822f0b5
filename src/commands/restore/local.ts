import * as Flags from '@oclif/core/flags'
import {asKamalBackupError} from '../../cli/base.js'
import {ExitCode} from '../../errors.js'
import {confirmYesNo} from '../../cli/confirm.js'
import {EngineCommand} from '../../cli/engine-command.js'
import {parseAt, selectionFlags, snapshotArg} from '../../cli/flags.js'
import {renderRestore} from '../../cli/render/restore.js'
import {describeDatabase} from '../../db/connection.js'
import {restoreLocal, type RestoreResult} from '../../engine/restore-flows.js'
import {assertNotProductionEnvironment, localTargets} from '../../engine/targets.js'

export default class RestoreLocal extends EngineCommand {
  static override summary = 'Restore a production backup run onto this machine (development database, local paths)'
  static override description = `Reads the repository from this machine (restic needed locally; secrets from the environment or .kamal/secrets, with -d for a destination) and restores into the development database of config/database.yml, or the targets in config/kamal-backup.local.yml. Files go only into local paths configured there (never guessed). Refuses when RAILS_ENV/RACK_ENV is production and refuses targets that look like production. Asks [y/N] unless --yes; without a terminal and without --yes it refuses.

Always runs on this machine.`

  static override examples = [
    {description: 'Pull the latest production backup into development', command: '<%= config.bin %> <%= command.id %> -d production'},
    {description: 'A given run, without asking', command: '<%= config.bin %> <%= command.id %> 20261120T030000Z --yes'},
  ]

  static override args = snapshotArg
  static override flags = {
    ...selectionFlags,
    database: Flags.string({summary: 'Restore only this database (repeatable).', multiple: true}),
    files: Flags.boolean({summary: 'Restore the files (--no-files skips them).', allowNo: true}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
  }

  async run(): Promise<RestoreResult> {
    const {args, flags} = await this.parse(RestoreLocal)
    const cwd = process.cwd()
    const {engine, local} = await this.workstationEngine(flags)
    assertNotProductionEnvironment(process.env)
    const targets = localTargets(engine, local, cwd)
    const into = [...targets.databases.map((d) => engine.redactor.redact(describeDatabase(d.target))), ...targets.files.map((f) => f.to)].join(', ')
    await confirmYesNo(`Restore ${args.snapshot} into ${into}? This overwrites local data.`, flags.yes)
    const {result, error} = await restoreLocal(engine, local, cwd, {
      snapshot: args.snapshot,
      ...(flags.at !== undefined && {at: parseAt(flags.at)!}),
      ...(flags.database && {databases: flags.database}),
      ...(flags.files !== undefined && {files: flags.files}),
    })
    this.out(renderRestore(result, this.ui.style))
    // Under --json a failed restore still prints its result (what was restored so far), with the failure's exit code.
    if (error && (!this.jsonEnabled() || asKamalBackupError(error).exitCode !== ExitCode.failed)) throw error
    if (error) process.exitCode = ExitCode.failed
    return result
  }
}
