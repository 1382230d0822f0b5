import * as Flags from '@oclif/core/flags'
import {asKamalBackupError} from '../../cli/base.js'
import {ExitCode} from '../../errors.js'
import {assertCanConfirm, confirmYesNo} from '../../cli/confirm.js'
import {EngineCommand, restoreSelection} from '../../cli/engine-command.js'
import {fromCopyFlags, selectionFlags, snapshotArg} from '../../cli/flags.js'
import {renderRestore} from '../../cli/render/restore.js'
import {describePlan, planLocal, restoreLocal, type RestorePlan} from '../../engine/restore-flows.js'
import {assertNotProductionEnvironment} from '../../engine/targets.js'
import type {RestoreResult} from '../../documents.js'

const QUESTION = 'Restore into the local targets? This overwrites local data.'

export default class RestoreLocal extends EngineCommand {
  static override summary = 'Restore a production backup run onto this machine (development database, local paths)'
  static override description = `Reads the repository from this machine (restic needed locally; secrets from the environment or .kamal/secrets, with -d for a destination) and restores into the development database of config/database.yml, or the targets in config/kamal-backup.local.yml. Files go only into local paths configured there (never guessed; a relative "to" is relative to the app). Refuses when RAILS_ENV/RACK_ENV is production, refuses targets that look like production (judged by the target's own name: the database name, or the path below the app), and refuses a files target that is the app itself or above it, HOME, the state directory or a system directory. Asks [y/N] (showing the run it restores) unless --yes; without a terminal and without --yes it refuses.

--dry-run changes nothing and asks nothing: it resolves the run as the restore would, runs the checks the restore runs before it changes anything (the tools, each target reachable and writable, no writer holding a SQLite lock, the snapshot readable, free space, no other command holding the run lock), prints the plan and each check, and writes no record. --json prints a document (schemas/output/restore-plan.schema.json).

What is restored: without --database/--files, everything in the run. With --database NAME (repeatable) and/or --files, only what is named (--database primary needs a local target for primary only). --no-files restores every database but not the files. --files with a path that has no local target is refused.

Always runs on this machine.`

  static override examples = [
    {description: 'Pull the latest production backup into development', command: '<%= config.bin %> <%= command.id %> -d production'},
    {description: 'A given run, without asking', command: '<%= config.bin %> <%= command.id %> 20261120T030000Z --yes'},
    {description: 'Only the primary database', command: '<%= config.bin %> <%= command.id %> --database primary --yes'},
    {description: 'See which run it would restore, into what, and whether its checks pass, changing nothing', command: '<%= config.bin %> <%= command.id %> --dry-run'},
    {description: 'From the copy named offsite (restic.copies), e.g. when the primary is down', command: '<%= config.bin %> <%= command.id %> --from offsite'},
  ]

  static override args = snapshotArg
  static override flags = {
    ...selectionFlags,
    ...fromCopyFlags,
    database: Flags.string({summary: 'Restore only this database (repeatable); no files unless --files is given too.', multiple: true}),
    files: Flags.boolean({summary: 'Restore the files (alone: only the files). --no-files: everything but the files.', allowNo: true}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
    'dry-run': Flags.boolean({summary: 'Change nothing and ask nothing: show the run and the targets, and run the checks a restore runs first. Exit 0 when the restore could proceed.'}),
  }

  async run(): Promise<RestorePlan | RestoreResult> {
    const {args, flags, raw} = await this.parse(RestoreLocal)
    const selection = restoreSelection(args, flags, raw)
    const cwd = process.cwd()
    const {engine, local} = await this.workstationEngine(flags, {copy: flags.from})
    assertNotProductionEnvironment(process.env)
    if (flags['dry-run']) return this.finishPlan(await planLocal(engine, local, cwd, selection))
    assertCanConfirm(QUESTION, flags.yes)
    const {result, error} = await restoreLocal(engine, local, cwd, selection, {
      confirm: (plan) => confirmYesNo(`Restore ${describePlan(plan)}? This overwrites local data.`, flags.yes),
    })
    this.out(renderRestore(result, this.ui.style))
    // Under --json a failed restore still prints its result (what was restored so far), with the failure's exit code.
    if (error && (!this.jsonEnabled() || asKamalBackupError(error).exitCode !== ExitCode.failed)) throw error
    if (error) process.exitCode = ExitCode.failed
    return result
  }
}
