// Reading config/deploy.yml the way Kamal 2.x does (kamal-config.md 5, 6): -c/-d, deep merge of the destination
// file, require_destination, KAMAL_DESTINATION for ERB, located ERB errors, YAML 1.1 quirks, strict keys; and the
// --kamal-config fallback that reads `kamal config` output instead.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {deepMerge, destinationFile, readDeployConfig, type KamalRunner} from '../../../src/kamal/deploy.js'
import {buildDeployModel} from '../../../src/kamal/model.js'
import {DEPLOY, assertActionable, cleanupApps, makeApp, only, rules} from '../config/support.js'

after(cleanupApps)

const read = (files: Record<string, string>, options: {configFile?: string; destination?: string; env?: Record<string, string>} = {}) => {
  const cwd = makeApp(files)
  return readDeployConfig({cwd, env: options.env ?? {}, ...(options.configFile && {configFile: options.configFile}), ...(options.destination && {destination: options.destination})})
}

describe('file naming', () => {
  test('destination files always end in .yml', () => {
    assert.equal(destinationFile('config/deploy.yml', 'staging'), 'config/deploy.staging.yml')
    assert.equal(destinationFile('deploy.yaml', 'eu'), 'deploy.eu.yml')
    assert.equal(destinationFile('x/prod.yml', 'eu'), 'x/prod.eu.yml')
  })

  test('-c reads another file', () => {
    const r = read({'ops/kamal.yml': 'service: other\n'}, {configFile: 'ops/kamal.yml'})
    assert.deepEqual(r.findings, [])
    assert.equal(r.source!.data.service, 'other')
    assert.deepEqual(r.source!.files, ['ops/kamal.yml'])
  })

  test('a missing base file', () => {
    const f = only(read({}).findings, 'deploy/missing-file')
    assertActionable(f, {file: 'config/deploy.yml', line: 1, suggestion: /-c/})
  })

  test('a missing destination file', () => {
    const f = only(read({'config/deploy.yml': 'service: a\n'}, {destination: 'mars'}).findings, 'deploy/missing-file')
    assertActionable(f, {file: 'config/deploy.mars.yml', suggestion: /-d/})
  })

  test('an empty destination file is a clean error (Kamal crashes on it)', () => {
    only(read({'config/deploy.yml': 'service: a\n', 'config/deploy.mars.yml': '# nothing\n'}, {destination: 'mars'}).findings, 'deploy/empty-file')
  })
})

describe('destinations', () => {
  test('deep merge: mappings merge, lists and scalars are replaced, null replaces', () => {
    const merged = deepMerge({a: {b: 1, c: [1, 2], d: {e: 1}}, f: 'x', g: 1}, {a: {c: [3], d: {h: 2}}, f: 'y', g: null}, [])
    assert.deepEqual(merged, {a: {b: 1, c: [3], d: {e: 1, h: 2}}, f: 'y', g: null})
  })

  test('the destination overlay, with positions from the file each value came from', () => {
    const r = read(
      {
        'config/deploy.yml': DEPLOY,
        'config/deploy.staging.yml': 'accessories:\n  backup:\n    host: 10.0.0.9\n    env:\n      secret:\n        - RESTIC_PASSWORD\n',
      },
      {destination: 'staging'},
    )
    assert.deepEqual(r.findings, [])
    const backup = (r.source!.data.accessories as Record<string, Record<string, unknown>>).backup!
    assert.equal(backup.host, '10.0.0.9')
    assert.deepEqual(backup.env, {secret: ['RESTIC_PASSWORD']}, 'the secret list is replaced, not concatenated')
    assert.equal(backup.image, 'ghcr.io/kamal-backup/kamal-backup:0.1', 'untouched keys stay')
    assert.deepEqual(r.source!.positions.nearest(['accessories', 'backup', 'host']), {file: 'config/deploy.staging.yml', line: 3, column: 5})
    assert.equal(r.source!.positions.nearest(['accessories', 'backup', 'image']).file, 'config/deploy.yml')
    assert.deepEqual(r.source!.files, ['config/deploy.yml', 'config/deploy.staging.yml'])
  })

  test('require_destination without -d is an error', () => {
    const f = only(read({'config/deploy.yml': 'service: a\nrequire_destination: true\n'}).findings, 'deploy/require-destination')
    assertActionable(f, {line: 2, suggestion: /-d/})
  })

  test('require_destination with -d is fine', () => {
    assert.deepEqual(read({'config/deploy.yml': 'service: a\nrequire_destination: true\n', 'config/deploy.eu.yml': 'image: x\n'}, {destination: 'eu'}).findings, [])
  })

  test('KAMAL_DESTINATION is set for ERB with -d, and unset without', () => {
    const files = {'config/deploy.yml': 'service: a\nimage: <%= ENV.fetch("KAMAL_DESTINATION", "none") %>\n', 'config/deploy.eu.yml': 'builder: {arch: amd64}\n'}
    assert.equal(read(files, {destination: 'eu'}).source!.data.image, 'eu')
    assert.equal(read(files, {env: {KAMAL_DESTINATION: 'leaked'}}).source!.data.image, 'none')
  })
})

