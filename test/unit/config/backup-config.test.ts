// config/kamal-backup.yml: JSON Schema findings (unknown keys at every level with "did you mean", literal secrets,
// types, enums), normalisation, and the file-level checks. Every finding must carry file:line and a way out.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {chmodSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {checkRestoreTargets, loadBackupConfig, loadLocalConfig} from '../../../src/config/backup-config.js'
import {BACKUP, assertActionable, cleanupApps, makeApp, only, rules} from './support.js'

after(cleanupApps)

function load(text: string) {
  const dir = makeApp({'config/kamal-backup.yml': text})
  return loadBackupConfig(join(dir, 'config/kamal-backup.yml'), dir)
}

/** BACKUP with `from` replaced by `to` (asserting `from` is there, so a changed fixture fails loudly). */
function variant(from: string, to: string): string {
  assert.ok(BACKUP.includes(from), `fixture contains ${JSON.stringify(from)}`)
  return BACKUP.replace(from, to)
}

describe('a clean file', () => {
  test('has no findings and normalises with defaults', () => {
    const result = load(BACKUP)
    assert.deepEqual(result.findings, [])
    const c = result.config!
    assert.equal(c.app, 'shop')
    assert.deepEqual(c.databases, [{name: 'primary', adapter: 'sqlite', maxShrink: 50, path: {kind: 'value', value: '/rails/storage/production.sqlite3'}}])
    assert.deepEqual(c.paths, [{path: '/rails/storage', exclude: [], label: 'rails-storage', allowEmpty: false, maxShrink: 50}])
    assert.deepEqual(c.restic.password, {kind: 'secret', name: 'RESTIC_PASSWORD'})
    assert.deepEqual(c.restic.repository, {kind: 'secret', name: 'RESTIC_REPOSITORY'})
    assert.equal(c.restic.forgetAfterBackup, true, 'forget_after_backup defaults to true')
    assert.equal(c.restic.initIfMissing, false)
    assert.equal(c.enabled, true)
    assert.equal(c.preDeployKeep, 10, 'backup.pre_deploy_keep defaults to 10')
    assert.deepEqual(c.schedule, {kind: 'interval', text: '1d', seconds: 86400})
  })

  test('backup.pre_deploy_keep: a whole number of at least 1', () => {
    assert.equal(load(variant('  schedule: 1d\n', '  schedule: 1d\n  pre_deploy_keep: 3\n')).config!.preDeployKeep, 3)
    for (const bad of ['0', '2.5', 'ten']) {
      const result = load(variant('  schedule: 1d\n', `  schedule: 1d\n  pre_deploy_keep: ${bad}\n`))
      assert.equal(result.findings.length, 1, `${bad}: ${JSON.stringify(result.findings)}`)
      assertActionable(result.findings[0]!, {path: 'backup.pre_deploy_keep'})
    }
  })

  test('adapter aliases are canonical', () => {
    const text = `app: a
databases:
  - {name: a, adapter: postgresql, url: "postgres://u@a-db/a"}
  - {name: b, adapter: postgis, url: "postgres://u@a-db/b"}
  - {name: c, adapter: mysql2, url: "mysql://u@a-my/c"}
  - {name: d, adapter: trilogy, url: "mysql://u@a-my/d"}
  - {name: e, adapter: mariadb, url: "mariadb://u@a-my/e"}
  - {name: f, adapter: sqlite3, path: /data/f.sqlite3}
restic: {repository: /srv/restic, password: {file: /run/pw}, check_after_backup: true, retention: {keep_last: 3}}
`
    const result = load(text)
    assert.deepEqual(result.findings, [])
    assert.deepEqual(result.config!.databases.map((d) => d.adapter), ['postgres', 'postgres', 'mysql', 'mysql', 'mysql', 'sqlite'])
    assert.deepEqual(result.config!.restic.password, {kind: 'file', path: '/run/pw'})
  })

  test('paths accept {path, exclude}', () => {
    const result = load(variant('  - /rails/storage\n', '  - {path: /rails/storage, exclude: ["*.tmp"]}\n'))
    assert.deepEqual(result.findings, [])
    assert.deepEqual(result.config!.paths[0]!.exclude, ['*.tmp'])
  })
})

