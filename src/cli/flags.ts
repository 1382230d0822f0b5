// Flags shared by several commands. Kamal's own -c/-d mean the same here.
import * as Flags from '@oclif/core/flags'

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
