// Redaction by construction: every line the CLI prints, records or forwards goes through a Redactor that knows
// the secret values resolved in this process, plus patterns that catch credentials nobody declared.

export const REDACTED = '[REDACTED]'

/** A value that must never be printed. It shows as [REDACTED] in strings, JSON and util.inspect. */
export class Secret {
  readonly #value: string
  constructor(value: string) {
    this.#value = value
  }

  reveal(): string {
    return this.#value
  }

  toString(): string {
    return REDACTED
  }

  toJSON(): string {
    return REDACTED
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED
  }
}

/** Environment variable names whose values are treated as secrets wherever they appear. */
export function isSecretName(name: string): boolean {
  const upper = name.toUpperCase()
  if (upper === 'PWD' || upper === 'OLDPWD' || upper === 'SSH_AUTH_SOCK') return false
  if (/(PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTHORIZATION|PRIVATE)/.test(upper)) return true
  if (/(^|_)PWD($|_)/.test(upper)) return true
  if (/(^|_)(DATABASE|DB|REDIS|AMQP|MONGO|MYSQL|POSTGRES|PG)_?URL$/.test(upper)) return true
  return upper === 'RESTIC_REPOSITORY' || upper === 'DATABASE_URL'
}

/** Variables that hold a repository location (RESTIC_REPOSITORY): the location is shown (evidence, run
 *  records), only the credentials inside it are secret. */
export function isRepositoryName(name: string): boolean {
  return /(^|_)(REPOSITORY|REPO)$/i.test(name)
}

/** The secret parts of a location: the password of a URL's userinfo, and secret query parameters. */
export function locationCredentials(value: string): string[] {
  const out: string[] = []
  const match = /^(?:[a-z0-9]+:)?[a-z][a-z0-9+.-]*:\/\/([^/\s]*)@/i.exec(value.trim())
  if (match) {
    const userinfo = match[1]!
    const colon = userinfo.indexOf(':')
    if (colon >= 0) {
      const password = userinfo.slice(colon + 1)
      out.push(password)
      try {
        out.push(decodeURIComponent(password))
      } catch {}
    }
  }
  for (const m of value.matchAll(new RegExp(QUERY_SECRETS.source, 'gi'))) out.push(m[0].slice(m[1]!.length))
  return out
}

// user:password@ or :password@ inside a URL: everything between :// and the last @ before the host.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@]*(?:@[^\s/@]*)*)@/gi
const QUERY_SECRETS = /([?&](?:password|passwd|pass|token|secret|key|api_key|apikey|access_key_id|secret_access_key|sig|signature)=)[^&\s#"']+/gi
// PGPASSWORD=..., MYSQL_PWD=... in free text (error messages echoing an environment).
const ASSIGNED_SECRETS = /\b([A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|_PWD|ACCESS_KEY)[A-Z0-9_]*)=("[^"]*"|'[^']*'|\S+)/g

export class Redactor {
  #values = new Set<string>()
  #sorted: string[] | undefined

  /** Registers a secret value. Very short values would redact random text, so they are ignored (and rejected by
   *  config validation where we control the value). */
  add(value: Secret | string | undefined | null): this {
    const text = value instanceof Secret ? value.reveal() : value
    if (text === undefined || text === null) return this
    const trimmed = text.trim()
    if (trimmed.length < 4) return this
    this.#values.add(trimmed)
    // The URL-encoded form shows up in connection strings.
    const encoded = encodeURIComponent(trimmed)
    if (encoded !== trimmed) this.#values.add(encoded)
    this.#sorted = undefined
    return this
  }

  /** Registers every secret-looking variable of an environment; of a repository location only its credentials. */
  addEnvironment(env: Record<string, string | undefined>): this {
    for (const [name, value] of Object.entries(env)) {
      if (!value) continue
      if (isRepositoryName(name)) for (const c of locationCredentials(value)) this.add(c)
      else if (isSecretName(name)) this.add(value)
    }
    return this
  }

  /** A value used as the repository location: shown with its credentials redacted, even if it was registered
   *  whole before (it came from a variable with a secret-looking name). */
  addRepository(value: string): this {
    const trimmed = value.trim()
    if (this.#values.delete(trimmed) || this.#values.delete(encodeURIComponent(trimmed))) this.#sorted = undefined
    this.#values.delete(encodeURIComponent(trimmed))
    for (const c of locationCredentials(value)) this.add(c)
    return this
  }

  #longest(): number {
    let max = 0
    for (const value of this.#values) max = Math.max(max, value.length)
    return max
  }

  get size(): number {
    return this.#values.size
  }

  redact(text: string): string {
    if (text.length === 0) return text
    let out = text
    if (this.#values.size > 0) {
      // Longest first, so a secret containing another secret is removed whole.
      this.#sorted ??= [...this.#values].sort((a, b) => b.length - a.length)
      for (const value of this.#sorted) if (out.includes(value)) out = out.split(value).join(REDACTED)
    }
    // The patterns cannot match without these characters; checking first keeps streamed output fast (the URL
    // pattern backtracks quadratically over long runs of letters).
    if (out.includes('://')) {
      out = out.replace(URL_CREDENTIALS, (_m, scheme: string, creds: string) =>
        creds === REDACTED ? `${scheme}${REDACTED}@` : `${scheme}${REDACTED}@`,
      )
    }
    if (out.includes('=')) {
      out = out.replace(QUERY_SECRETS, `$1${REDACTED}`)
      out = out.replace(ASSIGNED_SECRETS, `$1=${REDACTED}`)
    }
    return out
  }

  /** Redacts every string inside a JSON-like value (a deep copy). */
  redactValue<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T
    if (value instanceof Secret) return REDACTED as T
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v)) as T
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) out[k] = this.redactValue(v)
      return out as T
    }
    return value
  }

  /** A line splitter that redacts complete lines, so a secret split across two chunks is still caught. */
  lineStream(write: (line: string) => void): {push(chunk: string | Buffer): void; flush(): void} {
    let pending = ''
    return {
      push: (chunk) => {
        pending += chunk.toString()
        let index: number
        while ((index = pending.indexOf('\n')) >= 0) {
          write(this.redact(pending.slice(0, index + 1)))
          pending = pending.slice(index + 1)
        }
        // A very long line without a newline (binary output): emit all but a tail that could still be the start
        // of a secret, so memory stays bounded.
        if (pending.length > 65_536) {
          const redacted = this.redact(pending)
          const keep = Math.min(redacted.length, this.#longest() + 256)
          write(redacted.slice(0, redacted.length - keep))
          pending = redacted.slice(redacted.length - keep)
        }
      },
      flush: () => {
        if (pending.length > 0) write(this.redact(pending))
        pending = ''
      },
    }
  }
}