describe('unknown keys are rejected at every level, with "did you mean"', () => {
  const cases: [string, string, string, string, number][] = [
    // [where, from, to, expected suggestion, line]
    ['top level', 'app: shop\n', 'app: shop\ndatabses: []\n', 'databases', 2],
    ['databases[]', '    adapter: sqlite\n', '    adapter: sqlite\n    pasword: {secret: X}\n', 'password', 5],
    ['paths[] mapping', '  - /rails/storage\n', '  - {path: /rails/storage, exlude: [a]}\n', 'exclude', 7],
    ['restic', '  check_after_backup: true\n', '  check_after_backup: true\n  forget_afer_backup: true\n', 'forget_after_backup', 12],
    ['restic.password', '  password: {secret: RESTIC_PASSWORD}\n', '  password: {secert: RESTIC_PASSWORD}\n', 'secret', 10],
    ['restic.retention', '    keep_daily: 7\n', '    keep_daly: 7\n', 'keep_daily', 13],
    ['restic.repository {secret}', '  repository: {secret: RESTIC_REPOSITORY}\n', '  repository: {secrets: RESTIC_REPOSITORY}\n', 'secret', 9],
    ['restic.rest', '  check_after_backup: true\n', '  check_after_backup: true\n  rest: {username: u, pasword: {secret: P}}\n', 'password', 12],
    ['backup', '  schedule: 1d\n', '  schedul: 1d\n', 'schedule', 15],
    ['state', '  schedule: 1d\n', '  schedule: 1d\nstate:\n  pth: /x\n', 'path', 17],
  ]
  for (const [where, from, to, guess, line] of cases) {
    test(where, () => {
      const result = load(variant(from, to))
      const f = only(result.findings, 'schema/unknown-key')
      assertActionable(f, {file: 'config/kamal-backup.yml', line})
      assert.equal(f.suggestion, `did you mean "${guess}"?`)
      assert.equal(result.config, undefined, 'no config is produced from an invalid file')
    })
  }

  test('without a close match, the allowed keys of that level are listed (not the top level\'s)', () => {
    const f = only(load(variant('    adapter: sqlite\n', '    adapter: sqlite\n    zzzzzzzzzz: 1\n')).findings, 'schema/unknown-key')
    assert.match(f.suggestion!, /^allowed keys: name, adapter, url, password, path, max_shrink$/)
  })

  test('local file: unknown keys too', () => {
    const dir = makeApp({'config/kamal-backup.local.yml': 'databases:\n  - name: primary\n    pth: storage/dev.sqlite3\n'})
    const result = loadLocalConfig(join(dir, 'config/kamal-backup.local.yml'), dir)
    const f = only(result.findings, 'schema/unknown-key')
    assert.equal(f.suggestion, 'did you mean "path"?')
    assert.equal(f.line, 3)
  })
})

