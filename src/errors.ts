// One error type for everything the user can act on. Each carries a stable code, the exit code the CLI ends
// with, and suggestions that say what to do next. Anything else that escapes is a bug and is reported as one.

/** The documented exit codes (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  /** The operation failed, or validation found errors. */
  failed: 1,
  /** Bad flags or arguments, or a required confirmation was not given. */
  usage: 2,
  /** The backup accessory could not be reached (SSH, container not running, CLI missing in the image). */
  unreachable: 3,
  /** The CLI and the accessory run incompatible kamal-backup versions. */
  versionMismatch: 4,
  /** Interrupted by Ctrl-C / SIGINT / SIGTERM. */
  interrupted: 130,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** Every error code kamal-backup raises, with the exit code it ends with and what it means: the one registry
 *  (README "Error codes" is tested against it). One naming style: `<area>/<what>`, lowercase with hyphens. An error
 *  from a validation finding carries the finding's rule instead (README "Validation rules"). */
export const ERROR_CODES = {
  'usage/invalid': {exit: ExitCode.usage, meaning: 'a flag or argument is wrong, missing, or contradicts another'},
  'usage/not-confirmed': {exit: ExitCode.usage, meaning: 'a destructive command was not confirmed (or could not ask: no terminal, no --yes/--confirm)'},
  'usage/unknown-host': {exit: ExitCode.usage, meaning: '--host names a host the backup accessory does not run on'},
  'usage/schedule-remote': {exit: ExitCode.usage, meaning: 'schedule was started from a workstation; the accessory runs its own'},
  'command/interrupted': {exit: ExitCode.interrupted, meaning: 'Ctrl-C, SIGINT or SIGTERM: the command stopped its children cleanly'},
  'command/busy': {exit: ExitCode.failed, meaning: 'another backup, restore, drill or maintenance command holds the run lock'},
  'command/failed': {exit: ExitCode.failed, meaning: 'the command failed for a reason without a code of its own (the message says it)'},
  'internal/bug': {exit: ExitCode.failed, meaning: 'an unexpected error: a bug (DEBUG=kamal-backup* shows the stack trace; please report it)'},
  'config/invalid': {exit: ExitCode.failed, meaning: 'a setting outside the config files is invalid (e.g. KAMAL_BACKUP_REPOSITORY_TIMEOUT)'},
  'config/password-file': {exit: ExitCode.failed, meaning: 'a password file ({file: ...}) is missing, unreadable or empty'},
  'config/password-command': {exit: ExitCode.failed, meaning: 'a password command is given where only a secret or a file works'},
  'config/database-url': {exit: ExitCode.failed, meaning: 'a database URL, resolved from its secret, is not a valid URL'},
  'config/no-retention': {exit: ExitCode.failed, meaning: 'prune was asked for without restic.retention'},
  'config/no-local-target': {exit: ExitCode.failed, meaning: 'restore local or drill local has no local target for a database'},
  'secrets/missing': {exit: ExitCode.failed, meaning: 'a {secret: NAME} is not set (or empty) where the command runs'},
  'secrets/unreadable': {exit: ExitCode.failed, meaning: '.kamal/secrets cannot be read'},
  'secrets/format': {exit: ExitCode.failed, meaning: '.kamal/secrets has a line dotenv cannot read'},
  'secrets/command-failed': {exit: ExitCode.failed, meaning: 'a $(command) in .kamal/secrets failed'},
  'secrets/needs-kamal': {exit: ExitCode.failed, meaning: '.kamal/secrets uses kamal secrets, which only Kamal itself can run'},
  'erb/syntax': {exit: ExitCode.failed, meaning: 'ERB in a Kamal or Rails config file does not parse'},
  'erb/unsupported': {exit: ExitCode.failed, meaning: 'ERB beyond the subset kamal-backup evaluates (--kamal-config lets Kamal render it)'},
  'erb/env-missing': {exit: ExitCode.failed, meaning: 'ERB reads an environment variable that is not set (Kamal stops there too)'},
  'erb/raised': {exit: ExitCode.failed, meaning: 'an ERB tag raises an error, as it would under Ruby'},
  'yaml/syntax': {exit: ExitCode.failed, meaning: 'a YAML file (config/database.yml) does not parse'},
  'init/exists': {exit: ExitCode.failed, meaning: 'init would overwrite an existing config/kamal-backup.yml (--force replaces it)'},
  'init/nothing-found': {exit: ExitCode.failed, meaning: 'init found no database and no storage to back up'},
  'state/unusable': {exit: ExitCode.failed, meaning: 'the state directory cannot be used'},
  'state/full': {exit: ExitCode.failed, meaning: 'the state directory\'s file system is full'},
  'state/read-only': {exit: ExitCode.failed, meaning: 'the state directory is on a read-only file system'},
  'state/permission': {exit: ExitCode.failed, meaning: 'the state directory may not be written by this user'},
  'state/not-writable': {exit: ExitCode.failed, meaning: 'a restore record cannot be written in the state directory (checked before a restore)'},
  'exec/not-found': {exit: ExitCode.failed, meaning: 'a tool (restic, pg_dump, sqlite3, ...) is not installed'},
  'exec/failed': {exit: ExitCode.failed, meaning: 'a tool exited with an error (its last lines are in the message)'},
  'exec/start-failed': {exit: ExitCode.failed, meaning: 'a tool could not be started'},
  'restic/version': {exit: ExitCode.failed, meaning: 'restic\'s version could not be read'},
  'restic/too-old': {exit: ExitCode.failed, meaning: 'restic is older than 0.14'},
  'restic/unreachable': {exit: ExitCode.failed, meaning: 'the repository\'s server cannot be reached, or restic could not open it in time'},
  'restic/no-repository': {exit: ExitCode.failed, meaning: 'the repository does not exist (restic.init_if_missing creates it)'},
  'restic/wrong-password': {exit: ExitCode.failed, meaning: 'the repository password is wrong'},
  'restic/locked': {exit: ExitCode.failed, meaning: 'another restic process holds the repository lock'},
  'restic/access-denied': {exit: ExitCode.failed, meaning: 'the repository\'s server refused the credentials'},
  'restic/disk-full': {exit: ExitCode.failed, meaning: 'no space left where the repository or restic\'s cache lives'},
  'restic/damaged': {exit: ExitCode.failed, meaning: 'the repository is damaged: restic found missing or broken data (check, or a restore reading it)'},
  'restic/incomplete': {exit: ExitCode.failed, meaning: 'restic could not read some of the files to back up'},
  'restic/no-snapshot': {exit: ExitCode.failed, meaning: 'a backup finished without reporting its snapshot'},
  'restic/leftover-snapshot': {exit: ExitCode.failed, meaning: 'a failed step\'s snapshot could not be removed (it is never counted; the next good run forgets it)'},
  'restic/bad-output': {exit: ExitCode.failed, meaning: 'restic printed something that is not the JSON it should'},
  'restic/failed': {exit: ExitCode.failed, meaning: 'restic failed for another reason (its last lines are in the message)'},
  'dump/failed': {exit: ExitCode.failed, meaning: 'a database dump failed; no snapshot was saved'},
  'dump/empty': {exit: ExitCode.failed, meaning: 'a database dump was empty; no snapshot was kept'},
  'dump/exists': {exit: ExitCode.usage, meaning: 'dump -o FILE: FILE exists and --force was not given; nothing was written'},
  'dump/incomplete': {exit: ExitCode.failed, meaning: 'dump: the stream ended early or its size differs from the snapshot\'s; FILE was not written (with -o -, the bytes already went to stdout)'},
  'dump/unverified': {exit: ExitCode.failed, meaning: 'dump --verify: the database\'s own tool cannot read the dump back; FILE was not written'},
  'backup/source-missing': {exit: ExitCode.failed, meaning: 'a database file or a path to back up does not exist'},
  'backup/source-empty': {exit: ExitCode.failed, meaning: 'a path to back up is empty, as an unmounted volume is (paths[].allow_empty: true backs it up anyway)'},
  'backup/source-unreadable': {exit: ExitCode.failed, meaning: 'a path to back up cannot be read by the user the backup runs as'},
  'backup/volume-missing': {exit: ExitCode.failed, meaning: 'host mode: a volume named under paths: does not exist in its runtime'},
  'backup/runtime-missing': {exit: ExitCode.failed, meaning: 'host mode: the container runtime that owns a volume under paths: is not installed'},
  'backup/runtime-failed': {exit: ExitCode.failed, meaning: 'host mode: `docker/podman volume inspect` failed for another reason than a missing volume'},
  'backup/source-not-mounted': {exit: ExitCode.failed, meaning: 'inside the accessory, a path to back up is on the container\'s own file system, not a mounted volume'},
  'backup/not-visible': {exit: ExitCode.failed, meaning: 'a new snapshot is not in the repository after the backup'},
  'copy/not-visible': {exit: ExitCode.failed, meaning: 'restic copy finished, but a snapshot it should have copied is not in the copy (restic.copies)'},
  'copy/failed': {exit: ExitCode.failed, meaning: 'a copy (restic.copies) could not be made or checked; the primary repository is unaffected'},
  'backup/safety-failed': {exit: ExitCode.failed, meaning: 'the safety backup before a production restore failed; nothing was restored'},
  'database/unreachable': {exit: ExitCode.failed, meaning: 'a database server cannot be reached, or refused the login'},
  'database/not-writable': {exit: ExitCode.failed, meaning: 'a restore target is a standby, read-only, or not the user\'s to reset'},
  'database/in-use': {exit: ExitCode.failed, meaning: 'the app\'s locks kept a database reset waiting past KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT'},
  'database/busy': {exit: ExitCode.failed, meaning: 'another connection is writing to a SQLite database being restored'},
  'database/no-client': {exit: ExitCode.failed, meaning: 'the image has no PostgreSQL client that can dump (or restore into) this server'},
  'database/client-too-old': {exit: ExitCode.failed, meaning: 'the dump was written by a newer pg_dump than this pg_restore reads'},
  'run/not-found': {exit: ExitCode.failed, meaning: 'no complete backup run matches the selection'},
  'run/incomplete': {exit: ExitCode.failed, meaning: 'the selected run lacks a snapshot of a part to restore'},
  'run/changed': {exit: ExitCode.usage, meaning: 'the run a remote restore confirmed is no longer the one the selection resolves to'},
  'restore/target-missing': {exit: ExitCode.failed, meaning: 'a restore target database does not exist'},
  'restore/target-not-writable': {exit: ExitCode.failed, meaning: 'a restore target directory or file cannot be written'},
  'restore/disk-full': {exit: ExitCode.failed, meaning: 'not enough free space to stage the restore'},
  'restore/bad-snapshot': {exit: ExitCode.failed, meaning: 'a snapshot of the run has no path'},
  'restore/bad-dump': {exit: ExitCode.failed, meaning: 'pg_restore cannot read a dump'},
  'restore/files-mismatch': {exit: ExitCode.failed, meaning: 'the restored files differ from the snapshot in count or bytes; nothing was replaced'},
  'restore/failed': {exit: ExitCode.failed, meaning: 'restoring a database failed (the message says what was changed)'},
  'evidence/bad-key': {exit: ExitCode.failed, meaning: 'evidence.signing_key (or verify --public-key) is not an ed25519 key kamal-backup can read'},
  'evidence/unverified': {exit: ExitCode.failed, meaning: '`evidence verify`: the document was changed, is not signed, or was signed by another key'},
  'restore/unverified': {exit: ExitCode.failed, meaning: 'a restore finished, but tables of the dump are missing from the target, a table the dump had rows for is empty, or it fails its integrity check; the safety backup undoes it'},
  'restore/refused': {exit: ExitCode.failed, meaning: 'the accessory\'s dry run stopped a remote restore (a check failed)'},
  'accessory/no-host': {exit: ExitCode.failed, meaning: 'the backup accessory has no host in config/deploy.yml'},
  'accessory/missing': {exit: ExitCode.unreachable, meaning: 'the backup accessory\'s container does not exist on its host'},
  'accessory/not-running': {exit: ExitCode.unreachable, meaning: 'the backup accessory\'s container is stopped'},
  'accessory/wrong-image': {exit: ExitCode.unreachable, meaning: 'the container does not run the kamal-backup image'},
  'accessory/docker-missing': {exit: ExitCode.unreachable, meaning: 'docker is not installed for the SSH user on the host'},
  'accessory/docker-permission': {exit: ExitCode.unreachable, meaning: 'the SSH user may not use Docker on the host'},
  'accessory/docker-down': {exit: ExitCode.unreachable, meaning: 'Docker is not running on the host'},
  'accessory/exec-failed': {exit: ExitCode.unreachable, meaning: 'kamal-backup did not start in the container'},
  'accessory/protocol': {exit: ExitCode.failed, meaning: 'the accessory did not answer as this version expects'},
  'accessory/version-mismatch': {exit: ExitCode.versionMismatch, meaning: 'this CLI and the accessory run incompatible versions'},
  'ssh/host': {exit: ExitCode.failed, meaning: 'the accessory host is not a valid host name'},
  'ssh/port': {exit: ExitCode.failed, meaning: 'an SSH port setting is not a port'},
  'ssh/dns': {exit: ExitCode.unreachable, meaning: 'the host name does not resolve'},
  'ssh/refused': {exit: ExitCode.unreachable, meaning: 'nothing listens on the SSH port'},
  'ssh/timeout': {exit: ExitCode.unreachable, meaning: 'the SSH connection timed out'},
  'ssh/handshake': {exit: ExitCode.unreachable, meaning: 'the host closed the connection during the SSH handshake'},
  'ssh/auth': {exit: ExitCode.unreachable, meaning: 'SSH authentication failed (the keys tried are listed)'},
  'ssh/host-key-unknown': {exit: ExitCode.unreachable, meaning: 'the host is not in known_hosts and may not be added (--strict-host-key)'},
  'ssh/host-key-changed': {exit: ExitCode.unreachable, meaning: 'the host key differs from the one known_hosts records'},
  'ssh/host-key-revoked': {exit: ExitCode.unreachable, meaning: 'the host key is marked @revoked'},
  'ssh/proxy': {exit: ExitCode.unreachable, meaning: 'the SSH proxy or jump host failed'},
  'ssh/connection-lost': {exit: ExitCode.unreachable, meaning: 'the SSH connection dropped while the command ran'},
  'ssh/failed': {exit: ExitCode.unreachable, meaning: 'the SSH connection failed for another reason'},
} as const satisfies Record<string, {exit: ExitCodeValue; meaning: string}>

