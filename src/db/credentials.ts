// A dump tool's password travels in a file only it reads (0600, in a directory of its own), named by a variable or
// option that is not secret. With restic >= 0.17 the dump runs as restic's child with restic's environment: a
// password in PGPASSWORD or MYSQL_PWD would be restic's to read, and /proc/<pid>/environ shows it.
import {chmodSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Secret} from '../redact.js'

/** What a dump tool inherits of this process's environment (its own connection settings come with its spec). */
export const DUMP_INHERITS = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const

export interface CredentialFile {
  path: string
  remove(): void
}

/** Writes `content` to a new 0600 file in a new 0700 directory under `dir`. */
export function credentialFile(dir: string, name: string, content: string): CredentialFile {
  mkdirSync(dir, {recursive: true})
  const own = join(dir, `credentials-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`)
  mkdirSync(own, {mode: 0o700})
  chmodSync(own, 0o700)
  const path = join(own, name)
  writeFileSync(path, content, {mode: 0o600, flag: 'wx'})
  return {path, remove: () => rmSync(own, {recursive: true, force: true})}
}

/** A libpq password file matching every connection: `*:*:*:*:password`, with ':' and '\' escaped. */
export function pgpassContent(password: Secret): string {
  return `*:*:*:*:${password.reveal().replace(/[\\:]/g, (c) => `\\${c}`)}\n`
}

/** A MySQL/MariaDB option file with the password only (read with --defaults-file: no other option file is read). */
export function mysqlOptionContent(password: Secret): string {
  const escaped = password.reveal().replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
  return `[client]\npassword="${escaped}"\n`
}