describe('restore targets (config/kamal-backup.local.yml, the written restore procedure)', () => {
  /** BACKUP (database primary, path /rails/storage) against a local file. */
  function targets(local: string) {
    const dir = makeApp({'config/kamal-backup.yml': BACKUP, 'config/kamal-backup.local.yml': local})
    const backup = loadBackupConfig(join(dir, 'config/kamal-backup.yml'), dir)
    const result = loadLocalConfig(join(dir, 'config/kamal-backup.local.yml'), dir)
    assert.deepEqual(result.findings, [])
    return checkRestoreTargets(backup.config!, result.config!, result.source!.positions)
  }

  test('a target for every database and path: nothing to report', () => {
    assert.deepEqual(targets('databases:\n  - {name: primary, path: storage/dev.sqlite3}\npaths:\n  - {from: /rails/storage, to: storage}\n'), [])
  })

  test('a database that is not backed up: error at its line, with the closest name', () => {
    const f = only(targets('databases:\n  - {name: primary, path: storage/dev.sqlite3}\n  - name: primray\n    path: storage/other.sqlite3\npaths:\n  - {from: /rails/storage, to: storage}\n'), 'config/restore-target-unknown')
    assert.equal(f.severity, 'error')
    assert.equal(f.file, 'config/kamal-backup.local.yml')
    assert.equal(f.line, 3)
    assert.match(f.message, /restores database "primray", but config\/kamal-backup.yml backs up no database of that name/)
    assert.equal(f.suggestion, 'did you mean "primary"?')
  })

  test('a path that is not backed up: error naming the paths that are', () => {
    const f = only(targets('paths:\n  - {from: /rails/storage, to: storage}\n  - {from: /data/uploads, to: uploads}\n'), 'config/restore-target-unknown')
    assert.equal(f.line, 3)
    assert.match(f.message, /restores path \/data\/uploads, but config\/kamal-backup.yml does not back it up/)
    assert.match(f.suggestion!, /\/rails\/storage/)
  })

  test('a backed-up path without a target: warning (restore local would skip those files)', () => {
    const f = only(targets('databases:\n  - {name: primary, path: storage/dev.sqlite3}\n'), 'config/restore-path-missing')
    assert.equal(f.severity, 'warning')
    assert.match(f.message, /no restore target for \/rails\/storage/)
    assert.match(f.suggestion!, /from: \/rails\/storage/)
  })
})

describe('literal secrets where secrets belong', () => {
  const cases: [string, string, string, string, number][] = [
    ['restic.password', '  password: {secret: RESTIC_PASSWORD}\n', '  password: hunter2\n', 'schema/literal-secret', 10],
    ['restic.rest.password', '  check_after_backup: true\n', '  check_after_backup: true\n  rest: {username: u, password: hunter2}\n', 'schema/literal-secret', 12],
    [
      'databases[].password',
      '    path: /rails/storage/production.sqlite3\n',
      '    path: /rails/storage/production.sqlite3\n  - {name: pg, adapter: postgres, url: "postgres://app@shop-db/shop", password: hunter2}\n',
      'schema/literal-secret',
      6,
    ],
    ['a database URL with a password', '    path: /rails/storage/production.sqlite3\n', '    path: /rails/storage/production.sqlite3\n  - name: pg\n    adapter: postgres\n    url: "postgres://app:hunter2@shop-db/shop"\n', 'config/url-password', 8],
    ['a repository URL with a password', '  repository: {secret: RESTIC_REPOSITORY}\n', '  repository: "rest:https://backup:hunter2@rest.example.com/shop"\n', 'config/url-password', 9],
    ['a secret-named restic.env entry', '  check_after_backup: true\n', '  check_after_backup: true\n  env:\n    AWS_SECRET_ACCESS_KEY: abc123\n', 'schema/literal-secret', 13],
  ]
  for (const [where, from, to, rule, line] of cases) {
    test(where, () => {
      const result = load(variant(from, to))
      const f = only(result.findings, rule)
      assertActionable(f, {line, suggestion: /secret/})
      assert.ok(f.suggestion!.includes('{secret:') || f.suggestion!.includes('`{secret: NAME}`'), `says how to use {secret: NAME}: ${f.suggestion}`)
      assert.equal(f.severity, 'error')
      assert.ok(!JSON.stringify(f).includes('hunter2') && !JSON.stringify(f).includes('abc123'), 'the secret itself is never repeated')
    })
  }

  // A number or a boolean is a literal secret too, and is never echoed (the auditor's 123456789 / 98765432).
  const scalars: [string, string, string, string, number][] = [
    ['a numeric database password', '    path: /rails/storage/production.sqlite3\n', '    path: /rails/storage/production.sqlite3\n  - {name: pg, adapter: postgres, url: "postgres://app@shop-db/shop", password: 123456789}\n', '123456789', 6],
    ['a numeric restic password', '  password: {secret: RESTIC_PASSWORD}\n', '  password: 8675309123\n', '8675309123', 10],
    ['a boolean rest password', '  password: {secret: RESTIC_PASSWORD}\n', '  password: {secret: RESTIC_PASSWORD}\n  rest: {username: u, password: true}\n', 'true', 11],
    ['a numeric secret-named restic.env value', '  check_after_backup: true\n', '  check_after_backup: true\n  env:\n    AWS_SECRET_ACCESS_KEY: 98765432\n', '98765432', 13],
  ]
  for (const [where, from, to, value, line] of scalars) {
    test(where, () => {
      const result = load(variant(from, to))
      const f = only(result.findings, 'schema/literal-secret')
      assertActionable(f, {line, suggestion: /\{secret: NAME\}/})
      assert.ok(!JSON.stringify(result.findings).includes(value === 'true' ? 'boolean true' : value), `the value is never echoed: ${JSON.stringify(result.findings)}`)
      assert.deepEqual(rules(result.findings), ['schema/literal-secret'])
    })
  }

  test('a credentials file path in restic.env is not a literal secret', () => {
    const text = variant('  check_after_backup: true\n', '  check_after_backup: true\n  env:\n    GOOGLE_APPLICATION_CREDENTIALS: /secrets/gcs.json\n')
    assert.deepEqual(load(text).findings, [])
    assert.deepEqual(rules(load(variant('  check_after_backup: true\n', '  check_after_backup: true\n  env:\n    GOOGLE_APPLICATION_CREDENTIALS: "{\\"private_key\\": 1}"\n')).findings), ['schema/literal-secret'])
  })

  test('a non-secret restic.env value is fine', () => {
    assert.deepEqual(load(variant('  check_after_backup: true\n', '  check_after_backup: true\n  env:\n    AWS_DEFAULT_REGION: eu-central-1\n')).findings, [])
  })
})

