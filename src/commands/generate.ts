import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../cli/base.js'
import {ExitCode, UsageError} from '../errors.js'
import type {GenerateResult} from '../generate/index.js'

const RUNTIMES = ['systemd', 'quadlet', 'compose', 'kubernetes', 'proxmox'] as const

export default class Generate extends BaseCommand {
  static override summary = 'Write the files that run kamal-backup on a host outside Kamal: systemd, Quadlet, Compose, Kubernetes, Proxmox'
  static override description = `Made from config/kamal-backup.yml (validated first), ready to commit or copy, each with comments saying how to install it and what to fill in; never with a secret's value (the secrets are named, and given templates with empty values).

  systemd     a oneshot service and its timer (backup.schedule as OnCalendar=, Persistent, RandomizedDelaySec), run as a dedicated user with CAP_DAC_READ_SEARCH (root when volumes must be resolved), ProtectSystem=strict, an env file template
  quadlet     a .container running the image's scheduler (--oneshot: one run per start, and a .timer), volumes read-only at /volumes/<name>, secrets as Podman secrets, a .volume for its state
  compose     a file to merge with compose.yaml: the image, volumes by name (external), env_file
  kubernetes  a CronJob (Forbid, startingDeadlineSeconds, backoff) with the claims or hostPaths, a ConfigMap, a state claim, and the Secret as a template
  proxmox     a vzdump hook script (each archive checked to be under paths:, one backup at job-end) and the line for /etc/vzdump.conf

Without --out the files are printed. --check compares the files in --out with what would be generated and exits 1 when one differs or is missing (for CI).

EXIT CODES
  0  generated (or, with --check, up to date)
  1  the config has errors, or (--check) a file is stale or missing
  2  usage error`

  static override examples = [
    {description: 'Print the systemd units', command: '<%= config.bin %> <%= command.id %> systemd'},
    {description: 'Write the Quadlet files into deploy/quadlet', command: '<%= config.bin %> <%= command.id %> quadlet --out deploy/quadlet'},
    {description: 'Quadlet, one container per run started by a timer', command: '<%= config.bin %> <%= command.id %> quadlet --oneshot --out deploy/quadlet'},
    {description: 'In CI: fail when the committed CronJob no longer matches the config', command: '<%= config.bin %> <%= command.id %> kubernetes --out deploy/k8s --check'},
    {description: 'For a config kept elsewhere on the host', command: '<%= config.bin %> <%= command.id %> systemd --backup-config /srv/myapp/kamal-backup.yml --host-config /etc/kamal-backup/myapp.yml'},
  ]

  static override args = {
    runtime: Args.string({required: true, options: [...RUNTIMES], description: 'Where kamal-backup will run.'}),
  }

  static override flags = {
    out: Flags.string({char: 'o', summary: 'Write the files into this directory (created if missing) instead of printing them.'}),
    check: Flags.boolean({summary: 'Compare the files in --out with what would be generated; exit 1 if one differs or is missing.', dependsOn: ['out']}),
    'backup-config': Flags.string({summary: 'kamal-backup config file (default config/kamal-backup.yml).', env: 'KAMAL_BACKUP_CONFIG'}),
    'host-config': Flags.string({summary: 'Where the host will keep kamal-backup.yml (default /etc/kamal-backup/<app>.yml).'}),
    oneshot: Flags.boolean({summary: 'quadlet: a container that runs one backup, started by a systemd timer (.container + .timer), instead of the image\'s own scheduler.'}),
    bin: Flags.string({summary: 'systemd, proxmox: where kamal-backup is installed on the host (default /usr/local/bin/kamal-backup, where npm install -g puts it).'}),
    image: Flags.string({summary: 'The kamal-backup image (default ghcr.io/kamal-backup/kamal-backup:<this version>): a mirror or your own build.'}),
  }

  async run(): Promise<GenerateResult> {
    const {args, flags} = await this.parse(Generate)
    const {generate} = await import('../generate/index.js')
    if (flags.oneshot && args.runtime !== 'quadlet') throw new UsageError(`--oneshot is for quadlet (${args.runtime} runs one backup per start already, or keeps the schedule itself)`)
    for (const flag of ['host-config', 'bin'] as const) {
      const value = flags[flag]
      if (value !== undefined && !value.startsWith('/')) throw new UsageError(`--${flag} ${value}: give an absolute path on the host`)
    }
    const result = generate({
      runtime: args.runtime as (typeof RUNTIMES)[number],
      cwd: process.cwd(),
      env: process.env,
      version: this.config.version,
      ...(flags['backup-config'] !== undefined && {backupConfigFile: flags['backup-config']}),
      ...(flags['host-config'] !== undefined && {hostConfig: flags['host-config']}),
      ...(flags.image !== undefined && {image: flags.image}),
      ...(flags.bin !== undefined && {bin: flags.bin}),
      oneshot: flags.oneshot,
      ...(flags.out !== undefined && {out: flags.out}),
      check: flags.check,
    })
    const s = this.ui.style
    const {isAppCheckout} = await import('../config/validate.js')
    // The files are for hosts outside Kamal: in a Kamal app the accessory already runs the schedule.
    if (isAppCheckout({cwd: process.cwd()})) this.ui.warn('config/deploy.yml is here: with Kamal, the backup accessory already runs kamal-backup schedule; these files are for a host or runtime outside Kamal (paths in them are read on that host)')
    if (flags.check) {
      for (const f of result.stale) this.out(`${s.red('✖')} ${f.name} is stale: regenerate with kamal-backup generate ${args.runtime} --out ${flags.out}\n${f.diff.trimEnd()}`)
      for (const name of result.missing) this.out(`${s.red('✖')} ${name} is missing from ${flags.out}`)
      if (result.stale.length + result.missing.length > 0) process.exitCode = ExitCode.failed
      else this.out(`${s.green('✔')} ${result.files.length} files in ${flags.out} match kamal-backup.yml`)
    } else if (result.out !== null) {
      this.out(result.written.map((name) => `${s.green('✔')} wrote ${flags.out}/${name}`).join('\n'))
    } else {
      this.out(result.files.map((f) => `${s.bold(`==> ${f.name} <==`)}\n${f.content}`).join('\n'))
    }
    return result
  }
}
