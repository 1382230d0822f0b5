// Secrets stay references until a command needs them; here they become values, registered with the redactor at
// the moment they are read so they can never be printed afterwards.
import {readFileSync} from 'node:fs'
import {ConfigError} from '../errors.js'
import {Redactor, Secret} from '../redact.js'
import type {PasswordRef, ValueRef} from './types.js'

/** Where `{secret: NAME}` values come from: the accessory's environment, or on a workstation the environment
 *  and then .kamal/secrets. */
export interface SecretSource {
  get(name: string): string | undefined
  /** For messages: "the accessory environment", "the environment or .kamal/secrets". */
  readonly description: string
  readonly hint: (name: string) => string
}

export function environmentSecrets(env: Readonly<Record<string, string | undefined>>): SecretSource {
  return {
    get: (name) => env[name],
    description: 'the environment',
    hint: (name) => `inside the accessory, list ${name} under env.secret in config/deploy.yml, define it in .kamal/secrets and run \`kamal accessory reboot\`; elsewhere, export ${name}`,
  }
}

/** `register: 'credentials'` registers only a URL's user:password part (for repository locations, which are
 *  useful in evidence once their credentials are gone). */
export function resolveValue(ref: ValueRef, what: string, source: SecretSource, redactor: Redactor, register: 'all' | 'credentials' = 'all'): string {
  if (ref.kind === 'value') {
    registerCredentials(ref.value, redactor)
    return ref.value
  }
  const value = source.get(ref.name)
  if (value === undefined || value.trim() === '') {
    throw new ConfigError(`${what} comes from secret ${ref.name}, which is ${value === undefined ? 'not set' : 'empty'} in ${source.description}`, {
      code: 'secrets/missing',
      suggestions: [source.hint(ref.name)],
    })
  }
  if (register === 'all') redactor.add(value)
  else registerCredentials(value, redactor)
  return value
}

export function registerCredentials(value: string, redactor: Redactor): void {
  const match = /^(?:[a-z0-9]+:)?[a-z][a-z0-9+.-]*:\/\/([^/\s]*)@/i.exec(value)
  if (!match) return
  const userinfo = match[1]!
  const colon = userinfo.indexOf(':')
  if (colon >= 0) {
    redactor.add(decodeURIComponent(userinfo.slice(colon + 1)))
    redactor.add(userinfo.slice(colon + 1))
  }
}

export function resolveSecret(ref: ValueRef, what: string, source: SecretSource, redactor: Redactor): Secret {
  return new Secret(resolveValue(ref, what, source, redactor))
}

/** A database password from {secret} or {file}. */
export function resolvePassword(ref: PasswordRef | undefined, what: string, source: SecretSource, redactor: Redactor): Secret | undefined {
  if (!ref) return undefined
  if (ref.kind === 'secret') return resolveSecret({kind: 'secret', name: ref.name}, what, source, redactor)
  if (ref.kind === 'file') {
    let value: string
    try {
      value = readFileSync(ref.path, 'utf8').replace(/\r?\n$/, '')
    } catch (error) {
      throw new ConfigError(`${what} is read from ${ref.path}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`, {
        code: 'config/password-file',
        suggestions: ['mount the password file into the accessory with `files:`, readable by the kamal-backup process'],
      })
    }
    redactor.add(value)
    return new Secret(value)
  }
  throw new ConfigError(`${what} cannot use a password command`, {code: 'config/password-command'})
}

/** On a workstation: the environment first, then .kamal/secrets (with -d, .kamal/secrets.<destination>), read only
 *  when a value is needed — the way Kamal itself resolves them. */
export function workstationSecrets(env: Readonly<Record<string, string | undefined>>, files: {get(name: string): {value: string} | undefined; readonly files: string[]}, secretsPath: string): SecretSource {
  return {
    get: (name) => env[name] ?? files.get(name)?.value,
    get description() {
      return `the environment or ${files.files.length > 0 ? files.files.join(', ') : `${secretsPath} (no such file)`}`
    },
    hint: (name) => `export ${name}, or define it in ${secretsPath} (a $(command) reading your password manager works)`,
  }
}
