import * as Flags from '@oclif/core/flags'
import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {checkDeployVersion, describeSkip, runBackup} from '../engine/backup.js'
import {ExitCode} from '../errors.js'
import type {BackupRunRecord} from '../documents.js'
import {beforeDeploy} from '../engine/runs.js'

export default class Backup extends AccessoryCommand<typeof Backup> {
  static override summary = 'Back up every database and the file paths now, if due'
  static override description = `Dumps each database into its own restic snapshot (streamed, no temporary file, except SQLite's consistent copy), then takes one snapshot of the configured paths, all tagged with the same run id; then applies retention and runs \`restic check\` as configured. The run is ok only if every step succeeded and every new snapshot is in the repository. Without --force it runs only when due by backup.schedule.

--reason deploy (what the pre-deploy hook of \`kamal-backup hooks install\` runs) takes a restore point before a deploy: always run, tagged type:pre-deploy and deploy-version:<--deploy-version>, shown by \`list\` as "before deploy <version>". It never counts as the scheduled run (freshness, the next due time), is not copied to restic.copies, is not counted or removed by restic.retention, and keeps the newest backup.pre_deploy_keep (default 10) of its kind; its forget step only applies that, and it runs no check.

${WHERE_IT_RUNS}

EXIT CODES
  0  the run succeeded, or was not due (skipped)
  1  the run failed (which step, and why, is printed and recorded)
  130  interrupted`

  static override examples = [
    {description: 'Back up now, even if not due', command: '<%= config.bin %> <%= command.id %> --force'},
    {description: 'Back up the staging app from a laptop', command: '<%= config.bin %> <%= command.id %> -d staging --force'},
    {description: 'In the accessory, machine-readable', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'A restore point before a deploy (the pre-deploy hook runs this)', command: '<%= config.bin %> <%= command.id %> -d production --force --reason deploy --deploy-version 3f2a9c1'},
    {description: 'From a systemd timer on a host (kamal-backup generate systemd writes it)', command: '<%= config.bin %> <%= command.id %> --on-schedule --backup-config /etc/kamal-backup/myapp.yml'},
  ]

  static override flags = {
    force: Flags.boolean({summary: 'Run even if not due, and even when backup.enabled is false.'}),
    'on-schedule': Flags.boolean({
      summary: 'Started by a systemd timer, a Quadlet timer or a Kubernetes CronJob that keeps the schedule itself: run now (no due check), recorded as a scheduled run; still skipped when backup.enabled is false.',
      exclusive: ['force', 'reason'],
    }),
    reason: Flags.string({
      summary: 'Why this run is taken: deploy = a restore point before a deploy (tagged type:pre-deploy; always runs; its own retention, backup.pre_deploy_keep).',
      options: ['deploy'],
    }),
    'deploy-version': Flags.string({
      summary: 'With --reason deploy: the version being deployed (KAMAL_VERSION), tagged deploy-version:<version>; letters, digits, . _ + - only.',
      dependsOn: ['reason'],
      // Checked here too, so a workstation refuses it before connecting.
      parse: async (input) => {
        checkDeployVersion(input)
        return input
      },
    }),
  }

  protected async here({flags}: Parsed<typeof Backup>): Promise<BackupRunRecord> {
    const engine = await this.engine(flags)
    const record = await runBackup(
      engine,
      flags['on-schedule']
        ? {force: engine.config.enabled, trigger: 'scheduled'}
        : flags.reason === 'deploy'
          ? {force: true, trigger: 'pre-deploy', ...(flags['deploy-version'] !== undefined && {deployVersion: flags['deploy-version']})}
          : {force: flags.force, trigger: 'manual'},
    )
    if (record.status === 'skipped') this.out(describeSkip(record, engine))
    else if (record.status === 'ok') {
      const point = record.trigger === 'pre-deploy' ? ` (a restore point ${beforeDeploy(record.deploy_version ?? '')})` : ''
      const lines = [`${this.ui.style.green('✔')} backup run ${record.run_id}${point} ok in ${(record.duration_ms / 1000).toFixed(1)} s`]
      for (const s of record.snapshots) lines.push(`  ${s.group.padEnd(24)} snapshot ${s.id.slice(0, 8)}`)
      this.out(lines.join('\n'))
    } else {
      process.exitCode = record.reason === 'interrupted' ? ExitCode.interrupted : ExitCode.failed
      // The step's error (with what to do) was printed when it failed: the summary names the step only.
      if (record.reason === 'interrupted') this.ui.error(`backup run ${record.run_id ?? ''} interrupted at step ${record.failed_step}`)
      else this.ui.error(`backup run ${record.run_id ?? ''} failed at step ${record.failed_step} (see above)`)
    }
    // Saved, but worth a look (a path or a dump that shrank): on stderr, and in the record.
    for (const warning of record.warnings ?? []) this.ui.warn(warning)
    return record
  }
}