describe('types, enums and formats', () => {
  test('wrong type', () => {
    const f = only(load(variant('  check_after_backup: true\n', '  check_after_backup: "often"\n')).findings, 'schema/type')
    assert.equal(f.line, 11)
    assert.match(f.message, /restic\.check_after_backup must be a boolean, not the text "often"/)
  })

  test('unknown adapter: one finding, with a guess, and no "missing url" noise', () => {
    const result = load(variant('    adapter: sqlite\n', '    adapter: sqlit\n'))
    assert.deepEqual(rules(result.findings), ['schema/enum'])
    assert.equal(result.findings[0]!.suggestion, 'did you mean "sqlite"?')
  })

  test('a required key', () => {
    const f = only(load(variant('  password: {secret: RESTIC_PASSWORD}\n', '')).findings, 'schema/required')
    assert.match(f.message, /restic is missing the required key "password"/)
    assert.match(f.suggestion!, /password: \{secret: RESTIC_PASSWORD\}/)
  })

  test('sqlite needs path, postgres needs url', () => {
    const sqlite = only(load(variant('    path: /rails/storage/production.sqlite3\n', '')).findings, 'schema/required')
    assert.match(sqlite.message, /"path"/)
    const pg = only(load(variant('    adapter: sqlite\n    path: /rails/storage/production.sqlite3\n', '    adapter: postgres\n')).findings, 'schema/required')
    assert.match(pg.message, /"url"/)
  })

  test('password sources: exactly one', () => {
    const f = only(load(variant('  password: {secret: RESTIC_PASSWORD}\n', '  password: {secret: RESTIC_PASSWORD, file: /run/pw}\n')).findings, 'schema/one-of')
    assert.match(f.message, /exactly one of: secret, file, command/)
  })

  test('app name pattern', () => {
    const f = only(load(variant('app: shop\n', 'app: "my shop"\n')).findings, 'schema/format')
    assert.match(f.message, /letters, digits/)
    assert.equal(f.line, 1)
  })

  test('negative retention', () => {
    assert.equal(only(load(variant('    keep_daily: 7\n', '    keep_daily: -1\n')).findings, 'schema/range').line, 13)
  })
})

