// The state directory (src/engine/state.ts): the run lock's stale rule (another hostname, heartbeat, a dead local
// pid) and its way out, and write errors (full, read-only, permissions) turned into errors that say what to do.
// Real files in temporary directories.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {judge, LOCK_STALE_MS, RunLock, StateDir, stateError} from '../../../src/engine/state.ts'
import {isKamalBackupError} from '../../../src/errors.ts'

const dir = () => mkdtempSync(join(tmpdir(), 'kb-state-'))

describe('the run lock', () => {
  const info = (over: Record<string, unknown>) => JSON.stringify({pid: 1, start: null, hostname: 'old-container-3f2a', command: 'backup', started_at: '2026-11-30T02:00:00.000Z', ...over})

  test('another hostname\'s lock: alive while refreshed, stale after LOCK_STALE_MS; a dead local pid is stale at once', () => {
    const now = Date.now()
    assert.equal(judge({pid: 1, hostname: 'other'}, now - 1000, now), 'alive')
    assert.equal(judge({pid: 1, hostname: 'other'}, now - LOCK_STALE_MS - 1, now), 'stale')
    assert.equal(judge({pid: 2 ** 22 + 12345, hostname: hostname()}, now, now), 'stale')
    assert.equal(judge({pid: process.pid, hostname: hostname(), start: readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!}, now - 10 * LOCK_STALE_MS, now), 'alive', 'a verified live holder on this host')
  })

  test('a stale lock from a replaced container is taken over (and reported); a fresh one is busy with a way out', () => {
    const d = dir()
    const path = join(d, 'kamal-backup.lock')
    writeFileSync(path, info({}))
    const old = new Date(Date.now() - 2 * 3600_000)
    utimesSync(path, old, old)
    const lock = RunLock.acquire(path, 'unlock')
    assert.deepEqual(lock.replaced, {pid: 1, hostname: 'old-container-3f2a', command: 'backup', started_at: '2026-11-30T02:00:00.000Z'})
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).hostname, hostname())
    lock.release()
    assert.ok(!existsSync(path))

    writeFileSync(path, info({}))
    assert.throws(() => RunLock.acquire(path, 'backup'), (error: unknown) => {
      assert.ok(isKamalBackupError(error) && error.code === 'command/busy')
      assert.match(error.message, /another kamal-backup backup is running \(pid 1 on host old-container-3f2a, since 2026-11-30T02:00:00.000Z; lock refreshed \d+ s ago\)/)
      assert.ok(error.suggestions.some((s) => /goes stale 5 minutes after its last refresh.*kamal-backup unlock/.test(s)), error.suggestions.join('\n'))
      return true
    })
  })

  test('an unreadable (half-written) lock is stale', () => {
    const d = dir()
    const path = join(d, 'kamal-backup.lock')
    writeFileSync(path, '')
    const lock = RunLock.acquire(path, 'backup')
    assert.equal(lock.replaced?.pid, null)
    lock.release()
  })
})

describe('state directory errors', () => {
  test('ENOSPC, EROFS and EACCES become errors that say what to do', () => {
    const fail = (code: string) => stateError(Object.assign(new Error(code), {code}), '/var/lib/kamal-backup', 'take the run lock in')
    assert.equal(fail('ENOSPC').code, 'state/full')
    assert.match(fail('ENOSPC').message, /cannot take the run lock in the state directory \/var\/lib\/kamal-backup: no space left on the device/)
    assert.ok(fail('ENOSPC').suggestions.some((s) => /free space/.test(s)))
    assert.equal(fail('EROFS').code, 'state/read-only')
    assert.ok(fail('EROFS').suggestions.some((s) => /read-write/.test(s)))
    assert.equal(fail('EACCES').code, 'state/permission')
    assert.equal(fail('EIO').code, 'state/unusable')
  })

  test('write and lock errors are mapped (a directory in the way of a record stands in for a broken volume)', () => {
    const d = dir()
    const state = new StateDir(join(d, 'state'))
    state.ensureWritable()
    writeFileSync(join(d, 'not-a-dir'), 'x')
    const broken = new StateDir(join(d, 'not-a-dir'))
    assert.throws(() => broken.write('last_backup.json', {}), (e: unknown) => isKamalBackupError(e) && /cannot write last_backup.json in the state directory/.test(e.message))
    assert.throws(() => broken.lock('backup'), (e: unknown) => isKamalBackupError(e) && /cannot take the run lock in the state directory/.test(e.message))
    assert.throws(() => broken.ensureWritable(), (e: unknown) => isKamalBackupError(e) && e.code.startsWith('state/'))
  })
})
