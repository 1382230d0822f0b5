// The cross-checks of `validate`: kamal-backup.yml against the backup accessory of deploy.yml and the secrets
// files. Each test breaks one thing in a checkout that is otherwise valid, and expects exactly that finding, at
// the line that needs changing, with a suggestion.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {inspectCheckout, type CheckoutOptions} from '../../../src/config/validate.js'
import {BACKUP, DEPLOY, SECRETS, assertActionable, cleanupApps, makeCheckout, only, rules} from './support.js'

after(cleanupApps)

function inspect(overrides: Record<string, string> = {}, options: Partial<CheckoutOptions> = {}) {
  const cwd = makeCheckout(overrides)
  return inspectCheckout({cwd, env: {}, ...options})
}

/** `text` with `from` replaced by `to`, asserting `from` is there (a changed fixture fails loudly). */
function edit(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `fixture contains ${JSON.stringify(from)}`)
  return text.replace(from, to)
}

test('the reference checkout has no findings at all', () => {
  const state = inspect()
  assert.deepEqual(state.findings, [])
  assert.equal(state.model!.accessory.name, 'backup')
  assert.deepEqual(state.files, ['config/kamal-backup.yml', 'config/deploy.yml', '.kamal/secrets'])
})

describe('1. the accessory uploads kamal-backup.yml where the image reads it', () => {
  test('not uploaded: error at the accessory, suggesting the files: entry', () => {
    const f = only(inspect({'config/deploy.yml': edit(DEPLOY, '    files:\n      - config/kamal-backup.yml:/app/config/kamal-backup.yml:ro\n', '')}).findings, 'kamal/config-not-mounted')
    assertActionable(f, {file: 'config/deploy.yml', suggestion: /config\/kamal-backup.yml:\/app\/config\/kamal-backup.yml:ro/})
    assert.equal(f.severity, 'error')
  })

  test('uploaded to another path: error, unless KAMAL_BACKUP_CONFIG points there', () => {
    const moved = edit(DEPLOY, ':/app/config/kamal-backup.yml:ro', ':/etc/kamal-backup.yml:ro')
    const f = only(inspect({'config/deploy.yml': moved}).findings, 'kamal/config-wrong-path')
    assert.match(f.message, /mounted at \/etc\/kamal-backup.yml, but the image reads \/app\/config\/kamal-backup.yml/)
    const told = edit(moved, '    env:\n', '    env:\n      clear:\n        KAMAL_BACKUP_CONFIG: /etc/kamal-backup.yml\n')
    assert.deepEqual(rules(inspect({'config/deploy.yml': told}).findings), [])
  })
})

