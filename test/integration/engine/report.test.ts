// `evidence --html` end to end, in a real browser: real backups of a SQLite database and a directory into a local
// restic repository (ok runs, one that saved with a warning, one that really failed: its database file gone), a real
// drill, then `evidence --local --html FILE`, and FILE opened in Debian's Chromium, headless, through playwright-core:
// no request but the file itself, no console error, one timeline mark per line of runs.jsonl with the failed run
// marked failed, every section there; printed: no dark background, a page per section. The screenshot and the PDF
// are left as artefacts (the directory is printed).
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Browser} from 'playwright-core'
import {artefactDir, darkBackgrounds, launchChromium, noBrowser, openReport} from '../../support/browser.ts'
import {kb} from '../../support/cli.ts'
import {freshRepo, lab, tempDir} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, localRestic, readHistory, writeApp, type App} from './support.ts'

describe('evidence --html in Chromium', {skip: noBrowser, concurrency: false}, () => {
  let app: App
  let dir: string
  let sqlitePath: string
  let browser: Browser

  before(async () => {
    dir = tempDir('report')
    const files = join(dir, 'storage')
    mkdirSync(files)
    for (let i = 0; i < 20; i++) writeFileSync(join(files, `upload-${i}.bin`), `file ${i}\n`.repeat(200 + i))
    mkdirSync(join(dir, 'db'))
    sqlitePath = join(dir, 'db', 'production.sqlite3')
    execFileSync(lab().bins.sqlite3, [sqlitePath, "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT); WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 500) INSERT INTO items(name) SELECT 'item ' || n FROM s;"])
    const repo = freshRepo('0.18')
    app = writeApp({
      version: '0.18',
      repo,
      prefix: 'report',
      databases: [`  - {name: items, adapter: sqlite, path: ${sqlitePath}}`],
      paths: [`  - ${files}`],
      restic: localRestic(repo, ['retention: {keep_last: 10, keep_daily: 7}']),
    })
    const backup = async (expected: number) => {
      const r = await cli(app, ['backup', '--force'])
      assert.equal(r.code, expected, r.stdout + r.stderr)
    }
    await backup(0)
    await backup(0)
    // Most files gone: saved, with a warning (max_shrink, default 50 %).
    for (let i = 5; i < 20; i++) rmSync(join(files, `upload-${i}.bin`))
    await backup(0)
    // The database file gone: a real failure (backup/source-missing).
    renameSync(sqlitePath, `${sqlitePath}.away`)
    await backup(1)
    renameSync(`${sqlitePath}.away`, sqlitePath)
    execFileSync(lab().bins.sqlite3, [sqlitePath, "INSERT INTO items(name) VALUES ('after the failure');"])
    await backup(0)
    mkdirSync(join(dir, 'scratch'))
    const drill = await cli(app, ['drill', 'production', '--sqlite-path', join(dir, 'scratch', 'drill.sqlite3'), '--files', join(dir, 'scratch', 'files'), '--yes'])
    assert.equal(drill.code, 0, drill.stdout + drill.stderr)
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
  })

  test('the page opens without a request or an error; one mark per run with its status, every section; printed light, a page per section', async () => {
    const runs = readHistory(app)
    assert.deepEqual(runs.map((r) => (r.status === 'ok' && r.warnings.length > 0 ? 'warning' : r.status)), ['ok', 'ok', 'warning', 'failed', 'ok'])
    const failed = runs.find((r) => r.status === 'failed')!
    assert.match(failed.error, /production\.sqlite3/)

    const file = join(dir, 'out', 'report.html')
    mkdirSync(join(dir, 'out'))
    const {result, json: report} = await cliJson(app, ['evidence', '--html', file])
    assert.equal(result.code, 0, result.stderr)
    assertSchema('report', report)
    assert.equal(report.history.runs.length, runs.length)
    assert.equal(report.history.drills.length, 1)
    // The evidence inside is the evidence document: its digest still checks out.
    const evidenceFile = join(dir, 'out', 'evidence.json')
    writeFileSync(evidenceFile, JSON.stringify(report.evidence, null, 2))
    const verified = await kb(['evidence', 'verify', evidenceFile])
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
    // Without --json: nothing on stdout, `wrote FILE` on stderr, and no temporary file left beside it.
    const plain = await cli(app, ['evidence', '--html', file])
    assert.equal(plain.code, 0, plain.stderr)
    assert.equal(plain.stdout, '')
    assert.match(plain.stderr, new RegExp(`wrote ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    assert.deepEqual(execFileSync('ls', ['-A', join(dir, 'out')], {encoding: 'utf8'}).trim().split('\n').sort(), ['evidence.json', 'report.html'])

    const {page, requests, errors} = await openReport(browser, file)
    assert.equal(await page.title(), `Backups of ${app.name}: kamal-backup report`)
    const marks = await page.$$eval('svg.timeline g.mark', (gs) => gs.map((g) => ({status: g.getAttribute('data-status'), title: g.querySelector('title')?.textContent ?? ''})))
    assert.equal(marks.length, runs.length, 'one mark per line of runs.jsonl')
    assert.deepEqual(marks.map((m) => m.status), ['ok', 'ok', 'warning', 'failed', 'ok'])
    const failedMark = marks.find((m) => m.title.startsWith(`run ${failed.run_id} `))
    assert.equal(failedMark?.status, 'failed')
    assert.match(failedMark!.title, /error: .*production\.sqlite3/)
    assert.deepEqual(await page.$$eval('h2', (hs) => hs.map((h) => h.textContent)), ['Current status', 'Backup runs', 'Snapshot sizes and file counts', 'Restore drills and recovery time', 'Restores', 'Repository checks', 'Retention in force', 'Copies', 'Evidence signature'])
    assert.equal(await page.locator('svg.timeline g.rpo-band').count(), 1)
    assert.equal(await page.locator('svg.sizes g.bar').count(), runs.filter((r) => r.snapshots.length > 0).length)
    assert.equal(await page.locator('svg.drills g.bar[data-status="ok"]').count(), 1)
    assert.match(await page.locator('#status').innerText(), /OK: backups are on time/)
    assert.match(await page.locator('#copies').innerText(), /No second copy configured/)
    assert.match(await page.locator('#retention').innerText(), /keep_last\s+10/)
    // Each chart is drawn at its size (not collapsed).
    const box = await page.locator('svg.timeline').boundingBox()
    assert.ok(box && box.width > 800 && box.height > 250, `timeline drawn at ${JSON.stringify(box)}`)

    const artefacts = artefactDir(`report-${app.name}`)
    await page.screenshot({path: join(artefacts, 'report.png'), fullPage: true})
    await page.emulateMedia({media: 'print'})
    assert.deepEqual(await darkBackgrounds(page), [], 'no dark background when printed')
    const printedBox = await page.locator('svg.timeline').boundingBox()
    assert.ok(printedBox && Math.abs(printedBox.width / printedBox.height - 880 / 300) < 0.01, 'printed, the timeline keeps its proportions')
    const pdf = await page.pdf({path: join(artefacts, 'report.pdf'), format: 'A4', printBackground: true})
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-')
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length
    assert.ok(pages >= 9, `a page per section: ${pages} pages`)
    process.stderr.write(`report artefacts (screenshot, PDF, the page): ${artefacts}\n`)
    writeFileSync(join(artefacts, 'report.html'), readFileSync(file))

    assert.deepEqual(requests, [], 'no request but the file itself')
    assert.deepEqual(errors, [], 'no console error')
    // The detectors themselves notice what they look for: a dark section, an image from elsewhere.
    await page.addStyleTag({content: '#drills{background:#202020}'})
    assert.match((await darkBackgrounds(page)).join('\n'), /^section\. rgb\(32, 32, 32\)$/m)
    await page.evaluate(() => new Promise((resolve) => {
      const doc = (globalThis as unknown as {document: {createElement(t: string): {src: string; onerror: unknown}; body: {append(e: unknown): void}}}).document
      const img = doc.createElement('img')
      img.onerror = resolve
      img.src = 'http://127.0.0.1:9/tracker.png'
      doc.body.append(img)
    }))
    assert.deepEqual(requests, ['http://127.0.0.1:9/tracker.png'])
    await page.close()
  })

  test('FILE in a directory that does not exist: an error, exit 1, nothing written', async () => {
    const file = join(dir, 'missing', 'report.html')
    const r = await cli(app, ['evidence', '--html', file])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /cannot write the report to .*missing\/report\.html/)
    assert.equal(existsSync(join(dir, 'missing')), false)
  })
})
