// How `validate` shows findings: a readable list on a terminal, GitHub Actions annotations with --format github.
import type {Finding} from '../../parse/findings.js'
import type {ValidateReport} from '../../config/validate.js'
import type {Style} from '../style.js'
import {count} from '../../engine/progress.js'

export function renderFindings(report: ValidateReport, s: Style): string {
  const lines: string[] = []
  for (const f of report.findings) {
    const severity = f.severity === 'error' ? s.red('error  ') : s.yellow('warning')
    lines.push(`${s.bold(`${f.file}:${f.line}:${f.column}`)}  ${severity}  ${f.message}  ${s.dim(f.rule)}`)
    if (f.suggestion) lines.push(`    ${s.cyan('→')} ${f.suggestion}`)
  }
  if (lines.length > 0) lines.push('')
  const checked = report.files.length > 0 ? ` (${report.files.join(', ')})` : ''
  if (report.valid) {
    const acc = report.accessory
    const where = acc ? `: accessory "${acc.name}", container ${acc.container} on ${acc.hosts.join(', ') || 'no host'}` : ''
    lines.push(`${s.green('✔')} valid${where}${report.warnings > 0 ? ` (${counts(report)})` : ''}${s.dim(checked)}`)
  } else {
    lines.push(`${s.red('✖')} invalid: ${counts(report)}${s.dim(checked)}`)
  }
  return lines.join('\n')
}

/** GitHub Actions workflow commands: one annotation per finding, shown inline on the pull request. */
export function renderGithub(report: ValidateReport): string {
  const lines = report.findings.map((f: Finding) => {
    const kind = f.severity === 'error' ? 'error' : 'warning'
    const props = `file=${escapeProperty(f.file)},line=${f.line},col=${f.column},title=${escapeProperty(`kamal-backup ${f.rule}`)}`
    const text = f.suggestion ? `${f.message}. ${f.suggestion}` : f.message
    return `::${kind} ${props}::${escapeData(text)}`
  })
  lines.push(`kamal-backup: ${report.valid ? 'valid' : 'invalid'} (${counts(report)})`)
  return lines.join('\n')
}

/** "1 error, 2 warnings". */
function counts(report: ValidateReport): string {
  return `${count(report.errors, 'error')}, ${count(report.warnings, 'warning')}`
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C')
}
