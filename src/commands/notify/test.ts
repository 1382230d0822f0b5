import * as Flags from '@oclif/core/flags'
import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../../cli/engine-command.js'
import {ExitCode, UsageError} from '../../errors.js'

export interface NotifyTestResult {
  target: number
  type: string
  ok: boolean
  status: number | null
  attempts: number
  duration_ms: number
  error: string | null
}

export default class NotifyTest extends AccessoryCommand<typeof NotifyTest> {
  static override summary = 'Send a test notification to every notify target (or one) and say how each went'
  static override description = `Each target of notify: in config/kamal-backup.yml gets an event "test" (a webhook its JSON document, healthchecks a success ping, ntfy and Slack a message, a command the document on stdin), whatever its \`events\` list says. Run it after adding a target: from the app checkout it sends from the accessory, with the secrets the accessory has. A failed delivery is recorded like any other (notifications.jsonl in the state directory; \`evidence\` shows it).

${WHERE_IT_RUNS}

EXIT CODES
  0  every target answered
  1  a target failed (each result says why), or there are no targets
  2  --target names no target`

  static override examples = [
    {description: 'Every target of the production accessory', command: '<%= config.bin %> <%= command.id %> -d production'},
    {description: 'Only the second target (notify[1])', command: '<%= config.bin %> <%= command.id %> --target 1'},
  ]

  static override flags = {
    target: Flags.integer({summary: 'Only this target: its index in notify: (0 is the first).', min: 0}),
  }

  protected async here({flags}: Parsed<typeof NotifyTest>): Promise<NotifyTestResult[]> {
    const engine = await this.engine(flags, {}, {report: false})
    const targets = engine.config.notify
    if (flags.target !== undefined && flags.target >= targets.length) {
      throw new UsageError(`--target ${flags.target}: ${engine.config.file} has ${targets.length === 0 ? 'no notify targets' : `notify targets 0 to ${targets.length - 1}`}`)
    }
    const {sendTest} = await import('../../notify/index.js')
    const results = await sendTest({app: engine.config.app, targets, secrets: engine.secrets, redactor: engine.redactor, exec: engine.exec, state: engine.state, log: this.ui, version: this.config.version, logTail: () => [], signal: this.abortController.signal}, flags.target)
    const s = this.ui.style
    if (results.length === 0) this.ui.error(`${engine.config.file} has no notify targets: add one under notify:`)
    this.out(results.map((r) => `${r.ok ? s.green('✔') : s.red('✖')} notify[${r.target}] ${r.type}: ${r.ok ? `ok${r.status !== null ? ` (${r.status})` : ''} in ${r.duration_ms} ms` : `${r.error}${r.attempts > 1 ? ` (${r.attempts} attempts)` : ''}`}`).join('\n'))
    if (results.length === 0 || results.some((r) => !r.ok)) process.exitCode = ExitCode.failed
    return results
  }
}
