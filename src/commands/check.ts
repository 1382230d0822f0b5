import * as Flags from '@oclif/core/flags'
import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {runCheck, type MaintenanceRecord} from '../engine/maintenance.js'
import {readDataSubsetProblem} from '../config/types.js'
import {UsageError} from '../errors.js'
import {repositoryFlags} from '../cli/flags.js'

export default class Check extends AccessoryCommand<typeof Check> {
  static override summary = 'Verify the repository with restic check'
  static override description = `Checks the repository's structure and, with --read-data-subset, reads part of the stored data (5%, 1/7, 500M). The result is recorded in the state directory and shown by \`evidence\`.

${WHERE_IT_RUNS}`

  static override examples = [
    {description: 'Structure check', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Also read a tenth of the data', command: '<%= config.bin %> <%= command.id %> --read-data-subset 10%'},
    {description: 'Only the copy named offsite (restic.copies); without --repository every copy is checked after the primary', command: '<%= config.bin %> <%= command.id %> --repository offsite'},
  ]

  static override flags = {
    'read-data-subset': Flags.string({summary: 'Also read this part of the data: a percentage (5%), a fraction (1/7) or a size (500M).'}),
    ...repositoryFlags,
  }

  /** A value restic would refuse is a usage error here, before the repository (or the accessory) is reached. */
  protected override async parseInput(): Promise<Parsed<typeof Check>> {
    const input = await super.parseInput()
    const subset = input.flags['read-data-subset']
    const problem = subset === undefined ? undefined : readDataSubsetProblem(subset)
    if (problem) throw new UsageError(`--read-data-subset: ${problem}`, {suggestions: ['e.g. --read-data-subset 5%, 1/7 or 500M']})
    return input
  }

  protected async here({flags}: Parsed<typeof Check>): Promise<MaintenanceRecord> {
    const record = await runCheck(await this.engine(flags, {}, {copy: flags.repository}), flags['read-data-subset'])
    const ok = this.ui.style.green('✔')
    const name = flags.repository === undefined ? 'repository' : `copy ${flags.repository}`
    this.out(`${ok} ${name} check ok${record.read_data_subset ? ` (read ${record.read_data_subset} of the data)` : ''}`)
    for (const copy of record.copies ?? []) this.out(`${ok} copy ${copy.name} check ok`)
    return {...record, ...(flags.repository !== undefined && {repository: flags.repository})}
  }
}