export type ErrorCode = keyof typeof ERROR_CODES

/** The rule of a validation finding (README "Validation rules"): the code of an error raised from a finding. */
export type FindingRule = `${'config' | 'deploy' | 'erb' | 'host' | 'kamal' | 'schema' | 'secrets' | 'yaml'}/${string}`

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code)
}

export function isFindingRule(code: string): code is FindingRule {
  return /^(config|deploy|erb|host|kamal|schema|secrets|yaml)\/[a-z0-9-]+$/.test(code)
}

/** Where in a file a problem is. Lines and columns are 1-based. */
export interface SourceLocation {
  file: string
  line?: number
  column?: number
  /** The key defined there (a variable of a secrets file), for a finding's key path. */
  key?: string
}

export interface KamalBackupErrorOptions {
  code: ErrorCode
  /** Default: the code's exit code in ERROR_CODES. */
  exitCode?: number
  suggestions?: string[]
  location?: SourceLocation
  cause?: unknown
}

export class KamalBackupError extends Error {
  readonly code: ErrorCode | FindingRule
  readonly exitCode: number
  readonly suggestions: string[]
  readonly location: SourceLocation | undefined
  /** oclif reads the exit code from here; Command.catch reads `exitCode`. Set both so --json and text agree. */
  readonly oclif: {exit: number}

