// Human summaries of restores and drills (stdout). --json prints the records themselves.
import {bytes, count, seconds} from '../../engine/progress.js'
import {beforeDeploy} from '../../engine/runs.js'
import type {RestorePlan} from '../../engine/restore-flows.js'
import {fewerRows, type DrillRecord, type PreflightCheck, type RestoreReport, type RestoreResult} from '../../documents.js'
import type {Style} from '../style.js'

function parts(report: RestoreReport): string[] {
  const lines: string[] = []
  for (const f of report.files) lines.push(`  files    ${f.from} → ${f.to}: ${count(f.files, 'file')}, ${bytes(f.bytes)}`)
  for (const d of report.databases) {
    const rows = d.rows_restored === 'counted' ? d.rows?.reduce((sum, r) => sum + (r.restored ?? 0), 0) : undefined
    const fewer = fewerRows(d).filter((r) => r.restored !== 0)
    lines.push(
      `  database ${d.name} → ${d.target}: ${count(d.tables_restored.length, 'table')}${rows !== undefined ? `, ${count(rows, 'row')}` : ''}${d.integrity ? ', integrity ok' : ''}` +
        (d.missing_tables.length ? `, MISSING ${d.missing_tables.join(', ')}` : '') +
        (d.empty_tables?.length ? `, EMPTY ${d.empty_tables.join(', ')} (the dump had rows)` : '') +
        (fewer.length ? `, fewer rows than the dump in ${fewer.map((r) => `${r.table} (${r.restored} of ${r.in_dump})`).join(', ')}` : ''),
    )
  }
  return lines
}

export function renderRestore(result: RestoreResult, s: Style): string {
  const lines = [
    result.status === 'ok'
      ? `${s.green('✔')} restored run ${result.run_id} (${result.run_time}) in ${seconds(result.duration_ms)}`
      : `${s.red('✖')} restore ${result.run_id ? `of run ${result.run_id} ` : ''}failed: ${result.error}`,
    ...parts(result),
  ]
  if (result.status !== 'ok') {
    for (const c of result.changes) lines.push(`  ${c.state === 'restored' ? 'restored ' : c.state === 'partial' ? s.red('PARTIAL  ') : 'unchanged'} ${c.part} → ${c.target}${c.note ? ` (${c.note})` : ''}`)
  }
  if (result.safety_backup?.undo_command) lines.push(`  safety backup: run ${result.safety_backup.run_id}; to undo: ${s.bold(result.safety_backup.undo_command)}`)
  for (const p of result.skipped_paths) lines.push(s.dim(`  not restored: ${p} (no local target)`))
  return lines.join('\n')
}

export function renderDrill(record: DrillRecord, s: Style): string {
  const lines = [
    record.status === 'ok'
      ? `${s.green('✔')} drill ok: run ${record.run_id} restored and verified in ${seconds(record.duration_ms)} (operator ${record.operator})`
      : `${s.red('✖')} drill failed${record.run_id ? ` (run ${record.run_id})` : ''}: ${record.error}`,
    ...parts(record),
  ]
  if (record.verification.check) lines.push(`  check    ${record.verification.check.command}: exit ${record.verification.check.exit_code}`)
  for (const skipped of record.skipped) lines.push(`  skipped  ${skipped}`)
  for (const step of record.steps) lines.push(s.dim(`  ${step.status.padEnd(7)} ${step.name} ${step.duration_ms !== null ? seconds(step.duration_ms) : ''}`))
  return lines.join('\n')
}

/** "45 s", "12 min", "3 h 5 min", "2 d 4 h": how old a run is. */
export function age(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  const minutes = Math.floor(s / 60)
  if (minutes < 60) return `${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 24) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`
  const days = Math.floor(hours / 24)
  return `${days} d${hours % 24 ? ` ${hours % 24} h` : ''}`
}

/** What a production restore is about to do: enough for the confirmation (a plan from the accessory's dry run,
 *  or, locally, the run and targets resolved just before asking). */
