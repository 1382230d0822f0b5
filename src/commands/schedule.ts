import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {nextDue, runBackup} from '../engine/backup.js'
import {runScheduler, systemClock} from '../engine/scheduler.js'
import {UsageError} from '../errors.js'

export default class Schedule extends AccessoryCommand<typeof Schedule> {
  static override summary = 'Run backups on schedule, in the foreground (the accessory\'s default command)'
  static override description = `Backs up on backup.schedule (an interval or a cron expression, UTC), working from the last successful run in the state directory: a restarted container catches up a missed backup instead of backing up again. Adds a little jitter, retries a failed run with backoff (1, 2, 4... minutes, at most an hour), never overlaps a manual \`backup\`, and logs one timestamped line per event. SIGTERM/SIGINT stop the running backup cleanly (restic removes its lock) and exit 0. With backup.enabled: false it stays up idle, so restores keep working.

${WHERE_IT_RUNS} From a workstation it is refused: the accessory already runs its scheduler (the image's CMD), and a second one there would back up on its own timer for as long as the SSH connection lasts. Follow the accessory's own with \`kamal accessory logs backup -f\`.`

  static override examples = [
    {description: 'What the accessory image runs (KAMAL_BACKUP_IN_ACCESSORY=1 there, so it runs locally)', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Follow the scheduler of the production accessory from a laptop (Kamal, not kamal-backup)', command: 'kamal accessory logs backup -f -d production'},
    {description: 'A scheduler on this machine, outside an accessory', command: '<%= config.bin %> <%= command.id %> --local'},
  ]

  /** The accessory already runs the scheduler (its CMD); a second one from a laptop would back up on its own timer
   *  for as long as the laptop stays connected. */
  protected override async inAccessory({flags}: Parsed<typeof Schedule>): Promise<number> {
    const {loadModel} = await import('../remote/target.js')
    const accessory = loadModel({cwd: process.cwd(), env: process.env, flags}).accessory
    const destination = flags.destination ? ` -d ${flags.destination}` : ''
    throw new UsageError('schedule is what the backup accessory itself runs; it is not started from a workstation', {
      code: 'usage/schedule-remote',
      suggestions: [
        `follow the accessory's scheduler: kamal accessory logs ${accessory.name} -f${destination}`,
        `back up now: kamal-backup backup --force${destination}; run a scheduler on this machine: kamal-backup schedule --local`,
      ],
    })
  }

  protected async here({flags}: Parsed<typeof Schedule>): Promise<{stopped: true}> {
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