  constructor(message: string, options: KamalBackupErrorOptions | (Omit<KamalBackupErrorOptions, 'code'> & {rule: FindingRule})) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'KamalBackupError'
    this.code = 'rule' in options ? options.rule : options.code
    this.exitCode = options.exitCode ?? ('rule' in options ? ExitCode.failed : ERROR_CODES[options.code].exit)
    this.suggestions = options.suggestions ?? []
    this.location = options.location
    this.oclif = {exit: this.exitCode}
  }

  /** The same error with another message (its code or rule, exit code, suggestions and location kept). */
  withMessage(message: string): KamalBackupError {
    const rest = {exitCode: this.exitCode, suggestions: this.suggestions, ...(this.location && {location: this.location}), cause: this}
    return isErrorCode(this.code) ? new KamalBackupError(message, {...rest, code: this.code}) : new KamalBackupError(message, {...rest, rule: this.code as FindingRule})
  }

  /** An error read back from a JSON document (`{"error": {...}}` printed by the accessory): an unknown code becomes
   *  command/failed. */
  static fromDocument(doc: {message?: string; code?: string; suggestions?: string[]}, exitCode: number, fallbackMessage: string): KamalBackupError {
    const rest = {exitCode, suggestions: doc.suggestions ?? []}
    const message = doc.message ?? fallbackMessage
    if (doc.code !== undefined && isErrorCode(doc.code)) return new KamalBackupError(message, {...rest, code: doc.code})
    if (doc.code !== undefined && isFindingRule(doc.code)) return new KamalBackupError(message, {...rest, rule: doc.code})
    return new KamalBackupError(message, {...rest, code: 'command/failed'})
  }

  /** `file:line:column` when known. */
  get where(): string | undefined {
    return formatLocation(this.location)
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      exitCode: this.exitCode,
      message: this.message,
      ...(this.location ? {location: this.location} : {}),
      suggestions: this.suggestions,
    }
  }
}