describe('semantic checks of the file', () => {
  const cases: [string, string, string, string, 'error' | 'warning'][] = [
    ['relative path', '  - /rails/storage\n', '  - storage\n', 'config/relative-path', 'error'],
    ['system directory', '  - /rails/storage\n', '  - /etc\n', 'config/suspicious-path', 'error'],
    ['duplicate path', '  - /rails/storage\n', '  - /rails/storage\n  - /rails/storage/\n', 'config/duplicate-path', 'error'],
    ['nested path', '  - /rails/storage\n', '  - /rails/storage\n  - /rails/storage/uploads\n', 'config/nested-path', 'warning'],
    ['duplicate database name', '    path: /rails/storage/production.sqlite3\n', '    path: /rails/storage/production.sqlite3\n  - {name: primary, adapter: sqlite, path: /rails/storage/b.sqlite3}\n', 'config/duplicate-database', 'error'],
    ['sqlite with url', '    path: /rails/storage/production.sqlite3\n', '    path: /rails/storage/production.sqlite3\n    url: "sqlite:///x"\n', 'config/adapter-fields', 'error'],
    ['no repository', '  repository: {secret: RESTIC_REPOSITORY}\n', '', 'config/no-repository', 'error'],
    ['repository twice', '  repository: {secret: RESTIC_REPOSITORY}\n', '  repository: {secret: RESTIC_REPOSITORY}\n  repository_file: /run/repo\n', 'config/repository-twice', 'error'],
    ['retention that keeps nothing', '    keep_daily: 7\n', '    keep_daily: 0\n', 'config/retention-keeps-nothing', 'error'],
    ['bad schedule', '  schedule: 1d\n', '  schedule: "every day"\n', 'config/schedule', 'error'],
    ['check never runs (seed 004: check the repository regularly)', '  check_after_backup: true\n', '', 'config/no-check', 'warning'],
    ['check switched off', '  check_after_backup: true\n', '  check_after_backup: false\n', 'config/no-check', 'warning'],
    ['relative state path', '  schedule: 1d\n', '  schedule: 1d\nstate:\n  path: state\n', 'config/relative-path', 'error'],
  ]
  for (const [what, from, to, rule, severity] of cases) {
    test(what, () => {
      const f = only(load(variant(from, to)).findings, rule)
      assert.equal(f.severity, severity)
      assert.equal(f.file, 'config/kamal-backup.yml')
      assert.ok(f.line >= 1)
    })
  }

  test('check_read_data_subset by restic\'s own rules: what restic refuses is an error at its line, before any backup', () => {
    const subset = (value: string) => load(variant('  check_after_backup: true\n', `  check_after_backup: true\n  check_read_data_subset: "${value}"\n`)).findings
    for (const ok of ['5%', '0.5%', '.5%', '100%', '1/1', '2/3', '500M', '500m', '1k', '1T', '1b']) assert.deepEqual(rules(subset(ok)), [], ok)
    for (const [bad, message] of [['0%', /not a percentage above 0% and at most 100%/], ['150%', /at most 100%/], ['500%', /at most 100%/], ['1/0', /1 ≤ n ≤ t/], ['0/5', /1 ≤ n ≤ t/], ['3/2', /1 ≤ n ≤ t/], ['0M', /not a size above 0/]] as const) {
      const f = only(subset(bad), 'config/read-data-subset')
      assertActionable(f, {path: 'restic.check_read_data_subset', suggestion: /a percentage above 0 and at most 100 \(5%\)/})
      assert.match(f.message, message, bad)
    }
    for (const shape of ['500', '1.5G', '1P', 'all']) assertActionable(only(subset(shape), 'schema/format'), {suggestion: /a percentage \(5%\), a fraction \(1\/7\) or a size \(500M\)/})
  })

  test('nothing to back up', () => {
    const text = 'app: shop\nrestic:\n  repository: /srv/r\n  password: {secret: P}\n  retention: {keep_last: 1}\n'
    const f = only(load(text).findings, 'config/nothing-to-back-up')
    assertActionable(f, {suggestion: /under `paths:` \(e\.g\. - \/rails\/storage\)/})
    assert.doesNotMatch(f.suggestion!, /kamal-backup init/, 'not circular: init is what wrote an empty list')
  })

  test('database URL checks', () => {
    const text = (url: string) => `app: shop\ndatabases:\n  - {name: pg, adapter: postgres, url: "${url}"}\nrestic:\n  repository: /srv/r\n  password: {secret: P}\n  check_after_backup: true\n  retention: {keep_last: 1}\n`
    assert.deepEqual(rules(load(text('postgres://app@shop-db/shop')).findings), [])
    assert.match(only(load(text('mysql://app@shop-db/shop')).findings, 'config/database-url').message, /postgres URL must start with/)
    assert.match(only(load(text('postgres://app@shop-db')).findings, 'config/database-url').message, /no database name/)
  })
})

