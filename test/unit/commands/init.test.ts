// `kamal-backup init` in Rails-shaped checkouts: what it infers, that it never overwrites or edits deploy.yml, and
// that what it writes plus the accessory block it prints passes `validate`.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kb} from '../../support/cli.ts'
import {cleanupApps, makeApp} from '../config/support.ts'

after(cleanupApps)

const BASE = `service: shop
image: acme/shop
servers:
  web:
    - 10.0.0.1
  job:
    - 10.0.0.2
registry:
  username: acme
  password:
    - KAMAL_REGISTRY_PASSWORD
volumes:
  - "shop_storage:/rails/storage"
`

const POSTGRES = `accessories:
  db:
    image: postgres:16
    host: 10.0.0.3
    env:
      clear:
        POSTGRES_USER: shop
        POSTGRES_DB: shop_production
      secret:
        - POSTGRES_PASSWORD
`

const MYSQL = `accessories:
  mysql:
    image: mysql:8.4
    host: 10.0.0.3
    env:
      clear:
        MYSQL_DATABASE: shop_production
      secret:
        - MYSQL_ROOT_PASSWORD
`

const SQLITE_DATABASE_YML = `default: &default
  adapter: sqlite3
  pool: <%= ENV.fetch("RAILS_MAX_THREADS") { 5 } %>
production:
  primary:
    <<: *default
    database: storage/production.sqlite3
  cache:
    <<: *default
    database: storage/production_cache.sqlite3
  queue:
    <<: *default
    database: storage/production_queue.sqlite3
`

/** Adds the printed accessory block to deploy.yml (under an existing or a new `accessories:`). */
function addAccessory(dir: string, stdout: string): void {
  const block = stdout.match(/under accessories:\n\n([\s\S]+?)\n\nDefine these secrets/)![1]!
  const file = join(dir, 'config/deploy.yml')
  const deploy = readFileSync(file, 'utf8')
  writeFileSync(file, deploy.includes('accessories:\n') ? deploy.replace('accessories:\n', `accessories:\n${block}\n`) : `${deploy}accessories:\n${block}\n`)
}

