import * as Flags from '@oclif/core/flags'
import {confirmYesNo} from '../../cli/confirm.js'
import {AccessoryCommand, restoreSelection, WHERE_IT_RUNS, type Parsed} from '../../cli/engine-command.js'
import {fromCopyFlags, selectionFlags, snapshotArg} from '../../cli/flags.js'
import {renderDrill} from '../../cli/render/restore.js'
import {drillOperator, drillProduction, drillProductionChoice} from '../../engine/drill.js'
import {planDrill, type RestorePlan} from '../../engine/restore-flows.js'
import type {DrillRecord} from '../../documents.js'

const QUESTION = 'Run a production drill? It restores into scratch targets on production infrastructure.'

export default class DrillProduction extends AccessoryCommand<typeof DrillProduction> {
  static override summary = 'Restore into scratch targets on production infrastructure, verify, and record the result'
  static override description = `Never touches the live databases or files: the scratch database must differ from every configured source and must not look like production (with several databases, --database is a prefix: <prefix>_<name>); it is created if missing. When the app backs up files, --files <dir> (a scratch directory) or --no-files is required.

The scratch directory is emptied first, so stale files can never make a drill pass — which is why it must be new, empty, or one an earlier drill created (the drill marks it with a .kamal-backup-drill file), and may not be, contain or lie inside a backed-up path, a SQLite database's directory, the state directory, the restic repository or cache, HOME, the current directory, the app checkout or a system directory. The scratch SQLite file must not be a configured database or lie in such a place.

Verification: every restore succeeded, SQLite integrity checks passed, each restored database has every table its dump had, with at least the rows the dump had (counted in the dump as it is restored; a MariaDB dump tells only whether a table had rows), restored files match the snapshot's count and bytes, and the optional --check command exits 0. The check runs with sh -c in a clean environment (PATH, HOME, LANG, LC_ALL, TZ and the names in drill.check_env of config/kamal-backup.yml; never the repository's or production's credentials); it gets KAMAL_BACKUP_DRILL_<NAME>_URL and <NAME>_DATABASE_URL for each scratch database, DATABASE_URL for the only one (or the one named primary), and KAMAL_BACKUP_DRILL_FILES. The record — status, operator, the run restored, targets, what was skipped, timings per step and the measured restore time, verification, error — is kept in the state directory (last_restore_drill.json, drills.jsonl) and shown by \`evidence\`. A failed drill exits 1 but is still recorded; an interrupted one exits 130.

--dry-run changes nothing and asks nothing: it resolves the run as the drill would and runs the checks a drill runs before it changes anything (the tools, the scratch targets reachable and writable — a missing scratch PostgreSQL database: whether this user may create it —, the snapshot readable, every PostgreSQL dump's table of contents, free space, no other command holding the run lock), prints the plan and each check, and records nothing. --json prints a document (schemas/output/restore-plan.schema.json, kind drill-plan).

${WHERE_IT_RUNS}`

  static override examples = [
    {description: 'Drill the latest run into scratch targets', command: '<%= config.bin %> <%= command.id %> --database drill --files /var/lib/kamal-backup/drill-files'},
    {description: 'See which run it would drill, into what, and whether its checks pass, changing nothing', command: '<%= config.bin %> <%= command.id %> --database drill --files /var/lib/kamal-backup/drill-files --dry-run'},
    {description: 'SQLite app, without its files, with an application-level check', command: `<%= config.bin %> <%= command.id %> --sqlite-path /var/lib/kamal-backup/drill.sqlite3 --no-files --check 'test "$(sqlite3 "\${DATABASE_URL#sqlite3:}" "select count(*) from users")" -gt 0'`},
    {description: 'Rehearse from the copy named offsite (restic.copies)', command: '<%= config.bin %> <%= command.id %> -d production --from offsite'},
  ]

  static override args = snapshotArg
  static override flags = {
    ...selectionFlags,
    ...fromCopyFlags,
    database: Flags.string({summary: 'The scratch database (a prefix with several databases). Required for PostgreSQL/MySQL.'}),
    'sqlite-path': Flags.string({summary: 'The scratch SQLite file (a directory with several SQLite databases).'}),
    files: Flags.string({summary: 'The scratch directory for the files (new or empty; emptied before each drill). Required when files are backed up, unless --no-files.'}),
    'only-database': Flags.string({summary: 'Drill only this database (repeatable); the files only with --files.', multiple: true}),
    'skip-files': Flags.boolean({summary: 'Do not restore the files (recorded as skipped).', aliases: ['no-files']}),
    check: Flags.string({summary: 'A shell command that must exit 0 against the restored data.'}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
    'dry-run': Flags.boolean({summary: 'Change nothing and ask nothing: show the run and the scratch targets, and run the checks a drill runs first. Exit 0 when the drill could proceed.'}),
  }

  /** From a workstation: the same checks of the arguments, the confirmation asked here, then the drill in the
   *  accessory (told --yes, and who runs it). A dry run changes nothing: no confirmation, one command. */
  protected override async inAccessory(input: Parsed<typeof DrillProduction>): Promise<number> {
    const {flags} = input
    this.selection(input)
    if (!flags['dry-run']) await confirmYesNo(QUESTION, flags.yes)
    const argv = flags['dry-run'] || flags.yes ? this.argv : [...this.argv, '--yes']
    return this.runRemote(flags, argv, {operator: drillOperator(process.env)})
  }

  protected async here(input: Parsed<typeof DrillProduction>): Promise<DrillRecord | RestorePlan> {
    const {flags} = input
    const selection = this.selection(input)
    const engine = await this.engine(flags, {}, {copy: flags.from})
    const options = {
      selection,
      ...(flags.database !== undefined && {database: flags.database}),
      ...(flags['sqlite-path'] !== undefined && {sqlitePath: flags['sqlite-path']}),
      ...(flags.files !== undefined && {files: flags.files}),
      ...(flags.check !== undefined && {check: flags.check}),
    }
    if (flags['dry-run']) return this.finishPlan(await planDrill(engine, drillProductionChoice(engine, options), options))
    await confirmYesNo(QUESTION, flags.yes)
    const {record, exitCode} = await drillProduction(engine, options)
    this.out(renderDrill(record, this.ui.style))
    if (exitCode !== 0) process.exitCode = exitCode
    return record
  }

  /** --only-database limits the databases; the files come along only when --files names their scratch directory. */
  private selection({args, flags, raw}: Parsed<typeof DrillProduction>) {
    const files = flags['skip-files'] ? false : flags['only-database'] && flags.files !== undefined ? true : undefined
    return restoreSelection(args, {at: flags.at, database: flags['only-database'], files}, raw)
  }
}