describe('2. everything backed up lies on a mount of the accessory', () => {
  test('a path outside every volume: error at that path in kamal-backup.yml', () => {
    const f = only(inspect({'config/kamal-backup.yml': edit(BACKUP, 'paths:\n  - /rails/storage\n', 'paths:\n  - /rails/storage\n  - /data/uploads\n')}).findings, 'kamal/path-not-mounted')
    assertActionable(f, {file: 'config/kamal-backup.yml', line: 8, suggestion: /shop_uploads:\/data\/uploads/})
    assert.match(f.message, /container's own empty directory/)
  })

  test('the {path, exclude} form is located at its path: key', () => {
    const f = only(inspect({'config/kamal-backup.yml': edit(BACKUP, 'paths:\n  - /rails/storage\n', 'paths:\n  - /rails/storage\n  - path: /srv/other\n    exclude: ["*.tmp"]\n')}).findings, 'kamal/path-not-mounted')
    assert.equal(f.line, 8)
    assert.equal(f.path, 'paths[1].path')
  })

  test('a SQLite database outside every volume: error at its path', () => {
    const f = only(inspect({'config/kamal-backup.yml': edit(BACKUP, 'path: /rails/storage/production.sqlite3', 'path: /rails/db/production.sqlite3')}).findings, 'kamal/path-not-mounted')
    assertActionable(f, {line: 5, suggestion: /shop_db:\/rails\/db/})
  })

  test('a path under a directories: entry counts as mounted', () => {
    const deploy = edit(DEPLOY, '    volumes:\n', '    directories:\n      - data:/data\n    volumes:\n')
    assert.deepEqual(rules(inspect({'config/deploy.yml': deploy, 'config/kamal-backup.yml': edit(BACKUP, 'paths:\n  - /rails/storage\n', 'paths:\n  - /rails/storage\n  - /data/uploads\n')}).findings), [])
  })

  test('a SQLite database on a read-only mount: warning', () => {
    const f = only(inspect({'config/deploy.yml': edit(DEPLOY, '"shop_storage:/rails/storage"\n      - "shop_backup_state', '"shop_storage:/rails/storage:ro"\n      - "shop_backup_state')}).findings, 'kamal/read-only-mount')
    assert.equal(f.severity, 'warning')
    assert.match(f.suggestion!, /remove ":ro"/)
  })

  test('the state directory off a volume: warning (evidence would vanish on reboot)', () => {
    const f = only(inspect({'config/deploy.yml': edit(DEPLOY, '      - "shop_backup_state:/var/lib/kamal-backup"\n', '')}).findings, 'kamal/state-not-mounted')
    assert.equal(f.severity, 'warning')
    assert.match(f.suggestion!, /shop_backup_state:\/var\/lib\/kamal-backup/)
  })

  test('state.path is checked where it is set', () => {
    const f = only(inspect({'config/kamal-backup.yml': BACKUP + 'state:\n  path: /srv/state\n'}).findings, 'kamal/state-not-mounted')
    assert.equal(f.file, 'config/kamal-backup.yml')
    assert.equal(f.line, 17)
  })
})

describe('3. every {secret: NAME} reaches the accessory and has a value', () => {
  test('not in env.secret: error with a guess', () => {
    const f = only(inspect({'config/deploy.yml': edit(DEPLOY, '        - RESTIC_PASSWORD\n', '        - RESTIC_PASWORD\n')}).findings, 'kamal/secret-not-declared')
    assertActionable(f, {file: 'config/kamal-backup.yml', line: 10, path: 'restic.password.secret', suggestion: /did you mean RESTIC_PASWORD\?/})
  })

  test('declared but not in .kamal/secrets: error naming the file to add it to', () => {
    const f = only(inspect({'.kamal/secrets': 'RESTIC_REPOSITORY=s3:https://s3.example.com/shop\n'}).findings, 'kamal/secret-missing')
    assertActionable(f, {suggestion: /RESTIC_PASSWORD=\.\.\. to \.kamal\/secrets/})
  })

  test('an empty value: error at the line of the secrets file', () => {
    const f = only(inspect({'.kamal/secrets': SECRETS.replace('RESTIC_PASSWORD=correct-horse', 'RESTIC_PASSWORD=')}).findings, 'kamal/secret-empty')
    assert.equal(f.file, '.kamal/secrets')
    assert.equal(f.line, 2)
  })

  test('NAME:ALIAS: the value is looked up under the alias', () => {
    const deploy = edit(DEPLOY, '        - RESTIC_PASSWORD\n', '        - RESTIC_PASSWORD:SHOP_RESTIC_PASSWORD\n')
    const secrets = SECRETS.replace('RESTIC_PASSWORD=', 'SHOP_RESTIC_PASSWORD=')
    assert.deepEqual(rules(inspect({'config/deploy.yml': deploy, '.kamal/secrets': secrets}).findings), [])
    assert.deepEqual(rules(inspect({'config/deploy.yml': deploy}).findings), ['kamal/secret-missing'])
  })

  test('a clear env variable satisfies a {secret:} reference', () => {
    const deploy = edit(DEPLOY, '    env:\n      secret:\n        - RESTIC_REPOSITORY\n', '    env:\n      clear:\n        RESTIC_REPOSITORY: /srv/restic\n      secret:\n')
    assert.deepEqual(rules(inspect({'config/deploy.yml': deploy, '.kamal/secrets': 'RESTIC_PASSWORD=x\n'}).findings), [])
  })

  test('secrets-common, then the destination file; --skip-secrets checks declarations only', () => {
    const overrides = {'config/deploy.production.yml': 'servers:\n  web:\n    - 10.0.0.2\n', '.kamal/secrets': '', '.kamal/secrets-common': 'RESTIC_REPOSITORY=s3:https://s3.example.com/shop\n'}
    const missing = only(inspect(overrides, {destination: 'production'}).findings, 'kamal/secret-missing')
    assert.match(missing.suggestion!, /\.kamal\/secrets\.production/)
    assert.deepEqual(rules(inspect({...overrides, '.kamal/secrets.production': 'RESTIC_PASSWORD=p\n'}, {destination: 'production'}).findings), [])
    assert.deepEqual(rules(inspect(overrides, {destination: 'production', skipSecrets: true}).findings), [])
  })

  test('a failing $(command): a located error that never shows the other values', () => {
    const state = inspect({'.kamal/secrets': 'RESTIC_REPOSITORY=s3:https://s3.example.com/shop\nRESTIC_PASSWORD=$(exit 3)\n'})
    const f = only(state.findings, 'secrets/command-failed')
    assert.equal(f.file, '.kamal/secrets')
    assert.equal(f.line, 2)
    assert.equal(f.path, 'RESTIC_PASSWORD')
    assert.match(f.suggestion!, /run kamal-backup again\. Run it in a shell/, 'suggestions read as sentences')
    assert.doesNotMatch(JSON.stringify(state.findings), /s3\.example\.com/)
  })
})

describe('5. a database host that looks like an accessory container names one', () => {
  const withDb = (url: string) => edit(BACKUP, 'paths:', `  - {name: pg, adapter: postgres, url: "${url}", password: {secret: RESTIC_PASSWORD}}\npaths:`)
  const deploy = DEPLOY + '  db:\n    image: postgres:16\n    host: 10.0.0.1\n'

  test('shop-db exists: fine', () => {
    assert.deepEqual(rules(inspect({'config/deploy.yml': deploy, 'config/kamal-backup.yml': withDb('postgres://app@shop-db:5432/shop')}).findings), [])
  })

  test('shop-dbb does not: error with the accessory it probably means', () => {
    const f = only(inspect({'config/deploy.yml': deploy, 'config/kamal-backup.yml': withDb('postgres://app@shop-dbb:5432/shop')}).findings, 'kamal/database-host-unknown')
    assertActionable(f, {file: 'config/kamal-backup.yml', line: 6, suggestion: /did you mean "shop-db" \(accessory "db"\)\?/})
  })

  test('an external host is not second-guessed', () => {
    assert.deepEqual(rules(inspect({'config/deploy.yml': deploy, 'config/kamal-backup.yml': withDb('postgres://app@db.internal.example.com/shop')}).findings), [])
  })
})

test('outside an app checkout only kamal-backup.yml is checked (the accessory side)', () => {
  const cwd = makeCheckout()
  const state = inspectCheckout({cwd, env: {}, configFile: 'config/missing.yml'})
  assert.deepEqual(rules(state.findings), ['deploy/missing-file'])
})
