import {EngineCommand} from '../cli/engine-command.js'
import {toolVersions} from '../engine/evidence.js'

export interface VersionResult {
  version: string
  node: string
  tools?: Record<string, string | null>
}

export default class Version extends EngineCommand {
  static override summary = 'Show the kamal-backup version (and, in an app checkout, the accessory\'s)'
  static override description = `Prints the CLI version. With --json it also reports restic and the database tools found here. From an app checkout it also asks the backup accessory for its version and says whether the two are compatible (same major.minor).`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json --local']

  async run(): Promise<VersionResult | void> {
    const {flags} = await this.parse(Version)
    if (this.runsRemotely(flags)) {
      process.exitCode = await this.runRemote(flags, this.argv)
      return
    }
    const result: VersionResult = {version: this.config.version, node: process.version}
    if (this.jsonEnabled()) result.tools = await toolVersions(process.env)
    this.out(result.version)
    return result
  }
}
