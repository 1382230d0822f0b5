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

/** Where in a file a problem is. Lines and columns are 1-based. */
export interface SourceLocation {
  file: string
  line?: number
  column?: number
  /** The key defined there (a variable of a secrets file), for a finding's key path. */
  key?: string
}

export interface KamalBackupErrorOptions {
  code: string
  exitCode?: number
  suggestions?: string[]
  location?: SourceLocation
  cause?: unknown
}

export class KamalBackupError extends Error {
  readonly code: string
  readonly exitCode: number
  readonly suggestions: string[]
  readonly location: SourceLocation | undefined
  /** oclif reads the exit code from here; Command.catch reads `exitCode`. Set both so --json and text agree. */
  readonly oclif: {exit: number}

  constructor(message: string, options: KamalBackupErrorOptions) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'KamalBackupError'
    this.code = options.code
    this.exitCode = options.exitCode ?? ExitCode.failed
    this.suggestions = options.suggestions ?? []
    this.location = options.location
    this.oclif = {exit: this.exitCode}
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

export class ConfigError extends KamalBackupError {
  constructor(message: string, options: Omit<KamalBackupErrorOptions, 'code'> & {code?: string}) {
    super(message, {code: 'config', ...options})
    this.name = 'ConfigError'
  }
}

export class UsageError extends KamalBackupError {
  constructor(message: string, options: Omit<KamalBackupErrorOptions, 'code' | 'exitCode'> & {code?: string} = {}) {
    super(message, {code: 'usage', ...options, exitCode: ExitCode.usage})
    this.name = 'UsageError'
  }
}

export class InterruptedError extends KamalBackupError {
  constructor(message = 'interrupted') {
    super(message, {code: 'interrupted', exitCode: ExitCode.interrupted})
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
