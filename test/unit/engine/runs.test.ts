// Snapshots → runs: grouping by run id, completeness against the configured groups, newest first, a retried
// group's newer snapshot winning, sizes from our own records for restic versions that do not store them, and run
// ids. (The evidence digest is in evidence.test.ts.)
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {runView} from '../../../src/engine/list.ts'
import {appTags, describeRun, expectedGroups, groupRuns, isLatestCandidate, isRegularRun, newRunId, preDeployRunsToForget, runIdTime, selectRun, snapshotGroup} from '../../../src/engine/runs.ts'
import type {Snapshot} from '../../../src/restic/client.ts'

const at = (iso: string) => new Date(iso)

let n = 0
function snap(run: string, group: string, time: string, extra: Partial<Snapshot> & {tags?: string[]} = {}): Snapshot {
  n++
  const id = n.toString(16).padStart(8, '0') + 'b'.repeat(56)
  const tags = [...appTags('shop'), `run:${run}`, ...(group === 'files' ? ['type:files', 'path:data'] : ['type:database', group, 'adapter:postgres']), ...(extra.tags ?? [])]
  return {id, short_id: id.slice(0, 8), time, hostname: 'kamal-backup-shop', paths: [group], ...extra, tags}
}

const groups = ['database:main', 'database:cache', 'files']

