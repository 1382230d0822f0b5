import {AccessoryCommand, WHERE_IT_RUNS} from '../cli/engine-command.js'
import {nextDue, runBackup} from '../engine/backup.js'
import {runScheduler, systemClock} from '../engine/scheduler.js'

export default class Schedule extends AccessoryCommand {
  static override summary = 'Run backups on schedule, in the foreground (the accessory\'s default command)'
  static override description = `Backs up on backup.schedule (an interval or a cron expression, UTC), working from the last successful run in the state directory: a restarted container catches up a missed backup instead of backing up again. Adds a little jitter, retries a failed run with backoff (1, 2, 4... minutes, at most an hour), never overlaps a manual \`backup\`, and logs one timestamped line per event. SIGTERM/SIGINT stop the running backup cleanly (restic removes its lock) and exit 0. With backup.enabled: false it stays up idle, so restores keep working.

${WHERE_IT_RUNS} From a workstation it is refused: the accessory already runs its scheduler (the image's CMD), and a second one there would back up on its own timer for as long as the SSH connection lasts. Follow the accessory's own with \`kamal accessory logs backup -f\`.`

  static override examples = [
    {description: 'What the accessory image runs (KAMAL_BACKUP_IN_ACCESSORY=1 there, so it runs locally)', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Follow the scheduler of the production accessory from a laptop (Kamal, not kamal-backup)', command: 'kamal accessory logs backup -f -d production'},
    {description: 'A scheduler on this machine, outside an accessory', command: '<%= config.bin %> <%= command.id %> --local'},
  ]

  async run(): Promise<{stopped: true} | void> {
    const {flags} = await this.parse(Schedule)
    if (this.runsRemotely(flags)) {
      process.exitCode = await this.runRemote(flags, this.argv)
      return
    }
    const engine = await this.engine(flags)
    await runScheduler({
      schedule: engine.config.schedule,
      enabled: engine.config.enabled,
      clock: systemClock,
      log: this.ui,
      signal: this.abortController.signal,
      lastSuccess: () => nextDue(engine).lastSuccessAt,
      runBackup: () => runBackup(engine, {force: true, trigger: 'scheduled'}),
    })
    // A stop requested by a signal is a clean exit for the container.
    process.exitCode = 0
    return {stopped: true}
  }
}
