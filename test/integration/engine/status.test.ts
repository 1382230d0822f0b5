// `status` and evidence's exit codes against a real repository (restic 0.18) and real SQLite: unreachable when the
// repository cannot be opened, failing with no complete run, a stale one, or a failed last run, check or drill;
// ok (or warning, exit 0) otherwise — each with the document that says why.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {freshRepo, lab, run, tempDir} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, localRestic, writeApp, type App} from './support.ts'

const version = '0.18'

async function app(): Promise<{app: App; storage: string}> {
  const dir = tempDir('status')
  const storage = join(dir, 'storage')
  mkdirSync(storage)
  writeFileSync(join(storage, 'blob'), 'x')
  const db = join(dir, 'app.sqlite3')
  const r = await run(lab().bins.sqlite3, [db, 'CREATE TABLE t (v); INSERT INTO t VALUES (1);'])
  assert.equal(r.code, 0, r.stderr)
  // No repository yet: the first backup creates it (init_if_missing); until then it cannot be opened.
  const repo = join(dir, 'repo')
  return {app: writeApp({version, repo, databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], paths: [`  - ${storage}`], restic: localRestic(repo, ['init_if_missing: true'])}), storage}
}

describe('status', () => {
  test('the life of an app: unreachable (no repository yet, exit 3), warning without a drill (exit 0), ok after one, failing when stale or when the last run failed (exit 1)', async () => {
    const {app: a, storage} = await app()
    const none = await cliJson(a, ['status'])
    assert.equal(none.result.code, 3, none.result.stderr)
    assertSchema('status', none.json)
    assert.equal(none.json.status, 'unreachable')
    assert.match(none.json.problems[0], /the repository cannot be opened: the restic repository does not exist yet/)

    assert.equal((await cli(a, ['backup', '--force'])).code, 0)
    const noDrill = await cliJson(a, ['status'])
    assert.equal(noDrill.result.code, 0, noDrill.result.stderr)
    assertSchema('status', noDrill.json)
    assert.equal(noDrill.json.status, 'warning')
    assert.deepEqual(noDrill.json.problems, [])
    assert.match(noDrill.json.warnings.join('\n'), /no restore drill is recorded/)
    assert.equal(noDrill.json.max_age_seconds, 2 * 86_400, 'two intervals of the default schedule (1d)')

    const drill = await cli(a, ['drill', 'production', '--yes', '--sqlite-path', join(a.dir, 'drill.sqlite3'), '--files', join(a.dir, 'drill-files')])
    assert.equal(drill.code, 0, drill.stderr)
    const human = await cli(a, ['status'])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, new RegExp(`^✔ ${a.name}: ok: latest run \\d{8}T\\d{6}Z, \\d+ s ago \\(stale after 2 d\\); last drill ok, \\d+ s ago; no check recorded\\n$`))

    await new Promise((r) => setTimeout(r, 2100))
    const stale = await cliJson(a, ['status', '--max-age', '1s'])
    assert.equal(stale.result.code, 1)
    assert.equal(stale.json.status, 'failing')
    assert.match(stale.json.problems.join('\n'), /is \d+ s old, more than the 1 s allowed: backups have stopped/)
    assert.equal((await cli(a, ['status', '--max-age', '36'])).code, 2, 'a duration needs a unit')

    rmSync(join(storage, 'blob'))
    assert.equal((await cli(a, ['backup', '--force'])).code, 1, 'the now empty path fails the run')
    const failing = await cliJson(a, ['status'])
    assert.equal(failing.result.code, 1)
    assert.match(failing.json.problems.join('\n'), /the last backup run \(\d{8}T\d{6}Z\) failed at step preflight: path .* is empty/)
    assert.equal(failing.json.last_failure.failed_step, 'preflight')
    assert.ok(failing.json.latest_complete_run, 'the earlier complete run is still there')
  })
})

describe('evidence exit codes', () => {
  test('3 when the repository cannot be opened, 1 with an empty one, 0 when on time; --report-only always 0', async () => {
    const {app: a} = await app()
    const unreachable = await cliJson(a, ['evidence'])
    assert.equal(unreachable.result.code, 3, unreachable.result.stderr)
    assert.ok(unreachable.json.repository_error)
    assertSchema('evidence', unreachable.json)
    assert.equal((await cli(a, ['evidence', '--report-only'])).code, 0)
    const emptyRepo = freshRepo(version)
    const empty = writeApp({version, repo: emptyRepo, paths: [`  - ${a.dir}`], restic: localRestic(emptyRepo)})
    const missing = await cliJson(empty, ['evidence'])
    assert.equal(missing.result.code, 1, missing.result.stderr)
    assert.equal(missing.json.latest_backup_age.status, 'missing')
    assert.match(missing.result.stderr, /there is no complete backup run in the repository/)
    assert.equal((await cli(a, ['backup', '--force'])).code, 0)
    const ok = await cliJson(a, ['evidence'])
    assert.equal(ok.result.code, 0, ok.result.stderr)
    assert.equal(ok.json.latest_backup_age.status, 'ok')
  })
})