describe('inference', () => {
  test('a postgres accessory on its own host, app files on the web host: the backup runs on the web host and reaches the database by its host address, with a note about the port', async () => {
    const dir = makeApp({'config/deploy.yml': BASE + POSTGRES})
    const r = await kb(['init'], {cwd: dir})
    assert.equal(r.code, 0, r.stderr)
    const text = readFileSync(join(dir, 'config/kamal-backup.yml'), 'utf8')
    assert.match(text.split('\n')[0]!, /^# yaml-language-server: \$schema=https:\/\/unpkg\.com\/kamal-backup\/schemas\/kamal-backup\.schema\.json$/)
    assert.match(text, /^app: shop$/m)
    // shop-db would resolve only on 10.0.0.3's Docker network, not from 10.0.0.1.
    assert.match(text, /- name: db\n {4}adapter: postgres\n {4}url: "?postgres:\/\/shop@10\.0\.0\.3:5432\/shop_production"?\n {4}password: \{secret: POSTGRES_PASSWORD\}/)
    assert.match(text, /^paths:\n {2}- \/rails\/storage$/m)
    assert.match(text, /password: \{secret: RESTIC_PASSWORD\}/)
    assert.match(r.stdout, /Define these secrets in \.kamal\/secrets \(or your password manager\): RESTIC_REPOSITORY, RESTIC_PASSWORD, POSTGRES_PASSWORD/)
    assert.match(r.stdout, /^ {2}backup:\n {4}image: ghcr\.io\/kamal-backup\/kamal-backup:\d+\.\d+\n {4}host: 10\.0\.0\.1\n/m, 'on the web host, which has the volumes')
    assert.match(r.stdout, /Database "db" runs on 10\.0\.0\.3 and publishes no port the backup accessory on 10\.0\.0\.1 can reach .*port: "<private address of 10\.0\.0\.3>:5432:5432"/)
  })

  test('a published port is used: host address and host port', async () => {
    const dir = makeApp({'config/deploy.yml': BASE + POSTGRES.replace('    host: 10.0.0.3\n', '    host: 10.0.0.3\n    port: "10.1.0.3:5433:5432"\n')})
    const r = await kb(['init', '--json'], {cwd: dir})
    assert.equal(r.code, 0, r.stderr)
    const result = JSON.parse(r.stdout)
    // (--json output goes through the redactor, which hides URL userinfo.)
    assert.match(result.databases[0].url, /^postgres:\/\/.*@10\.1\.0\.3:5433\/shop_production$/)
    assert.ok(result.notes.some((n: string) => /uses 10\.1\.0\.3:5433, the port accessory "db" publishes/.test(n)))
    // Published on loopback only: not reachable from another host.
    const loopback = makeApp({'config/deploy.yml': BASE + POSTGRES.replace('    host: 10.0.0.3\n', '    host: 10.0.0.3\n    port: "127.0.0.1:5432:5432"\n')})
    assert.match(JSON.parse((await kb(['init', '--json'], {cwd: loopback})).stdout).notes.join('\n'), /publishes no port the backup accessory on 10\.0\.0\.1 can reach/)
  })

  test('no app files to back up: the backup accessory runs next to the database, which it reaches by container name', async () => {
    const dir = makeApp({'config/deploy.yml': BASE.replace('volumes:\n  - "shop_storage:/rails/storage"\n', '') + POSTGRES})
    const r = await kb(['init', '--json'], {cwd: dir})
    assert.equal(r.code, 0, r.stderr)
    const result = JSON.parse(r.stdout)
    assert.match(result.databases[0].url, /^postgres:\/\/.*@shop-db:5432\/shop_production$/)
    assert.match(result.accessoryBlock, /^ {4}host: 10\.0\.0\.3$/m)
  })

  test('nothing to back up found: exit 1 with what was looked for, and no file written', async () => {
    const dir = makeApp({'config/deploy.yml': BASE.replace('volumes:\n  - "shop_storage:/rails/storage"\n', '')})
    const r = await kb(['init'], {cwd: dir})
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /found nothing to back up: no postgres or mysql accessory in config\/deploy\.yml, no production database in config\/database\.yml, and no storage volume/)
    assert.match(r.stderr, /README "Configuration"/)
    assert.throws(() => readFileSync(join(dir, 'config/kamal-backup.yml')), /ENOENT/)
  })

  test('a mysql accessory: root with MYSQL_ROOT_PASSWORD', async () => {
    const dir = makeApp({'config/deploy.yml': BASE + MYSQL})
    const r = await kb(['init'], {cwd: dir})
    assert.equal(r.code, 0, r.stderr)
    const text = readFileSync(join(dir, 'config/kamal-backup.yml'), 'utf8')
    assert.match(text, /adapter: mysql\n {4}url: "?mysql:\/\/root@10\.0\.0\.3:3306\/shop_production"?\n {4}password: \{secret: MYSQL_ROOT_PASSWORD\}/)
  })

  test('SQLite from the production entries of config/database.yml, skipping the cache database', async () => {
    const dir = makeApp({'config/deploy.yml': BASE, 'config/database.yml': SQLITE_DATABASE_YML})
    const r = await kb(['init', '--json'], {cwd: dir})
    assert.equal(r.code, 0, r.stderr)
    const result = JSON.parse(r.stdout)
    assert.deepEqual(result.databases.map((d: {name: string; path: string}) => [d.name, d.path]), [['primary', '/rails/storage/production.sqlite3'], ['queue', '/rails/storage/production_queue.sqlite3']])
    assert.ok(result.notes.some((n: string) => /Skipped the "cache" database/.test(n)))
    assert.match(result.accessoryBlock, /"shop_storage:\/rails\/storage"/)
  })
})

describe('what it writes passes validate', () => {
  for (const [what, files] of [
    ['postgres', {'config/deploy.yml': BASE + POSTGRES}],
    ['mysql', {'config/deploy.yml': BASE + MYSQL}],
    ['sqlite', {'config/deploy.yml': BASE, 'config/database.yml': SQLITE_DATABASE_YML}],
    ['postgres only, co-located', {'config/deploy.yml': BASE.replace('volumes:\n  - "shop_storage:/rails/storage"\n', '') + POSTGRES}],
  ] as const) {
    test(what, async () => {
      const dir = makeApp({...files, '.kamal/secrets': 'RESTIC_REPOSITORY=/srv/restic\nRESTIC_PASSWORD=p\nPOSTGRES_PASSWORD=p\nMYSQL_ROOT_PASSWORD=p\n'})
      const init = await kb(['init'], {cwd: dir})
      assert.equal(init.code, 0, init.stderr)
      const before = await kb(['validate'], {cwd: dir})
      assert.equal(before.code, 1, 'without the accessory in deploy.yml validate fails')
      assert.match(before.stdout, /kamal\/accessory-missing/)
      addAccessory(dir, init.stdout)
      const after = await kb(['validate', '--strict'], {cwd: dir})
      assert.equal(after.code, 0, after.stdout)
      assert.match(after.stdout, new RegExp(`✔ valid: accessory "backup", container shop-backup on 10\\.0\\.0\\.${what.includes('co-located') ? 3 : 1}`))
    })
  }
})

