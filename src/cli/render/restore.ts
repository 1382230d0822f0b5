// Human summaries of restores and drills (stdout). --json prints the records themselves.
import type {DrillRecord} from '../../engine/drill.js'
import {bytes, count, seconds} from '../../engine/progress.js'
import type {RestoreReport} from '../../engine/restore.js'
import type {RestoreResult} from '../../engine/restore-flows.js'
import type {Style} from '../style.js'

function parts(report: RestoreReport): string[] {
  const lines: string[] = []
  for (const f of report.files) lines.push(`  files    ${f.from} → ${f.to}: ${count(f.files, 'file')}, ${bytes(f.bytes)}`)
  for (const d of report.databases) lines.push(`  database ${d.name} → ${d.target}: ${count(d.tables_restored.length, 'table')}${d.integrity ? ', integrity ok' : ''}${d.missing_tables.length ? `, MISSING ${d.missing_tables.join(', ')}` : ''}`)
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
