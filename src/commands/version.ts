import {BaseCommand} from '../cli/base.js'

export interface VersionResult {
  version: string
  node: string
}

export default class Version extends BaseCommand {
  static override summary = 'Show the kamal-backup version'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<VersionResult> {
    await this.parse(Version)
    const result = {version: this.config.version, node: process.version}
    this.out(result.version)
    return result
  }
}
