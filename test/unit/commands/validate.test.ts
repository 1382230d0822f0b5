// `kamal-backup validate` as a CI job and a developer run it: the built CLI in a throw-away checkout, its exit
// codes, and each output format. No servers needed: validate runs offline.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {kb} from '../../support/cli.ts'
import {BACKUP, DEPLOY, cleanupApps, makeCheckout} from '../config/support.ts'

after(cleanupApps)

const SECRET_VALUES = ['correct-horse', 's3.example.com']
const unmounted = {'config/kamal-backup.yml': BACKUP.replace('paths:\n  - /rails/storage\n', 'paths:\n  - /rails/storage\n  - /data/uploads\n')}
const onlyWarning = {'config/deploy.yml': DEPLOY.replace('      - "shop_backup_state:/var/lib/kamal-backup"\n', '')}

function assertNoSecrets(text: string): void {
  for (const value of SECRET_VALUES) assert.ok(!text.includes(value), `output contains the secret value ${value}:\n${text}`)
}

function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+:\d+:\d+\)?$/m, `a stack trace was printed:\n${text}`)
}

describe('exit codes', () => {
  test('0: valid, with the accessory it found', async () => {
    const r = await kb(['validate'], {cwd: makeCheckout()})
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /✔ valid: accessory "backup", container shop-backup on 10\.0\.0\.1/)
    assert.equal(r.stderr, '')
    assertNoSecrets(r.stdout)
  })

  test('1: errors, each at file:line:column with its rule and a suggestion', async () => {
    const r = await kb(['validate'], {cwd: makeCheckout(unmounted)})
    assert.equal(r.code, 1)
    assert.match(r.stdout, /^config\/kamal-backup\.yml:8:5 {2}error {4}path \/data\/uploads is not inside any volume .* {2}kamal\/path-not-mounted$/m)
    assert.match(r.stdout, /^ {4}→ mount the app's volume there: add "shop_uploads:\/data\/uploads"/m)
    assert.match(r.stdout, /✖ invalid: 1 error, 0 warnings/)
  })

  test('warnings pass, and fail with --strict', async () => {
    const cwd = makeCheckout(onlyWarning)
    const lax = await kb(['validate'], {cwd})
    assert.equal(lax.code, 0, lax.stdout)
    assert.match(lax.stdout, /warning {2}the state directory \/var\/lib\/kamal-backup is not on a volume/)
    assert.match(lax.stdout, /✔ valid: .* \(0 errors, 1 warning\)/)
    const strict = await kb(['validate', '--strict'], {cwd})
    assert.equal(strict.code, 1, strict.stdout)
  })

  test('2: a usage error, one line and a hint, no stack trace', async () => {
    const r = await kb(['validate', '--bogus'], {cwd: makeCheckout()})
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^Error: Nonexistent flag: --bogus\n {2}→ See --help/)
    assertNoStack(r.stderr)
    const format = await kb(['validate', '--format', 'xml'], {cwd: makeCheckout()})
    assert.equal(format.code, 2)
  })
})

describe('bad input: one located error, exit 1, no stack trace', () => {
  const cases: [string, Record<string, string>, string[], RegExp][] = [
    ['malformed YAML', {'config/kamal-backup.yml': 'app: shop\ndatabases:\n  - name: [unclosed\n'}, [], /^config\/kamal-backup\.yml:\d+:\d+ {2}error .* yaml\/syntax$/m],
    ['an unknown key', {'config/kamal-backup.yml': BACKUP.replace('  schedule: 1d\n', '  schedul: 1d\n')}, [], /^config\/kamal-backup\.yml:15:3 {2}error .*schema\/unknown-key\n {4}→ did you mean "schedule"\?$/m],
    ['a literal secret', {'config/kamal-backup.yml': BACKUP.replace('  password: {secret: RESTIC_PASSWORD}\n', '  password: hunter2-literal\n')}, [], /^config\/kamal-backup\.yml:10:\d+ {2}error .*schema\/literal-secret\n {4}→ .*\{secret: /m],
    ['unsupported ERB', {'config/deploy.yml': DEPLOY.replace('    host: 10.0.0.1', '    host: <%= `whoami` %>')}, [], /^config\/deploy\.yml:17:\d+ {2}error .*erb\/unsupported\n {4}→ .*--kamal-config/m],
    ['a missing destination file', {}, ['-d', 'staging'], /^config\/deploy\.staging\.yml:1:1 {2}error /m],
    ['a missing kamal-backup.yml', {'config/kamal-backup.yml': ''}, ['--backup-config', 'config/nope.yml'], /config\/nope\.yml.* does not exist.*\n {4}→ .*kamal-backup init/m],
  ]
  for (const [what, files, args, expected] of cases) {
    test(what, async () => {
      const r = await kb(['validate', ...args], {cwd: makeCheckout(files)})
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stdout, expected)
      assertNoStack(r.stdout + r.stderr)
      assert.ok(!(r.stdout + r.stderr).includes('hunter2-literal'), 'a literal secret is never echoed')
    })
  }
})