describe('ERB', () => {
  test('the safe subset', () => {
    const text = `<%# a comment %>
service: <%= ENV["SVC"] %>
image: <%= ENV.fetch("IMG", "acme/app") %>
builder:
  arch: <%= "amd64" %>
retain_containers: <%= 3 -%>

# host: <%= Kamal::Utils.docker_arch %>
`
    const r = read({'config/deploy.yml': text}, {env: {SVC: 'shop'}})
    assert.deepEqual(r.findings.filter((f) => f.severity === 'error'), [])
    assert.equal(r.source!.data.service, 'shop')
    assert.equal(r.source!.data.image, 'acme/app')
    assert.equal(r.source!.data.retain_containers, 3)
    const warning = only(r.findings, 'erb/comment-skipped')
    assert.equal(warning.line, 8, 'a tag inside a YAML comment is skipped with a warning')
  })

  test('ENV.fetch of a missing variable: located error', () => {
    const r = read({'config/deploy.yml': 'service: a\nimage: <%= ENV.fetch("NOPE") %>\n'})
    const errors = r.findings.filter((f) => f.severity === 'error')
    assert.equal(errors.length, 1, JSON.stringify(r.findings))
    assert.deepEqual([errors[0]!.file, errors[0]!.line], ['config/deploy.yml', 2])
    assert.match(errors[0]!.message, /NOPE/)
  })

  test('ENV.fetch of a missing variable inside a YAML comment is an error too (Kamal renders ERB first)', () => {
    const r = read({'config/deploy.yml': 'service: a\n# b: <%= ENV.fetch("MISSING_X") %>\n'})
    const f = only(r.findings, 'erb/env-missing')
    assertActionable(f, {line: 2, suggestion: /Set MISSING_X in the environment/})
    assert.equal(f.severity, 'error')
  })

  test('a value that renders empty because an ENV variable is unset: the finding names the variable', () => {
    const r = read({'config/deploy.yml': 'service: a\nimage: <%= ENV["APP_IMAGE"] %>\n'})
    const f = only(r.findings, 'deploy/type')
    assert.match(f.message, /ENV\["APP_IMAGE"\] is not set, so the ERB tag on this line rendered as nothing/)
    assert.match(f.suggestion!, /^set APP_IMAGE in the environment/)
  })

  test('unsupported Ruby in a key kamal-backup reads: file:line:column, the tag text, and the --kamal-config suggestion', () => {
    const r = read({'config/deploy.yml': 'service: a\naccessories:\n  backup:\n    host: <%= Kamal::Utils.docker_arch %>\n'})
    const f = only(r.findings, 'erb/unsupported')
    assert.deepEqual([f.file, f.line, f.column], ['config/deploy.yml', 4, 11])
    assert.match(f.message, /<%= Kamal::Utils\.docker_arch %>/)
    assert.match(f.suggestion!, /--kamal-config/)
    assert.equal(r.source, undefined)
  })

  test('unsupported Ruby in a key kamal-backup never reads (builder.arch): a located warning, and the rest is read', () => {
    const r = read({'config/deploy.yml': 'service: a\nbuilder:\n  arch: <%= Kamal::Utils.docker_arch %>\n  args:\n    COMMIT_SHA: <%= `git rev-parse HEAD` %>\nretain_containers: <%= `echo 3` %>\n'})
    assert.deepEqual(r.findings.map((f) => [f.rule, f.severity, f.line, f.column, f.path]), [
      ['erb/unsupported-unread', 'warning', 3, 9, 'builder.arch'],
      ['erb/unsupported-unread', 'warning', 5, 17, 'builder.args.COMMIT_SHA'],
      ['erb/unsupported-unread', 'warning', 6, 20, 'retain_containers'],
    ], 'retain_containers renders empty, and its type error is left out with it')
    assert.match(r.findings[0]!.message, /<%= Kamal::Utils\.docker_arch %>.*it is in builder\.arch, which kamal-backup does not read/)
    assert.equal(r.source!.data.service, 'a')
  })

  test('an unevaluated tag that breaks the YAML around it is reported as the tag', () => {
    const r = read({'config/deploy.yml': 'service: a\nbuilder: <%= `x` %>: b\n'})
    assert.deepEqual(rules(r.findings), ['erb/unsupported'])
  })

  test('an error in the destination file points at the destination file', () => {
    const r = read({'config/deploy.yml': 'service: a\n', 'config/deploy.eu.yml': 'image: ok\nservers:\n  - <%= `uname -m` %>\n'}, {destination: 'eu'})
    const f = r.findings.find((x) => x.severity === 'error')!
    assert.deepEqual([f.file, f.line], ['config/deploy.eu.yml', 3])
  })
})

