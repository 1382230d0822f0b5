// The HTML report (src/cli/render/report-html.ts) on hand-built reports: every value escaped, one timeline mark per
// run with its status (a run that saved with warnings is a warning), the RPO band and the gaps past it, an empty
// history, the copies section with and without copies. The report documents match schemas/output/report.schema.json.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {renderReportHtml, runStatus} from '../../../../src/cli/render/report-html.js'
import {esc} from '../../../../src/cli/render/svg.js'
import type {BackupRunRecord, DrillRecord} from '../../../../src/documents.js'
import type {Report, ReportCopy} from '../../../../src/engine/report.js'
import {assertMatchesSchema} from '../../../support/schemas.ts'

const NOW = new Date('2026-12-07T12:00:00Z')
const HOUR = 3_600_000

function run(hoursAgo: number, status: BackupRunRecord['status'], extra: Partial<BackupRunRecord> = {}): BackupRunRecord {
  const started = new Date(NOW.getTime() - hoursAgo * HOUR)
  const id = started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  const ok = status === 'ok'
  return {
    schema_version: 1,
    kind: 'backup_run',
    app: 'shop',
    run_id: status === 'skipped' ? null : id,
    status,
    reason: status === 'skipped' ? 'busy' : null,
    trigger: 'scheduled',
    started_at: started.toISOString(),
    finished_at: new Date(started.getTime() + 42_000).toISOString(),
    duration_ms: 42_000,
    restic_version: '0.18.0',
    repository: '/backups/shop',
    steps: [],
    failed_step: status === 'failed' ? 'database:primary' : null,
    error: status === 'failed' ? 'pg_dump: connection refused' : null,
    snapshots: ok ? [{group: 'database:primary', id: 'abcdef12', bytes: 1_000_000}, {group: 'files', id: '12abcdef', bytes: 5_000_000}] : [],
    last_success_at: null,
    next_due_at: null,
    warnings: [],
    file_counts: ok ? [{path: '/rails/storage', files: 120}] : [],
    ...extra,
  }
}

function drill(hoursAgo: number, status: 'ok' | 'failed', durationMs: number): DrillRecord {
  const finished = new Date(NOW.getTime() - hoursAgo * HOUR).toISOString()
  return {
    schema_version: 1, kind: 'drill', scope: 'production', status, app: 'shop', operator: 'alice', host: 'web1',
    requested: {snapshot: 'latest', at: null, databases: null, files: null},
    targets: {databases: [], files: []}, skipped: [], started_at: finished, finished_at: finished, duration_ms: durationMs,
    verification: {passed: status === 'ok', problems: status === 'ok' ? [] : ['table users is empty'], check: null},
    error: status === 'ok' ? null : 'the drill failed verification', suggestions: [],
    run_id: '20261207T000000Z', run_time: '2026-12-07T00:00:00Z', files: [], databases: [], steps: [],
  }
}

function report(runs: BackupRunRecord[], options: {allowed?: number; drills?: DrillRecord[]; copies?: ReportCopy[]; app?: string} = {}): Report {
  const latest = runs.findLast((r) => r.status === 'ok')
  return {
    schema_version: 1,
    kind: 'report',
    evidence: {
      schema_version: 1, kind: 'evidence', app: options.app ?? 'shop', generated_at: NOW.toISOString(), kamal_backup_version: '0.1.0',
      databases: [{name: 'primary', adapter: 'postgres', source: 'db:5432/shop_production'}],
      paths: [{path: '/rails/storage', exclude: []}],
      repository: '/backups/shop', retention: {keep_daily: 7, keep_weekly: 4}, forget_after_backup: true, check_after_backup: false,
      schedule: {expression: '0 3 * * *', description: 'every day at 03:00', enabled: true, interval_seconds: 86_400},
      latest_complete_run: latest ? {id: latest.run_id!, time: latest.started_at, complete: true, pre_restore: false, legacy: false, missing: [], status: 'ok', failed_step: null, total_bytes: 6_000_000, snapshots: [{group: 'files', id: '12abcdef'.repeat(8), short_id: '12abcdef', time: latest.started_at, bytes: 5_000_000}]} : null,
      latest_backup_age: {seconds: latest ? Math.round((NOW.getTime() - Date.parse(latest.started_at)) / 1000) : null, allowed_seconds: options.allowed ?? 90_000, status: latest ? 'ok' : 'missing'},
      runs: {total: runs.length, complete: runs.filter((r) => r.status === 'ok').length, incomplete: 0, oldest: runs[0]?.started_at ?? null},
      last_backup_run: runs.at(-1) ?? null, last_successful_backup_at: latest?.finished_at ?? null,
      last_check: null, last_prune: null, last_restore_drill: null,
      restore_drills: {count: 0, ok: 0, failed: 0, last_ok_at: null, recent: []},
      last_restore: null, restores: {count: 0, ok: 0, failed: 0, last_ok_at: null, recent: []},
      notifications: {targets: [], failed_deliveries: 0, last_failure: null},
      repository_error: null, repository_damage: null, versions: {kamal_backup: '0.1.0', node: 'v24.11.1', restic: 'restic 0.18.0'},
      signature: null, digest: {algorithm: 'sha256', value: 'a'.repeat(64)},
      ...(options.copies && {copies: options.copies}),
      // Evidence of versions without copies has no `copies` (the type says whether this one requires it).
    } as Report['evidence'],
    history: {since: new Date(NOW.getTime() - 90 * 24 * HOUR).toISOString(), limit: 500, runs, drills: options.drills ?? [], restores: [], omitted: {runs: 0, drills: 0, restores: 0}},
  }
}

