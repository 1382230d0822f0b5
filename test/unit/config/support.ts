// Helpers for the config, kamal and commands tests: throw-away app checkouts on disk, and a known-good sample to
// start from.
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import type {Finding} from '../../../src/parse/findings.js'

const roots: string[] = []

/** Writes `files` (path → text) into a fresh directory and returns it. Removed by `cleanupApps()`. */
export function makeApp(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kb-config-'))
  roots.push(dir)
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), {recursive: true})
    writeFileSync(join(dir, name), text)
  }
  return dir
}

export function cleanupApps(): void {
  for (const dir of roots.splice(0)) rmSync(dir, {recursive: true, force: true})
}

/** A Rails 8-shaped deploy.yml with a correct backup accessory (SQLite + Active Storage on one volume). */
export const DEPLOY = `service: shop
image: acme/shop
servers:
  web:
    - 10.0.0.1
registry:
  username: acme
  password:
    - KAMAL_REGISTRY_PASSWORD
volumes:
  - "shop_storage:/rails/storage"
builder:
  arch: amd64
accessories:
  backup:
    image: ghcr.io/kamal-backup/kamal-backup:0.1
    host: 10.0.0.1
    files:
      - config/kamal-backup.yml:/app/config/kamal-backup.yml:ro
    volumes:
      - "shop_storage:/rails/storage"
      - "shop_backup_state:/var/lib/kamal-backup"
    env:
      secret:
        - RESTIC_REPOSITORY
        - RESTIC_PASSWORD
`

/** A kamal-backup.yml that passes every check against DEPLOY. */
export const BACKUP = `app: shop
databases:
  - name: primary
    adapter: sqlite
    path: /rails/storage/production.sqlite3
paths:
  - /rails/storage
restic:
  repository: {secret: RESTIC_REPOSITORY}
  password: {secret: RESTIC_PASSWORD}
  check_after_backup: true
  retention:
    keep_daily: 7
backup:
  schedule: 1d
`

export const SECRETS = `RESTIC_REPOSITORY=s3:https://s3.example.com/shop
RESTIC_PASSWORD=correct-horse
`

/** A complete, valid checkout; `overrides` replaces or adds files. */
export function makeCheckout(overrides: Record<string, string> = {}): string {
  return makeApp({'config/deploy.yml': DEPLOY, 'config/kamal-backup.yml': BACKUP, '.kamal/secrets': SECRETS, ...overrides})
}

export function rules(findings: readonly Finding[]): string[] {
  return findings.map((f) => f.rule)
}

/** The one finding with this rule (fails when there are none or several). */
export function only(findings: readonly Finding[], rule: string): Finding {
  const matching = findings.filter((f) => f.rule === rule)
  assert.equal(matching.length, 1, `expected exactly one ${rule}, got: ${JSON.stringify(findings, null, 2)}`)
  return matching[0]!
}

/** Asserts the finding is complete: every field a user needs to act on it. */
export function assertActionable(f: Finding, expect: {file?: string; line?: number; path?: string; suggestion?: RegExp} = {}): void {
  assert.ok(f.file, 'finding has a file')
  assert.ok(f.line >= 1 && f.column >= 1, `finding has a line and column: ${JSON.stringify(f)}`)
  assert.ok(f.message.length > 0)
  assert.ok(f.suggestion && f.suggestion.length > 0, `finding ${f.rule} has a suggestion: ${JSON.stringify(f)}`)
  if (expect.file !== undefined) assert.equal(f.file, expect.file)
  if (expect.line !== undefined) assert.equal(f.line, expect.line, `line of ${f.rule}: ${JSON.stringify(f)}`)
  if (expect.path !== undefined) assert.equal(f.path, expect.path)
  if (expect.suggestion) assert.match(f.suggestion!, expect.suggestion)
}