describe('YAML as Psych reads it', () => {
  test('anchors, merge keys and x- extension keys', () => {
    const text = `service: a
x-web: &web
  cmd: bin/web
  options: {memory: 1g}
servers:
  web:
    <<: *web
    hosts: [10.0.0.1]
accessories:
  backup:
    image: ghcr.io/kamal-backup/kamal-backup:0.1
    host: &h 10.0.0.2
  db:
    image: postgres:16
    host: *h
`
    const r = read({'config/deploy.yml': text})
    assert.deepEqual(r.findings, [])
    const servers = r.source!.data.servers as Record<string, Record<string, unknown>>
    assert.equal(servers.web!.cmd, 'bin/web')
    assert.deepEqual(servers.web!.hosts, ['10.0.0.1'])
    assert.equal((r.source!.data.accessories as Record<string, Record<string, unknown>>).db!.host, '10.0.0.2')
  })

  test('duplicate keys: last wins, with a warning at the second one', () => {
    const r = read({'config/deploy.yml': 'service: a\nimage: one\nimage: two\n'})
    assert.equal(r.source!.data.image, 'two')
    const f = only(r.findings, 'yaml/duplicate-key')
    assert.deepEqual([f.severity, f.line], ['warning', 3])
  })

  test('an unquoted base-60 port is read as Psych does, with a warning; quoted stays a string', () => {
    const r = read({'config/deploy.yml': 'service: a\naccessories:\n  db:\n    image: postgres\n    host: h\n    port: 22:22\n  db2:\n    image: postgres\n    host: h\n    port: "22:22"\n'})
    const acc = r.source!.data.accessories as Record<string, Record<string, unknown>>
    assert.equal(acc.db!.port, 80520)
    assert.equal(acc.db2!.port, '22:22')
    assert.equal(only(r.findings, 'yaml/sexagesimal').line, 6)
  })

  test('malformed YAML is one located error', () => {
    const r = read({'config/deploy.yml': 'service: a\naccessories:\n  backup: [\n'})
    const errors = r.findings.filter((f) => f.severity === 'error')
    assert.equal(errors.length, 1)
    assert.equal(errors[0]!.file, 'config/deploy.yml')
    assert.ok(errors[0]!.line >= 3)
    assert.equal(r.source, undefined)
  })
})