describe('groupRuns', () => {
  test('complete and incomplete runs, newest first, snapshots in configured order', () => {
    const runs = groupRuns(
      [
        snap('20260101T000000Z', 'files', '2026-01-01T00:00:09Z'),
        snap('20260101T000000Z', 'database:main', '2026-01-01T00:00:01Z'),
        snap('20260101T000000Z', 'database:cache', '2026-01-01T00:00:05Z'),
        snap('20260102T000000Z', 'database:main', '2026-01-02T00:00:01Z'),
        snap('20260102T000000Z', 'files', '2026-01-02T00:00:03Z'),
      ],
      groups,
    )
    assert.deepEqual(runs.map((r) => [r.id, r.complete, r.missing]), [
      ['20260102T000000Z', false, ['database:cache']],
      ['20260101T000000Z', true, []],
    ])
    assert.deepEqual(runs[1]!.snapshots.map((s) => s.group), groups)
    assert.equal(runs[1]!.time, '2026-01-01T00:00:01Z', 'the time of the first snapshot')
    assert.equal(selectRun(runs, {}).id, '20260101T000000Z', '`latest` skips the newer partial run')
  })

  test('snapshots that are not ours (no run tag, no group) are ignored; an extra group does not make a run complete', () => {
    const foreign: Snapshot = {id: 'f'.repeat(64), short_id: 'ffffffff', time: '2026-01-03T00:00:00Z', hostname: 'x', paths: ['/'], tags: ['kamal-backup', 'app:shop']}
    const runs = groupRuns([foreign, snap('20260103T000000Z', 'database:old', '2026-01-03T00:00:00Z')], groups)
    assert.equal(runs.length, 1)
    assert.equal(runs[0]!.complete, false)
    assert.deepEqual(runs[0]!.missing, groups)
  })

  test('a group backed up twice in one run: the newer snapshot stands', () => {
    const older = snap('20260104T000000Z', 'database:main', '2026-01-04T00:00:01Z')
    const newer = snap('20260104T000000Z', 'database:main', '2026-01-04T00:00:30Z')
    const runs = groupRuns([newer, older], ['database:main'])
    assert.equal(runs[0]!.snapshots.length, 1)
    assert.equal(runs[0]!.snapshots[0]!.id, newer.id)
  })

  test('sizes: from the snapshot summary (0.17+), else from our run records (full or short id), else unknown', () => {
    const withSummary = snap('20260105T000000Z', 'database:main', '2026-01-05T00:00:01Z', {summary: {total_bytes_processed: 123}})
    const recorded = snap('20260105T000000Z', 'database:cache', '2026-01-05T00:00:02Z')
    const unknown = snap('20260105T000000Z', 'files', '2026-01-05T00:00:03Z')
    const [run] = groupRuns([withSummary, recorded, unknown], groups, new Map([[recorded.id.slice(0, 8), 456]]))
    assert.deepEqual(run!.snapshots.map((s) => s.bytes), [123, 456, null])
    assert.equal(runView(run!).total_bytes, null, 'a total only when every size is known')
    const [known] = groupRuns([withSummary, recorded], ['database:main', 'database:cache'], new Map([[recorded.id, 456]]))
    assert.equal(runView(known!).total_bytes, 579)
  })

  test('pre-restore safety runs are flagged', () => {
    const [run] = groupRuns([snap('20260106T000000Z', 'database:main', '2026-01-06T00:00:00Z', {tags: ['type:pre-restore']})], ['database:main'])
    assert.equal(run!.preRestore, true)
    assert.equal(runView(run!).pre_restore, true)
  })

  test('pre-deploy restore points: flagged with their version, `latest` candidates, never regular runs', () => {
    const [point, bare, regular] = groupRuns(
      [
        snap('20260107T000000Z', 'database:main', '2026-01-07T00:00:00Z', {tags: ['type:pre-deploy', 'deploy-version:3f2a9c1']}),
        snap('20260106T120000Z', 'database:main', '2026-01-06T12:00:00Z', {tags: ['type:pre-deploy']}),
        snap('20260106T000000Z', 'database:main', '2026-01-06T00:00:00Z'),
      ],
      ['database:main'],
    )
    assert.equal(point!.preDeploy, '3f2a9c1')
    assert.equal(bare!.preDeploy, '')
    assert.equal(regular!.preDeploy, undefined)
    assert.deepEqual([runView(point!).pre_deploy, runView(point!).deploy_version, runView(bare!).deploy_version, runView(regular!).pre_deploy], [true, '3f2a9c1', null, false])
    assert.equal(describeRun(point!), '20260107T000000Z (2026-01-07T00:00:00Z) [before deploy 3f2a9c1]')
    assert.equal(describeRun(bare!), '20260106T120000Z (2026-01-06T12:00:00Z) [before deploy]')
    assert.deepEqual([isLatestCandidate(point!), isRegularRun(point!), isRegularRun(regular!)], [true, false, true])
    assert.equal(selectRun([point!, bare!, regular!], {}).id, point!.id, '`latest` may be a restore point')
  })

  test('pre_deploy_keep: the newest N complete restore points stay (the current run always), older ones go; other runs never', () => {
    const run = (id: string, kind: 'point' | 'regular', complete = true) => ({id, time: id, complete, missing: [], preRestore: false, checkFailed: false, legacy: false, snapshots: [], ...(kind === 'point' && {preDeploy: 'v'})})
    const runs = [run('6', 'point', false), run('5', 'point'), run('4', 'regular'), run('3', 'point'), run('2', 'point', false), run('1', 'point')]
    assert.deepEqual(preDeployRunsToForget(runs, 2).map((r) => r.id), ['2', '1'], 'the incomplete newest one is left to the clean-up of failed runs')
    assert.deepEqual(preDeployRunsToForget(runs, 1).map((r) => r.id), ['3', '2', '1'])
    assert.deepEqual(preDeployRunsToForget(runs, 10).map((r) => r.id), [])
    assert.deepEqual(preDeployRunsToForget(runs, 1, '6').map((r) => r.id), ['5', '3', '2', '1'], 'the run just taken counts and stays')
  })

  test('groups: each database, then the files when paths are configured', () => {
    assert.deepEqual(expectedGroups({databases: [{name: 'a'}, {name: 'b'}], paths: []}), ['database:a', 'database:b'])
    assert.deepEqual(expectedGroups({databases: [], paths: ['/x']}), ['files'])
    assert.equal(snapshotGroup(['database:a']), undefined, 'a database tag without type:database is not a group')
  })
})

describe('backup due logic and run ids', () => {
  test('run ids are sortable UTC timestamps that round-trip', () => {
    const id = newRunId(at('2026-03-04T05:06:07.891Z'))
    assert.equal(id, '20260304T050607Z')
    assert.equal(runIdTime(id)?.toISOString(), '2026-03-04T05:06:07.000Z')
    assert.equal(runIdTime('nope'), undefined)
    assert.ok(newRunId(at('2026-12-31T23:59:59Z')) < newRunId(at('2027-01-01T00:00:00Z')))
  })
})

