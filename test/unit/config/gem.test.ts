// Teams coming from the Ruby gem (crmne/kamal-backup): validate explains each difference of its config files at
// its line, `migrate` shows a diff and writes only with --write, and what it writes passes validate --strict. The
// configs are the gem's format as ../shared/reference/anchor-kamal-backup.md §2 describes it.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {kb} from '../../support/cli.ts'
import {migrateGemConfig} from '../../../src/config/gem.ts'
import {unifiedDiff} from '../../../src/parse/diff.ts'
import {DEPLOY, SECRETS, cleanupApps, makeApp} from './support.ts'

after(cleanupApps)

/** Gem-era configs that the gem ran with, each against DEPLOY (the accessory already on our image). */
const GEM_CONFIGS: Record<string, string> = {
  'SQLite and files, database: key, a single path, quoted booleans, no retention': `# Backups of shop (written for the Ruby gem)
app: shop
accessory: backup
databases:
  - name: primary
    adapter: SQLite3
    database: /rails/storage/production.sqlite3   # the gem took database: or path:
paths: /rails/storage
restic:
  repository: {secret: RESTIC_REPOSITORY}
  password: {secret: RESTIC_PASSWORD}
  init_if_missing: "yes"
  forget_after_backup: "on"
backup:
  schedule: 1d
  enabled: "true"
`,
  'partial retention with a zero, rest.user, an ignored key': `app: shop
databases:
  - name: primary
    adapter: sqlite
    path: /rails/storage/production.sqlite3
    pool: 5
paths:
  - path: /rails/storage
    exclude: ["*.tmp"]
restic:
  repository: {secret: RESTIC_REPOSITORY}
  password: {secret: RESTIC_PASSWORD}
  check_after_backup: "1"
  rest:
    user: backup
    password: {secret: RESTIC_PASSWORD}
  retention:
    keep_daily: "14"
    keep_yearly: 0
`,
}

