// restic ≥ 0.17 hangs for ever when its cache's file system fills up during a backup: the pack upload that failed
// to write the cache copy ends, and the final flush waits for it (measured on 0.18: status lines at 100 %, no
// error, no exit, for as long as it is left). 0.14 fails with "no space left on device". A backup is therefore
// watched: when restic's progress has not moved for a while and the cache's file system is full, restic is
// stopped and the step fails with a full state volume instead of the run hanging until someone looks.
import {statfsSync} from 'node:fs'
import {dirname} from 'node:path'

/** How long restic may show no progress with its cache full before it is stopped. */
export const FULL_CACHE_STUCK_MS = 20_000
/** Below this many free bytes the cache's file system is full (restic writes whole packs, 4 MiB or more, there). */
const FULL_BELOW_BYTES = 1024 * 1024

export interface FullCacheWatch {
  /** Aborts when restic is stuck on a full cache (and when `outer` aborts). */
  signal: AbortSignal | undefined
  /** Every stdout line of the backup: a status line whose numbers changed, or any other line, is progress. */
  line: (line: string) => void
  /** restic was stopped because it was stuck on a full cache. */
  readonly stuck: boolean
  stop: () => void
}

export function watchFullCache(cacheDir: string | undefined, outer: AbortSignal | undefined, options: {stuckMs?: number; now?: () => number; full?: (dir: string) => boolean} = {}): FullCacheWatch {
  const stuckMs = options.stuckMs ?? FULL_CACHE_STUCK_MS
  const now = options.now ?? Date.now
  const full = options.full ?? fileSystemFull
  if (!cacheDir || stuckMs <= 0) return {signal: outer, line: () => {}, stuck: false, stop: () => {}}
  const controller = new AbortController()
  let lastProgress = now()
  let lastStatus = ''
  let stuck = false
  const timer = setInterval(() => {
    if (now() - lastProgress < stuckMs || !full(cacheDir)) return
    stuck = true
    clearInterval(timer)
    controller.abort()
  }, Math.min(5_000, stuckMs))
  timer.unref()
  return {
    signal: outer ? AbortSignal.any([outer, controller.signal]) : controller.signal,
    line: (line) => {
      // {"message_type":"status","seconds_elapsed":…,…}: the numbers after the elapsed seconds are the progress.
      const status = /^\{"message_type":"status","seconds_elapsed":\d+,(.*)$/.exec(line)
      if (status && status[1] === lastStatus) return
      lastStatus = status ? status[1]! : ''
      lastProgress = now()
    },
    get stuck() {
      return stuck
    },
    stop: () => clearInterval(timer),
  }
}

/** Is the file system holding `dir` (or its nearest existing parent) full? */
export function fileSystemFull(dir: string): boolean {
  for (let path = dir; ; path = dirname(path)) {
    try {
      const fs = statfsSync(path)
      return fs.bavail * fs.bsize < FULL_BELOW_BYTES
    } catch {
      if (dirname(path) === path) return false
    }
  }
}