describe('a backup accessory already in deploy.yml', () => {
  const ACCESSORY = `  backup:
    image: ghcr.io/kamal-backup/kamal-backup:0.1
    host: 10.0.0.1
    files:
      - config/kamal-backup.yml:/app/config/kamal-backup.yml:ro
    volumes:
      - "shop_storage:/data/storage"
      - "shop_backup_state:/var/lib/kamal-backup"
    env:
      secret:
        - BACKUP_REPOSITORY
        - RESTIC_PASSWORD
`

  test('init reads it: paths and SQLite files where it mounts the app volume, the secrets it passes; validate --strict passes at once', async () => {
    const dir = makeApp({'config/deploy.yml': BASE + 'accessories:\n' + ACCESSORY, 'config/database.yml': SQLITE_DATABASE_YML, '.kamal/secrets': 'BACKUP_REPOSITORY=/srv/restic\nRESTIC_PASSWORD=p\n'})
    const init = await kb(['init', '--json'], {cwd: dir})
    assert.equal(init.code, 0, init.stderr)
    const result = JSON.parse(init.stdout)
    assert.equal(result.accessoryBlock, null)
    assert.deepEqual(result.paths, ['/data/storage'])
    assert.deepEqual(result.databases.map((d: {path: string}) => d.path), ['/data/storage/production.sqlite3', '/data/storage/production_queue.sqlite3'])
    const written = readFileSync(join(dir, 'config/kamal-backup.yml'), 'utf8')
    assert.match(written, /repository: \{secret: BACKUP_REPOSITORY\}/)
    assert.match(written, /password: \{secret: RESTIC_PASSWORD\}/)
    const validate = await kb(['validate', '--strict'], {cwd: dir})
    assert.equal(validate.code, 0, validate.stdout + validate.stderr)
  })

  test('what only deploy.yml or .kamal/secrets can fix is said exactly; made as said, validate --strict passes', async () => {
    const bare = ACCESSORY.replace('      - "shop_storage:/data/storage"\n', '').replace('        - BACKUP_REPOSITORY\n        - RESTIC_PASSWORD\n', '        - OTHER_TOKEN\n')
    const dir = makeApp({'config/deploy.yml': BASE + 'accessories:\n' + bare, '.kamal/secrets': 'OTHER_TOKEN=x\n'})
    const init = await kb(['init', '--json'], {cwd: dir})
    assert.equal(init.code, 0, init.stderr)
    const notes: string[] = JSON.parse(init.stdout).notes
    const text = notes.join('\n')
    assert.match(text, /does not mount the app's volume "shop_storage", which holds \/rails\/storage: add "shop_storage:\/rails\/storage" to accessories\.backup\.volumes in config\/deploy\.yml/)
    assert.match(text, /Add RESTIC_REPOSITORY, RESTIC_PASSWORD to accessories\.backup\.env\.secret in config\/deploy\.yml/)
    assert.match(text, /Set RESTIC_REPOSITORY, RESTIC_PASSWORD in \.kamal\/secrets/)
    const before = await kb(['validate'], {cwd: dir})
    assert.equal(before.code, 1)
    for (const rule of ['kamal/path-not-mounted', 'kamal/secret-not-declared']) assert.match(before.stdout, new RegExp(rule))
    // Exactly the changes the notes name, and nothing else.
    const deployFile = join(dir, 'config/deploy.yml')
    writeFileSync(deployFile, readFileSync(deployFile, 'utf8').replace('    volumes:\n', '    volumes:\n      - "shop_storage:/rails/storage"\n').replace('        - OTHER_TOKEN\n', '        - OTHER_TOKEN\n        - RESTIC_REPOSITORY\n        - RESTIC_PASSWORD\n'))
    writeFileSync(join(dir, '.kamal/secrets'), 'OTHER_TOKEN=x\nRESTIC_REPOSITORY=/srv/restic\nRESTIC_PASSWORD=p\n')
    const after = await kb(['validate', '--strict'], {cwd: dir})
    assert.equal(after.code, 0, after.stdout + after.stderr)
  })

  test('the database is reached from where the accessory runs: on the database host, by container name', async () => {
    const beside = ACCESSORY.replace('    host: 10.0.0.1\n', '    host: 10.0.0.3\n').replace('      - "shop_storage:/data/storage"\n', '')
    const dir = makeApp({'config/deploy.yml': BASE.replace('volumes:\n  - "shop_storage:/rails/storage"\n', '') + POSTGRES + beside.replace('        - RESTIC_PASSWORD\n', '        - RESTIC_PASSWORD\n        - POSTGRES_PASSWORD\n'), '.kamal/secrets': 'BACKUP_REPOSITORY=/srv/restic\nRESTIC_PASSWORD=p\nPOSTGRES_PASSWORD=p\n'})
    const init = await kb(['init', '--json'], {cwd: dir})
    assert.equal(init.code, 0, init.stderr)
    const [url] = JSON.parse(init.stdout).databases.map((d: {url: string}) => d.url)
    assert.match(url, /^postgres:\/\/.*@shop-db:5432\/shop_production$/, 'the container name, not the host address')
    assert.match(readFileSync(join(dir, 'config/kamal-backup.yml'), 'utf8'), /url: postgres:\/\/shop@shop-db:5432\/shop_production/)
    const validate = await kb(['validate', '--strict'], {cwd: dir})
    assert.equal(validate.code, 0, validate.stdout + validate.stderr)
  })

  test('a repository given in env.clear without credentials is written as the value', async () => {
    const clear = ACCESSORY.replace('    env:\n      secret:\n        - BACKUP_REPOSITORY\n', '    env:\n      clear:\n        RESTIC_REPOSITORY: /srv/restic\n      secret:\n')
    const dir = makeApp({'config/deploy.yml': BASE + 'accessories:\n' + clear, '.kamal/secrets': 'RESTIC_PASSWORD=p\n'})
    const init = await kb(['init'], {cwd: dir})
    assert.equal(init.code, 0, init.stderr)
    assert.match(readFileSync(join(dir, 'config/kamal-backup.yml'), 'utf8'), /^ {2}repository: \/srv\/restic$/m)
    const validate = await kb(['validate', '--strict'], {cwd: dir})
    assert.equal(validate.code, 0, validate.stdout + validate.stderr)
  })
})

describe('never destructive', () => {
  test('an existing file is kept (exit 2) unless --force; deploy.yml is never edited', async () => {
    const dir = makeApp({'config/deploy.yml': BASE + POSTGRES, 'config/kamal-backup.yml': '# mine\n'})
    const deploy = readFileSync(join(dir, 'config/deploy.yml'), 'utf8')
    const refused = await kb(['init'], {cwd: dir})
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /config\/kamal-backup\.yml already exists\n {2}→ run `kamal-backup init --force`/)
    assert.equal(readFileSync(join(dir, 'config/kamal-backup.yml'), 'utf8'), '# mine\n')
    const forced = await kb(['init', '--force'], {cwd: dir})
    assert.equal(forced.code, 0, forced.stderr)
    assert.match(readFileSync(join(dir, 'config/kamal-backup.yml'), 'utf8'), /^app: shop$/m)
    assert.equal(readFileSync(join(dir, 'config/deploy.yml'), 'utf8'), deploy)
  })

  test('an unreadable deploy.yml: one located error and no file written', async () => {
    const dir = makeApp({'config/deploy.yml': 'service: [shop\n'})
    const r = await kb(['init'], {cwd: dir})
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^Error: config\/deploy\.yml:\d+:\d+: /)
    assert.throws(() => readFileSync(join(dir, 'config/kamal-backup.yml')), /ENOENT/)
  })

  test('an existing backup accessory is not printed again', async () => {
    const dir = makeApp({'config/deploy.yml': BASE + POSTGRES + '  backup:\n    image: ghcr.io/kamal-backup/kamal-backup:0.1\n    host: 10.0.0.1\n'})
    const r = await kb(['init', '--json'], {cwd: dir})
    assert.equal(r.code, 0, r.stderr)
    const result = JSON.parse(r.stdout)
    assert.equal(result.accessoryBlock, null)
    assert.ok(result.notes.some((n: string) => /Accessory "backup" already exists/.test(n)))
  })
})
