import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileSystemFull, watchFullCache} from '../../../src/restic/full-cache.ts'

const status = (elapsed: number, bytes: number) => `{"message_type":"status","seconds_elapsed":${elapsed},"percent_done":1,"total_files":2,"files_done":2,"total_bytes":${bytes},"bytes_done":${bytes}}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('restic stuck on a full cache: no progress (status lines that only count seconds) for the deadline, cache full → aborted', async () => {
  let clock = 0
  const watch = watchFullCache('/state/cache', undefined, {stuckMs: 40, now: () => clock, full: () => true})
  try {
    watch.line(status(1, 100))
    clock = 30
    watch.line(status(2, 100)) // the same numbers, one second later: no progress
    await sleep(60)
    clock = 41
    await sleep(60)
    assert.equal(watch.stuck, true)
    assert.equal(watch.signal?.aborted, true)
  } finally {
    watch.stop()
  }
})

test('progress, or a cache with room, is never stopped', async () => {
  let clock = 0
  const moving = watchFullCache('/state/cache', undefined, {stuckMs: 40, now: () => clock, full: () => true})
  const roomy = watchFullCache('/state/cache', undefined, {stuckMs: 40, now: () => clock, full: () => false})
  try {
    for (let i = 1; i <= 4; i++) {
      clock = i * 30
      moving.line(status(i, i * 100))
      await sleep(50)
    }
    assert.equal(moving.stuck, false)
    assert.equal(roomy.stuck, false)
    assert.equal(roomy.signal?.aborted, false)
  } finally {
    moving.stop()
    roomy.stop()
  }
})

test('an outer abort (Ctrl-C) still reaches restic; no cache directory: no watch', () => {
  const outer = new AbortController()
  const watch = watchFullCache('/state/cache', outer.signal, {full: () => false})
  outer.abort()
  assert.equal(watch.signal?.aborted, true)
  assert.equal(watch.stuck, false)
  watch.stop()
  assert.equal(watchFullCache(undefined, outer.signal).signal, outer.signal)
})

test('fileSystemFull: a directory with room is not full; a path not made yet is judged by its parent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kb-full-'))
  assert.equal(fileSystemFull(dir), false)
  assert.equal(fileSystemFull(join(dir, 'cache', 'not-yet')), false)
})
