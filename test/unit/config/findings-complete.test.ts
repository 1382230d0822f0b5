// Every finding is actionable: a rule, a file, line >= 1, column >= 1, a message and a suggestion. And bad input
// never crashes `validate`: each value of a good checkout is replaced by null, text, a number, a list and a
// mapping (and each key renamed), and whatever comes out must be findings of that complete shape.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {isMap, isPair, isScalar, isSeq, parseDocument, type Node as YamlNode} from 'yaml'
import {validateCheckout, type CheckoutOptions} from '../../../src/config/validate.js'
import type {Finding} from '../../../src/parse/findings.js'
import {BACKUP, DEPLOY, SECRETS, cleanupApps, makeApp, makeCheckout} from './support.js'

after(cleanupApps)

/** Every rule id seen below: each must be documented in README "Validation rules". */
const seenRules = new Set<string>()

function assertComplete(findings: readonly Finding[], context: string): void {
  for (const f of findings) {
    seenRules.add(f.rule)
    const where = `${context}: ${JSON.stringify(f)}`
    assert.ok(f.rule && /^[a-z]+\/[a-z0-9-]+$/.test(f.rule), `a rule id: ${where}`)
    assert.ok(f.file, `a file: ${where}`)
    assert.ok(Number.isInteger(f.line) && f.line >= 1, `line >= 1: ${where}`)
    assert.ok(Number.isInteger(f.column) && f.column >= 1, `column >= 1: ${where}`)
    assert.ok(f.message.length > 0, `a message: ${where}`)
    assert.ok(typeof f.suggestion === 'string' && f.suggestion.trim().length > 0, `a suggestion: ${where}`)
    assert.ok(f.path.length > 0, `a key path: ${where}`)
  }
}

/** Paths to every mapping value and sequence item of a YAML text. */
function valuePaths(text: string): (string | number)[][] {
  const out: (string | number)[][] = []
  const walk = (node: unknown, path: (string | number)[]) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue
        const child = [...path, String(pair.key.value)]
        out.push(child)
        walk(pair.value, child)
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        out.push([...path, index])
        walk(item, [...path, index])
      })
    }
  }
  walk(parseDocument(text).contents, [])
  return out
}

const REPLACEMENTS: [string, unknown][] = [
  ['null', null],
  ['text', 'some text'],
  ['a number', 12345],
  ['a list', ['a', 'b']],
  ['a mapping', {k: 'v'}],
]

function mutations(text: string): {label: string; text: string}[] {
  const out: {label: string; text: string}[] = []
  for (const path of valuePaths(text)) {
    for (const [label, value] of REPLACEMENTS) {
      const doc = parseDocument(text)
      doc.setIn(path, doc.createNode(value))
      out.push({label: `${path.join('.')} = ${label}`, text: String(doc)})
    }
    const last = path.at(-1)
    if (typeof last === 'string') {
      // A typo of the key: the value moves to an unknown key.
      const doc = parseDocument(text)
      const parent = doc.getIn(path.slice(0, -1), true) as YamlNode | undefined
      const target = path.length === 1 ? doc.contents : parent
      if (isMap(target)) {
        const pair = target.items.find((p) => isScalar(p.key) && p.key.value === last)
        if (pair && isScalar(pair.key)) pair.key.value = `${last}x`
        out.push({label: `${path.join('.')} renamed`, text: String(doc)})
      }
    }
  }
  return out
}

describe('no crash, only complete findings, for every mutation of a valid checkout', () => {
  const cwd = makeCheckout()
  const write = (name: string, text: string) => {
    mkdirSync(dirname(join(cwd, name)), {recursive: true})
    writeFileSync(join(cwd, name), text)
  }
  const run = (label: string) => {
    let report
    try {
      report = validateCheckout({cwd, env: {}})
    } catch (error) {
      assert.fail(`${label}: validate threw ${(error as Error).stack}`)
    }
    assertComplete(report.findings, label)
    return report
  }

  test('config/deploy.yml', () => {
    let withErrors = 0
    for (const m of mutations(DEPLOY)) {
      write('config/deploy.yml', m.text)
      if (!run(`deploy.yml ${m.label}`).valid) withErrors++
    }
    write('config/deploy.yml', DEPLOY)
    assert.ok(withErrors > 50, `the mutations do break things (${withErrors})`)
  })

  test('config/kamal-backup.yml', () => {
    let withErrors = 0
    for (const m of mutations(BACKUP)) {
      write('config/kamal-backup.yml', m.text)
      if (!run(`kamal-backup.yml ${m.label}`).valid) withErrors++
    }
    write('config/kamal-backup.yml', BACKUP)
    assert.ok(withErrors > 50, `the mutations do break things (${withErrors})`)
  })
})