export interface PlanSummary {
  run: {id: string; time: string; age_seconds: number; pre_restore: boolean; pre_deploy?: string}
  requested: {snapshot: string; at: string | null}
  targets: RestorePlan['targets']
  safety_backup: boolean
  /** The checks that already passed (a remote restore's dry run); absent when they run after the confirmation. */
  checks?: PreflightCheck[]
  warnings?: string[]
}

/** How the selection picked the run: "the latest complete backup run", "the latest complete run at or before …". */
function pickedBy(requested: PlanSummary['requested']): string | undefined {
  if (requested.at) return `the latest complete run at or before ${requested.at}`
  if (requested.snapshot === 'latest') return 'the latest complete backup run'
  return undefined
}

/** `command`: which command the plan is for (default restore production, the only one with a safety backup). */
function planLines(plan: PlanSummary, s: Style, command = 'restore production'): string[] {
  const lines = [`run      ${s.bold(plan.run.id)}${plan.run.pre_restore ? ' [pre-restore: a safety backup]' : ''}${plan.run.pre_deploy !== undefined ? ` [${beforeDeploy(plan.run.pre_deploy)}]` : ''}, taken ${plan.run.time} (${age(plan.run.age_seconds)} ago)`]
  for (const d of plan.targets.databases) lines.push(`database ${d.name} → ${d.target}`)
  const into = command === 'drill production' ? 'a scratch directory, emptied first' : 'its contents are replaced'
  for (const f of plan.targets.files) lines.push(`files    ${f.from} → ${f.to} (${into})`)
  if (plan.targets.databases.length === 0 && plan.targets.files.length === 0) lines.push('nothing  (the selection names no part of the run)')
  if (command !== 'restore production') return lines
  lines.push(plan.safety_backup ? 'safety   yes: a backup of the current data (type:pre-restore) right before the first change; its undo command is printed' : `safety   ${s.red('NONE')} (--no-safety-backup): the current data cannot be brought back by kamal-backup`)
  return lines
}

/** The text above the typed confirmation of a production restore. */
export function confirmationText(app: string, plan: PlanSummary, s: Style): string {
  const by = pickedBy(plan.requested)
  const lines = [`This restores run ${plan.run.id}${by ? ` (${by})` : ''} into PRODUCTION for app "${app}", overwriting its current data:`, '', ...planLines(plan, s).map((l) => `  ${l}`)]
  if (plan.checks) lines.push(`  checks   ${plan.checks.length === 1 ? 'the one check' : `all ${plan.checks.length} checks`} of the targets passed in the accessory just now (a dry run: nothing was changed)`)
  lines.push(...warningLines(plan.warnings, s))
  return lines.join('\n')
}

function warningLines(warnings: readonly string[] | undefined, s: Style): string[] {
  return (warnings ?? []).map((w) => `  ${s.red('WARNING')}  ${w}`)
}

function checkLines(checks: readonly PreflightCheck[], s: Style): string[] {
  return checks.map((c) => (c.status === 'ok' ? `  ${s.green('ok')}      ${c.name}` : `  ${s.red('FAILED')}  ${c.name}: ${c.error ?? ''}`))
}

/** `restore|drill production|local --dry-run`, and a remote restore stopped by its dry run. */
export function renderPlan(plan: RestorePlan, s: Style): string {
  const command = `${plan.kind === 'drill-plan' ? 'drill' : 'restore'} ${plan.scope}`
  const lines = [
    plan.status === 'ok'
      ? `${s.green('✔')} dry run: ${command} could proceed now; nothing was changed`
      : `${s.red('✖')} dry run: ${command} cannot proceed: ${plan.error}; nothing was changed`,
  ]
  if (plan.run) lines.push(...planLines({...plan, run: plan.run}, s, command).map((l) => `  ${l}`))
  if (plan.checks.length > 0) lines.push('  checks', ...checkLines(plan.checks, s).map((l) => `  ${l}`))
  if (plan.run && plan.status === 'ok') lines.push(s.dim(`  not checked by a dry run: ${plan.not_checked.join('; ')}`))
  lines.push(...warningLines(plan.warnings, s))
  return lines.join('\n')
}