describe('strict keys, as Kamal validates them', () => {
  test('unknown top-level key with a guess; x- keys allowed only at the top level', () => {
    const r = read({'config/deploy.yml': 'service: a\naccesories: {}\nx-anything: 1\n'})
    const f = only(r.findings, 'deploy/unknown-key')
    assert.deepEqual([f.line, f.suggestion], [2, 'did you mean "accessories"?'])
  })

  test('unknown accessory key with a guess; x- is not allowed there', () => {
    const r = read({'config/deploy.yml': 'service: a\naccessories:\n  backup:\n    image: x\n    host: h\n    volumes: []\n    volume: []\n    x-note: 1\n'})
    const unknown = r.findings.filter((f) => f.rule === 'deploy/unknown-key')
    assert.deepEqual(unknown.map((f) => [f.line, f.path]), [[7, 'accessories.backup.volume'], [8, 'accessories.backup.x-note']])
    assert.equal(unknown[0]!.suggestion, 'did you mean "volumes"?')
  })

  test('unknown ssh key and role key', () => {
    const r = read({'config/deploy.yml': 'service: a\nssh:\n  usr: app\nservers:\n  web:\n    hosts: [h]\n    cmdd: x\n'})
    assert.deepEqual(r.findings.map((f) => [f.rule, f.line, f.suggestion]).sort((a, b) => Number(a[1]) - Number(b[1])), [
      ['deploy/unknown-key', 3, 'did you mean "user"?'],
      ['deploy/unknown-key', 7, 'did you mean "cmd"?'],
    ])
  })

  test('accessory env: once clear or secret is there, only those keys (the auditor\'s `secrets:`), with a guess', () => {
    const r = read({'config/deploy.yml': 'service: a\naccessories:\n  backup:\n    image: x\n    host: h\n    env:\n      clear: {A: b}\n      secrets: [RESTIC_PASSWORD]\n'})
    const f = only(r.findings, 'deploy/unknown-key')
    assert.deepEqual([f.line, f.path, f.suggestion], [8, 'accessories.backup.env.secrets', 'did you mean "secret"?'])
    assert.deepEqual(rules(r.findings), ['deploy/unknown-key'], 'no "must match then schema" noise')
    // The simple form stays free-form, but its values must be scalars, as in Kamal.
    assert.deepEqual(rules(read({'config/deploy.yml': 'service: a\naccessories:\n  b:\n    host: h\n    env:\n      A: "1"\n      B: 2\n'}).findings), [])
    assertActionable(only(read({'config/deploy.yml': 'service: a\naccessories:\n  b:\n    host: h\n    env:\n      A: [1]\n'}).findings, 'deploy/type'), {line: 6})
  })

  test('ports out of range: ssh.port: 22:22 (base-60, 80520) is an error as well as a warning', () => {
    const r = read({'config/deploy.yml': 'service: a\nssh:\n  port: 22:22\n'})
    assert.deepEqual(rules(r.findings).sort(), ['deploy/range', 'yaml/sexagesimal'])
    assertActionable(only(r.findings, 'deploy/range'), {line: 3, path: 'ssh.port'})
    assert.match(only(r.findings, 'deploy/range').message, /65535 or less, not 80520/)
    assert.deepEqual(rules(read({'config/deploy.yml': 'service: a\nssh:\n  port: "2222"\n'}).findings), [])
    only(read({'config/deploy.yml': 'service: a\nssh:\n  port: "22a"\n'}).findings, 'deploy/format')
  })

  test('service name pattern', () => {
    only(read({'config/deploy.yml': 'service: My App\n'}).findings, 'deploy/format')
  })
})

