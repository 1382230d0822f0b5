// The state directory (KAMAL_BACKUP_STATE_DIR, default /var/lib/kamal-backup): run records, the last check,
// prune, restore and drill results, restic's cache, and the lock that keeps two runs from overlapping. Writes are atomic
// (temp file + rename) so a crash never leaves a half-written record.
import {appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {KamalBackupError} from '../errors.js'

export const STATE_FILES = {
  lastBackup: 'last_backup.json',
  lastSuccessfulBackup: 'last_successful_backup.json',
  runs: 'runs.jsonl',
  lastCheck: 'last_check.json',
  lastPrune: 'last_prune.json',
  lastUnlock: 'last_unlock.json',
  lastDrill: 'last_restore_drill.json',
  drills: 'drills.jsonl',
  /** The latest restore, rewritten as each step finishes: after a dropped connection it shows how far it got. */
  lastRestore: 'last_restore.json',
  restores: 'restores.jsonl',
  /** `dump`: one line per export of a database's dump (who, which run, how many bytes). */
  dumps: 'dumps.jsonl',
  /** restic.copies: each copy's last attempt and last success, by name. */
  copies: 'copies.json',
  /** Notifications that could not be delivered, one line each. */
  notifications: 'notifications.jsonl',
  lock: 'kamal-backup.lock',
} as const

/** runs.jsonl, drills.jsonl and restores.jsonl keep this many records. */
const HISTORY_LIMIT = 1000

export class StateDir {
  constructor(readonly path: string) {}

  /** Creates the directory and proves it can take a record, before any work starts: real bytes, synced, since an
   *  empty file can still be created on a full filesystem. */
  ensureWritable(): void {
    const probe = join(this.path, `.write-test-${process.pid}`)
    try {
      mkdirSync(this.path, {recursive: true})
      const fd = openSync(probe, 'w', 0o600)
      try {
        writeSync(fd, Buffer.alloc(64 * 1024, 0x2e))
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
    } catch (error) {
      throw stateError(error, this.path, 'write to')
    } finally {
      try {
        unlinkSync(probe)
      } catch {}
    }
  }

  file(name: string): string {
    return join(this.path, name)
  }

  read<T>(name: string): T | undefined {
    try {
      return JSON.parse(readFileSync(this.file(name), 'utf8')) as T
    } catch {
      return undefined
    }
  }

  write(name: string, value: unknown): void {
    const target = this.file(name)
    const temporary = `${target}.tmp-${process.pid}`
    try {
      mkdirSync(this.path, {recursive: true})
      writeFileSync(temporary, JSON.stringify(value, null, 2) + '\n')
      renameSync(temporary, target)
    } catch (error) {
      try {
        unlinkSync(temporary)
      } catch {}
      throw stateError(error, this.path, `write ${name} in`)
    }
  }

  remove(name: string): void {
    rmSync(this.file(name), {force: true})
  }

  append(name: string, value: unknown): void {
    const target = this.file(name)
    try {
      mkdirSync(this.path, {recursive: true})
      appendFileSync(target, JSON.stringify(value) + '\n')
    } catch (error) {
      throw stateError(error, this.path, `append to ${name} in`)
    }
    try {
      if (statSync(target).size > 4 * 1024 * 1024) {
        const lines = readFileSync(target, 'utf8').trimEnd().split('\n')
        if (lines.length > HISTORY_LIMIT) {
          const temporary = `${target}.tmp-${process.pid}`
          writeFileSync(temporary, lines.slice(-HISTORY_LIMIT).join('\n') + '\n')
          renameSync(temporary, target)
        }
      }
    } catch {}
  }

  history<T>(name: string): T[] {
    let text: string
    try {
      text = readFileSync(this.file(name), 'utf8')
    } catch {
      return []
    }
    const out: T[] = []
    for (const line of text.split('\n')) {
      if (!line.trim()) continue
      try {
        out.push(JSON.parse(line) as T)
      } catch {}
    }
    return out
  }

  /** The run lock: one backup, check, prune or restore at a time in this container. */
  lock(command: string): RunLock {
    try {
      return RunLock.acquire(this.file(STATE_FILES.lock), command)
    } catch (error) {
      if (error instanceof KamalBackupError) throw error
      throw stateError(error, this.path, 'take the run lock in')
    }
  }
}

/** A filesystem error on the state volume, as something to act on (a full or read-only volume is not a bug). */
export function stateError(error: unknown, dir: string, action: string): KamalBackupError {
  const code = (error as NodeJS.ErrnoException).code
  const volume = 'the volume mounted at the state directory (state.path, KAMAL_BACKUP_STATE_DIR; default /var/lib/kamal-backup)'
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new KamalBackupError(`cannot ${action} the state directory ${dir}: no space left on the device (${code})`, {
      code: 'state/full',
      cause: error,
      suggestions: [`free space on ${volume}, or make it larger`, `restic's cache (${join(dir, 'cache')}) can be deleted safely; restic rebuilds it`],
    })
  }
  if (code === 'EROFS') {
    return new KamalBackupError(`cannot ${action} the state directory ${dir}: the filesystem is read-only (EROFS)`, {
      code: 'state/read-only',
      cause: error,
      suggestions: [`mount ${volume} read-write (no :ro in accessories.<name>.volumes)`],
    })
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new KamalBackupError(`cannot ${action} the state directory ${dir}: permission denied (${code})`, {
      code: 'state/permission',
      cause: error,
      suggestions: [`make ${volume} writable by the user kamal-backup runs as (uid ${process.getuid?.() ?? '?'})`, 'or set KAMAL_BACKUP_STATE_DIR / state.path to a writable directory'],
    })
  }
  return new KamalBackupError(`cannot ${action} the state directory ${dir} (${code ?? (error instanceof Error ? error.message : String(error))})`, {
    code: 'state/unusable',
    cause: error,
    suggestions: [`mount ${volume} writable by kamal-backup`, 'or set KAMAL_BACKUP_STATE_DIR / state.path to a writable directory'],
  })
}

interface LockInfo {
  pid: number
  start: string | null
  hostname: string
  command: string
  started_at: string
}

/** The holder refreshes the lock file's mtime this often... */
export const LOCK_HEARTBEAT_MS = 30_000
/** ...so a lock not refreshed for this long is stale even when its holder cannot be checked (another hostname:
 *  the container was replaced, e.g. by `kamal accessory reboot`, and got a new hostname). */
export const LOCK_STALE_MS = 5 * 60_000

export interface StaleLock {
  pid: number | null
  hostname: string | null
  command: string | null
  started_at: string | null
}

export class RunLock {
  #heartbeat: NodeJS.Timeout | undefined

  private constructor(
    private readonly path: string,
    private readonly token: string,
    /** A stale lock this one replaced (shown by `unlock`). */
    readonly replaced: StaleLock | undefined,
  ) {
    this.#heartbeat = setInterval(() => {
      try {
        const now = new Date()
        utimesSync(this.path, now, now)
      } catch {}
    }, LOCK_HEARTBEAT_MS)
    this.#heartbeat.unref()
  }

  static acquire(path: string, command: string, now: () => number = Date.now): RunLock {
    const info: LockInfo = {pid: process.pid, start: processStart(process.pid), hostname: hostname(), command, started_at: new Date(now()).toISOString()}
    const content = JSON.stringify(info)
    let replaced: StaleLock | undefined
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number
      try {
        fd = openSync(path, 'wx', 0o644)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        let holder: Partial<LockInfo> | undefined
        let mtime = 0
        try {
          mtime = statSync(path).mtimeMs
          holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo
        } catch {}
        const verdict = holder ? judge(holder, mtime, now()) : 'stale'
        if (verdict === 'alive') throw busy(holder!, mtime, now())
        // Stale: its process is gone (a killed container, a crash), or it stopped refreshing the lock. Take it over.
        replaced = {pid: holder?.pid ?? null, hostname: holder?.hostname ?? null, command: holder?.command ?? null, started_at: holder?.started_at ?? null}
        try {
          unlinkSync(path)
        } catch {}
        continue
      }
      try {
        writeSync(fd, content)
        fsyncSync(fd)
      } catch (error) {
        // A full volume: no half-written lock is left behind.
        closeSync(fd)
        try {
          unlinkSync(path)
        } catch {}
        throw error
      }
      closeSync(fd)
      return new RunLock(path, content, replaced)
    }
    throw new KamalBackupError(`could not take the run lock ${path}`, {code: 'command/busy'})
  }

  release(): void {
    clearInterval(this.#heartbeat)
    try {
      if (readFileSync(this.path, 'utf8') === this.token) unlinkSync(this.path)
    } catch {}
  }
}

