// `evidence --html FILE`: the report (src/engine/report.ts) as one self-contained HTML page for people — an
// auditor, an on-call engineer — who want to see that backups ran and restores were rehearsed. No network requests
// (inline CSS, inline SVG charts from svg.ts, no script, no web fonts, no images), readable printed (a print style
// sheet: white background, one section per page, charts at their proportions). A pure function of the report and
// the time it is rendered at.
import type {BackupRunRecord, DrillRecord, RestoreResult} from '../../documents.js'
import {isRestorePoint} from '../../documents.js'
import {bytes, seconds} from '../../engine/progress.js'
import type {Report, ReportCopy} from '../../engine/report.js'
import {age} from './restore.js'
import {barChart, esc, legend, mark, MARK_LABEL, n, scale, svgChart, timeTicks, type Bar, type MarkStatus} from './svg.js'

type Evidence = Report['evidence']

/** A run as the timeline shows it: warning is a run that saved (status ok) with warnings. */
export function runStatus(run: Pick<BackupRunRecord, 'status' | 'warnings'>): MarkStatus {
  if (run.status === 'skipped') return 'skipped'
  if (run.status === 'failed') return 'failed'
  return (run.warnings?.length ?? 0) > 0 ? 'warning' : 'ok'
}

const SYMBOL: Record<MarkStatus, string> = {ok: '✔', failed: '✖', warning: '▲', skipped: '◇'}

/** A status in words with its symbol: never colour alone. */
function badge(status: MarkStatus, text: string = MARK_LABEL[status]): string {
  return `<span class="badge ${status}"><span aria-hidden="true">${SYMBOL[status]}</span> ${esc(text)}</span>`
}