describe('--kamal-config: `kamal config` output instead of the files', () => {
  const OUTPUT = `---
:roles:
- web
:hosts:
- vm1
- vm2
:primary_host: vm1
:version: latest
:repository: acme/shop
:absolute_image: acme/shop:latest
:service_with_version: shop-latest
:volume_args:
- "--volume"
- shop_storage:/rails/storage
:ssh_options:
  :user: app
  :port: 2222
  :proxy: !ruby/object:Net::SSH::Proxy::Jump
    jump_proxies: root@bastion
  :keepalive: true
  :keepalive_interval: 30
  :keys_only: true
  :keys:
  - "~/.ssh/deploy"
  :log_level: :fatal
:accessories:
  backup:
    image: ghcr.io/kamal-backup/kamal-backup:0.1
    roles:
    - web
    files:
    - config/kamal-backup.yml:/app/config/kamal-backup.yml:ro
    volumes:
    - shop_storage:/rails/storage
    env:
      secret:
      - RESTIC_REPOSITORY
      - RESTIC_PASSWORD
:logging:
- "--log-opt"
- max-size="10m"
`
  const runner = (stdout: string, status = 0, stderr = ''): KamalRunner & {calls: string[][]} => {
    const calls: string[][] = []
    return Object.assign(((args) => (calls.push(args), {status, stdout, stderr})) as KamalRunner, {calls})
  }

  test('builds the same model from the output; the files are never read', () => {
    const cwd = makeApp({'config/deploy.yml': 'service: shop\nbuilder:\n  arch: <%= Kamal::Utils.docker_arch %>\n'})
    const run = runner(OUTPUT)
    const r = readDeployConfig({cwd, env: {}, destination: 'production', kamalConfig: true, runKamal: run})
    assert.deepEqual(run.calls, [['config', '-c', 'config/deploy.yml', '-d', 'production', '--version', 'latest']])
    assert.deepEqual(r.findings, [])
    const built = buildDeployModel(r.source!)
    assert.deepEqual(built.findings, [])
    const m = built.model!
    assert.equal(m.service, 'shop')
    assert.equal(m.accessory.name, 'backup')
    assert.equal(m.accessory.container, 'shop-backup')
    assert.deepEqual(m.accessory.hosts, ['vm1', 'vm2'], 'a single role: its hosts are all hosts')
    assert.deepEqual(m.ssh, {user: 'app', port: 2222, keys: ['~/.ssh/deploy'], keys_only: true, proxy: 'root@bastion'})
    assert.deepEqual(r.source!.data.volumes, ['shop_storage:/rails/storage'])
    assert.deepEqual(r.source!.files, ['config/deploy.yml', 'config/deploy.production.yml'])
  })

  test('several roles: hosts of a role-selected accessory are unknown (a warning, not an error)', () => {
    const cwd = makeApp({})
    const r = readDeployConfig({cwd, env: {}, kamalConfig: true, runKamal: runner(OUTPUT.replace(':roles:\n- web\n', ':roles:\n- web\n- workers\n'))})
    const built = buildDeployModel(r.source!)
    assert.deepEqual(rules(built.findings), ['kamal/hosts-unknown'])
    assert.equal(built.findings[0]!.severity, 'warning')
  })

  test('kamal fails: its error line, at the config file', () => {
    const cwd = makeApp({})
    const r = readDeployConfig({cwd, env: {}, kamalConfig: true, runKamal: runner('', 1, '  ERROR (Kamal::ConfigurationError): accessories/backup: unknown key: volume\n')})
    const f = only(r.findings, 'deploy/kamal-config')
    assert.match(f.message, /kamal config -c config\/deploy.yml --version latest` failed: ERROR \(Kamal::ConfigurationError\): accessories\/backup: unknown key: volume/)
    assert.equal(f.file, 'config/deploy.yml')
  })

  test('kamal not installed', () => {
    const cwd = makeApp({})
    const error = Object.assign(new Error('spawn kamal ENOENT'), {code: 'ENOENT'})
    const r = readDeployConfig({cwd, env: {}, kamalConfig: true, runKamal: () => ({status: null, stdout: '', stderr: '', error})})
    assertActionable(only(r.findings, 'deploy/kamal-config'), {suggestion: /install Kamal|without --kamal-config/})
  })

  test('output that is not Kamal config', () => {
    const r = readDeployConfig({cwd: makeApp({}), env: {}, kamalConfig: true, runKamal: runner('hello\n')})
    only(r.findings, 'deploy/kamal-config')
  })
})