describe('bad files', () => {
  test('missing file suggests init', () => {
    const dir = makeApp({})
    const f = only(loadBackupConfig(join(dir, 'config/kamal-backup.yml'), dir).findings, 'config/missing-file')
    assertActionable(f, {file: 'config/kamal-backup.yml', line: 1, suggestion: /kamal-backup init/})
  })

  test('unreadable file', {skip: process.getuid?.() === 0 ? 'root reads everything' : false}, () => {
    const dir = makeApp({'config/kamal-backup.yml': BACKUP})
    chmodSync(join(dir, 'config/kamal-backup.yml'), 0o000)
    only(loadBackupConfig(join(dir, 'config/kamal-backup.yml'), dir).findings, 'config/unreadable-file')
  })

  test('a directory where the file should be', () => {
    const dir = makeApp({'config/kamal-backup.yml/x': ''})
    const f = only(loadBackupConfig(join(dir, 'config/kamal-backup.yml'), dir).findings, 'config/unreadable-file')
    assert.match(f.message, /EISDIR/)
  })

  test('empty file', () => {
    assertActionable(only(load('# nothing yet\n').findings, 'config/empty-file'), {line: 1})
  })

  test('not a mapping', () => {
    only(load('- app: shop\n').findings, 'config/not-a-mapping')
  })

  test('malformed YAML: one error with its location', () => {
    const result = load('app: shop\nrestic:\n  password: {secret: P\n  repository: /x\n')
    assert.equal(result.findings.length, 1, JSON.stringify(result.findings))
    const f = result.findings[0]!
    assert.equal(f.severity, 'error')
    assert.match(f.rule, /^yaml\//)
    assert.ok(f.line >= 3, `points into the file: ${JSON.stringify(f)}`)
  })

  test('duplicate keys: last wins, with a warning', () => {
    const result = load(variant('app: shop\n', 'app: first\napp: shop\n'))
    const f = only(result.findings, 'yaml/duplicate-key')
    assert.equal(f.severity, 'warning')
    assert.equal(f.line, 2)
    assert.equal(result.config!.app, 'shop')
  })
})

test('a file written with \\r\\n line endings reads the same', () => {
  const result = load(BACKUP.replace(/\n/g, '\r\n'))
  assert.deepEqual(result.findings, [])
})

test('the unknown-key finding points at the key itself', () => {
  const dir = makeApp({'config/kamal-backup.yml': variant('    keep_daily: 7\n', '    keep_daily: 7\n    keep_dayly: 7\n')})
  const result = loadBackupConfig(join(dir, 'config/kamal-backup.yml'), dir)
  const f = only(result.findings, 'schema/unknown-key')
  assert.deepEqual([f.line, f.column, f.path], [14, 5, 'restic.retention.keep_dayly'])
})

test('a cron schedule that never fires is an error now, not in production', () => {
  const f = only(load(variant('  schedule: 1d\n', '  schedule: "0 0 31 2 *"\n')).findings, 'config/schedule')
  assert.match(f.message, /never fires/)
  assert.equal(f.line, 15)
})

describe('README "Configuration" examples', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  const block = (after: string) => {
    const start = readme.indexOf(after)
    assert.ok(start >= 0, `README has ${JSON.stringify(after)}`)
    return /```yaml\n([\s\S]*?)```/.exec(readme.slice(start))![1]!
  }

  test('the config/kamal-backup.yml reference passes the schema and the file checks', () => {
    const result = load(block('`config/kamal-backup.yml` (uploaded into the accessory'))
    assert.deepEqual(result.findings.filter((f) => f.severity === 'error'), [])
  })

  test('the config/kamal-backup.local.yml example passes its schema', () => {
    const dir = makeApp({'config/kamal-backup.local.yml': block('`config/kamal-backup.local.yml` (workstation only')})
    assert.deepEqual(loadLocalConfig(join(dir, 'config/kamal-backup.local.yml'), dir).findings, [])
  })
})

