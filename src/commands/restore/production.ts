import * as Flags from '@oclif/core/flags'
import {asKamalBackupError} from '../../cli/base.js'
import {ExitCode} from '../../errors.js'
import {resolve} from 'node:path'
import {askProductionConfirmation, checkProductionConfirmation} from '../../cli/confirm.js'
import {AccessoryCommand, restoreSelection, WHERE_IT_RUNS, type Parsed} from '../../cli/engine-command.js'
import {fromCopyFlags, selectionFlags, snapshotArg} from '../../cli/flags.js'
import {confirmationText, renderPlan, renderRestore} from '../../cli/render/restore.js'
import {loadBackupConfig} from '../../config/backup-config.js'
import {throwOnErrors} from '../../parse/findings.js'
import {backupConfigPath} from '../../config/validate.js'
import {drillOperator} from '../../engine/drill.js'
import {damageWarnings} from '../../engine/damage.js'
import {planProduction, restoreProduction, type RestorePlan} from '../../engine/restore-flows.js'
import type {RestoreResult} from '../../documents.js'

export default class RestoreProduction extends AccessoryCommand<typeof RestoreProduction> {
  static override summary = 'Restore a backup run into the production databases and paths'
  static override description = `Destructive, and built to be hard to trigger by accident: in a terminal you type the app name and then RESTORE PRODUCTION; without a terminal only --confirm <app> proceeds (--yes is refused, also next to --confirm). Before the confirmation it shows the run it restores (id, time and age), each database and path and where it goes, and whether a safety backup is taken. \`latest\` and --at never pick a safety backup (a type:pre-restore run); name one by its run id to restore it.

What is restored: without --database/--files, everything in the run. With --database NAME (repeatable) and/or --files, only what is named: --database primary restores that database and no files, --files alone restores only the files. --no-files restores every database but not the files.

Before anything changes, every target is checked: the tools are installed, directories writable, databases reachable and writable (not a standby, not read-only, schemas this user may drop), no SQLite writer holding the lock, enough free space, and pg_restore able to read the dump. Then it takes a safety backup of the current production data (a normal run, tagged type:pre-restore) and prints the exact command that undoes the restore.

Files are restored first (every path staged on the target's filesystem and verified before any is replaced; then each directory's contents are replaced, so volume mount points stay), then each database: PostgreSQL is reset and restored with pg_restore in one transaction; MySQL/MariaDB objects are dropped and the dump streamed in; SQLite is staged, checked and applied with SQLite's backup API. A reset waits at most 30 s for the app's locks (KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT), then stops with nothing dropped. If anything fails after a change, the error says which parts were restored, which are unchanged and which are partly restored, and prints the undo command. Progress is recorded in last_restore.json and restores.jsonl in the state directory.

DRY RUN
--dry-run changes nothing and asks nothing: it resolves the run exactly as the restore would and runs the checks above that leave nothing behind (plus: the state directory can take the record, no backup or restore holds the run lock), then prints the plan and each check. It does not take the safety backup, download the files or reset a database, so what only those find out (the app's locks, a full repository) is left to the restore. It writes no restore record. --json prints a document (schemas/output/restore-plan.schema.json).

${WHERE_IT_RUNS} From a workstation the confirmation is asked on this machine, after the accessory ran the dry run over the same SSH connection: you confirm the run it resolved, and a failed check stops it before you are asked. The restore then runs with --expect-run <that run>: if a backup finished in between (\`latest\` is another run now), it is refused, exit 2, nothing changed.

EXIT CODES
  0    restored (--dry-run: the restore could proceed)
  1    failed (what was restored so far is printed; --dry-run: a check failed, or no such run)
  2    not confirmed, bad arguments, or the run changed since it was confirmed
  130  interrupted`

  static override examples = [
    {description: 'Restore the latest complete run (shows the run, then asks for the typed confirmation)', command: '<%= config.bin %> <%= command.id %> -d production'},
    {description: 'See what that would restore and whether its checks pass, changing nothing', command: '<%= config.bin %> <%= command.id %> --dry-run -d production'},
    {description: 'From a script: a specific run, confirmed by app name', command: '<%= config.bin %> <%= command.id %> 20261120T030000Z --confirm myapp -d production'},
    {description: 'Only the primary database (no files), as it was yesterday at 03:00 UTC', command: '<%= config.bin %> <%= command.id %> --at 2026-11-21T03:00:00Z --database primary'},
    {description: 'The primary repository is gone: restore from the copy named offsite (restic.copies)', command: '<%= config.bin %> <%= command.id %> -d production --from offsite'},
  ]

