import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {runUnlock, type MaintenanceRecord} from '../engine/maintenance.js'

export default class Unlock extends AccessoryCommand<typeof Unlock> {
  static override summary = 'Remove stale restic locks'
  static override description = `A restic process that was killed (a container stopped mid-backup) can leave a lock that blocks prune and check. This removes stale locks only (restic unlock, never --remove-all): a lock held by a running restic stays.

${WHERE_IT_RUNS}`

  static override examples = [{description: 'After "repository is locked" errors', command: '<%= config.bin %> <%= command.id %>'}]

  protected async here({flags}: Parsed<typeof Unlock>): Promise<MaintenanceRecord> {
    const record = await runUnlock(await this.engine(flags))
    this.out(record.output ?? 'done')
    return record
  }
}