/** The timeline marks of the page: each one's data-status, in order. */
const marks = (html: string): string[] => [...html.matchAll(/<g class="mark run [a-z]+" data-status="([a-z]+)">/g)].map((m) => m[1]!)

describe('the HTML report', () => {
  test('one timeline mark per run, each with its status; a run that saved with warnings is a warning, not ok', () => {
    const runs = [run(72, 'ok'), run(48, 'failed'), run(47, 'skipped'), run(24, 'ok', {warnings: ['path /rails/storage holds 5 files, 75% fewer than the 20 of the previous run']}), run(1, 'ok')]
    assert.deepEqual(runs.map(runStatus), ['ok', 'failed', 'skipped', 'warning', 'ok'])
    const html = renderReportHtml(report(runs), {now: NOW})
    assert.deepEqual(marks(html), ['ok', 'failed', 'skipped', 'warning', 'ok'])
    // Each mark has a tooltip with the run id, the time, the status and the error.
    assert.match(html, /<g class="mark run failed" data-status="failed"><title>run \d{8}T\d{6}Z · 2026-12-05 12:00:00 UTC · failed · scheduled · took 42 s · error: pg_dump: connection refused<\/title>/)
    assert.match(html, /<title>[^<]*warning · scheduled[^<]*warning: path \/rails\/storage holds 5 files/)
    // Colour is not the only signal: a legend with words, badges with symbols.
    assert.match(html, /<g class="legend failed">.*?<text[^>]*>failed<\/text>/)
    assert.match(html, /<span class="badge warning"><span aria-hidden="true">▲<\/span> warning<\/span>/)
    assertMatchesSchema('report.schema.json', report(runs))
  })

  test('every value is escaped: a run error with a script tag is text, and the page has no script at all', () => {
    const evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    const html = renderReportHtml(report([run(30, 'ok'), run(2, 'failed', {error: evil, warnings: []})], {app: 'shop"><b>'}), {now: NOW})
    assert.doesNotMatch(html, /<script|<img|<b>/i)
    assert.ok(html.includes(esc(evil)), 'the error shown as text')
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'))
    assert.match(html, /<title>Backups of shop&quot;&gt;&lt;b&gt;: kamal-backup report<\/title>/)
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no URL but the SVG namespace: nothing to fetch')
  })

  test('the RPO band is drawn at the allowed age; a gap between successful runs longer than it is marked and listed', () => {
    const allowed = 25 * 3600
    const onTime = renderReportHtml(report([run(60, 'ok'), run(40, 'ok'), run(20, 'ok'), run(1, 'ok')], {allowed}), {now: NOW})
    assert.match(onTime, new RegExp(`<g class="rpo-band" data-allowed-seconds="${allowed}"><title>allowed age of the latest backup \\(RPO\\): 1 d 1 h</title><rect `))
    assert.doesNotMatch(onTime, /class="rpo-exceeded"/)
    assert.match(onTime, /No gap between successful runs is longer than the allowed 1 d 1 h/)
    // 20 h, then 50 h without a successful run (a failed one in between does not count), then 10 h.
    const gap = renderReportHtml(report([run(80, 'ok'), run(60, 'ok'), run(30, 'failed'), run(10, 'ok'), run(0.5, 'ok')], {allowed}), {now: NOW})
    const exceeded = [...gap.matchAll(/<g class="rpo-exceeded" data-gap-seconds="(\d+)">/g)].map((m) => Number(m[1]))
    assert.deepEqual(exceeded, [50 * 3600])
    assert.match(gap, /1 gap longer than the allowed 1 d 1 h/)
    // The latest backup getting older than the band, up to now, is a gap too.
    const late = renderReportHtml(report([run(80, 'ok'), run(60, 'ok')], {allowed}), {now: NOW})
    assert.deepEqual([...late.matchAll(/data-gap-seconds="(\d+)"/g)].map((m) => Number(m[1])), [60 * 3600])
  })

  test('no runs at all: the page still renders every section and says there is nothing yet', () => {
    const empty = report([])
    assertMatchesSchema('report.schema.json', empty)
    const html = renderReportHtml(empty, {now: NOW})
    assert.deepEqual(marks(html), [])
    assert.match(html, /No backup runs are recorded in this state directory since 2026-09-08 12:00:00 UTC/)
    assert.match(html, /MISSING: there is no complete backup/)
    assert.match(html, /No run saved a snapshot in this window/)
    assert.match(html, /No restore drill in this window/)
    for (const id of ['status', 'timeline', 'sizes', 'drills', 'restores', 'checks', 'retention', 'copies', 'signature']) assert.match(html, new RegExp(`<section id="${id}"`))
    assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/)
    assert.match(html, /<\/html>\n$/)
  })

  test('sizes, file counts and drill durations are bar charts with accessible labels; the RTO is summed up', () => {
    const html = renderReportHtml(report([run(48, 'ok'), run(24, 'ok'), run(1, 'ok')], {drills: [drill(30, 'ok', 90_000), drill(20, 'failed', 30_000), drill(2, 'ok', 60_000)]}), {now: NOW})
    assert.match(html, /<svg class="chart sizes" role="img" aria-label="Size of each run&#39;s snapshots \(3 runs\)"/)
    assert.match(html, /<svg class="chart files" role="img" aria-label="Files under the backed-up paths \(3 runs\)"/)
    assert.equal([...html.matchAll(/<g class="bar ok" data-status="ok"><title>run [^<]*5\.7 MiB: database:primary 976\.6 KiB, files 4\.8 MiB<\/title>/g)].length, 3)
    assert.match(html, /<svg class="chart drills" role="img" aria-label="Duration of 3 restore drills"/)
    assert.deepEqual([...html.matchAll(/<g class="bar (ok|failed)" data-status="\1"><title>drill/g)].map((m) => m[1]), ['ok', 'failed', 'ok'])
    assert.match(html, /last 60 s, median 75 s, longest 90 s/)
    assert.match(html, /<code>keep_daily<\/code><\/td><td[^>]*>7<\/td>/)
    assert.match(html, /unsigned/)
    assert.match(html, new RegExp(`sha256:${'a'.repeat(64)}`))
  })

  test('copies: each copy with its status and freshness when the evidence has them; "no second copy configured" otherwise', () => {
    const runs = [run(30, 'ok'), run(2, 'ok')]
    const none = renderReportHtml(report(runs), {now: NOW})
    assert.match(none, /No second copy configured/)
    assert.match(renderReportHtml(report(runs, {copies: []}), {now: NOW}), /No second copy configured/)
    const copies: ReportCopy[] = [
      {name: 'offsite', repository: 'rest:https://backup.example/shop', last_copy_at: new Date(NOW.getTime() - 2 * HOUR).toISOString(), last_copied_run_id: runs[1]!.run_id, status: 'ok', error: null},
      {name: 's3', repository: 's3:s3.amazonaws.com/shop', last_copy_at: new Date(NOW.getTime() - 30 * HOUR).toISOString(), last_copied_run_id: runs[0]!.run_id, status: 'failed', error: 'Fatal: <unable> to open'},
      {name: 'new', repository: '/mnt/usb', last_copy_at: null, last_copied_run_id: null, status: 'never', error: null},
    ]
    const html = renderReportHtml(report(runs, {copies}), {now: NOW})
    assert.doesNotMatch(html, /No second copy configured/)
    const section = html.slice(html.indexOf('<section id="copies"'), html.indexOf('</section>', html.indexOf('<section id="copies"')))
    assert.equal([...section.matchAll(/<tr><td/g)].length, 3)
    assert.match(section, /offsite.*✔<\/span> ok.*2 h ago.*\(the latest run\)/)
    assert.match(section, /s3.*✖<\/span> failed.*1 d 6 h ago.*behind: the latest run is .*Fatal: &lt;unable&gt; to open/)
    assert.match(section, /new.*never copied/)
  })

  test('a print style sheet: white background, a section per page, charts kept whole', () => {
    const html = renderReportHtml(report([run(1, 'ok')]), {now: NOW})
    const print = html.slice(html.indexOf('@media print'))
    assert.match(print, /body\{[^}]*background:#fff/)
    assert.match(print, /section\{break-before:page\}/)
    assert.match(html, /figure\{[^}]*break-inside:avoid/)
  })
})
