// A database as the tools need it: URL split into parts (so nothing secret lands on argv), password as a Secret.
import {ConfigError} from '../errors.js'
import {Secret} from '../redact.js'
import type {Adapter, DatabaseConfig} from '../config/types.js'
import {resolvePassword, resolveValue, type SecretSource} from '../config/resolve.js'
import type {Redactor} from '../redact.js'

export interface ResolvedDatabase {
  name: string
  adapter: Adapter
  host?: string
  port?: number
  user?: string
  /** The database name (postgres/mysql). */
  database?: string
  params: Record<string, string>
  password?: Secret
  /** A file database (SQLite): its file. */
  path?: string
}

export function resolveDatabase(db: Pick<DatabaseConfig, 'name' | 'adapter' | 'url' | 'password' | 'path'>, source: SecretSource, redactor: Redactor): ResolvedDatabase {
  // A file database (SQLite) is named by its path, a server by its URL (the config schema says which a kind takes).
  if (db.path !== undefined) return {name: db.name, adapter: db.adapter, params: {}, path: resolveValue(db.path, `databases.${db.name}.path`, source, redactor)}
  const text = resolveValue(db.url!, `databases.${db.name}.url`, source, redactor)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ConfigError(`databases.${db.name}.url is not a valid URL`, {code: 'config/database-url'})
  }
  const urlPassword = url.password ? decodeURIComponent(url.password) : undefined
  if (urlPassword) redactor.add(urlPassword)
  const password = resolvePassword(db.password, `databases.${db.name}.password`, source, redactor)
  return {
    name: db.name,
    adapter: db.adapter,
    ...(url.hostname && {host: url.hostname.replace(/^\[|\]$/g, '')}),
    ...(url.port && {port: Number(url.port)}),
    ...(url.username && {user: decodeURIComponent(url.username)}),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')),
    params: Object.fromEntries(url.searchParams.entries()),
    ...(password ? {password} : urlPassword ? {password: new Secret(urlPassword)} : {}),
  }
}

/** How a database is named in logs and records: never with credentials. */
export function describeDatabase(db: ResolvedDatabase): string {
  if (db.path !== undefined) return db.path
  return `${db.host ?? 'localhost'}${db.port ? `:${db.port}` : ''}/${db.database}`
}

/** `<scheme>://user:password@host:port/database?params`: a server database as Rails takes it (a drill's check
 *  gets it). */
export function serverUrl(scheme: string, db: ResolvedDatabase): string {
  const auth = db.user ? `${encodeURIComponent(db.user)}${db.password ? ':' + encodeURIComponent(db.password.reveal()) : ''}@` : ''
  const query = new URLSearchParams(db.params).toString()
  return `${scheme}://${auth}${db.host ?? 'localhost'}${db.port ? ':' + db.port : ''}/${encodeURIComponent(db.database ?? '')}${query ? '?' + query : ''}`
}
