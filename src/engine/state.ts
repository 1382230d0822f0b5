// The state directory (KAMAL_BACKUP_STATE_DIR, default /var/lib/kamal-backup): run records, the last check,
// prune, restore and drill results, restic's cache, and the lock that keeps two runs from overlapping. Writes are atomic
// (temp file + rename) so a crash never leaves a half-written record.
import {appendFileSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync} from 'node:fs'
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
  lock: 'kamal-backup.lock',
} as const

/** runs.jsonl, drills.jsonl and restores.jsonl keep this many records. */
const HISTORY_LIMIT = 1000

export class StateDir {
  constructor(readonly path: string) {}

  /** Creates the directory and proves it is writable, before any work starts. */
  ensureWritable(): void {
    try {
      mkdirSync(this.path, {recursive: true})
      const probe = join(this.path, `.write-test-${process.pid}`)
      writeFileSync(probe, '')
      unlinkSync(probe)
    } catch (error) {
      throw new KamalBackupError(`the state directory ${this.path} is not writable (${(error as NodeJS.ErrnoException).code ?? error})`, {
        code: 'state-dir',
        suggestions: ['mount a volume at the state directory (state.path, default /var/lib/kamal-backup) writable by kamal-backup', 'or set KAMAL_BACKUP_STATE_DIR / state.path to a writable directory'],
      })
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
    mkdirSync(this.path, {recursive: true})
    const target = this.file(name)
    const temporary = `${target}.tmp-${process.pid}`
    writeFileSync(temporary, JSON.stringify(value, null, 2) + '\n')
    renameSync(temporary, target)
  }

  append(name: string, value: unknown): void {
    mkdirSync(this.path, {recursive: true})
    const target = this.file(name)
    appendFileSync(target, JSON.stringify(value) + '\n')
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
    return RunLock.acquire(this.file(STATE_FILES.lock), command)
  }
}

interface LockInfo {
  pid: number
  start: string | null
  hostname: string
  command: string
  started_at: string
}

export class RunLock {
  private constructor(
    private readonly path: string,
    private readonly token: string,
  ) {}

  static acquire(path: string, command: string): RunLock {
    const info: LockInfo = {pid: process.pid, start: processStart(process.pid), hostname: hostname(), command, started_at: new Date().toISOString()}
    const content = JSON.stringify(info)
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o644)
        writeSync(fd, content)
        closeSync(fd)
        return new RunLock(path, content)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        let holder: LockInfo | undefined
        try {
          holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo
        } catch {}
        if (holder && isAlive(holder)) {
          throw new KamalBackupError(`another kamal-backup ${holder.command} is running (pid ${holder.pid}, since ${holder.started_at})`, {
            code: 'busy',
            suggestions: ['wait for it to finish; the scheduler and manual commands never overlap'],
          })
        }
        // Stale: its process is gone (a killed container, a crash). Take it over.
        try {
          unlinkSync(path)
        } catch {}
      }
    }
    throw new KamalBackupError(`could not take the run lock ${path}`, {code: 'busy'})
  }

  release(): void {
    try {
      if (readFileSync(this.path, 'utf8') === this.token) unlinkSync(this.path)
    } catch {}
  }
}

function isAlive(holder: LockInfo): boolean {
  if (holder.hostname !== hostname()) return true // another container/host: never assume it is dead
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  // Same PID, but a different process (PID reuse after a container restart)?
  const start = processStart(holder.pid)
  return holder.start === null || start === null || start === holder.start
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