const when = (iso: string | null | undefined): string => (iso ? esc(iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')) : '—')
const ms = (v: number | null | undefined): string => (typeof v === 'number' ? esc(seconds(v)) : '—')
const runBytes = (run: BackupRunRecord): number => run.snapshots.reduce((sum, s) => sum + (s.bytes ?? 0), 0)
const runFiles = (run: BackupRunRecord): number => (run.file_counts ?? []).reduce((sum, f) => sum + f.files, 0)
/** "12-07 23:30": a run or record's time on an axis. */
const shortTime = (iso: string): string => iso.slice(5, 16).replace('T', ' ')

export function renderReportHtml(report: Report, options: {now: Date}): string {
  const {evidence, history} = report
  const now = options.now
  const sections = [
    statusSection(evidence, history.runs),
    timelineSection(report, now),
    sizesSection(history.runs),
    drillsSection(evidence, history.drills),
    restoresSection(history.restores),
    checksSection(evidence),
    retentionSection(evidence),
    copiesSection(evidence, now),
    signatureSection(evidence),
  ]
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kamal-backup ${esc(evidence.kamal_backup_version)}">
<title>Backups of ${esc(evidence.app)}: kamal-backup report</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>Backups of <span class="app">${esc(evidence.app)}</span></h1>
<p class="meta">Evidence generated at ${when(evidence.generated_at)} by kamal-backup ${esc(evidence.kamal_backup_version)}; this page rendered at ${when(now.toISOString())}. History: the last ${history.limit} records of each kind since ${when(history.since)}. All times UTC.</p>
</header>
<main>
${sections.join('\n')}
</main>
</body>
</html>
`
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}" aria-labelledby="${id}-title"><h2 id="${id}-title">${esc(title)}</h2>\n${body}\n</section>`
}

/** A table; short cells (a time, an id, a status) do not wrap. */
function table(headers: readonly string[], rows: readonly string[][], className = ''): string {
  return `<table class="${className}"><thead><tr>${headers.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td${c.replace(/<[^>]*>/g, '').length <= 28 ? ' class="nowrap"' : ''}>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`
}

function definitions(items: readonly [string, string][]): string {
  return `<dl>${items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`
}

// ---- 1. status ---------------------------------------------------------------------------------------------------

function statusSection(evidence: Evidence, runs: readonly BackupRunRecord[]): string {
  const age_ = evidence.latest_backup_age
  const overall: {status: MarkStatus; text: string} = evidence.repository_error !== null
    ? {status: 'failed', text: 'the repository cannot be opened'}
    : evidence.repository_damage
      ? {status: 'failed', text: 'the repository is damaged'}
      : age_.status === 'ok'
        ? {status: 'ok', text: 'backups are on time'}
        : age_.status === 'disabled'
          ? {status: 'skipped', text: 'backups are disabled'}
          : {status: 'failed', text: age_.status === 'late' ? 'the latest backup is late' : 'there is no complete backup'}
  const latest = evidence.latest_complete_run
  const last = evidence.last_backup_run
  const alerts: string[] = []
  if (evidence.repository_error !== null) alerts.push(`<p class="alert" role="alert">${badge('failed', 'repository error')} ${esc(evidence.repository_error)}</p>`)
  if (evidence.repository_damage) {
    const d = evidence.repository_damage
    alerts.push(`<div class="alert" role="alert"><p>${badge('failed', 'repository damaged')} since ${when(d.since)} (last found ${when(d.found_at)}): ${esc(d.error)}</p><ul>${d.what_to_do.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></div>`)
  }
  const body = [
    `<p class="overall" data-status="${esc(age_.status)}">${badge(overall.status, `${age_.status.toUpperCase()}: ${overall.text}`)}</p>`,
    ...alerts,
    definitions([
      ['Latest complete backup', latest ? `run <code class="id">${esc(latest.id)}</code> at ${when(latest.time)}` : 'none'],
      ['Its age', age_.seconds === null ? '—' : `${esc(age(age_.seconds))} (allowed: ${esc(age(age_.allowed_seconds))})`],
      ['Last run', last ? `${badge(runStatus(last))} <code class="id">${esc(last.run_id ?? '')}</code> at ${when(last.started_at)}${last.error ? `: ${esc(last.error)}` : ''}` : 'none recorded'],
      ['Schedule', `${esc(evidence.schedule.description)} (<code>${esc(evidence.schedule.expression)}</code>)${evidence.schedule.enabled ? '' : ', disabled'}`],
      ['Runs in the repository', `${evidence.runs.total} (${evidence.runs.complete} complete, ${evidence.runs.incomplete} incomplete)${evidence.runs.oldest ? `, oldest ${when(evidence.runs.oldest)}` : ''}`],
      ['Runs recorded here', `${runs.length} in the report's window`],
      ['Repository', `<code>${esc(evidence.repository)}</code>`],
      ['Databases', evidence.databases.length === 0 ? 'none' : evidence.databases.map((d) => `${esc(d.name)} (${esc(d.adapter)}, <code>${esc(d.source)}</code>)`).join('<br>')],
      ['Paths', evidence.paths.length === 0 ? 'none' : evidence.paths.map((p) => `<code>${esc(p.path)}</code>${p.exclude.length ? ` excluding ${p.exclude.map((e) => `<code>${esc(e)}</code>`).join(', ')}` : ''}`).join('<br>')],
    ]),
  ]
  return section('status', 'Current status', body.join('\n'))
}

// ---- 2. timeline and RPO -----------------------------------------------------------------------------------------

const runTime = (run: BackupRunRecord): number => Date.parse(run.started_at)

function runTooltip(run: BackupRunRecord): string {
  const status = runStatus(run)
  const parts = [`run ${run.run_id ?? '(none)'}`, `${run.started_at.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}`, status, `${run.trigger}`]
  if (run.status !== 'skipped') parts.push(`took ${seconds(run.duration_ms)}`)
  if (run.reason) parts.push(`reason: ${run.reason}`)
  if (run.error) parts.push(`error: ${run.error}`)
  for (const w of run.warnings ?? []) parts.push(`warning: ${w}`)
  return parts.join(' · ')
}

function timelineSection(report: Report, now: Date): string {
  const {evidence, history} = report
  const runs = history.runs
  const allowed = evidence.latest_backup_age.allowed_seconds
  const caption = `Each backup run is a mark (${Object.values(SYMBOL).join(' ')}: ok, failed, warning, skipped because another run held the lock). Below, the age of the latest successful backup over time: it drops to zero at each successful run and must stay inside the band, the allowed age (${esc(age(allowed))}: the schedule's interval, ${esc(evidence.schedule.description)}, plus an hour). A line above the band is a gap longer than the recovery point objective.`
  if (runs.length === 0) {
    return section('timeline', 'Backup runs', `<p class="empty">No backup runs are recorded in this state directory since ${when(history.since)}.</p>`)
  }
  const width = 880
  const height = 300
  const left = 80
  const right = 16
  const times = runs.map(runTime)
  const end = Math.max(now.getTime(), ...runs.map((r) => Date.parse(r.finished_at)))
  let start = Math.min(...times)
  if (end - start < 60_000) start = end - 60_000
  const pad = (end - start) * 0.02
  const x = scale([start - pad, end + pad], [left, width - right])
  const parts: string[] = []

  // The marks, in up to three rows where they would overlap.
  const rows = [28, 44, 60]
  const lastX = rows.map(() => -Infinity)
  parts.push(`<text class="axis" x="${left - 8}" y="48" text-anchor="end">runs</text>`)
  runs.forEach((run, i) => {
    const mx = x(times[i]!)
    const row = lastX.findIndex((lx) => mx - lx >= 14)
    const r = row < 0 ? i % rows.length : row
    lastX[r] = mx
    parts.push(mark(runStatus(run), mx, rows[r]!, runTooltip(run), 'mark run'))
  })

  // The age of the latest successful backup (a safety backup before a restore does not count, as in evidence).
  const successes = runs.filter((r) => r.status === 'ok' && !isRestorePoint(r)).map(runTime)
  const top = 96
  const bottom = height - 36
  const gaps: {from: number; to: number}[] = []
  successes.forEach((s, i) => gaps.push({from: s, to: successes[i + 1] ?? end}))
  const longest = Math.max(0, ...gaps.map((g) => (g.to - g.from) / 1000))
  const yMax = Math.max(allowed * 1.25, longest * 1.05)
  const y = scale([0, yMax], [bottom, top])
  parts.push(`<g class="rpo-band" data-allowed-seconds="${allowed}"><title>${esc(`allowed age of the latest backup (RPO): ${age(allowed)}`)}</title><rect x="${left}" y="${n(y(allowed))}" width="${width - left - right}" height="${n(bottom - y(allowed))}"/><line x1="${left}" x2="${width - right}" y1="${n(y(allowed))}" y2="${n(y(allowed))}"/></g>`)
  parts.push(`<text class="axis" x="${left - 8}" y="${n(y(allowed) + 4)}" text-anchor="end">${esc(age(allowed))}</text><text class="axis" x="${left - 8}" y="${bottom + 4}" text-anchor="end">0</text><text class="band-label" x="${width - right - 4}" y="${n(y(allowed) - 5)}" text-anchor="end">RPO: allowed age ${esc(age(allowed))}</text>`)
  parts.push(`<text class="axis" x="${left - 8}" y="${top - 6}" text-anchor="end">backup age</text>`)
  const exceeded: {from: number; to: number}[] = []
  if (gaps.length > 0) {
    let d = `M${n(x(gaps[0]!.from))} ${n(y(0))}`
    for (const g of gaps) d += `L${n(x(g.to))} ${n(y((g.to - g.from) / 1000))}${g.to === end ? '' : `L${n(x(g.to))} ${n(y(0))}`}`
    parts.push(`<path class="age-line" d="${d}"/>`)
    for (const g of gaps) {
      const gap = (g.to - g.from) / 1000
      if (gap <= allowed) continue
      exceeded.push(g)
      const from = g.from + allowed * 1000
      parts.push(`<g class="rpo-exceeded" data-gap-seconds="${Math.round(gap)}"><title>${esc(`no successful backup from ${new Date(g.from).toISOString()} until ${g.to === end ? 'now' : new Date(g.to).toISOString()}: ${age(gap)}, longer than the allowed ${age(allowed)}`)}</title><path d="M${n(x(from))} ${n(y(allowed))}L${n(x(g.to))} ${n(y(gap))}"/></g>`)
    }
  } else {
    parts.push(`<text class="axis" x="${n((left + width - right) / 2)}" y="${n((top + bottom) / 2)}" text-anchor="middle">no successful backup in this window</text>`)
  }
  for (const tick of timeTicks(start - pad, end + pad)) {
    parts.push(`<line class="tick" x1="${n(x(tick.at))}" x2="${n(x(tick.at))}" y1="${bottom}" y2="${bottom + 5}"/><text class="axis" x="${n(x(tick.at))}" y="${bottom + 18}" text-anchor="middle">${esc(tick.label)}</text>`)
  }
  const present = (['ok', 'warning', 'failed', 'skipped'] as const).filter((s) => runs.some((r) => runStatus(r) === s))
  parts.push(legend(present, left, height - 8))
  const counts = present.map((s) => `${runs.filter((r) => runStatus(r) === s).length} ${MARK_LABEL[s]}`).join(', ')
  const chart = svgChart({width, height, className: 'timeline', label: `Timeline of ${runs.length} backup runs (${counts}) and the age of the latest successful backup against the allowed ${age(allowed)}`, body: parts.join('')})
  const gapText = exceeded.length === 0
    ? `<p>No gap between successful runs is longer than the allowed ${esc(age(allowed))}.</p>`
    : `<p>${badge('failed', `${exceeded.length} gap${exceeded.length === 1 ? '' : 's'} longer than the allowed ${age(allowed)}`)}</p><ul class="gaps">${exceeded.map((g) => `<li>${when(new Date(g.from).toISOString())} to ${g.to === end ? 'now' : when(new Date(g.to).toISOString())}: ${esc(age((g.to - g.from) / 1000))}</li>`).join('')}</ul>`
  const recent = runs.slice(-15).reverse()
  const list = table(['Started', 'Run', 'Trigger', 'Status', 'Took', 'Size', 'Error or warnings'], recent.map((r) => [
    when(r.started_at),
    r.run_id ? `<code class="id">${esc(r.run_id)}</code>` : '—',
    esc(r.trigger),
    badge(runStatus(r)),
    r.status === 'skipped' ? '—' : ms(r.duration_ms),
    r.snapshots.length ? esc(bytes(runBytes(r))) : '—',
    [r.error ?? r.reason ?? '', ...(r.warnings ?? [])].filter(Boolean).map(esc).join('<br>'),
  ]), 'runs')
  const omitted = history.omitted.runs > 0 ? `<p class="note">${history.omitted.runs} older run record${history.omitted.runs === 1 ? ' is' : 's are'} not shown.</p>` : ''
  return section('timeline', 'Backup runs', `<figure>${chart}<figcaption>${caption}</figcaption></figure>\n${gapText}\n<h3>The last ${recent.length} runs</h3>\n${list}${omitted}`)
}

// ---- 3. sizes and file counts ------------------------------------------------------------------------------------

function sizesSection(runs: readonly BackupRunRecord[]): string {
  const saved = runs.filter((r) => r.snapshots.length > 0)
  const counted = runs.filter((r) => (r.file_counts ?? []).length > 0)
  if (saved.length === 0 && counted.length === 0) return section('sizes', 'Snapshot sizes and file counts', '<p class="empty">No run saved a snapshot in this window.</p>')
  const sizeBars: Bar[] = saved.map((r) => ({
    value: runBytes(r),
    label: shortTime(r.started_at),
    status: runStatus(r),
    tooltip: `run ${r.run_id} · ${runStatus(r)} · ${bytes(runBytes(r))}: ${r.snapshots.map((s) => `${s.group} ${bytes(s.bytes)}`).join(', ')}`,
  }))
  const fileBars: Bar[] = counted.map((r) => ({
    value: runFiles(r),
    label: shortTime(r.started_at),
    status: runStatus(r),
    tooltip: `run ${r.run_id} · ${runFiles(r)} files: ${(r.file_counts ?? []).map((f) => `${f.path} ${f.files}`).join(', ')}`,
  }))
  const parts: string[] = []
  if (sizeBars.length > 0) parts.push(`<figure>${barChart({bars: sizeBars, label: `Size of each run's snapshots (${sizeBars.length} runs)`, className: 'sizes', format: (v) => bytes(Math.round(v))})}<figcaption>The size of each run's snapshots (all its databases and files, as restic reports them), per run. A failed run shows what it saved before failing.</figcaption></figure>`)
  if (fileBars.length > 0) parts.push(`<figure>${barChart({bars: fileBars, label: `Files under the backed-up paths (${fileBars.length} runs)`, className: 'files', format: (v) => String(Math.round(v))})}<figcaption>The files found under the backed-up paths before each run's snapshot (all paths together; the tooltip has each path).</figcaption></figure>`)
  return section('sizes', 'Snapshot sizes and file counts', parts.join('\n'))
}

// ---- 4. drills and RTO -------------------------------------------------------------------------------------------

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function drillsSection(evidence: Evidence, drills: readonly DrillRecord[]): string {
  const summary = evidence.restore_drills
  const head = `<p>${summary.count} drill${summary.count === 1 ? '' : 's'} recorded: ${summary.ok} ok, ${summary.failed} failed; last ok ${when(summary.last_ok_at)}.</p>`
  if (drills.length === 0) return section('drills', 'Restore drills and recovery time', `${head}<p class="empty">No restore drill in this window: nothing shows that a restore works. Run <code>kamal-backup drill production</code> or <code>drill local</code>.</p>`)
  const ok = drills.filter((d) => d.status === 'ok').map((d) => d.duration_ms)
  const rto = ok.length > 0 ? `<p>Recovery time measured by the ok drills (restore and verification): last ${ms(ok.at(-1))}, median ${ms(median(ok))}, longest ${ms(Math.max(...ok))}.</p>` : '<p>No drill succeeded in this window: no recovery time is measured.</p>'
  const bars: Bar[] = drills.map((d) => ({
    value: d.duration_ms,
    label: shortTime(d.finished_at),
    status: d.status === 'ok' ? 'ok' : 'failed',
    tooltip: `drill ${d.scope} of run ${d.run_id ?? '?'} · ${d.status} · ${seconds(d.duration_ms)} · ${d.operator}${d.error ? ` · error: ${d.error}` : ''}`,
  }))
  const chart = `<figure>${barChart({bars, label: `Duration of ${drills.length} restore drills`, className: 'drills', format: (v) => seconds(v)})}<figcaption>Each drill's measured restore time (RTO): from the start of the restore to the end of its verification. Failed drills carry a cross.</figcaption></figure>`
  const rows = drills.slice(-10).reverse().map((d) => [
    when(d.finished_at),
    esc(d.scope),
    badge(d.status === 'ok' ? 'ok' : 'failed'),
    `<code class="id">${esc(d.run_id ?? '')}</code>`,
    ms(d.duration_ms),
    esc(d.operator),
    esc(d.error ?? d.verification.problems.join('; ')),
  ])
  return section('drills', 'Restore drills and recovery time', `${head}${rto}${chart}\n${table(['Finished', 'Scope', 'Status', 'Run', 'RTO', 'Operator', 'Problems'], rows, 'drills')}`)
}

// ---- 5. restores -------------------------------------------------------------------------------------------------

function restoresSection(restores: readonly RestoreResult[]): string {
  if (restores.length === 0) return section('restores', 'Restores', '<p class="empty">No restore is recorded in this window.</p>')
  const rows = restores.slice(-10).reverse().map((r) => [
    when(r.finished_at ?? r.updated_at),
    esc(r.scope),
    badge(r.status === 'ok' ? 'ok' : r.status === 'running' ? 'warning' : 'failed', r.status === 'running' ? 'cut off (running)' : r.status),
    `<code class="id">${esc(r.run_id ?? '')}</code>`,
    ms(r.duration_ms),
    esc(r.operator),
    r.safety_backup?.run_id ? `<code class="id">${esc(r.safety_backup.run_id)}</code>` : '—',
    esc(r.error ?? ''),
  ])
  return section('restores', 'Restores', `<p>The last ${rows.length} of ${restores.length} restores in this window, newest first.</p>${table(['Finished', 'Scope', 'Status', 'Run', 'Took', 'Operator', 'Safety backup', 'Error'], rows, 'restores')}`)
}

// ---- 6. checks ---------------------------------------------------------------------------------------------------

function checksSection(evidence: Evidence): string {
  const check = evidence.last_check
  const body = check
    ? definitions([
        ['Last check', `${badge(check.status === 'ok' ? 'ok' : 'failed')} finished ${when(check.finished_at)} in ${ms(check.duration_ms)}`],
        ['Data read', check.read_data_subset ? `a subset: <code>${esc(check.read_data_subset)}</code>` : 'structure only (no --read-data-subset)'],
        ...(check.error ? [['Error', esc(check.error)] as [string, string]] : []),
      ])
    : '<p class="empty">No repository check is recorded: run <code>kamal-backup check</code>, or set <code>check_after_backup</code>.</p>'
  const after = `<p>Check after each backup: ${evidence.check_after_backup ? 'yes' : 'no'}. kamal-backup keeps the last check's result (not a history of checks).</p>`
  return section('checks', 'Repository checks', body + after)
}

// ---- 7. retention ------------------------------------------------------------------------------------------------

function retentionSection(evidence: Evidence): string {
  const policy = evidence.retention
  const body = policy && Object.keys(policy).length > 0
    ? table(['Rule', 'Keep'], Object.entries(policy).map(([k, v]) => [`<code>${esc(k)}</code>`, esc(v)]), 'retention')
    : '<p>No retention policy: every snapshot is kept (restic.retention is not set).</p>'
  const prune = evidence.last_prune
  const last = prune ? `<p>Last prune: ${badge(prune.status === 'ok' ? 'ok' : 'failed')} ${when(prune.finished_at)}${typeof prune.removed === 'number' ? `, ${prune.removed} removed, ${prune.kept ?? 0} kept` : ''}${prune.error ? `: ${esc(prune.error)}` : ''}.</p>` : '<p>No prune recorded.</p>'
  return section('retention', 'Retention in force', `${body}<p>Applied after each backup: ${evidence.forget_after_backup ? 'yes' : 'no'}.</p>${last}`)
}

// ---- 8. copies ---------------------------------------------------------------------------------------------------

function copiesSection(evidence: Evidence, now: Date): string {
  const copies: readonly ReportCopy[] = evidence.copies ?? []
  if (copies.length === 0) return section('copies', 'Copies', '<p class="empty">No second copy configured: the backups live in one repository only (restic.copies).</p>')
  const latest = evidence.latest_complete_run?.id ?? null
  const rows = copies.map((c) => {
    const status: MarkStatus = c.status === 'ok' ? 'ok' : c.status === 'never' ? 'warning' : 'failed'
    const copiedAt = c.last_copy_at ? Date.parse(c.last_copy_at) : NaN
    return [
      esc(c.name),
      `<code>${esc(c.repository)}</code>`,
      badge(status, c.status === 'never' ? 'never copied' : c.status),
      when(c.last_copy_at),
      Number.isNaN(copiedAt) ? '—' : `${esc(age((now.getTime() - copiedAt) / 1000))} ago`,
      c.last_copied_run_id ? `<code class="id">${esc(c.last_copied_run_id)}</code>${latest ? (c.last_copied_run_id === latest ? ' (the latest run)' : ` (behind: the latest run is ${esc(latest)})`) : ''}` : '—',
      esc(c.error ?? ''),
    ]
  })
  return section('copies', 'Copies', `${table(['Copy', 'Repository', 'Status', 'Last copy', 'Age', 'Last run copied', 'Error'], rows, 'copies')}`)
}

// ---- 9. signature ------------------------------------------------------------------------------------------------

function signatureSection(evidence: Evidence): string {
  const sig = evidence.signature
  const status = sig
    ? `${badge('ok', 'signed')} ${esc(sig.algorithm)} by the key <code>${esc(sig.public_key_fingerprint)}</code>`
    : `${badge('warning', 'unsigned')} the digest shows an accidental change, but whoever edits the document can recompute it (set evidence.signing_key to sign)`
  const body = definitions([
    ['Signature', status],
    ['Digest', `<code class="digest">${esc(evidence.digest.algorithm)}:${esc(evidence.digest.value)}</code>`],
  ])
  return section('signature', 'Evidence signature', `${body}<p>The signature and digest cover the evidence document (<code>kamal-backup evidence</code>), not this page: check a copy of the document with <code>kamal-backup evidence verify evidence.json --public-key KEYFILE</code>.</p>`)
}

const CSS = `
:root{--ok:#1a7f37;--failed:#cf222e;--warning:#9a6700;--skipped:#57606a;--ink:#1f2328;--muted:#57606a;--line:#d0d7de}
*{box-sizing:border-box}
body{margin:0 auto;max-width:960px;padding:24px;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
h1{font-size:1.7em;margin:0 0 4px}h2{font-size:1.3em;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:32px}h3{font-size:1.05em}
.meta,.note,figcaption{color:var(--muted);font-size:.9em}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dt{font-weight:600}dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:8px 0}th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
table.retention{width:auto}td{overflow-wrap:anywhere}td.nowrap,code.id{white-space:nowrap;overflow-wrap:normal}
.badge{font-weight:600;white-space:nowrap}.badge.ok{color:var(--ok)}.badge.failed{color:var(--failed)}.badge.warning{color:var(--warning)}.badge.skipped{color:var(--skipped)}
.overall{font-size:1.2em}.alert{border-left:4px solid var(--failed);padding:4px 12px;background:#fff5f5}
.empty{font-style:italic}
figure{margin:12px 0;break-inside:avoid}
svg.chart{display:block;max-width:100%;height:auto;font-size:11px;font-family:inherit}
svg .axis,svg .band-label{fill:var(--muted)}svg .grid,svg .tick{stroke:var(--line)}
svg .mark .shape,svg .legend .shape,svg .bar .shape{stroke-width:2.5}
svg .ok .shape{fill:var(--ok);stroke:var(--ok)}svg .failed .shape{fill:none;stroke:var(--failed)}svg .warning .shape{fill:var(--warning);stroke:var(--warning)}svg .skipped .shape{fill:#fff;stroke:var(--skipped);stroke-width:2}
svg .bar rect{fill:#8ab4e8}svg .bar.failed rect{fill:#f3b3b6}svg .bar.warning rect{fill:#e8c36b}
svg .rpo-band rect{fill:#e6f4ea}svg .rpo-band line{stroke:var(--ok);stroke-dasharray:6 4}
svg .age-line{fill:none;stroke:#0969da;stroke-width:1.5}svg .rpo-exceeded path{stroke:var(--failed);stroke-width:4;fill:none}
@media print{
  @page{margin:14mm}
  body{max-width:none;padding:0;font-size:11pt;background:#fff;color:#000}
  section{break-before:page}section:first-of-type{break-before:auto}
  h2,h3{break-after:avoid}tr,figure,dl{break-inside:avoid}
  .alert{background:#fff}
  svg.chart{width:100%;height:auto}
}
`
