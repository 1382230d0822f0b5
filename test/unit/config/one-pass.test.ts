// validate finds everything at once (issue 15): a schema error in config/kamal-backup.yml does not hide the value
// checks or the cross-checks of the parts that are valid. Each test breaks several independent things in the
// reference checkout and expects every one of them, each at its own line, in one run; and nothing said twice.
import {after, test} from 'node:test'
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {loadBackupConfig} from '../../../src/config/backup-config.js'
import {inspectCheckout} from '../../../src/config/validate.js'
import {BACKUP, assertActionable, cleanupApps, makeCheckout, only, rules} from './support.js'

after(cleanupApps)

/** `text` with each `from` replaced by its `to`, asserting every `from` is there. */
function edit(text: string, ...pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    assert.ok(text.includes(from), `fixture contains ${JSON.stringify(from)}`)
    text = text.replace(from, to)
  }
  return text
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1

test('a misspelt nested key and, further down, an invalid schedule: both reported in one run, each at its line', () => {
  const config = edit(BACKUP, ['    keep_daily: 7', '    keep_daly: 7'], ['  schedule: 1d', '  schedule: every tuesday'])
  const {findings} = inspectCheckout({cwd: makeCheckout({'config/kamal-backup.yml': config}), env: {}})
  assert.deepEqual(rules(findings).sort(), ['config/schedule', 'schema/unknown-key'])
  assertActionable(only(findings, 'schema/unknown-key'), {file: 'config/kamal-backup.yml', line: lineOf(config, 'keep_daly'), suggestion: /keep_daily/})
  assertActionable(only(findings, 'config/schedule'), {file: 'config/kamal-backup.yml', line: lineOf(config, 'every tuesday')})
})

test('schema errors do not hide the cross-checks: an unmounted path and an undeclared secret are reported beside them', () => {
  const config = edit(
    BACKUP,
    ['  - /rails/storage\n', '  - /rails/storage\n  - /data/uploads\n'],
    ['  password: {secret: RESTIC_PASSWORD}', '  password: {secret: RESTIC_PASWORD}'],
    ['  schedule: 1d', '  schedule: 1d\n  enabeld: true'],
    ['    adapter: sqlite', '    adapter: sqlit'],
  )
  const {findings} = inspectCheckout({cwd: makeCheckout({'config/kamal-backup.yml': config}), env: {}})
  const byRule = new Map(findings.map((f) => [f.rule, f]))
  assert.equal(byRule.get('schema/enum')?.line, lineOf(config, 'sqlit'), JSON.stringify(findings, null, 2))
  assert.equal(byRule.get('schema/unknown-key')?.line, lineOf(config, 'enabeld'))
  assert.equal(byRule.get('kamal/path-not-mounted')?.line, lineOf(config, '/data/uploads'))
  assert.equal(byRule.get('kamal/secret-not-declared')?.line, lineOf(config, 'RESTIC_PASWORD'))
  // The database cut out for its bad adapter is not checked again (no "not mounted" or "missing" for it).
  assert.ok(!findings.some((f) => f.path.startsWith('databases[0]') && f.rule !== 'schema/enum'), JSON.stringify(findings, null, 2))
})

test('one bad database entry does not hide a problem in the next one', () => {
  const config = edit(BACKUP, [
    '    path: /rails/storage/production.sqlite3\n',
    '    path: /rails/storage/production.sqlite3\n    pasword: x\n  - name: queue\n    adapter: sqlite\n    path: storage/queue.sqlite3\n',
  ])
  const {findings} = inspectCheckout({cwd: makeCheckout({'config/kamal-backup.yml': config}), env: {}})
  assert.deepEqual(rules(findings).sort(), ['config/relative-path', 'kamal/path-not-mounted', 'schema/unknown-key'].sort(), JSON.stringify(findings, null, 2))
  assert.equal(only(findings, 'config/relative-path').path, 'databases[1].path')
})

test('a misspelt key is said once: restic.repostory is an unknown key, not also "restic.repository is missing"', () => {
  const config = edit(BACKUP, ['  repository: {secret: RESTIC_REPOSITORY}', '  repostory: {secret: RESTIC_REPOSITORY}'])
  const {findings} = inspectCheckout({cwd: makeCheckout({'config/kamal-backup.yml': config}), env: {}})
  assert.ok(!rules(findings).includes('config/no-repository'), JSON.stringify(findings, null, 2))
  assertActionable(only(findings, 'schema/unknown-key'), {line: lineOf(config, 'repostory'), suggestion: /repository/})
})

test('a file with errors never yields a config to run with, only validate\'s partial view', () => {
  const dir = makeCheckout({'config/kamal-backup.yml': edit(BACKUP, ['    keep_daily: 7', '    keep_daly: 7'])})
  const loaded = loadBackupConfig(join(dir, 'config/kamal-backup.yml'), dir)
  assert.equal(loaded.config, undefined)
  assert.equal(loaded.partial?.config.app, 'shop')
  assert.deepEqual(loaded.partial?.cut, [['restic', 'retention', 'keep_daly']])
  const valueError = makeCheckout({'config/kamal-backup.yml': edit(BACKUP, ['  schedule: 1d', '  schedule: 99x'])})
  const value = loadBackupConfig(join(valueError, 'config/kamal-backup.yml'), valueError)
  assert.equal(value.config, undefined)
  assert.deepEqual(value.partial?.cut, [])
  const valid = loadBackupConfig(join(makeCheckout(), 'config/kamal-backup.yml'), makeCheckout())
  assert.ok(valid.config && !valid.partial)
})
