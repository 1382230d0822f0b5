// `.kamal/secrets*` the way Kamal 2.x reads them (kamal-config.md 7.1): `<path>-common`, then `<path>` without a
// destination or `<path>.<destination>` with one (never both). Later files win key by key. Each file is parsed on
// its own, so `${X}` in one file cannot see X from another. Nothing is read or run until a secret is asked for.

import {readFileSync, statSync} from 'node:fs'
import {resolve} from 'node:path'

import {ConfigError} from '../errors.js'
import {parseDotenv} from './dotenv.js'
import type {CommandRunner} from './dotenv.js'

export type {CommandRunner} from './dotenv.js'

export const DEFAULT_SECRETS_PATH = '.kamal/secrets'

export interface SecretValue {
  value: string
  /** The file it came from, as named in `files`. */
  file: string
  line: number
  /** Its `$(command)` (or that of a $VAR it uses) failed: the value is empty, as in Kamal. */
  failure?: ConfigError
  /** The `$VAR`s it used that were not set (in the file above it, or in the environment). */
  unset?: string[]
}

export interface SecretsSource {
  /** The files that exist and are read, in order (paths as given: relative to cwd unless secretsPath is absolute). */
  readonly files: string[]
  /** Lazily parses the files on first call. Throws the recorded error for a secret whose command failed. */
  get(name: string): SecretValue | undefined
  /** Like `get`, but returns a failed secret (with `failure`) instead of throwing. */
  lookup(name: string): SecretValue | undefined
  /** Every secret whose command failed, with its error. */
  failures(): {name: string; value: SecretValue & {failure: ConfigError}}[]
  /** The values read so far, for redaction; never reads or runs anything itself. */
  loadedValues(): string[]
  has(name: string): boolean
  names(): string[]
  /** Warnings from parsing (e.g. an unsupported `${X:-default}`). Parses the files like `get`. */
  warnings(): {message: string; file: string; line: number}[]
}

export interface KamalSecretsOptions {
  cwd: string
  /** Kamal's `secrets_path`, default `.kamal/secrets`, relative to cwd. */
  secretsPath?: string
  destination?: string
  env: Readonly<Record<string, string | undefined>>
  /** Runs `$(…)` commands; defaults to /bin/sh -c in cwd. */
  run?: CommandRunner
}

/** The candidate files in Kamal's order, whether or not they exist. */
export function secretsFiles(secretsPath: string, destination?: string): string[] {
  return [`${secretsPath}-common`, destination ? `${secretsPath}.${destination}` : secretsPath]
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** The environment Kamal evaluates ERB and secrets in: KAMAL_DESTINATION set with -d, removed without (Kamal sets
 *  it process-wide before it reads anything). */
export function kamalEnv(env: Readonly<Record<string, string | undefined>>, destination?: string): Record<string, string | undefined> {
  const out = {...env}
  if (destination) out.KAMAL_DESTINATION = destination
  else delete out.KAMAL_DESTINATION
  return out
}

export function kamalSecrets(options: KamalSecretsOptions): SecretsSource {
  const env = kamalEnv(options.env, options.destination)
  const candidates = secretsFiles(options.secretsPath ?? DEFAULT_SECRETS_PATH, options.destination)
  let files: string[] | undefined
  let loaded: {values: Map<string, SecretValue>; warnings: {message: string; file: string; line: number}[]} | undefined
  let failure: unknown

  const existing = (): string[] => (files ??= candidates.filter((file) => isFile(resolve(options.cwd, file))))

  const load = (): NonNullable<typeof loaded> => {
    if (failure !== undefined) throw failure
    if (loaded) return loaded
    try {
      const values = new Map<string, SecretValue>()
      const warnings: {message: string; file: string; line: number}[] = []
      for (const file of existing()) {
        let text: string
        try {
          text = readFileSync(resolve(options.cwd, file), 'utf8')
        } catch (error) {
          throw new ConfigError(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
            code: 'secrets/unreadable',
            location: {file},
            suggestions: [`Check the permissions of ${file}`],
          })
        }
        const parsed = parseDotenv(text, {file, env, run: options.run, cwd: options.cwd})
        for (const entry of parsed.entries) {
          // A later file wins; Map.set keeps the first file's order for keys defined in both.
          values.set(entry.name, {value: entry.value, file, line: entry.line, ...(entry.failure && {failure: entry.failure}), ...(entry.unset && {unset: entry.unset})})
        }
        for (const warning of parsed.warnings) warnings.push({...warning, file})
      }
      loaded = {values, warnings}
      return loaded
    } catch (error) {
      failure = error
      throw error
    }
  }

  return {
    get files() {
      return [...existing()]
    },
    get: (name) => {
      const found = load().values.get(name)
      if (found?.failure) throw found.failure
      return found
    },
    lookup: (name) => load().values.get(name),
    loadedValues: () => (loaded ? [...loaded.values.values()].map((v) => v.value).filter((v) => v !== '') : []),
    failures: () =>
      [...load().values]
        .filter((entry): entry is [string, SecretValue & {failure: ConfigError}] => entry[1].failure !== undefined)
        .map(([name, value]) => ({name, value})),
    has: (name) => load().values.has(name),
    names: () => [...load().values.keys()],
    warnings: () => [...load().warnings],
  }
}