describe('notify', () => {
  const withNotify = (lines: string) => load(`${BACKUP.trimEnd()}\nnotify:\n${lines}\n`)

  test('targets normalise with their default events (healthchecks: started, ok, failed)', () => {
    const result = withNotify(['  - {type: webhook, url: {secret: HOOK_URL}, signing_secret: {secret: HOOK_SIGNING}, events: [failed, ok]}', '  - {type: healthchecks, url: "https://hc-ping.com/abc"}', '  - {type: command, command: [/usr/local/bin/page, --team, ops]}'].join('\n'))
    assert.deepEqual(result.findings, [])
    assert.deepEqual(result.config!.notify, [
      {type: 'webhook', url: {kind: 'secret', name: 'HOOK_URL'}, signingSecret: {kind: 'secret', name: 'HOOK_SIGNING'}, events: ['failed', 'ok']},
      {type: 'healthchecks', url: {kind: 'value', value: 'https://hc-ping.com/abc'}, events: ['started', 'ok', 'failed']},
      {type: 'command', command: ['/usr/local/bin/page', '--team', 'ops'], events: ['failed', 'warning', 'recovered']},
    ])
  })

  test('what a type needs and takes: url or command, signing_secret only on a webhook, an http(s) URL', () => {
    const result = withNotify(['  - {type: slack}', '  - {type: command, url: "https://x.example"}', '  - {type: ntfy, url: "ntfy.sh/topic", signing_secret: {secret: X}}'].join('\n'))
    const messages = result.findings.filter((f) => f.rule === 'config/notify-target').map((f) => `${f.path}: ${f.message}`)
    assert.deepEqual(messages, [
      'notify[0]: a slack target needs "url"',
      'notify[1].url: a command target takes "command", not "url"',
      'notify[1]: a command target needs "command": the program and its arguments',
      'notify[2].signing_secret: a ntfy target takes no signing_secret (only webhook bodies are signed)',
      'notify[2].url: "ntfy.sh/topic" is not an http(s) URL',
    ])
    for (const f of result.findings) assertActionable(f)
  })

  test('on: (the issue\'s and GitHub Actions\' spelling, bare or quoted, flow or block) is events:; errors point at its line', () => {
    for (const on of ['on', 'On', '"on"']) {
      const result = withNotify(`  - {type: webhook, url: "https://x.example", ${on}: [failed, ok]}`)
      assert.deepEqual(result.findings, [], on)
      assert.deepEqual(result.config!.notify![0]!.events, ['failed', 'ok'], on)
    }
    const block = withNotify(['  - type: webhook', '    url: "https://x.example"', '    on:', '      - exploded'].join('\n'))
    const f = only(block.findings, 'schema/enum')
    assert.equal(f.path, 'notify[0].events[0]')
    assert.equal(f.line, BACKUP.trimEnd().split('\n').length + 5, 'the line of the bad event under on:')
  })

  test('both on: and events: is one error; other bare booleans (yes:) are explained', () => {
    const both = withNotify('  - {type: webhook, url: "https://x.example", on: [failed], events: [ok]}')
    assert.deepEqual(both.findings.map((f) => [f.rule, f.message]), [['schema/unknown-key', 'notify[0] has both on: and events:']])
    assertActionable(both.findings[0]!)
    const f = only(withNotify('  - {type: webhook, url: "https://x.example", yes: [failed]}').findings, 'schema/unknown-key')
    assert.match(f.message, /is read as true: YAML 1\.1 .* takes a bare on\/off\/yes\/no for a boolean/)
    assert.equal(f.suggestion, 'the list of events is "events:" (e.g. events: [failed, recovered])')
    assertActionable(f)
  })

  test('an event that does not exist is a schema error', () => {
    assert.deepEqual(rules(withNotify('  - {type: webhook, url: "https://x.example", events: [exploded]}').findings), ['schema/enum'])
  })
})