  static override args = snapshotArg
  static override flags = {
    ...selectionFlags,
    ...fromCopyFlags,
    database: Flags.string({summary: 'Restore only this database (repeatable); no files unless --files is given too.', multiple: true}),
    files: Flags.boolean({summary: 'Restore the files (alone: only the files). --no-files: everything but the files.', allowNo: true}),
    confirm: Flags.string({summary: 'The app name: confirms a restore without a terminal.'}),
    yes: Flags.boolean({char: 'y', summary: 'Refused: a production restore needs --confirm <app>.', hidden: true}),
    'safety-backup': Flags.boolean({summary: 'Take a safety backup first (--no-safety-backup skips it, with a warning).', allowNo: true, default: true}),
    'dry-run': Flags.boolean({summary: 'Change nothing: show the run, the parts and targets, and run the checks a restore runs first. Exit 0 when the restore could proceed.'}),
    'expect-run': Flags.string({summary: 'Refuse (exit 2, nothing changed) unless the selection resolves to this run id: what the workstation confirmed.', hidden: true}),
  }

  /** From a workstation: a dry run is one command in the accessory. A restore is the protocol of
   *  src/remote/restore.ts (the accessory's dry run, the confirmation here, then exactly that run restored); this
   *  command supplies the prompt and the rendering. */
  protected override async inAccessory(input: Parsed<typeof RestoreProduction>): Promise<number> {
    const {flags} = input
    restoreSelection(input.args, flags, input.raw)
    const operator = drillOperator(process.env)
    if (flags['dry-run']) return this.runRemote(flags, this.argv, {operator})
    const cwd = process.cwd()
    const config = loadBackupConfig(backupConfigPath({cwd, env: process.env, ...(flags['backup-config'] !== undefined && {backupConfigFile: resolve(cwd, flags['backup-config'])})}), cwd)
    throwOnErrors(config.findings)
    const app = config.config!.app
    const ask = checkProductionConfirmation(app, {confirm: flags.confirm, yes: flags.yes}) === 'ask'
    const json = this.jsonEnabled()
    const {restoreInAccessory} = await import('../../remote/restore.js')
    return restoreInAccessory({...this.remoteOptions(flags, this.argv, {operator}), app, confirmFlag: flags.confirm}, {
      confirm: async (plan) => {
        const text = confirmationText(app, {...plan, run: plan.run!}, this.ui.style)
        if (ask) await askProductionConfirmation(app, text, this.abortController.signal)
        else if (!json) this.ui.raw(`${text}\n  confirmed by --confirm ${app}\n`)
      },
      show: (plan) => this.out(renderPlan(plan, this.ui.style)),
    })
  }

  protected async here({args, flags, raw}: Parsed<typeof RestoreProduction>): Promise<RestorePlan | RestoreResult> {
    const selection = restoreSelection(args, flags, raw)
    const engine = await this.engine(flags, {}, {copy: flags.from})
    const app = engine.config.app
    const undo = {local: this.ranWithLocalFlag(flags), ...(flags['backup-config'] !== undefined && {backupConfig: flags['backup-config']}), ...(flags.from !== undefined && {from: flags.from})}
    if (flags['dry-run']) {
      // The flag rules still apply (a wrong --confirm is said now, not at 3 a.m.), but nothing is asked.
      if (flags.yes || flags.confirm !== undefined) checkProductionConfirmation(app, {confirm: flags.confirm, yes: flags.yes})
      return this.finishPlan(await planProduction(engine, selection, {safetyBackup: flags['safety-backup'], undo, ...(flags['expect-run'] !== undefined && {expectRun: flags['expect-run']})}))
    }
    const ask = checkProductionConfirmation(app, {confirm: flags.confirm, yes: flags.yes}) === 'ask'
    const {result, error} = await restoreProduction(engine, selection, {
      safetyBackup: flags['safety-backup'],
      undo,
      ...(flags['expect-run'] !== undefined && {expectRun: flags['expect-run']}),
      confirm: async (plan) => {
        if (!ask) return
        const summary = {
          run: {id: plan.run.id, time: plan.run.time, age_seconds: (engine.now().getTime() - new Date(plan.run.time).getTime()) / 1000, pre_restore: plan.run.preRestore},
          requested: {snapshot: selection.snapshot ?? 'latest', at: selection.at?.toISOString() ?? null},
          targets: {databases: plan.databases, files: plan.files},
          safety_backup: flags['safety-backup'],
          warnings: damageWarnings(engine),
        }
        await askProductionConfirmation(app, confirmationText(app, summary, this.ui.style))
      },
    })
    this.out(renderRestore(result, this.ui.style))
    // Under --json a failed restore still prints its result (what was restored so far), with the failure's exit code.
    if (error && (!this.jsonEnabled() || asKamalBackupError(error).exitCode !== ExitCode.failed)) throw error
    if (error) process.exitCode = ExitCode.failed
    return result
  }
}
