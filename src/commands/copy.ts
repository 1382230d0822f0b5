import * as Flags from '@oclif/core/flags'
import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {ExitCode} from '../errors.js'

export default class Copy extends AccessoryCommand<typeof Copy> {
  static override summary = 'Copy the latest backup run to the copies in restic.copies, now'
  static override description = `Every successful backup run is copied to each repository under restic.copies on its own (a copy that fails makes the run a warning). This command does it now: the latest complete run, and any newer-than-the-copy runs a failed copy missed, with \`restic copy\`; then it proves they arrived (listed in the copy with the same run id, each naming the primary's snapshot) and applies the copy's retention. For a copy kept on its own schedule, or to catch up at once after a failure. The result is recorded in the state directory and shown by \`evidence\`.

${WHERE_IT_RUNS}

EXIT CODES
  0  every copy has the run
  1  a copy failed (the message says which and why; the primary repository is unaffected)`

  static override examples = [
    {description: 'Catch every copy up now', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Only the copy named offsite', command: '<%= config.bin %> <%= command.id %> --to offsite -d production'},
  ]

  static override flags = {
    to: Flags.string({summary: 'Only this copy (restic.copies[].name).'}),
  }

  protected async here({flags}: Parsed<typeof Copy>): Promise<unknown> {
    const {runCopy} = await import('../engine/copies.js')
    const result = await runCopy(await this.engine(flags), {to: flags.to})
    const s = this.ui.style
    for (const copy of result.copies) {
      if (copy.status === 'ok') this.out(`${s.green('✔')} ${copy.name}: run(s) ${copy.runs.join(', ')} in the copy, proved (${copy.snapshots} snapshot(s); restic copy skips what was there already)${copy.removed > 0 ? `, ${copy.removed} removed by its retention` : ''}`)
      else this.ui.error(`the copy to ${copy.name} failed: ${copy.error}`)
    }
    if (result.copies.some((c) => c.status === 'failed')) process.exitCode = ExitCode.failed
    return {schema_version: 1, kind: 'copy', ...result}
  }
}
