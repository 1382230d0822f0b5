import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {runPrune, type MaintenanceRecord} from '../engine/maintenance.js'

export default class Prune extends AccessoryCommand<typeof Prune> {
  static override summary = 'Apply the retention policy (restic forget --prune)'
  static override description = `Forgets snapshots beyond restic.retention, per database and for the files (each group is kept separately), and prunes the data no snapshot uses. Backups do this after every run unless forget_after_backup is false.

${WHERE_IT_RUNS}`

  static override examples = [{description: 'Apply retention now', command: '<%= config.bin %> <%= command.id %>'}]

  protected async here({flags}: Parsed<typeof Prune>): Promise<MaintenanceRecord> {
    const record = await runPrune(await this.engine(flags))
    this.out(`${this.ui.style.green('✔')} ${record.output}`)
    return record
  }
}
