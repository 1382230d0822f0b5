import * as Flags from '@oclif/core/flags'
import {confirmYesNo} from '../../cli/confirm.js'
import {EngineCommand, WHERE_IT_RUNS} from '../../cli/engine-command.js'
import {parseAt, selectionFlags, snapshotArg} from '../../cli/flags.js'
import {renderDrill} from '../../cli/render/restore.js'
import {drillOperator, drillProduction, type DrillRecord} from '../../engine/drill.js'
import {ExitCode} from '../../errors.js'

export default class DrillProduction extends EngineCommand {
  static override summary = 'Restore into scratch targets on production infrastructure, verify, and record the result'
  static override description = `Never touches the live databases or files: the scratch database must differ from every configured source and must not look like production (with several databases, --database is a prefix: <prefix>_<name>); it is created if missing. The scratch file directory is emptied first, so stale files can never make a drill pass.

Verification: every restore succeeded, SQLite integrity checks passed, each restored database has every table its dump had, restored files match the snapshot's count and bytes, and the optional --check command (sh -c, with DATABASE_URL pointing at the scratch database) exits 0. The record — status, operator, the run restored, targets, timings per step and the measured restore time, verification, error — is kept in the state directory (last_restore_drill.json, drills.jsonl) and shown by \`evidence\`. A failed drill exits 1 but is still recorded.

${WHERE_IT_RUNS}`

  static override examples = [
    {description: 'Drill the latest run into scratch targets', command: '<%= config.bin %> <%= command.id %> --database drill --files /var/lib/kamal-backup/drill-files'},
    {description: 'SQLite app, with an application-level check', command: `<%= config.bin %> <%= command.id %> --sqlite-path /var/lib/kamal-backup/drill.sqlite3 --check 'test "$(sqlite3 "\${DATABASE_URL#sqlite3:}" "select count(*) from users")" -gt 0'`},
  ]

  static override args = snapshotArg
  static override flags = {
    ...selectionFlags,
    database: Flags.string({summary: 'The scratch database (a prefix with several databases). Required for PostgreSQL/MySQL.'}),
    'sqlite-path': Flags.string({summary: 'The scratch SQLite file (a directory with several SQLite databases).'}),
    files: Flags.string({summary: 'The scratch directory for the files (emptied first).'}),
    'only-database': Flags.string({summary: 'Drill only this database (repeatable).', multiple: true}),
    'skip-files': Flags.boolean({summary: 'Do not restore the files.'}),
    check: Flags.string({summary: 'A shell command that must exit 0 against the restored data.'}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
  }

  async run(): Promise<DrillRecord | void> {
    const {args, flags} = await this.parse(DrillProduction)
    if (this.runsRemotely(flags)) {
      await confirmYesNo('Run a production drill? It restores into scratch targets on production infrastructure.', flags.yes)
      const argv = flags.yes ? this.argv : [...this.argv, '--yes']
      process.exitCode = await this.runRemote(flags, argv, {operator: drillOperator(process.env)})
      return
    }
    const engine = await this.engine(flags)
    await confirmYesNo('Run a production drill? It restores into scratch targets on production infrastructure.', flags.yes)
    const record = await drillProduction(engine, {
      selection: {
        snapshot: args.snapshot,
        ...(flags.at !== undefined && {at: parseAt(flags.at)!}),
        ...(flags['only-database'] && {databases: flags['only-database']}),
        ...(flags['skip-files'] && {files: false}),
      },
      ...(flags.database !== undefined && {database: flags.database}),
      ...(flags['sqlite-path'] !== undefined && {sqlitePath: flags['sqlite-path']}),
      ...(flags.files !== undefined && {files: flags.files}),
      ...(flags.check !== undefined && {check: flags.check}),
    })
    this.out(renderDrill(record, this.ui.style))
    if (record.status !== 'ok') process.exitCode = ExitCode.failed
    return record
  }
}
