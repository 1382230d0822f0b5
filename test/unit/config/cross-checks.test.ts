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
    const deploy = edit(DEPLOY, '    volumes:\n', '    directories:\n      - /srv/data:/data\n    volumes:\n')
    assert.deepEqual(rules(inspect({'config/deploy.yml': deploy, 'config/kamal-backup.yml': edit(BACKUP, 'paths:\n  - /rails/storage\n', 'paths:\n  - /rails/storage\n  - /data/uploads\n')}).findings), [])
  })

  test('a mount that cannot hold the app\'s data: a volume name the app does not use, an anonymous volume, a relative directory', () => {
    // Docker creates a new, empty volume for an unknown name: the silent-empty-backup case.
    const typo = only(inspect({'config/deploy.yml': edit(DEPLOY, '      - "shop_storage:/rails/storage"\n      - "shop_backup_state', '      - "shpo_storage:/rails/storage"\n      - "shop_backup_state')}).findings, 'kamal/volume-mismatch')
    assertActionable(typo, {file: 'config/deploy.yml', line: 21, suggestion: /"shop_storage:\/rails\/storage" \(did you mean "shop_storage"\?\)/})
    assert.match(typo.message, /mounts "shpo_storage" at \/rails\/storage, but the app mounts "shop_storage" there/)
    const anonymous = only(inspect({'config/deploy.yml': edit(DEPLOY, '      - "shop_storage:/rails/storage"\n      - "shop_backup_state', '      - "/rails/storage"\n      - "shop_backup_state')}).findings, 'kamal/volume-mismatch')
    assert.match(anonymous.message, /anonymous volume/)
    const relative = edit(DEPLOY, '      - "shop_storage:/rails/storage"\n      - "shop_backup_state', '      - "shop_backup_state').replace('    volumes:\n', '    directories:\n      - storage:/rails/storage\n    volumes:\n')
    const dir = only(inspect({'config/deploy.yml': relative}).findings, 'kamal/volume-mismatch')
    assert.match(dir.message, /creates fresh under the accessory's own folder/)
    assert.match(dir.suggestion!, /shop_storage:\/rails\/storage/)
  })

  test('a SQLite database or a path on a read-only mount: warnings (restores cannot write it)', () => {
    const findings = inspect({'config/deploy.yml': edit(DEPLOY, '"shop_storage:/rails/storage"\n      - "shop_backup_state', '"shop_storage:/rails/storage:ro"\n      - "shop_backup_state')}).findings
    assert.deepEqual(findings.map((f) => [f.rule, f.severity, f.path]), [
      ['kamal/read-only-mount', 'warning', 'paths[0]'],
      ['kamal/read-only-mount', 'warning', 'databases[0].path'],
    ])
    for (const f of findings) assert.match(f.suggestion!, /remove ":ro" from the volume mounted at \/rails\/storage/)
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

describe('drill.check_env names what the accessory is given', () => {
  test('a name the accessory is not given: warning at that entry, with a guess; one in env.clear or env.secret: nothing', () => {
    const backup = BACKUP + 'drill:\n  check_env: [RESTIC_REPOSITORY, RAILS_ENVV]\n'
    const f = only(inspect({'config/kamal-backup.yml': backup, 'config/deploy.yml': edit(DEPLOY, '    env:\n', '    env:\n      clear:\n        RAILS_ENV: production\n')}).findings, 'kamal/check-env-not-set')
    assert.equal(f.severity, 'warning')
    assertActionable(f, {file: 'config/kamal-backup.yml', line: backup.split('\n').length - 1, path: 'drill.check_env[1]', suggestion: /did you mean RAILS_ENV\?/})
    assert.match(f.message, /drill\.check_env names RAILS_ENVV, but accessory "backup" is not given RAILS_ENVV/)
    const fixed = inspect({'config/kamal-backup.yml': BACKUP + 'drill:\n  check_env: [RESTIC_REPOSITORY, RAILS_ENV]\n', 'config/deploy.yml': edit(DEPLOY, '    env:\n', '    env:\n      clear:\n        RAILS_ENV: production\n')})
    assert.deepEqual(rules(fixed.findings), [])
  })
})

describe('3. every {secret: NAME} reaches the accessory and has a value', () => {
  test('not in env.secret: error with a guess', () => {
    const f = only(inspect({'config/deploy.yml': edit(DEPLOY, '        - RESTIC_PASSWORD\n', '        - RESTIC_PASWORD\n')}).findings, 'kamal/secret-not-declared')
    assertActionable(f, {file: 'config/kamal-backup.yml', line: 10, path: 'restic.password.secret', suggestion: /did you mean RESTIC_PASWORD\?/})
  })

  test('a notify target\'s URL and signing secret are checked like the others, at their lines', () => {
    const lines = BACKUP.trimEnd().split('\n').length
    const backup = `${BACKUP.trimEnd()}\nnotify:\n  - type: webhook\n    url: {secret: BACKUP_HOOK_URL}\n    signing_secret: {secret: BACKUP_HOOK_SIGNING}\n`
    const found = inspect({'config/kamal-backup.yml': backup}).findings.filter((f) => f.rule === 'kamal/secret-not-declared')
    assert.deepEqual(found.map((f) => [f.path, f.line]), [['notify[0].url.secret', lines + 3], ['notify[0].signing_secret.secret', lines + 4]])
    for (const f of found) assertActionable(f, {suggestion: /add BACKUP_HOOK_\w+ to accessories\.backup\.env\.secret/})
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

  test('empty because its $VAR is not set: named; in CI (CI set) the fix is --skip-secrets or giving the job the variable', () => {
    const secrets = SECRETS.replace('RESTIC_PASSWORD=correct-horse', 'RESTIC_PASSWORD=$RESTIC_PASSWORD')
    const here = only(inspect({'.kamal/secrets': secrets}).findings, 'kamal/secret-empty')
    assert.match(here.message, /it comes from \$RESTIC_PASSWORD, which is not set in this environment/)
    assert.match(here.suggestion!, /^set RESTIC_PASSWORD before running kamal-backup/)
    assert.doesNotMatch(here.suggestion!, /skip-secrets/)
    const ci = only(inspect({'.kamal/secrets': secrets}, {env: {CI: 'true'}}).findings, 'kamal/secret-empty')
    assertActionable(ci, {file: '.kamal/secrets', line: 2, suggestion: /^in CI, run `kamal-backup validate --skip-secrets` .*or give the job RESTIC_PASSWORD/})
    // Set but empty is another matter: the value itself is empty, whatever CI says.
    const setEmpty = only(inspect({'.kamal/secrets': secrets}, {env: {CI: 'true', RESTIC_PASSWORD: ''}}).findings, 'kamal/secret-empty')
    assert.match(setEmpty.suggestion!, /^give RESTIC_PASSWORD a value/)
    // Given to the job: no finding; with --skip-secrets: none either.
    assert.deepEqual(rules(inspect({'.kamal/secrets': secrets}, {env: {CI: 'true', RESTIC_PASSWORD: 'from-ci'}}).findings), [])
    assert.deepEqual(rules(inspect({'.kamal/secrets': secrets}, {env: {CI: 'true'}, skipSecrets: true}).findings), [])
  })

  test('NAME:ALIAS: the value is looked up under the alias', () => {
    const deploy = edit(DEPLOY, '        - RESTIC_PASSWORD\n', '        - RESTIC_PASSWORD:SHOP_RESTIC_PASSWORD\n')
    const secrets = SECRETS.replace('RESTIC_PASSWORD=', 'SHOP_RESTIC_PASSWORD=')
    assert.deepEqual(rules(inspect({'config/deploy.yml': deploy, '.kamal/secrets': secrets}).findings), [])
    assert.deepEqual(rules(inspect({'config/deploy.yml': deploy}).findings), ['kamal/secret-missing'])
  })

  // Decision: a {secret:} reference satisfied only by env.clear means the value is committed in deploy.yml. In a
  // password slot (any password, a secret-named restic.env key) or when the value carries credentials, that is an
  // error; a location without credentials (a local repository path) is only a warning.
  test('a password given in env.clear: error at the env.clear line, not "not declared"', () => {
    const deploy = edit(DEPLOY, '    env:\n      secret:\n        - RESTIC_REPOSITORY\n        - RESTIC_PASSWORD\n', '    env:\n      clear:\n        RESTIC_PASSWORD: hunter2hunter2\n      secret:\n        - RESTIC_REPOSITORY\n')
    const state = inspect({'config/deploy.yml': deploy})
    const f = only(state.findings, 'kamal/secret-in-clear')
    assertActionable(f, {file: 'config/deploy.yml', line: 25, path: 'accessories.backup.env.clear.RESTIC_PASSWORD', suggestion: /move RESTIC_PASSWORD from env\.clear to accessories\.backup\.env\.secret/})
    assert.equal(f.severity, 'error')
    assert.deepEqual(rules(state.findings), ['kamal/secret-in-clear'])
    assert.ok(!JSON.stringify(state.findings).includes('hunter2hunter2'))
  })

  test('a repository with credentials in env.clear is an error; one without is a warning', () => {
    const withClear = (value: string) => edit(DEPLOY, '    env:\n      secret:\n        - RESTIC_REPOSITORY\n', `    env:\n      clear:\n        RESTIC_REPOSITORY: "${value}"\n      secret:\n`)
    const credentials = only(inspect({'config/deploy.yml': withClear('rest:https://u:pw1234@rest.example.com/shop')}).findings, 'kamal/secret-in-clear')
    assert.equal(credentials.severity, 'error')
    const plain = only(inspect({'config/deploy.yml': withClear('/srv/restic')}).findings, 'kamal/secret-in-clear')
    assert.equal(plain.severity, 'warning')
    assert.match(plain.suggestion!, /write the value directly in config\/kamal-backup\.yml/)
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
    assert.match(f.suggestion!, /Run it in a shell to see the full error: exit 3\. Or set RESTIC_PASSWORD/, 'suggestions read as sentences')
    assert.doesNotMatch(JSON.stringify(state.findings), /s3\.example\.com/)
  })
})

describe('3. secrets: a failing $(command) matters only for what the accessory needs', () => {
  const common = 'RESTIC_REPOSITORY=s3:https://s3.example.com/shop\nRESTIC_PASSWORD=correct-horse\n'

  test('the Rails default RAILS_MASTER_KEY=$(cat config/master.key) without the key (every CI checkout): a warning naming the key', () => {
    const state = inspect({'.kamal/secrets': `RAILS_MASTER_KEY=$(cat config/master.key)\n${common}`}, {env: {PATH: process.env.PATH!}})
    const f = only(state.findings, 'secrets/unused-failed')
    assert.equal(f.severity, 'warning')
    assertActionable(f, {file: '.kamal/secrets', line: 1, path: 'RAILS_MASTER_KEY'})
    assert.match(f.message, /does not use RAILS_MASTER_KEY, so backups are not affected/)
    assert.deepEqual(rules(state.findings), ['secrets/unused-failed'])
  })

  test('a failure behind a needed secret through $VAR: an error at the failing line', () => {
    const state = inspect({'.kamal/secrets': 'PW=$(exit 4)\nRESTIC_REPOSITORY=s3:https://s3.example.com/shop\nRESTIC_PASSWORD=${PW}\n'}, {env: {PATH: process.env.PATH!}})
    const f = only(state.findings, 'secrets/command-failed')
    assertActionable(f, {file: '.kamal/secrets', line: 1, path: 'PW'})
    assert.match(f.message, /needed for RESTIC_PASSWORD; RESTIC_PASSWORD is built from it/)
    assert.deepEqual(rules(state.findings), ['secrets/command-failed'])
  })

  test('a failed secret the accessory gets through env.secret but kamal-backup.yml does not reference: an error', () => {
    const deploy = edit(DEPLOY, '        - RESTIC_PASSWORD\n', '        - RESTIC_PASSWORD\n        - AWS_SECRET_ACCESS_KEY\n')
    const state = inspect({'config/deploy.yml': deploy, '.kamal/secrets': `${common}AWS_SECRET_ACCESS_KEY=$(exit 5)\n`}, {env: {PATH: process.env.PATH!}})
    const f = only(state.findings, 'secrets/command-failed')
    assert.match(f.message, /accessory "backup" gets AWS_SECRET_ACCESS_KEY through env\.secret/)
  })

  test('kamal secrets without kamal: its own rule id', () => {
    const state = inspect({'.kamal/secrets': 'SECRETS=$(kamal secrets fetch --adapter op --account a RESTIC_PASSWORD)\nRESTIC_REPOSITORY=/srv/r\nRESTIC_PASSWORD=$(kamal secrets extract RESTIC_PASSWORD $SECRETS)\n'}, {env: {PATH: '/nonexistent'}})
    assert.deepEqual(rules(state.findings), ['secrets/needs-kamal'])
  })

  test('-d production: KAMAL_DESTINATION is set while the secrets file is evaluated', () => {
    const overrides = {'config/deploy.production.yml': 'servers:\n  web:\n    - 10.0.0.1\n', '.kamal/secrets.production': 'RESTIC_REPOSITORY=/srv/r\nRESTIC_PASSWORD=$(echo pw-$KAMAL_DESTINATION)\n'}
    assert.deepEqual(rules(inspect(overrides, {destination: 'production', env: {PATH: process.env.PATH!}}).findings), [])
    const empty = {...overrides, '.kamal/secrets.production': 'RESTIC_REPOSITORY=/srv/r\nRESTIC_PASSWORD=$(test -n "$KAMAL_DESTINATION" && echo pw)\n'}
    assert.deepEqual(rules(inspect(empty, {destination: 'production', env: {PATH: process.env.PATH!}}).findings), [])
  })

  test('no "did you mean" between different secrets (RESTIC_PASSWORD vs RESTIC_REST_PASSWORD)', () => {
    const deploy = edit(DEPLOY, '        - RESTIC_PASSWORD\n', '        - RESTIC_REST_PASSWORD\n')
    const f = only(inspect({'config/deploy.yml': deploy}).findings, 'kamal/secret-not-declared')
    assert.doesNotMatch(f.suggestion!, /did you mean/)
  })
})

describe('under -d: findings point at the file that defines the value, and name its secrets file', () => {
  const staging = {
    'config/deploy.staging.yml': 'accessories:\n  backup:\n    files:\n      - config/other.yml:/app/config/other.yml\n    volumes:\n      - "shop_storage:/rails/storage"\n',
    '.kamal/secrets.staging': 'RESTIC_REPOSITORY=/srv/r\n',
  }
  test('config-not-mounted and state-not-mounted: at config/deploy.staging.yml', () => {
    const findings = inspect(staging, {destination: 'staging'}).findings
    const config = only(findings, 'kamal/config-not-mounted')
    assertActionable(config, {file: 'config/deploy.staging.yml', line: 3, suggestion: /in config\/deploy\.staging\.yml/})
    const state = only(findings, 'kamal/state-not-mounted')
    assertActionable(state, {file: 'config/deploy.staging.yml', line: 5, suggestion: /in config\/deploy\.staging\.yml/})
  })
  test('secret-not-declared names .kamal/secrets.staging', () => {
    const deploy = edit(DEPLOY, '        - RESTIC_PASSWORD\n', '')
    const f = only(inspect({'config/deploy.yml': deploy, 'config/deploy.staging.yml': 'servers:\n  web: [10.0.0.1]\n', '.kamal/secrets.staging': SECRETS}, {destination: 'staging'}).findings, 'kamal/secret-not-declared')
    assert.match(f.suggestion!, /\.kamal\/secrets\.staging/)
  })
})

describe('one clear error instead of a cascade', () => {
  test('a volume: typo: the unknown key only, no path-not-mounted or state-not-mounted', () => {
    const findings = inspect({'config/deploy.yml': edit(DEPLOY, '    volumes:\n', '    volume:\n')}).findings
    assert.deepEqual(rules(findings), ['deploy/unknown-key'])
  })
  test('files: as a string: the type error only', () => {
    const findings = inspect({'config/deploy.yml': edit(DEPLOY, '    files:\n      - config/kamal-backup.yml:/app/config/kamal-backup.yml:ro\n', '    files: config/kamal-backup.yml:/app/config/kamal-backup.yml:ro\n')}).findings
    assert.deepEqual(rules(findings), ['deploy/type'])
    assertActionable(findings[0]!, {line: 18, path: 'accessories.backup.files'})
  })
  test('host: from an unset ENV variable: one error that names the variable, no "add host:"', () => {
    const findings = inspect({'config/deploy.yml': edit(DEPLOY, '    host: 10.0.0.1\n', '    host: <%= ENV["BACKUP_HOST"] %>\n')}).findings
    assert.deepEqual(rules(findings), ['deploy/type'])
    assert.match(findings[0]!.message, /ENV\["BACKUP_HOST"\] is not set/)
    assert.match(findings[0]!.suggestion!, /set BACKUP_HOST in the environment/)
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

  test('an accessory container on another host than the backup accessory: error (names resolve only on one Docker host)', () => {
    const away = DEPLOY + '  db:\n    image: postgres:16\n    host: 10.0.0.5\n'
    const f = only(inspect({'config/deploy.yml': away, 'config/kamal-backup.yml': withDb('postgres://app@shop-db:5432/shop')}).findings, 'kamal/database-host-elsewhere')
    assertActionable(f, {file: 'config/kamal-backup.yml', line: 6, suggestion: /run the backup accessory on 10\.0\.0\.5 .*port: "<private-ip>:5432:5432"/})
    assert.match(f.message, /runs on 10\.0\.0\.5, but the backup accessory runs on 10\.0\.0\.1/)
  })

  test('{secret: DATABASE_URL}: the same checks on the value when it resolves, without showing it', () => {
    const backup = edit(BACKUP, 'paths:', '  - {name: pg, adapter: postgres, url: {secret: DATABASE_URL}}\npaths:')
    const deployWith = deploy.replace('        - RESTIC_PASSWORD\n', '        - RESTIC_PASSWORD\n        - DATABASE_URL\n')
    const f = only(inspect({'config/deploy.yml': deployWith, 'config/kamal-backup.yml': backup, '.kamal/secrets': `${SECRETS}DATABASE_URL=postgres://app:sup3rsecret@shop-dbb:5432/shop\n`}).findings, 'kamal/database-host-unknown')
    assert.match(f.message, /the database URL in secret DATABASE_URL names host "shop-dbb"/)
    assert.ok(!JSON.stringify(f).includes('sup3rsecret'))
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

test('a volume entry in a Kamal app is read at /volumes/<name> in the accessory: an error until the accessory mounts it there', () => {
  const config = edit(BACKUP, 'paths:\n  - /rails/storage\n', 'paths:\n  - /rails/storage\n  - {volume: shop_uploads, runtime: docker}\n')
  const f = only(inspect({'config/kamal-backup.yml': config}).findings, 'kamal/volume-entry')
  assertActionable(f, {file: 'config/kamal-backup.yml', line: 8, suggestion: /"shop_uploads:\/volumes\/shop_uploads" to accessories\.backup\.volumes/})
  // Mounted there: the same config serves the accessory (and a host in host mode) without a finding.
  const storage = edit(BACKUP, 'paths:\n  - /rails/storage\n', 'paths:\n  - {volume: shop_storage}\n')
  const mountedDeploy = edit(DEPLOY, '      - "shop_backup_state', '      - "shop_storage:/volumes/shop_storage"\n      - "shop_backup_state')
  assert.deepEqual(rules(inspect({'config/kamal-backup.yml': storage, 'config/deploy.yml': mountedDeploy}).findings), [])
})
