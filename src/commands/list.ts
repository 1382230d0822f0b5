import {AccessoryCommand, WHERE_IT_RUNS, type Parsed} from '../cli/engine-command.js'
import {repositoryFlags} from '../cli/flags.js'
import {damageText} from '../engine/damage.js'
import {listRuns, type ListResult} from '../engine/list.js'
import {bytes} from '../engine/progress.js'
import {beforeDeploy} from '../engine/runs.js'

export default class List extends AccessoryCommand<typeof List> {
  static override summary = 'List backup runs, newest first'
  static override description = `One line per run (all snapshots sharing a run id): its time, whether it is complete (every database and the files), and each snapshot's id and size. \`latest\` in restore and drill means the newest complete run.

${WHERE_IT_RUNS}`

  static override examples = [
    {description: 'Show the runs', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'As JSON, from CI', command: '<%= config.bin %> <%= command.id %> -d production --json'},
    {description: 'The runs in the copy named offsite (restic.copies)', command: '<%= config.bin %> <%= command.id %> --repository offsite'},
  ]

  static override flags = {...repositoryFlags}

  protected async here({flags}: Parsed<typeof List>): Promise<ListResult['runs']> {
    const result = await listRuns(await this.engine(flags, {}, {copy: flags.repository}))
    const s = this.ui.style
    // On stderr, with --json too: the runs below may not restore.
    if (result.damage) this.ui.error(damageText(result.damage))
    if (result.runs.length === 0) this.out(`no backup runs for app ${result.app} in ${result.repository}`)
    else {
      const lines = [s.bold(`${'RUN'.padEnd(17)} ${'TIME'.padEnd(20)} ${'STATUS'.padEnd(10)} ${'SIZE'.padStart(10)}  SNAPSHOTS`)]
      for (const run of result.runs) {
        const status = run.complete ? s.green('complete') : s.yellow('partial')
        // A complete run whose forget or check failed: its data is whole, but say so.
        const result = run.status === 'failed' || run.status === 'interrupted' ? s.yellow(`  [${run.status}${run.failed_step ? ` at ${run.failed_step}` : ''}]`) : ''
        const snapshots = run.snapshots.map((x) => `${x.group}=${x.short_id}${x.bytes !== null ? ` (${bytes(x.bytes)})` : ''}`).join('  ')
        const size = run.total_bytes !== null ? bytes(run.total_bytes) : '-'
        lines.push(`${run.id.padEnd(17)} ${run.time.slice(0, 19).replace('T', ' ').padEnd(20)} ${status}${' '.repeat(Math.max(1, 11 - (run.complete ? 8 : 7)))}${size.padStart(10)}  ${snapshots}${result}${run.pre_restore ? s.dim('  [pre-restore]') : ''}${run.pre_deploy ? s.dim(`  [${beforeDeploy(run.deploy_version ?? '')}]`) : ''}${run.legacy ? s.dim('  [legacy]') : ''}${run.missing.length > 0 ? s.dim(`  missing: ${run.missing.join(', ')}`) : ''}`)
      }
      this.out(lines.join('\n'))
    }
    return result.runs
  }
}
