import * as Flags from '@oclif/core/flags'
import {confirmYesNo} from '../../cli/confirm.js'
import {EngineCommand, restoreSelection} from '../../cli/engine-command.js'
import {fromCopyFlags, selectionFlags, snapshotArg} from '../../cli/flags.js'
import {renderDrill} from '../../cli/render/restore.js'
import {drillLocal, drillLocalChoice} from '../../engine/drill.js'
import {planDrill, type RestorePlan} from '../../engine/restore-flows.js'
import type {DrillRecord} from '../../documents.js'

export default class DrillLocal extends EngineCommand {
  static override summary = 'Restore a backup run onto this machine, verify it, and record the result'
  static override description = `The same restore as \`restore local\` (development database or config/kamal-backup.local.yml targets, and the same rules for --database/--files/--no-files), followed by the drill's verification (every table of every dump restored, SQLite integrity, file counts and bytes, and the optional --check command; it gets the variables \`drill production\` describes, pointing at the local targets). What it skips (unselected parts, paths without a local target) is recorded. The record goes to this machine's state directory (tmp/kamal-backup, or state.path in config/kamal-backup.local.yml). Exits 1 if the drill failed, 130 if interrupted. --dry-run changes nothing and asks nothing: the run, the targets and the checks a drill runs first (schemas/output/restore-plan.schema.json, kind drill-plan); exit 0 when the drill could proceed.

Always runs on this machine.`

  static override examples = [
    {description: 'Drill the latest production run locally', command: '<%= config.bin %> <%= command.id %> -d production --yes'},
    {description: 'With a Rails check', command: `<%= config.bin %> <%= command.id %> --check 'bin/rails runner "exit(User.count > 0 ? 0 : 1)"'`},
    {description: 'See which run it would drill, into what, and whether its checks pass, changing nothing', command: '<%= config.bin %> <%= command.id %> --dry-run'},
    {description: 'Rehearse from the copy named offsite (restic.copies): proves the copy restores', command: '<%= config.bin %> <%= command.id %> --from offsite'},
  ]

  static override args = snapshotArg
  static override flags = {
    ...selectionFlags,
    ...fromCopyFlags,
    database: Flags.string({summary: 'Drill only this database (repeatable); no files unless --files is given too.', multiple: true}),
    files: Flags.boolean({summary: 'Include the files (alone: only the files). --no-files skips them.', allowNo: true}),
    check: Flags.string({summary: 'A shell command that must exit 0 against the restored data.'}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation (it overwrites local data).'}),
    'dry-run': Flags.boolean({summary: 'Change nothing and ask nothing: show the run and the local targets, and run the checks a drill runs first. Exit 0 when the drill could proceed.'}),
  }

  async run(): Promise<DrillRecord | RestorePlan> {
    const {args, flags, raw} = await this.parse(DrillLocal)
    const selection = restoreSelection(args, flags, raw)
    const {engine, local} = await this.workstationEngine(flags, {copy: flags.from})
    const options = {selection, ...(flags.check !== undefined && {check: flags.check})}
    if (flags['dry-run']) return this.finishPlan(await planDrill(engine, drillLocalChoice(engine, local, process.cwd(), options), options))
    await confirmYesNo(`Run a local drill of ${args.snapshot}? It overwrites the local targets.`, flags.yes)
    const {record, exitCode} = await drillLocal(engine, local, process.cwd(), options)
    this.out(renderDrill(record, this.ui.style))
    if (exitCode !== 0) process.exitCode = exitCode
    return record
  }
}