describe('the gem\'s kamal-backup.yml', () => {
  for (const [what, config] of Object.entries(GEM_CONFIGS)) {
    test(`${what}: validate explains it, migrate shows then writes it, and the result passes validate --strict`, async () => {
      const dir = makeApp({'config/deploy.yml': DEPLOY, 'config/kamal-backup.yml': config, '.kamal/secrets': SECRETS})
      const file = join(dir, 'config/kamal-backup.yml')

      const before = await kb(['validate', '--json'], {cwd: dir})
      assert.equal(before.code, 1, before.stdout + before.stderr)
      const findings = JSON.parse(before.stdout).findings as {rule: string; line: number; message: string; suggestion: string}[]
      const gem = findings.filter((f) => f.rule === 'config/gem-format')
      assert.ok(gem.length > 0, JSON.stringify(findings, null, 2))
      for (const f of gem) {
        assert.ok(f.line >= 1 && f.line <= config.split('\n').length, JSON.stringify(f))
        assert.match(f.suggestion, /kamal-backup migrate/)
      }
      // Every schema error is explained as the gem's format, but an unknown key: that stays validate's own finding
      // (as likely a typo, with its did-you-mean); migrate removes it, saying the gem ignored it.
      assert.ok(!findings.some((f) => f.rule.startsWith('schema/') && f.rule !== 'schema/unknown-key'), JSON.stringify(findings, null, 2))

      const shown = await kb(['migrate'], {cwd: dir})
      assert.equal(shown.code, 0, shown.stderr)
      assert.match(shown.stdout, /^--- a\/config\/kamal-backup\.yml$/m)
      assert.match(shown.stdout, /nothing written: run kamal-backup migrate --write/)
      assert.equal(readFileSync(file, 'utf8'), config, 'without --write nothing changes')

      const written = await kb(['migrate', '--write'], {cwd: dir})
      assert.equal(written.code, 0, written.stderr)
      const after = readFileSync(file, 'utf8')
      for (const comment of config.match(/#.*$/gm) ?? []) assert.ok(after.includes(comment), `comment kept: ${comment}`)
      const strict = await kb(['validate', '--strict'], {cwd: dir})
      assert.equal(strict.code, 0, strict.stdout + strict.stderr)
      const again = await kb(['migrate'], {cwd: dir})
      assert.match(again.stdout, /already in kamal-backup's format, nothing to change/)
    })
  }

  test('the gem\'s retention defaults are written out (kamal-backup never deletes without a policy); keys set keep their value, 0 drops the flag', () => {
    // A file valid in both formats cannot tell whose it is: the defaults are only offered, until --gem says so.
    const unsure = migrateGemConfig('app: a\nrestic:\n  repository: r\n')!
    assert.deepEqual([unsure.changes, unsure.heldBack?.map((c) => c.path.join('.'))], [[], ['restic.retention', 'restic.check_after_backup']])
    const none = migrateGemConfig('app: a\nrestic:\n  repository: r\n', {gem: true})!
    assert.match(none.text, /retention:\n {4}keep_last: 7\n {4}keep_daily: 7\n {4}keep_weekly: 4\n {4}keep_monthly: 6\n {4}keep_yearly: 2\n/)
    const some = migrateGemConfig('app: a\nrestic:\n  retention:\n    keep_daily: "30"\n    keep_yearly: 0\n')!
    assert.equal(some.gem, true, 'a number in quotes (the gem read every value as a string) shows the file is the gem\'s')
    assert.match(some.text, /keep_daily: 30/)
    assert.doesNotMatch(some.text, /keep_yearly/)
    assert.match(some.text, /keep_last: 7/)
  })

  test('a password written in the file becomes a secret, and the change says what to set where', () => {
    const migrated = migrateGemConfig('app: a\ndatabases:\n  - name: main\n    adapter: postgres\n    url: postgres://app:hunter2@db:5432/app\n    password: hunter2\nrestic:\n  password: s3cret\n')!
    assert.doesNotMatch(migrated.text, /hunter2|s3cret/)
    assert.match(migrated.text, /url: \{secret: MAIN_DATABASE_URL\}/)
    assert.match(migrated.text, /password: \{secret: MAIN_DATABASE_PASSWORD\}/)
    assert.match(migrated.text, /password: \{secret: RESTIC_PASSWORD\}/)
    assert.deepEqual(migrated.changes.filter((c) => c.action).map((c) => c.action!.split(' as ')[1]!.split(',')[0]), ['MAIN_DATABASE_URL', 'MAIN_DATABASE_PASSWORD', 'RESTIC_PASSWORD'])
  })

  test('a file already in this format: no changes, the same text', () => {
    const text = readFileSync(join(import.meta.dirname, '../../../examples/sample-app/config/kamal-backup.yml'), 'utf8')
    const migrated = migrateGemConfig(text)!
    assert.deepEqual([migrated.text, migrated.changes, migrated.heldBack], [text, [], undefined], 'it says it is ours (its $schema line): nothing is even offered')
  })
})

describe('the gem\'s kamal-backup.local.yml', () => {
  test('databases with adapters and plain local paths paired with restore_from: rewritten as from/to pairs; validate passes', async () => {
    const local = `# Restores on my laptop
databases:
  - name: primary
    adapter: sqlite
    database: tmp/restore.sqlite3
restore_from:
  - /rails/storage
paths:
  - tmp/storage
`
    const config = `app: shop\ndatabases:\n  - name: primary\n    adapter: sqlite\n    path: /rails/storage/production.sqlite3\npaths:\n  - /rails/storage\nrestic:\n  repository: {secret: RESTIC_REPOSITORY}\n  password: {secret: RESTIC_PASSWORD}\n  check_after_backup: true\n  retention: {keep_daily: 7}\n`
    const dir = makeApp({'config/deploy.yml': DEPLOY, 'config/kamal-backup.yml': config, 'config/kamal-backup.local.yml': local, '.kamal/secrets': SECRETS})
    const before = await kb(['validate', '--json'], {cwd: dir})
    assert.equal(before.code, 1)
    assert.ok(JSON.parse(before.stdout).findings.some((f: {rule: string; file: string}) => f.rule === 'config/gem-format' && f.file === 'config/kamal-backup.local.yml'), before.stdout)
    const written = await kb(['migrate', '--write'], {cwd: dir})
    assert.equal(written.code, 0, written.stderr)
    const after = readFileSync(join(dir, 'config/kamal-backup.local.yml'), 'utf8')
    assert.match(after, /paths:\n {2}- from: \/rails\/storage\n {4}to: tmp\/storage\n/)
    assert.doesNotMatch(after, /restore_from|adapter/)
    assert.match(after, /# Restores on my laptop/)
    assert.equal(readFileSync(join(dir, 'config/kamal-backup.yml'), 'utf8'), config, 'the main file was already in this format')
    const strict = await kb(['validate', '--strict'], {cwd: dir})
    assert.equal(strict.code, 0, strict.stdout + strict.stderr)
  })
})

describe('the gem\'s accessory in deploy.yml', () => {
  test('its image is an error naming ours; its environment variables are warnings naming the key that replaces each', async () => {
    const deploy = DEPLOY.replace('image: ghcr.io/kamal-backup/kamal-backup:0.1', 'image: ghcr.io/crmne/kamal-backup:0.4.2').replace('    env:\n', '    env:\n      clear:\n        BACKUP_SCHEDULE_SECONDS: 3600\n        RESTIC_KEEP_DAILY: 14\n')
    const dir = makeApp({'config/deploy.yml': deploy, 'config/kamal-backup.yml': GEM_CONFIGS['partial retention with a zero, rest.user, an ignored key']!, '.kamal/secrets': SECRETS})
    const result = await kb(['validate', '--json'], {cwd: dir})
    const findings = JSON.parse(result.stdout).findings as {rule: string; severity: string; message: string; suggestion: string; line: number}[]
    const image = findings.find((f) => f.rule === 'kamal/gem-image')!
    assert.equal(image.severity, 'error')
    assert.match(image.suggestion, /image: ghcr\.io\/kamal-backup\/kamal-backup:0\.1.*kamal-backup migrate.*kamal accessory reboot backup/)
    const env = findings.filter((f) => f.rule === 'kamal/gem-env')
    assert.deepEqual(env.map((f) => /set (\S+) in/.exec(f.suggestion)?.[1]), ['backup.schedule', 'restic.retention.keep_daily'])
    assert.equal(env[0]!.line, deploy.split('\n').findIndex((l) => l.includes('BACKUP_SCHEDULE_SECONDS')) + 1)
  })
})

test('the migrate diff applies with patch(1) to the original and gives the rewritten file', () => {
  const original = Object.values(GEM_CONFIGS).join('\n')
  const migrated = migrateGemConfig(GEM_CONFIGS['SQLite and files, database: key, a single path, quoted booleans, no retention']!)!
  const dir = makeApp({'a.yml': GEM_CONFIGS['SQLite and files, database: key, a single path, quoted booleans, no retention']!})
  const diff = unifiedDiff(readFileSync(join(dir, 'a.yml'), 'utf8'), migrated.text, {from: 'a.yml', to: 'a.yml'})
  writeFileSync(join(dir, 'change.diff'), diff)
  execFileSync('patch', ['-s', join(dir, 'a.yml'), join(dir, 'change.diff')])
  assert.equal(readFileSync(join(dir, 'a.yml'), 'utf8'), migrated.text)
  assert.equal(unifiedDiff(original, original, {from: 'x', to: 'x'}), '', 'no change, no diff')
})

test('migrate without a readable config says why and exits 1: a missing file, or one that is not YAML, is never "nothing to change"', async () => {
  const missing = await kb(['migrate'], {cwd: makeApp({'config/deploy.yml': DEPLOY})})
  assert.equal(missing.code, 1, missing.stdout + missing.stderr)
  assert.match(missing.stderr, /config\/kamal-backup\.yml does not exist/)
  assert.doesNotMatch(missing.stdout, /nothing to change/)
  const broken = await kb(['migrate', '--write'], {cwd: makeApp({'config/kamal-backup.yml': 'app: [shop\n'})})
  assert.equal(broken.code, 1, broken.stdout + broken.stderr)
  assert.match(broken.stderr, /^Error: config\/kamal-backup\.yml:\d+:\d+: /m)
  const badLocal = await kb(['migrate'], {cwd: makeApp({'config/kamal-backup.yml': GEM_CONFIGS['partial retention with a zero, rest.user, an ignored key']!, 'config/kamal-backup.local.yml': 'paths: [x\n'})})
  assert.equal(badLocal.code, 1, badLocal.stdout + badLocal.stderr)
  assert.match(badLocal.stderr, /config\/kamal-backup\.local\.yml:\d+/)
})