describe('host mode: volume entries under paths:', () => {
  const withPaths = (lines: string) => load(variant('paths:\n  - /rails/storage\n', `paths:\n${lines}`))

  test('a volume is known by its name: path volume:<name>, label volume-<name>, runtime kept when given', () => {
    const result = withPaths('  - {volume: shop_storage, runtime: podman, exclude: [cache]}\n  - {volume: shop_uploads}\n  - /srv/shop\n')
    assert.deepEqual(result.findings, [])
    assert.deepEqual(result.config!.paths, [
      {path: 'volume:shop_storage', volume: {name: 'shop_storage', runtime: 'podman'}, exclude: ['cache'], label: 'volume-shop_storage', allowEmpty: false, maxShrink: 50},
      {path: 'volume:shop_uploads', volume: {name: 'shop_uploads'}, exclude: [], label: 'volume-shop_uploads', allowEmpty: false, maxShrink: 50},
      {path: '/srv/shop', exclude: [], label: 'srv-shop', allowEmpty: false, maxShrink: 50},
    ])
  })

  test('path and volume both, neither, twice, a runtime alone, a name docker refuses: each located, with the fix', () => {
    const both = only(withPaths('  - {path: /srv/x, volume: x}\n').findings, 'config/path-and-volume')
    assertActionable(both, {line: 7, suggestion: /keep one/})
    const neither = only(withPaths('  - {exclude: [cache]}\n').findings, 'config/path-or-volume')
    assertActionable(neither, {line: 7, suggestion: /volume: myapp_storage/})
    assertActionable(only(withPaths('  - {volume: x}\n  - {volume: x, runtime: docker}\n').findings, 'config/duplicate-path'), {line: 8})
    assertActionable(only(withPaths('  - {path: /srv/x, runtime: podman}\n').findings, 'config/runtime-without-volume'), {line: 7})
    assert.deepEqual(rules(withPaths('  - {volume: "../etc"}\n').findings), ['schema/format'])
  })

  test('a local restore target names a volume as volume:<name> (not a directory under the checkout)', () => {
    const dir = makeApp({'config/kamal-backup.local.yml': 'paths:\n  - {from: "volume:shop_storage", to: storage}\n  - {from: /srv/shop, to: srv}\n'})
    const local = loadLocalConfig(join(dir, 'config/kamal-backup.local.yml'), dir)
    assert.deepEqual(local.config!.paths, [{from: 'volume:shop_storage', to: join(dir, 'storage')}, {from: '/srv/shop', to: join(dir, 'srv')}])
  })
})
