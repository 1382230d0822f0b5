// The restore's pure logic (src/engine/restore.ts): the content replacement that keeps live SQLite files, staging
// directories and a drill's marker; what a failure left changed; free space; the lock timeout. Filesystem cases
// run in temporary directories.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describeChanges, freeSpaceShortfalls, replaceContents} from '../../../src/engine/restore.ts'
import {lockTimeoutSeconds} from '../../../src/db/adapter.ts'
import {DRILL_MARKER} from '../../../src/engine/targets.ts'
import {errorOf, temp} from './support.ts'

describe('replaceContents', () => {
  function tree(): {target: string; staged: string} {
    const root = temp()
    const target = join(root, 'target')
    const staged = join(root, 'staged')
    for (const d of ['target/old', 'target/db', 'target/.kamal-backup-restore-1', 'staged/new', 'staged/db']) mkdirSync(join(root, d), {recursive: true})
    writeFileSync(join(target, 'top.txt'), 'old top\n')
    writeFileSync(join(target, 'old', 'gone.txt'), 'gone\n')
    writeFileSync(join(target, 'db', 'live.sqlite3'), 'live database\n')
    writeFileSync(join(target, 'db', 'live.sqlite3-wal'), 'live wal\n')
    writeFileSync(join(target, 'db', 'stale.txt'), 'stale\n')
    writeFileSync(join(target, '.kamal-backup-restore-1', 'in-flight'), 'staging\n')
    writeFileSync(join(staged, 'top.txt'), 'new top\n')
    writeFileSync(join(staged, 'new', 'file.txt'), 'new\n')
    writeFileSync(join(staged, 'db', 'other.txt'), 'restored\n')
    writeFileSync(join(staged, 'db', 'live.sqlite3'), 'an old copy that must not win\n')
    return {target, staged}
  }

  test('replaces the contents, keeps the directory itself, preserved files (deep down) and skipped paths', () => {
    const {target, staged} = tree()
    const inode = statSync(target).ino
    const preserve = new Set([join(target, 'db', 'live.sqlite3'), join(target, 'db', 'live.sqlite3-wal')])
    replaceContents(target, staged, preserve, new Set([join(target, '.kamal-backup-restore-1')]))
    assert.equal(statSync(target).ino, inode, 'the directory itself stays (a mount point cannot be replaced)')
    assert.deepEqual(readdirSync(target).sort(), ['.kamal-backup-restore-1', 'db', 'new', 'top.txt'])
    assert.equal(readFileSync(join(target, 'top.txt'), 'utf8'), 'new top\n')
    assert.deepEqual(readdirSync(join(target, 'db')).sort(), ['live.sqlite3', 'live.sqlite3-wal', 'other.txt'], 'stale.txt gone, the live database kept, the restored file in')
    assert.equal(readFileSync(join(target, 'db', 'live.sqlite3'), 'utf8'), 'live database\n', 'the database step restores it, not the file step')
    assert.deepEqual(readdirSync(join(target, '.kamal-backup-restore-1')), ['in-flight'])
  })

  test('a skipped path deeper down (a drill marker, another target\'s staging) keeps its directories', () => {
    const {target, staged} = tree()
    const marker = join(target, 'old', DRILL_MARKER)
    writeFileSync(marker, '')
    replaceContents(target, staged, new Set(), new Set([marker]))
    assert.deepEqual(readdirSync(join(target, 'old')), [DRILL_MARKER], 'the marker stays, the rest of old/ goes')
  })
})

describe('undo command', () => {
  test('after a failure, the state of every part', () => {
    assert.equal(describeChanges([{part: 'files:/data', target: '/data', state: 'unchanged'}]), undefined)
    assert.equal(
      describeChanges([
        {part: 'files:/data', target: '/data', state: 'restored'},
        {part: 'database:primary', target: 'db/app', state: 'partial', note: 'it was reset'},
        {part: 'database:queue', target: '/q.sqlite3', state: 'unchanged'},
      ]),
      'the restore stopped part-way: files /data: restored from the backup; database primary (db/app): PARTLY restored (it was reset); database queue (/q.sqlite3): unchanged',
    )
  })
})

describe('small rules', () => {
  test('free space: the staged copies of one file system add up, with headroom', () => {
    const probe = (path: string) => ({device: path.startsWith('/a') ? 1 : 2, available: 100 * 1024 * 1024})
    assert.deepEqual(freeSpaceShortfalls([{path: '/a/x', bytes: 10 * 1024 * 1024}, {path: '/b', bytes: 50 * 1024 * 1024}], probe), [])
    const short = freeSpaceShortfalls([{path: '/a/x', bytes: 50 * 1024 * 1024}, {path: '/a/y', bytes: 40 * 1024 * 1024}], probe)
    assert.equal(short.length, 1)
    assert.equal(short[0]!.path, '/a/x')
  })

  test('the lock timeout', () => {
    assert.equal(lockTimeoutSeconds({}), 30)
    assert.equal(lockTimeoutSeconds({KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT: '5'}), 5)
    assert.equal(errorOf(() => lockTimeoutSeconds({KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT: 'soon'})).exitCode, 2)
  })
})
