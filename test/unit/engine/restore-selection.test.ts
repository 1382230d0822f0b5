// Which run a restore picks: `latest` (the latest complete run), a run id, a snapshot id (its run), or --at. Pure
// logic over restic's snapshot list, so the snapshots here are plain objects shaped like `restic snapshots --json`.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {groupRuns, selectRun, type Run} from '../../../src/engine/runs.ts'
import {planRun, selectParts} from '../../../src/engine/restore.ts'
import {errorOf} from './support.ts'
import type {Snapshot} from '../../../src/restic/client.ts'

const GROUPS = ['database:primary', 'database:queue', 'files']

let counter = 0
function snapshot(run: string, group: string, extraTags: string[] = []): Snapshot {
  counter++
  const time = `${run.slice(0, 4)}-${run.slice(4, 6)}-${run.slice(6, 8)}T${run.slice(9, 11)}:${run.slice(11, 13)}:${run.slice(13, 15)}.${String(counter).padStart(9, '0')}Z`
  const tags = ['kamal-backup', 'app:demo', `run:${run}`, ...(group === 'files' ? ['type:files'] : ['type:database', group]), ...extraTags]
  const id = (counter.toString(16).padStart(8, '0') + run.replace(/\D/g, '')).padEnd(64, 'a')
  return {id, short_id: id.slice(0, 8), time, tags, paths: ['/x'], hostname: 'kamal-backup-demo'} as unknown as Snapshot
}

function complete(run: string, extraTags: string[] = []): Snapshot[] {
  return GROUPS.map((g) => snapshot(run, g, extraTags))
}

const snapshots = [
  ...complete('20261101T030000Z'),
  ...complete('20261110T030000Z'),
  ...complete('20261120T030000Z'),
  // The newest run lost its files step: incomplete.
  snapshot('20261121T030000Z', 'database:primary'),
  snapshot('20261121T030000Z', 'database:queue'),
]
const runs: Run[] = groupRuns(snapshots, GROUPS)


describe('selectRun', () => {
  test('latest is the newest complete run, never the newer incomplete one', () => {
    assert.equal(runs[0]!.id, '20261121T030000Z')
    assert.equal(runs[0]!.complete, false)
    assert.deepEqual(runs[0]!.missing, ['files'])
    assert.equal(selectRun(runs, {}).id, '20261120T030000Z')
    assert.equal(selectRun(runs, {snapshot: 'latest'}).id, '20261120T030000Z')
  })

  test('a run id, a full snapshot id, a short id or an 8+ character prefix select that run', () => {
    assert.equal(selectRun(runs, {snapshot: '20261110T030000Z'}).id, '20261110T030000Z')
    const files = runs.find((r) => r.id === '20261101T030000Z')!.snapshots.find((s) => s.group === 'files')!
    assert.equal(selectRun(runs, {snapshot: files.id}).id, '20261101T030000Z')
    assert.equal(selectRun(runs, {snapshot: files.shortId}).id, '20261101T030000Z')
    assert.equal(selectRun(runs, {snapshot: files.id.slice(0, 12)}).id, '20261101T030000Z')
  })

  test('--at picks the latest complete run at or before that time', () => {
    assert.equal(selectRun(runs, {at: new Date('2026-11-15T00:00:00Z')}).id, '20261110T030000Z')
    assert.equal(selectRun(runs, {at: new Date('2026-11-21T12:00:00Z')}).id, '20261120T030000Z', 'skips the incomplete run')
    assert.equal(selectRun(runs, {at: new Date('2026-11-10T03:00:00.5Z')}).id, '20261110T030000Z')
    const before = errorOf(() => selectRun(runs, {at: new Date('2026-10-01T00:00:00Z')}))
    assert.match(before.message, /no complete run at or before 2026-10-01/)
    assert.match(before.suggestions.join('\n'), /^complete runs: 20261101T030000Z/)
  })

  test('an unknown id is an error listing the complete runs nearest to it', () => {
    const error = errorOf(() => selectRun(runs, {snapshot: '20261109T000000Z'}))
    assert.equal(error.code, 'run/not-found')
    assert.match(error.suggestions[0]!, /^complete runs: 20261110T030000Z .*, 20261101T030000Z .*, 20261120T030000Z /)
    assert.match(errorOf(() => selectRun(runs, {snapshot: 'deadbeef'})).message, /no run or snapshot "deadbeef"/)
  })

  test('an incomplete run is refused by name, with what it misses and the nearest complete runs', () => {
    const error = errorOf(() => selectRun(runs, {snapshot: '20261121T030000Z'}))
    assert.equal(error.code, 'run/incomplete')
    assert.match(error.message, /run 20261121T030000Z is incomplete \(missing: files\)/)
    assert.match(error.suggestions[0]!, /^complete runs: 20261120T030000Z/)
  })

  test('no runs at all says how to make one', () => {
    assert.match(errorOf(() => selectRun([], {})).suggestions.join(), /kamal-backup backup/)
  })
})

