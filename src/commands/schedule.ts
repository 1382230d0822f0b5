import * as Flags from '@oclif/core/flags'
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
    {description: 'With Prometheus metrics on port 9464 (publish it in the accessory: options: publish: ["9464:9464"])', command: '<%= config.bin %> <%= command.id %> --metrics-port 9464'},
  ]

  static override flags = {
    'metrics-port': Flags.integer({summary: 'Serve Prometheus metrics on this port: /metrics and /healthz (also metrics.port).', min: 0, max: 65535}),
    'metrics-address': Flags.string({summary: 'The address the metrics endpoint listens on (default metrics.address, else 0.0.0.0).'}),
  }

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
    const port = flags['metrics-port'] ?? engine.config.metrics.port
    let server: {port: number; close(): Promise<void>} | undefined
    if (port !== undefined) {
      const {collectMetrics, renderMetrics} = await import('../metrics/index.js')
      const {startMetricsServer} = await import('../metrics/server.js')
      const address = flags['metrics-address'] ?? engine.config.metrics.address
      try {
        server = await startMetricsServer({port, address, metrics: () => renderMetrics(collectMetrics(engine.config, engine.state))})
      } catch (error) {
        throw new UsageError(`cannot serve metrics on ${address}:${port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {suggestions: ['pick a free port with --metrics-port (or metrics.port)']})
      }
      this.ui.info(`metrics on http://${address}:${server.port}/metrics (and /healthz)`)
    }
    await runScheduler({
      schedule: engine.config.schedule,
      enabled: engine.config.enabled,
      clock: systemClock,
      log: this.ui,
      signal: this.abortController.signal,
      lastSuccess: () => nextDue(engine).lastSuccessAt,
      runBackup: () => runBackup(engine, {force: true, trigger: 'scheduled'}),
      onStale: (lastSuccess, sinceSeconds) => engine.events.emit({type: 'stale', app: engine.config.app, last_success_at: lastSuccess?.toISOString() ?? null, since_seconds: sinceSeconds}),
    })
    await server?.close()
    // A stop requested by a signal is a clean exit for the container.
    process.exitCode = 0
    return {stopped: true}
  }
}