describe('every finding of a broad set of broken inputs has a suggestion, a file and a position', () => {
  const edit = (text: string, from: string, to: string) => {
    assert.ok(text.includes(from), `fixture contains ${JSON.stringify(from)}`)
    return text.replace(from, to)
  }
  const withDb = (line: string) => edit(BACKUP, 'paths:', `${line}\npaths:`)
  const cases: [string, Record<string, string>, Partial<CheckoutOptions>?][] = [
    ['empty files', {'config/deploy.yml': '', 'config/kamal-backup.yml': ''}],
    ['not mappings', {'config/deploy.yml': '- a\n', 'config/kamal-backup.yml': '- a\n'}],
    ['bad YAML', {'config/deploy.yml': 'service: [x\n', 'config/kamal-backup.yml': 'app: "x\n'}],
    ['missing files', {}, {configFile: 'config/nope.yml', backupConfigFile: 'config/nope-backup.yml'}],
    ['missing destination file', {}, {destination: 'mars'}],
    ['empty destination file', {'config/deploy.mars.yml': ''}, {destination: 'mars'}],
    ['require_destination', {'config/deploy.yml': DEPLOY + 'require_destination: true\n'}],
    ['required keys', {'config/deploy.yml': 'image: x\n', 'config/kamal-backup.yml': 'restic: {}\n'}],
    ['service pattern', {'config/deploy.yml': edit(DEPLOY, 'service: shop', 'service: "My Shop"')}],
    ['one-of', {'config/kamal-backup.yml': edit(BACKUP, '  password: {secret: RESTIC_PASSWORD}', '  password: {secret: RESTIC_PASSWORD, file: /run/pw}')}],
    ['empty password source', {'config/kamal-backup.yml': edit(BACKUP, '  password: {secret: RESTIC_PASSWORD}', '  password: {}')}],
    ['range', {'config/kamal-backup.yml': edit(BACKUP, 'keep_daily: 7', 'keep_daily: -1'), 'config/deploy.yml': DEPLOY + 'ssh:\n  port: 22:22\n'}],
    ['format', {'config/kamal-backup.yml': edit(BACKUP, 'app: shop', 'app: "my shop"')}],
    ['empty string', {'config/kamal-backup.yml': edit(BACKUP, '  - /rails/storage', '  - ""')}],
    ['enum without a guess', {'config/kamal-backup.yml': edit(BACKUP, 'adapter: sqlite', 'adapter: oracle')}],
    ['unknown keys everywhere', {'config/deploy.yml': edit(DEPLOY, '    files:', '    zzz: 1\n    files:') + 'qqq: 1\n', 'config/kamal-backup.yml': BACKUP + 'zzzz: 1\n'}],
    ['duplicate path, nested path', {'config/kamal-backup.yml': edit(BACKUP, '  - /rails/storage\n', '  - /rails/storage\n  - /rails/storage/\n  - /rails/storage/x\n')}],
    ['repository twice', {'config/kamal-backup.yml': edit(BACKUP, '  password:', '  repository_file: /run/repo\n  password:')}],
    ['rest password without username', {'config/kamal-backup.yml': edit(BACKUP, '  password: {secret: RESTIC_PASSWORD}', '  password: {secret: RESTIC_PASSWORD}\n  rest: {password: {secret: RESTIC_PASSWORD}}')}],
    ['adapter fields', {'config/kamal-backup.yml': withDb('  - {name: a, adapter: sqlite, path: /rails/storage/a.sqlite3, password: {secret: RESTIC_PASSWORD}}\n  - {name: b, adapter: postgres, url: "postgres://u@shop-db/b", path: /x}')}],
    ['database URLs', {'config/kamal-backup.yml': withDb('  - {name: a, adapter: postgres, url: "mysql://u@h/x"}\n  - {name: b, adapter: postgres, url: "postgres://u:pw@h/x"}\n  - {name: c, adapter: postgres, url: "nope"}\n  - {name: d, adapter: postgres, url: "postgres://u@shop-dbb/x"}')}],
    ['relative and system paths', {'config/kamal-backup.yml': edit(BACKUP, '  - /rails/storage\n', '  - storage\n  - /etc\n') + 'state:\n  path: rel\n'}],
    ['repository forms', {'config/kamal-backup.yml': edit(BACKUP, '  repository: {secret: RESTIC_REPOSITORY}', '  repository: relative/repo')}],
    ['retention and checks', {'config/kamal-backup.yml': edit(edit(BACKUP, '  check_after_backup: true\n', '  check_read_data_subset: 5%\n  forget_after_backup: false\n'), 'keep_daily: 7', 'keep_daily: 0')}],
    ['no retention', {'config/kamal-backup.yml': edit(BACKUP, '  retention:\n    keep_daily: 7\n', '')}],
    ['schedule', {'config/kamal-backup.yml': edit(BACKUP, 'schedule: 1d', 'schedule: "0 0 31 2 *"')}],
    ['nothing to back up', {'config/kamal-backup.yml': 'app: shop\nrestic:\n  repository: /srv/r\n  password: {secret: RESTIC_PASSWORD}\n  check_after_backup: true\n  retention: {keep_last: 1}\n'}],
    ['literal secrets', {'config/kamal-backup.yml': edit(BACKUP, '  password: {secret: RESTIC_PASSWORD}', '  password: 123456\n  env: {AWS_SECRET_ACCESS_KEY: abc, AWS_ACCESS_KEY_ID: 99}')}],
    ['no accessories', {'config/deploy.yml': DEPLOY.slice(0, DEPLOY.indexOf('accessories:'))}],
    ['two kamal-backup accessories', {'config/deploy.yml': DEPLOY + '  other:\n    image: ghcr.io/kamal-backup/kamal-backup\n    host: h\n'}],
    ['requested accessory missing', {'config/kamal-backup.yml': 'accessory: bakup\n' + BACKUP}],
    ['host selectors', {'config/deploy.yml': edit(DEPLOY, '    host: 10.0.0.1\n', '    host: 10.0.0.1\n    roles: [web]\n    tags: [x]\n')}],
    ['no host', {'config/deploy.yml': edit(DEPLOY, '    host: 10.0.0.1\n', '')}],
    ['unknown role, tags on list servers', {'config/deploy.yml': edit(DEPLOY, '    host: 10.0.0.1\n', '    roles: [wbe]\n') + '  b2:\n    image: x\n    tags: [t]\n'}],
    ['tags', {'config/deploy.yml': edit(edit(DEPLOY, '    - 10.0.0.1\n', '    - 10.0.0.1: writer\n  job:\n    hosts:\n      - 10.0.0.2: writer\n'), '    host: 10.0.0.1\n', '    tag: write\n')}],
    ['mounts', {'config/deploy.yml': edit(edit(DEPLOY, ':/app/config/kamal-backup.yml:ro', ':/etc/kb.yml'), '      - "shop_storage:/rails/storage"\n      - "shop_backup_state:/var/lib/kamal-backup"\n', '      - "shpo_storage:/rails/storage:ro"\n')}],
    ['no mounts at all', {'config/deploy.yml': edit(DEPLOY, '    files:\n      - config/kamal-backup.yml:/app/config/kamal-backup.yml:ro\n    volumes:\n      - "shop_storage:/rails/storage"\n      - "shop_backup_state:/var/lib/kamal-backup"\n', '    directories:\n      - storage:/rails/storage\n'), 'config/kamal-backup.yml': BACKUP + 'state:\n  path: /srv/state\n'}],
    ['image', {'config/deploy.yml': edit(DEPLOY, 'image: ghcr.io/kamal-backup/kamal-backup:0.1', 'image: busybox')}],
    ['secrets: missing, empty, undeclared, in clear', {'config/deploy.yml': edit(DEPLOY, '        - RESTIC_PASSWORD\n', '        - RESTIC_PASWORD\n'), '.kamal/secrets': 'RESTIC_REPOSITORY=\n'}],
    ['secret in clear', {'config/deploy.yml': edit(DEPLOY, '    env:\n      secret:\n        - RESTIC_REPOSITORY\n', '    env:\n      clear:\n        RESTIC_REPOSITORY: /srv/r\n        RESTIC_PASSWORD: x\n      secret:\n')}],
    ['secrets commands', {'.kamal/secrets': 'A=$(exit 1)\nRESTIC_REPOSITORY=$(exit 2)\nRESTIC_PASSWORD=${A}\nS=$(kamal secrets fetch --adapter x y)\n'}, {env: {PATH: '/nonexistent'}}],
    ['secrets format', {'.kamal/secrets': 'export NOPE\n'}],
    ['password file', {'config/kamal-backup.yml': edit(BACKUP, '  password: {secret: RESTIC_PASSWORD}', '  password: {file: /run/pw}')}],
    ['database host elsewhere', {'config/deploy.yml': DEPLOY + '  db:\n    image: postgres\n    host: 10.0.0.9\n', 'config/kamal-backup.yml': withDb('  - {name: a, adapter: postgres, url: "postgres://u@shop-db/x"}')}],
    ['ERB', {'config/deploy.yml': edit(DEPLOY, 'image: acme/shop', 'image: <%= `whoami` %>')}],
    ['ERB fetch in comment', {'config/deploy.yml': DEPLOY + '# <%= ENV.fetch("NOPE") %>\n'}],
    ['ERB comment skipped', {'config/deploy.yml': DEPLOY + '# <%= File.read("x") %>\n'}],
    ['ERB unclosed', {'config/deploy.yml': DEPLOY + 'x-a: <%= 1\n'}],
    ['ERB empty env', {'config/deploy.yml': edit(DEPLOY, '    host: 10.0.0.1', '    host: <%= ENV["BACKUP_HOST"] %>')}],
    ['YAML quirks', {'config/deploy.yml': DEPLOY + 'x-a: &a {k: 1}\nx-b:\n  k: 2\n  <<: *a\n  m: 0755\n  n: 1,000\nx-c:\n  <<: 1\nservice: shop\n---\nb: 1\n'}],
    ['local file', {'config/kamal-backup.local.yml': 'databases:\n  - {name: nope, url: "postgres://localhost/x"}\npaths:\n  - {from: /nowhere, to: x}\nzz: 1\n'}],
    ['local file shape', {'config/kamal-backup.local.yml': 'paths: 3\n'}],
  ]
  for (const [what, files, options] of cases) {
    test(what, () => {
      const cwd = makeApp({'config/deploy.yml': DEPLOY, 'config/kamal-backup.yml': BACKUP, '.kamal/secrets': SECRETS, ...files})
      const report = validateCheckout({cwd, env: {}, ...options})
      assert.ok(report.findings.length > 0, `${what} produces findings`)
      assertComplete(report.findings, what)
    })
  }

  test('a directory where a file belongs: unreadable files', () => {
    const cwd = makeApp({'config/deploy.yml': DEPLOY, '.kamal/secrets': SECRETS})
    mkdirSync(join(cwd, 'config/kamal-backup.yml'))
    const report = validateCheckout({cwd, env: {}})
    assertComplete(report.findings, 'unreadable')
    rmSync(join(cwd, 'config/kamal-backup.yml'), {recursive: true})
  })
})

test('every rule id produced above is documented in README "Validation rules"', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## Validation rules'), readme.indexOf('## Exit codes'))
  assert.ok(seenRules.size > 60, `many rules were exercised (${seenRules.size})`)
  const missing = [...seenRules].filter((rule) => !section.includes(`\`${rule}\``)).sort()
  assert.deepEqual(missing, [], 'add these to the README table')
})
