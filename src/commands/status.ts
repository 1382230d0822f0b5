import * as Flags from '@oclif/core/flags'
import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {parseDuration} from '../config/schedule.js'
import {buildStatus, type StatusDocument} from '../engine/status.js'
import {ExitCode, UsageError} from '../errors.js'

const EXIT: Record<StatusDocument['status'], number> = {ok: ExitCode.ok, warning: ExitCode.ok, failing: ExitCode.failed, unreachable: ExitCode.unreachable}

function duration(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  try {
    return parseDuration(value)
  } catch (error) {
    throw new UsageError(`--${flag} ${value}: ${(error as Error).message}`, {suggestions: ['e.g. --max-age 36h, --max-drill-age 14d']})
  }
}

export default class Status extends AccessoryCommand<typeof Status> {
  static override summary = 'Say in one line whether the backups are healthy (exit 0), stale or failing (1), or the repository unreachable (3)'
  static override description = `Healthy means: the repository opens; it holds a complete run that is not older than --max-age (default: two schedule intervals); the last backup run, the last repository check and the last restore drill did not fail. A drill older than --max-drill-age (default 30d), no drill at all, disabled backups and a run that saved with a warning (a path or a dump that shrank) are warnings: the status is "warning" and the exit code still 0. What a cron job, a CI step or a monitoring agent runs; --json prints a document (schemas/output/status.schema.json).

${WHERE_IT_RUNS}

EXIT CODES
  0  ok, or warning
  1  failing: no complete run, the latest one too old, or the last run, check or drill failed
  3  the repository cannot be opened (or, from a workstation, the accessory cannot be reached)
  4  the accessory runs an incompatible version`

  static override examples = [
    {description: 'From the app checkout: the production accessory\'s view', command: '<%= config.bin %> <%= command.id %> -d production'},
    {description: 'A monitoring check that wants a backup every 26 hours and a drill every two weeks', command: '<%= config.bin %> <%= command.id %> --max-age 26h --max-drill-age 14d'},
    {description: 'For a dashboard or an alert rule', command: '<%= config.bin %> <%= command.id %> --json'},
  ]

  static override flags = {
    'max-age': Flags.string({summary: 'Stale when the latest complete run is older than this (90m, 36h, 2d; default: two schedule intervals).'}),
    'max-drill-age': Flags.string({summary: 'Warn when the last restore drill is older than this (default 30d).'}),
  }

  protected async here({flags}: Parsed<typeof Status>): Promise<StatusDocument> {
    const maxAge = duration('max-age', flags['max-age'])
    const maxDrillAge = duration('max-drill-age', flags['max-drill-age'])
    const doc = await buildStatus(await this.engine(flags), {...(maxAge !== undefined && {maxAgeSeconds: maxAge}), ...(maxDrillAge !== undefined && {maxDrillAgeSeconds: maxDrillAge})})
    const s = this.ui.style
    const mark = doc.status === 'ok' ? s.green('✔') : doc.status === 'warning' ? s.yellow('!') : s.red('✖')
    this.out([`${mark} ${doc.summary}`, ...doc.problems.map((p) => `  ${s.red('✖')} ${p}`), ...doc.warnings.map((w) => `  ${s.yellow('!')} ${w}`)].join('\n'))
    process.exitCode = EXIT[doc.status]
    return doc
  }
}