export function formatLocation(location: SourceLocation | undefined): string | undefined {
  if (!location) return undefined
  let text = location.file
  if (location.line !== undefined) text += `:${location.line}`
  if (location.line !== undefined && location.column !== undefined) text += `:${location.column}`
  return text
}

/** Bad configuration: from a validation finding (its rule is the code) or found while running. */
export class ConfigError extends KamalBackupError {
  constructor(message: string, options: (Omit<KamalBackupErrorOptions, 'code'> & {code?: ErrorCode}) | (Omit<KamalBackupErrorOptions, 'code'> & {rule: FindingRule})) {
    super(message, 'rule' in options ? options : {...options, code: options.code ?? 'config/invalid'})
    this.name = 'ConfigError'
  }
}

/** Bad flags or arguments, or a refused target: exit 2. */
export class UsageError extends KamalBackupError {
  constructor(message: string, options: Omit<KamalBackupErrorOptions, 'code' | 'exitCode'> & {code?: ErrorCode} = {}) {
    super(message, {...options, code: options.code ?? 'usage/invalid', exitCode: ExitCode.usage})
    this.name = 'UsageError'
  }
}

/** Ctrl-C, SIGINT or SIGTERM: exit 130. Test for it with instanceof, never by code. */
export class InterruptedError extends KamalBackupError {
  constructor(message = 'interrupted') {
    super(message, {code: 'command/interrupted'})
    this.name = 'InterruptedError'
  }
}

export function isKamalBackupError(error: unknown): error is KamalBackupError {
  return error instanceof KamalBackupError
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