describe('output formats', () => {
  test('--json: every finding and the resolved accessory, secrets redacted, nothing else on stdout', async () => {
    const r = await kb(['validate', '--json'], {cwd: makeCheckout(unmounted)})
    assert.equal(r.code, 1)
    const report = JSON.parse(r.stdout)
    assert.equal(report.valid, false)
    assert.deepEqual(report.findings.map((f: {rule: string}) => f.rule), ['kamal/path-not-mounted'])
    const [f] = report.findings
    for (const key of ['severity', 'rule', 'file', 'line', 'column', 'path', 'message', 'suggestion']) assert.ok(key in f, `finding has ${key}`)
    assert.equal(report.accessory.container, 'shop-backup')
    assert.deepEqual(report.accessory.hosts, ['10.0.0.1'])
    assert.deepEqual(report.accessory.env.secret, ['RESTIC_REPOSITORY', 'RESTIC_PASSWORD'])
    assert.equal(report.accessory.ssh.user, 'root')
    assertNoSecrets(r.stdout + r.stderr)
    const same = await kb(['validate', '--format', 'json'], {cwd: makeCheckout(unmounted)})
    assert.deepEqual(JSON.parse(same.stdout).findings, report.findings)
  })

  test('--json: env.clear values that are secrets are redacted (secret-looking names, {secret:} references, values holding a secret)', async () => {
    const deploy = DEPLOY.replace(
      '    env:\n      secret:\n        - RESTIC_REPOSITORY\n        - RESTIC_PASSWORD\n',
      '    env:\n      clear:\n        RESTIC_PASSWORD: hunter2hunter2\n        AWS_SECRET_ACCESS_KEY: abcd1234wxyz\n        NOTE: "key correct-horse"\n        AWS_DEFAULT_REGION: eu-central-1\n      secret:\n        - RESTIC_REPOSITORY\n',
    )
    const r = await kb(['validate', '--json'], {cwd: makeCheckout({'config/deploy.yml': deploy})})
    assert.equal(r.code, 1, 'a password in env.clear is an error')
    const report = JSON.parse(r.stdout)
    assert.deepEqual(report.findings.map((f: {rule: string}) => f.rule), ['kamal/secret-in-clear'])
    assert.deepEqual(report.accessory.env.clear, {RESTIC_PASSWORD: '[REDACTED]', AWS_SECRET_ACCESS_KEY: '[REDACTED]', NOTE: '[REDACTED]', AWS_DEFAULT_REGION: 'eu-central-1'})
    for (const value of ['hunter2hunter2', 'abcd1234wxyz', 'correct-horse']) assert.ok(!r.stdout.includes(value), `${value} is not printed`)
  })

  test('--json: ssh.key_data is redacted', async () => {
    const deploy = DEPLOY + 'ssh:\n  key_data:\n    - "-----BEGIN OPENSSH PRIVATE KEY-----\\nAAAAsecretkeymaterial\\n-----END OPENSSH PRIVATE KEY-----"\n'
    const r = await kb(['validate', '--json'], {cwd: makeCheckout({'config/deploy.yml': deploy})})
    assert.equal(r.code, 0, r.stdout)
    assert.deepEqual(JSON.parse(r.stdout).accessory.ssh.key_data, ['[REDACTED]'])
    assert.ok(!r.stdout.includes('secretkeymaterial'))
  })

  test('--format github: one workflow annotation per finding, then a summary', async () => {
    const r = await kb(['validate', '--format', 'github'], {cwd: makeCheckout({...unmounted, ...onlyWarning})})
    assert.equal(r.code, 1)
    const lines = r.stdout.trimEnd().split('\n')
    assert.match(lines[0]!, /^::error file=config\/kamal-backup\.yml,line=8,col=5,title=kamal-backup kamal\/path-not-mounted::path \/data\/uploads is not inside/)
    assert.match(lines[1]!, /^::warning file=config\/deploy\.yml,line=\d+,col=\d+,title=kamal-backup kamal\/state-not-mounted::/)
    assert.equal(lines[2], 'kamal-backup: invalid (1 error, 1 warning)')
    assert.equal(lines.length, 3)
  })

  test('-c reads another deploy file, as Kamal does', async () => {
    const cwd = makeCheckout({'config/deploy.yml': 'service: [broken\n', 'config/other.yml': DEPLOY})
    const r = await kb(['validate', '-c', 'config/other.yml'], {cwd})
    assert.equal(r.code, 0, r.stdout)
    assert.match(r.stdout, /config\/other\.yml/)
  })
})
