// Flags shared by several commands. Kamal's own -c/-d mean the same here.
import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {UsageError} from '../errors.js'

export const checkoutFlags = {
  'config-file': Flags.string({
    char: 'c',
    summary: 'Kamal deploy config file (default config/deploy.yml).',
    helpGroup: 'KAMAL',
  }),
  destination: Flags.string({
    char: 'd',
    summary: 'Kamal destination: also reads config/deploy.<destination>.yml and .kamal/secrets.<destination>.',
    helpGroup: 'KAMAL',
  }),
  'backup-config': Flags.string({
    summary: 'kamal-backup config file (default config/kamal-backup.yml).',
    env: 'KAMAL_BACKUP_CONFIG',
    helpGroup: 'KAMAL',
  }),
}

export const remoteFlags = {
  local: Flags.boolean({
    summary: 'Run here instead of inside the backup accessory, even in an app checkout.',
    helpGroup: 'REMOTE',
  }),
  host: Flags.string({
    summary: 'The accessory host to use when it runs on several hosts (default: the first).',
    helpGroup: 'REMOTE',
  }),
  'strict-host-key': Flags.boolean({
    summary: 'Refuse hosts missing from ~/.ssh/known_hosts instead of recording them.',
    helpGroup: 'REMOTE',
  }),
}

/** restore and drill: `--from NAME`, a copy (restic.copies) in the primary repository's place. */
export const fromCopyFlags = {
  from: Flags.string({
    summary: 'Read the copy NAME (restic.copies) instead of the primary repository; works when the primary is gone.',
    helpGroup: 'REPOSITORY',
  }),
}

/** list and check: `--repository NAME`, a copy (restic.copies) instead of the primary repository. */
export const repositoryFlags = {
  repository: Flags.string({
    summary: 'Use the copy NAME (restic.copies) instead of the primary repository.',
    helpGroup: 'REPOSITORY',
  }),
}

/** `[SNAPSHOT]`: latest, a run id or a snapshot id. */
export const snapshotArg = {
  snapshot: Args.string({description: 'latest (the newest complete run), a run id (20261122T030000Z) or a snapshot id', default: 'latest'}),
}

export const selectionFlags = {
  at: Flags.string({summary: 'Restore the latest complete run at or before this time (ISO 8601, e.g. 2026-11-20T03:00:00Z).'}),
}

export function parseAt(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined
  const date = new Date(value)
  if (Number.isNaN(date.getTime())) throw new UsageError(`--at ${value} is not a time`, {suggestions: ['use ISO 8601, e.g. 2026-11-20T03:00:00Z']})
  return date
}