/** Same host: the pid decides (and its start time, against pid reuse). Another host, or a holder that cannot be
 *  checked: alive while it keeps refreshing the lock (LOCK_HEARTBEAT_MS), stale LOCK_STALE_MS after that. */
export function judge(holder: Partial<LockInfo>, mtimeMs: number, nowMs: number): 'alive' | 'stale' {
  const byHeartbeat = nowMs - mtimeMs < LOCK_STALE_MS ? 'alive' : 'stale'
  if (holder.hostname !== hostname() || typeof holder.pid !== 'number') return byHeartbeat
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? byHeartbeat : 'stale'
  }
  // Same PID, but a different process (PID reuse after a container restart)?
  const start = processStart(holder.pid)
  if (!holder.start || !start) return byHeartbeat
  return start === holder.start ? 'alive' : 'stale'
}

function busy(holder: Partial<LockInfo>, mtimeMs: number, nowMs: number): KamalBackupError {
  const here = holder.hostname === hostname()
  const refreshed = Math.max(0, Math.round((nowMs - mtimeMs) / 1000))
  const staleIn = Math.max(1, Math.ceil((LOCK_STALE_MS - (nowMs - mtimeMs)) / 60_000))
  return new KamalBackupError(
    `another kamal-backup ${holder.command ?? 'command'} is running (pid ${holder.pid ?? '?'}${here ? '' : ` on host ${holder.hostname ?? '?'}`}, since ${holder.started_at ?? '?'}; lock refreshed ${refreshed} s ago)`,
    {
      code: 'command/busy',
      suggestions: here
        ? ['wait for it to finish; the scheduler and manual commands never overlap']
        : [
            'wait for it to finish; the scheduler and manual commands never overlap',
            `if that container is gone (replaced by a reboot), the lock goes stale ${Math.round(LOCK_STALE_MS / 60_000)} minutes after its last refresh (in about ${staleIn} min): then any command, or \`kamal-backup unlock\`, removes it`,
          ],
    },
  )
}

/** The process start time from /proc (clock ticks since boot), to tell a live lock holder from PID reuse. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}
