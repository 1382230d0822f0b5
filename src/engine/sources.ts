// What a backup is about to save, checked before anything is written: "nothing to save" is a failure, not a quiet
// success. An empty directory is the usual sign of a volume that is not mounted (Kamal creates the mount point,
// empty, when a volume name is misspelt); inside the accessory a path on the container's own root file system is
// that mistake for certain. And what a run saved is compared with the previous complete run's, so a path that lost
// most of its files, or a dump that shrank to a fraction, is a warning someone hears about.
import {readdirSync, readFileSync, realpathSync} from 'node:fs'
import {KamalBackupError} from '../errors.js'
import type {BackupRunRecord} from '../documents.js'
import type {BackupConfig, PathConfig} from '../config/types.js'
import {pathIdentity} from './volumes.js'

/** How a path entry is named in messages: its directory, and the volume it is. */
const describe = (p: PathConfig) => (p.volume ? `volume ${p.volume.name} (${p.path})` : `path ${p.path}`)

/** Regular files below `dir` (not following links; unreadable subdirectories count as empty). With `stopAt`, the
 *  walk stops once it has found that many: enough to tell "empty" from "not empty" without walking everything. */
export function countFiles(dir: string, stopAt = Infinity): number {
  let count = 0
  const stack = [dir]
  while (stack.length > 0 && count < stopAt) {
    const current = stack.pop()!
    let entries
    try {
      entries = readdirSync(current, {withFileTypes: true})
    } catch (error) {
      if (current === dir) throw error
      continue
    }
    for (const entry of entries) {
      if (entry.isFile()) count++
      else if (entry.isDirectory()) stack.push(`${current}/${entry.name}`)
    }
  }
  return count
}

/** The mount points of /proc/self/mountinfo (field 5, with its octal escapes undone). */
export function mountPoints(mountinfo: string): string[] {
  const out: string[] = []
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4]
    if (field) out.push(field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8))))
  }
  return out
}

/** The mount a path lives on: the longest mount point that is the path or one of its parents. */
export function mountOf(path: string, points: readonly string[]): string {
  let best = '/'
  for (const point of points) {
    const inside = point === '/' || path === point || path.startsWith(point + '/')
    if (inside && point.length > best.length) best = point
  }
  return best
}

/** The checks before a byte is written, for each path (and the count of its files, for the shrink check):
 *  missing or not a directory, empty (unless allow_empty), and, inside the accessory image, on the container's
 *  own root file system rather than a mounted volume. */
export function checkPaths(config: Pick<BackupConfig, 'paths'>, options: {inAccessory: boolean; mountinfo?: () => string}): {path: string; files: number}[] {
  let points: string[] | undefined
  const counts: {path: string; files: number}[] = []
  for (const p of config.paths) {
    let files: number
    try {
      files = countFiles(p.path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EACCES') {
        throw new KamalBackupError(`${describe(p)} cannot be read by this user (permission denied); nothing was backed up`, {
          code: 'backup/source-unreadable',
          suggestions: ['run the backup as a user that can read every backed-up path: root, or a dedicated user with the capability CAP_DAC_READ_SEARCH (kamal-backup generate systemd sets it up)'],
        })
      }
      throw new KamalBackupError(`${describe(p)} does not exist or is not a directory`, {
        code: 'backup/source-missing',
        suggestions: options.inAccessory ? ['mount the app volume into the accessory at this path (accessories.<name>.volumes)'] : ['create the directory, or correct paths: in the configuration'],
      })
    }
    if (options.inAccessory) {
      points ??= mountPoints((options.mountinfo ?? (() => readFileSync('/proc/self/mountinfo', 'utf8')))())
      // Judged where the path really is: a symlink into a mounted volume is on that volume.
      if (mountOf(realpathSync(p.path), points) === '/') {
        throw new KamalBackupError(`path ${p.path} is not on a mounted volume: it is a directory of the accessory container itself, so it cannot hold the app's files; nothing was backed up`, {
          code: 'backup/source-not-mounted',
          suggestions: [`mount the app's volume at ${p.path} in the accessory: accessories.<name>.volumes in config/deploy.yml must name the same volume as the app (e.g. "myapp_storage:${p.path}"), then kamal accessory reboot <name>`],
        })
      }
    }
    if (files === 0 && !p.allowEmpty) {
      throw new KamalBackupError(`${describe(p)} is empty: there is nothing to back up there, which is how a volume that is not mounted looks; nothing was backed up`, {
        code: 'backup/source-empty',
        suggestions: [`check that the app's volume is mounted at ${p.path} in the accessory (the same volume name as the app's)`, `if the directory is empty on purpose, set allow_empty: true on this path in config/kamal-backup.yml`],
      })
    }
    counts.push({path: pathIdentity(p), files})
  }
  return counts
}

/** Warnings for what shrank since the previous complete run: a path's file count, a database dump's bytes, each
 *  by more than its max_shrink percent. Nothing to compare with (the first run, a part that is new) is no warning. */
export function shrinkWarnings(config: Pick<BackupConfig, 'paths' | 'databases'>, now: {fileCounts: readonly {path: string; files: number}[]; snapshots: readonly {group: string; bytes: number}[]}, previous: Pick<BackupRunRecord, 'file_counts' | 'snapshots' | 'run_id'> | undefined): string[] {
  if (!previous) return []
  const warnings: string[] = []
  const shrank = (before: number, after: number, maxShrink: number) => maxShrink < 100 && before > 0 && after < before * (1 - maxShrink / 100)
  const percent = (before: number, after: number) => `${Math.round((1 - after / before) * 100)}%`
  for (const p of config.paths) {
    const before = previous.file_counts?.find((c) => c.path === pathIdentity(p))?.files
    const after = now.fileCounts.find((c) => c.path === pathIdentity(p))?.files
    if (before === undefined || after === undefined || !shrank(before, after, p.maxShrink)) continue
    warnings.push(`${describe(p)} holds ${after} files, ${percent(before, after)} fewer than the ${before} of run ${previous.run_id} (more than max_shrink ${p.maxShrink}%): check that the right volume is mounted and nothing deleted them`)
  }
  for (const db of config.databases) {
    const group = `database:${db.name}`
    const before = previous.snapshots.find((s) => s.group === group)?.bytes
    const after = now.snapshots.find((s) => s.group === group)?.bytes
    if (before === undefined || after === undefined || !shrank(before, after, db.maxShrink)) continue
    warnings.push(`the dump of database ${db.name} is ${after} bytes, ${percent(before, after)} smaller than the ${before} of run ${previous.run_id} (more than max_shrink ${db.maxShrink}%): check that the backup reads the right database and its data is still there`)
  }
  return warnings
}
