import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {toolVersions} from '../engine/evidence.js'
import {localExecutor} from '../exec/executor.js'

export interface VersionResult {
  version: string
  node: string
  tools?: Record<string, string | null>
}

export default class Version extends AccessoryCommand<typeof Version> {
  static override summary = 'Show the kamal-backup version (and, in an app checkout, the accessory\'s)'
  static override description = `Prints the CLI version. With --json it also reports restic and the database tools found here. From an app checkout it also asks the backup accessory for its version and says whether the two are compatible (same major.minor): other remote commands refuse to run across a major.minor difference. When the accessory cannot be reached it still prints this machine's version, then the error (exit 3).

${WHERE_IT_RUNS} The accessory image sets KAMAL_BACKUP_IN_ACCESSORY=1.

EXIT CODES
  0    printed (the two sides are compatible)
  3    the accessory could not be reached (this machine's version is still printed)
  4    the accessory runs an incompatible version`

  static override examples = [
    {description: 'This CLI and, from an app checkout, the accessory\'s', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'The accessory of the production destination, as JSON', command: '<%= config.bin %> <%= command.id %> --json -d production'},
    {description: 'Only this machine, with the tools found here', command: '<%= config.bin %> <%= command.id %> --json --local'},
  ]

  protected async here(_input: Parsed<typeof Version>): Promise<VersionResult> {
    const result: VersionResult = {version: this.config.version, node: process.version}
    if (this.jsonEnabled()) result.tools = await toolVersions({exec: localExecutor, env: process.env, signal: this.abortController.signal, redactor: this.redactor})
    this.out(result.version)
    return result
  }
}