describe('legacy runs: snapshots the Ruby gem wrote (no run: tag)', () => {
  let m = 0
  /** A gem snapshot: its tags, its host <app>-backup, and (restic 0.17+) when it ended. */
  function gem(group: string, time: string, extra: {host?: string; end?: string; adapterOnly?: boolean} = {}): Snapshot {
    m++
    const id = m.toString(16).padStart(8, '0') + 'c'.repeat(56)
    const tags = [...appTags('shop'), ...(group === 'files' ? ['type:files', 'path:data'] : ['type:database', ...(extra.adapterOnly ? [] : [group]), 'adapter:postgres'])]
    return {id, short_id: id.slice(0, 8), time, hostname: extra.host ?? 'shop-backup', paths: [group], tags, ...(extra.end && {summary: {backup_end: extra.end}})}
  }

  test('one scheduled run (databases in order, then files) is one complete legacy run, its id the first snapshot\'s time', () => {
    const runs = groupRuns([gem('database:main', '2025-05-01T03:00:00Z'), gem('database:cache', '2025-05-01T03:04:00Z'), gem('files', '2025-05-01T03:05:00Z')], groups)
    assert.deepEqual(runs.map((r) => [r.id, r.legacy, r.complete]), [['20250501T030000Z', true, true]])
  })

  test('the next run starts where the order starts again, or a group repeats, or the host changes', () => {
    const runs = groupRuns(
      [
        gem('files', '2025-05-01T03:00:00Z'), // a run whose databases failed
        gem('database:main', '2025-05-01T04:00:00Z'), // an hour later: main comes before files, so a new run
        gem('database:main', '2025-05-01T04:01:00Z'), // the same group again: another run
        gem('database:cache', '2025-05-01T04:02:00Z', {host: 'shop-other'}), // another host: another run
      ],
      groups,
    )
    assert.deepEqual(runs.map((r) => [r.id, r.snapshots.map((s) => s.group)]), [
      ['20250501T040200Z', ['database:cache']],
      ['20250501T040100Z', ['database:main']],
      ['20250501T040000Z', ['database:main']],
      ['20250501T030000Z', ['files']],
    ])
    assert.ok(runs.every((r) => !r.complete), 'none of them is complete, so none is latest')
  })

  test('with restic 0.17+ end times, a step that did not start right after the previous one ended belongs to another run', () => {
    // Two partial runs an hour apart whose groups would fit together in order: the end time keeps them apart.
    const runs = groupRuns([gem('database:main', '2025-05-01T03:00:00Z', {end: '2025-05-01T03:01:00Z'}), gem('database:cache', '2025-05-01T04:00:00Z', {end: '2025-05-01T04:01:00Z'}), gem('files', '2025-05-01T04:01:30Z')], groups)
    assert.deepEqual(runs.map((r) => r.snapshots.map((s) => s.group)), [['database:cache', 'files'], ['database:main']])
    // Without end times (older restic), within the window and in order, they do join: documented.
    const old = groupRuns([gem('database:main', '2025-05-01T03:00:00Z'), gem('database:cache', '2025-05-01T04:00:00Z'), gem('files', '2025-05-01T04:01:30Z')], groups)
    assert.equal(old.length, 1)
    // ... but never across the window.
    assert.equal(groupRuns([gem('database:main', '2025-05-01T03:00:00Z'), gem('files', '2025-05-01T09:00:01Z')], groups).length, 2)
  })

  test('a 0.2 snapshot (adapter: tag only) belongs to the one database of that adapter; with two, to none', () => {
    const snaps = [gem('database:main', '2025-05-01T03:00:00Z', {adapterOnly: true}), gem('files', '2025-05-01T03:01:00Z')]
    const [run] = groupRuns(snaps, ['database:main', 'files'], new Map(), new Map([['postgres', 'database:main']]))
    assert.deepEqual([run!.complete, run!.snapshots.map((s) => s.group)], [true, ['database:main', 'files']])
    assert.deepEqual(groupRuns(snaps, ['database:main', 'files']).map((r) => r.snapshots.map((s) => s.group)), [['files']])
  })

  test('ours and the gem\'s side by side: ours keep their ids; latest is the newest complete run of either', () => {
    const ours = ['database:main', 'database:cache', 'files'].map((g) => snap('20250601T030000Z', g, '2025-06-01T03:00:00Z'))
    const theirs = [gem('database:main', '2025-06-01T03:00:00Z'), gem('database:cache', '2025-06-01T03:00:10Z'), gem('files', '2025-06-01T03:00:20Z')]
    const runs = groupRuns([...ours, ...theirs], groups)
    assert.deepEqual(runs.map((r) => [r.id, r.legacy]), [['20250601T030001Z', true], ['20250601T030000Z', false]], 'the same second: the legacy id moves on, nothing is hidden')
  })
})