describe('safety backups (type:pre-restore runs)', () => {
  // The newest complete run is the safety backup a restore took at 03:10: `latest` must not pick it.
  const withSafety = groupRuns([...snapshots, ...complete('20261121T031000Z', ['type:pre-restore'])], GROUPS)

  test('latest and --at skip them; naming one by run or snapshot id selects it', () => {
    const safety = withSafety.find((r) => r.id === '20261121T031000Z')!
    assert.equal(safety.preRestore, true)
    assert.equal(selectRun(withSafety, {snapshot: 'latest'}).id, '20261120T030000Z')
    assert.equal(selectRun(withSafety, {at: new Date('2026-11-21T04:00:00Z')}).id, '20261120T030000Z')
    assert.equal(selectRun(withSafety, {snapshot: '20261121T031000Z'}).id, '20261121T031000Z')
    assert.equal(selectRun(withSafety, {snapshot: safety.snapshots[0]!.shortId}).id, '20261121T031000Z')
  })

  test('the nearest-runs suggestions mark them [pre-restore]', () => {
    const error = errorOf(() => selectRun(withSafety, {snapshot: '20261121T031500Z'}))
    assert.match(error.suggestions[0]!, /20261121T031000Z \([^)]*\) \[pre-restore\]/)
    assert.doesNotMatch(error.suggestions[0]!, /20261120T030000Z \([^)]*\) \[pre-restore\]/)
  })

  test('when only safety backups are complete, latest is an error that says so and how to pick one', () => {
    const only = groupRuns(complete('20261121T031000Z', ['type:pre-restore']), GROUPS)
    const error = errorOf(() => selectRun(only, {}))
    assert.match(error.message, /only complete runs there are safety backups/)
    assert.match(error.suggestions.join('\n'), /\[pre-restore\][\s\S]*name it by its run id/)
    assert.match(errorOf(() => selectRun(only, {at: new Date('2026-11-22T00:00:00Z')})).message, /no complete run at or before .*safety backups/)
  })
})

describe('selectParts: what --database, --files and --no-files restore', () => {
  const names = ['primary', 'queue']
  test('nothing given: every database and the files', () => {
    assert.deepEqual(selectParts({}, names, true), {databases: names, files: true})
    assert.deepEqual(selectParts({}, names, false), {databases: names, files: false}, 'no paths configured: no files')
  })
  test('--database: only those databases, no files', () => {
    assert.deepEqual(selectParts({databases: ['queue']}, names, true), {databases: ['queue'], files: false})
  })
  test('--files alone: only the files; with --database: both', () => {
    assert.deepEqual(selectParts({files: true}, names, true), {databases: [], files: true})
    assert.deepEqual(selectParts({files: true, databases: ['primary']}, names, true), {databases: ['primary'], files: true})
  })
  test('--no-files: every database, no files', () => {
    assert.deepEqual(selectParts({files: false}, names, true), {databases: names, files: false})
  })
  test('an unknown --database, or --files without configured paths, is a usage error', () => {
    const unknown = errorOf(() => selectParts({databases: ['nope']}, names, true))
    assert.equal(unknown.exitCode, 2)
    assert.match(unknown.suggestions.join(), /primary, queue/)
    const noPaths = errorOf(() => selectParts({files: true}, names, false))
    assert.equal(noPaths.exitCode, 2)
    assert.match(noPaths.message, /backs up no paths/)
  })
})

describe('planRun', () => {
  test('restricting to the parts an incomplete run has is allowed; asking for a part it lacks is not', () => {
    const selection = {snapshot: '20261121T030000Z', databases: ['primary'], files: false}
    const plan = planRun(runs, selection, selectParts(selection, ['primary', 'queue'], true))
    assert.equal(plan.run.id, '20261121T030000Z')
    assert.deepEqual(plan.databases, ['primary'])
    assert.equal(plan.files, undefined)
    assert.throws(() => planRun(runs, {snapshot: '20261121T030000Z', files: true}, {databases: [], files: true}), /has no file snapshot/)
  })
})
