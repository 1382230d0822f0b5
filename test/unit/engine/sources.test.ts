// What a backup is about to save (src/engine/sources.ts): empty, missing and unmounted paths are refused before
// anything is written, and what shrank since the previous complete run becomes a warning. Against real restic
// runs: test/integration/engine/nothing-saved.test.ts.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {BackupConfig, PathConfig} from '../../../src/config/types.ts'
import {checkPaths, countFiles, mountOf, mountPoints, shrinkWarnings} from '../../../src/engine/sources.ts'
import {errorOf} from './support.ts'

const root = mkdtempSync(join(tmpdir(), 'kb-sources-'))
process.on('exit', () => rmSync(root, {recursive: true, force: true}))
const path = (p: string, extra: Partial<PathConfig> = {}): PathConfig => ({path: p, exclude: [], label: 'x', allowEmpty: false, maxShrink: 50, ...extra})

test('files are counted below a directory, in subdirectories too, without following links', () => {
  const dir = join(root, 'count')
  mkdirSync(join(dir, 'a/b'), {recursive: true})
  writeFileSync(join(dir, 'one'), '1')
  writeFileSync(join(dir, 'a/b/two'), '2')
  symlinkSync('/etc', join(dir, 'link'))
  assert.equal(countFiles(dir), 2)
  assert.equal(countFiles(dir, 1), 1, 'stops once it found enough')
  assert.throws(() => countFiles(join(root, 'missing')))
})

test('the mount a path lives on: the longest mount point above it, escapes undone', () => {
  const info = [
    '22 1 0:21 / / rw,relatime - overlay overlay rw',
    '30 22 254:1 /volumes/storage/_data /rails/storage rw,relatime - ext4 /dev/vda rw',
    '31 22 254:1 /x /data/with\\040space rw - ext4 /dev/vda rw',
  ].join('\n')
  const points = mountPoints(info)
  assert.deepEqual(points, ['/', '/rails/storage', '/data/with space'])
  assert.equal(mountOf('/rails/storage', points), '/rails/storage')
  assert.equal(mountOf('/rails/storage/blobs', points), '/rails/storage')
  assert.equal(mountOf('/rails/storage-old', points), '/', 'a sibling with the same prefix is not inside')
  assert.equal(mountOf('/data/with space/x', points), '/data/with space')
  assert.equal(mountOf('/app/storage', points), '/')
})

test('before anything is written: missing, empty (unless allow_empty) and, in the accessory, unmounted paths fail with the path and the fix', () => {
  const full = join(root, 'full')
  const empty = join(root, 'empty')
  mkdirSync(full)
  mkdirSync(empty)
  writeFileSync(join(full, 'f'), 'x')
  const config = (paths: PathConfig[]) => ({paths}) as Pick<BackupConfig, 'paths'>
  assert.deepEqual(checkPaths(config([path(full)]), {inAccessory: false}), [{path: full, files: 1}])
  const missing = errorOf(() => checkPaths(config([path(join(root, 'nope'))]), {inAccessory: false}))
  assert.equal(missing.code, 'backup/source-missing')
  const none = errorOf(() => checkPaths(config([path(full), path(empty)]), {inAccessory: false}))
  assert.equal(none.code, 'backup/source-empty')
  assert.match(none.message, new RegExp(`path ${empty} is empty.*nothing was backed up`))
  assert.match(none.suggestions.join('\n'), /allow_empty: true/)
  assert.deepEqual(checkPaths(config([path(empty, {allowEmpty: true})]), {inAccessory: false}), [{path: empty, files: 0}])
  // In the accessory: the container's own root file system cannot hold the app's files.
  const mountinfo = () => `1 0 0:1 / / rw - overlay overlay rw\n2 1 0:2 / ${full} rw - ext4 /dev/vda rw`
  assert.deepEqual(checkPaths(config([path(full)]), {inAccessory: true, mountinfo}), [{path: full, files: 1}])
  const unmounted = errorOf(() => checkPaths(config([path(empty, {allowEmpty: true})]), {inAccessory: true, mountinfo}))
  assert.equal(unmounted.code, 'backup/source-not-mounted', 'allow_empty does not excuse a path that is not on a volume')
  assert.match(unmounted.suggestions.join('\n'), new RegExp(`myapp_storage:${empty}`))
  // Outside the accessory the mount table is not read.
  assert.deepEqual(checkPaths(config([path(full)]), {inAccessory: false, mountinfo: () => assert.fail('read')}), [{path: full, files: 1}])
})

test('shrink: a path or a dump that fell by more than its max_shrink since the previous complete run is a warning; nothing to compare, no warning', () => {
  const config = {paths: [path('/a'), path('/b', {maxShrink: 100})], databases: [{name: 'main', adapter: 'sqlite', maxShrink: 30}]} as unknown as Pick<BackupConfig, 'paths' | 'databases'>
  const previous = {run_id: '20261201T000000Z', file_counts: [{path: '/a', files: 1000}, {path: '/b', files: 1000}], snapshots: [{group: 'database:main', id: 'x', bytes: 10_000}]}
  const now = (aFiles: number, bBytes: number) => ({fileCounts: [{path: '/a', files: aFiles}, {path: '/b', files: 1}], snapshots: [{group: 'database:main', bytes: bBytes}]})
  assert.deepEqual(shrinkWarnings(config, now(500, 7000), previous), [], 'exactly at the limit is fine; /b never warns (100)')
  const warnings = shrinkWarnings(config, now(499, 6999), previous)
  assert.equal(warnings.length, 2)
  assert.match(warnings[0]!, /^path \/a holds 499 files, 50% fewer than the 1000 of run 20261201T000000Z \(more than max_shrink 50%\)/)
  assert.match(warnings[1]!, /^the dump of database main is 6999 bytes, 30% smaller than the 10000 of run 20261201T000000Z \(more than max_shrink 30%\)/)
  assert.deepEqual(shrinkWarnings(config, now(0, 0), undefined), [], 'the first run has nothing to compare with')
  assert.deepEqual(shrinkWarnings(config, now(0, 0), {run_id: 'old', snapshots: []}), [], 'a record from before file counts were kept')
})
