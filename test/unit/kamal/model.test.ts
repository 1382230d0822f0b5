// The backup accessory model (kamal-config.md 3): which accessory, its hosts by each of the six selectors (with
// Kamal's tag quirks), its container name, mounts, env (NAME:ALIAS), and the top-level ssh settings. Then the
// corpus of Kamal's own test configs: every one is read, and the accessories come out as Kamal builds them.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {readDeployConfig} from '../../../src/kamal/deploy.js'
import {buildDeployModel} from '../../../src/kamal/model.js'
import {cleanupApps, makeApp, only, rules} from '../config/support.js'

after(cleanupApps)

const REQUEST_AT = {file: 'config/kamal-backup.yml', line: 2, column: 12}

function model(deploy: string, requested?: string) {
  const cwd = makeApp({'config/deploy.yml': deploy})
  const read = readDeployConfig({cwd, env: {}})
  assert.deepEqual(read.findings.filter((f) => f.severity === 'error'), [], 'the fixture itself reads')
  return buildDeployModel(read.source!, requested ? {name: requested, position: REQUEST_AT} : undefined)
}

const acc = (body: string, servers = 'servers:\n  web:\n    - 10.0.0.1\n    - 10.0.0.2: [backup]\n  workers:\n    hosts:\n      - 10.0.0.3: backup\n') =>
  `service: shop\n${servers}accessories:\n${body}`

describe('which accessory is the backup accessory', () => {
  const two = acc('  db:\n    image: postgres:16\n    host: 10.0.0.1\n  archive:\n    image: ghcr.io/kamal-backup/kamal-backup:0.1\n    host: 10.0.0.1\n  backup:\n    image: busybox\n    host: 10.0.0.1\n')

  test('accessory: in kamal-backup.yml wins', () => assert.equal(model(two, 'backup').model!.accessory.name, 'backup'))
  test('else the one whose image contains kamal-backup', () => assert.equal(model(two).model!.accessory.name, 'archive'))
  test('else the one named backup', () => {
    assert.equal(model(acc('  db:\n    image: postgres:16\n    host: h\n  backup:\n    image: acme/tools\n    host: h\n')).model!.accessory.name, 'backup')
  })
  test('else an error listing the accessories', () => {
    const f = only(model(acc('  db:\n    image: postgres:16\n    host: h\n  cache:\n    image: redis\n    host: h\n')).findings, 'kamal/accessory-missing')
    assert.match(f.message, /\(db, cache\)/)
    assert.equal(f.file, 'config/deploy.yml')
    assert.match(f.suggestion!, /accessory: <name>/)
  })
  test('no accessories at all', () => {
    assert.match(only(model('service: shop\nservers: [h]\n').findings, 'kamal/accessory-missing').suggestion!, /kamal-backup init/)
  })
  test('two kamal-backup images are ambiguous', () => {
    only(model(acc('  a:\n    image: ghcr.io/kamal-backup/kamal-backup\n    host: h\n  b:\n    image: ghcr.io/kamal-backup/kamal-backup\n    host: h\n')).findings, 'kamal/accessory-ambiguous')
  })
  test('a requested accessory that does not exist: at the accessory: line, with a guess', () => {
    const f = only(model(two, 'bakup').findings, 'kamal/accessory-missing')
    assert.deepEqual([f.file, f.line, f.suggestion], ['config/kamal-backup.yml', 2, 'did you mean "backup"?'])
  })
})

describe('hosts', () => {
  const hostsOf = (selector: string, servers?: string) => model(acc(`  backup:\n    image: ghcr.io/kamal-backup/kamal-backup\n${selector}`, servers))
  test('host', () => assert.deepEqual(hostsOf('    host: 10.0.0.9\n').model!.accessory.hosts, ['10.0.0.9']))
  test('hosts', () => assert.deepEqual(hostsOf('    hosts: [10.0.0.8, 10.0.0.9]\n').model!.accessory.hosts, ['10.0.0.8', '10.0.0.9']))
  test('role', () => assert.deepEqual(hostsOf('    role: workers\n').model!.accessory.hosts, ['10.0.0.3']))
  test('roles, in order, without duplicates', () => {
    const m = hostsOf('    roles: [web, workers, web]\n').model!.accessory
    assert.deepEqual(m.hosts, ['10.0.0.1', '10.0.0.2', '10.0.0.3'])
    assert.equal(m.hostsFrom, 'roles web, workers, web')
  })
  test('unknown role', () => {
    const f = only(hostsOf('    roles: [web, wrkers]\n').findings, 'kamal/unknown-role')
    assert.match(f.message, /wrkers/)
    assert.match(f.suggestion!, /web, workers/)
  })
  test('tags: only list-form roles are scanned (Kamal quirk), with a warning for the skipped host', () => {
    const built = hostsOf('    tags: [backup]\n')
    assert.deepEqual(built.model!.accessory.hosts, ['10.0.0.2'])
    assert.equal(only(built.findings, 'kamal/tag-skipped').severity, 'warning')
  })
  // Kamal: `host.values.first.include?(tag)`. The HOST's tag value decides: a string is searched for a substring,
  // a list for an exact element; `tag:` and `tags:` on the accessory behave the same.
  const tagged = 'servers:\n  web:\n    - 10.0.0.1\n    - 10.0.0.4: writer\n    - 10.0.0.5: [writer]\n'
  test('tag: a host tag written as text matches as a substring (Kamal quirk), with a warning', () => {
    const built = hostsOf('    tag: write\n', tagged)
    assert.deepEqual(built.model!.accessory.hosts, ['10.0.0.4'], 'the list-form tag [writer] does not match "write"')
    const f = only(built.findings, 'kamal/tag-substring')
    assert.match(f.message, /matches host 10\.0\.0\.4 only as part of its tag "writer"/)
    assert.match(f.suggestion!, /10\.0\.0\.4: \[writer\]/)
  })
  test('tags: the same substring rule applies (it is the host value that decides, not tag vs tags)', () => {
    const built = hostsOf('    tags: [write]\n', tagged)
    assert.deepEqual(built.model!.accessory.hosts, ['10.0.0.4'])
    only(built.findings, 'kamal/tag-substring')
  })
  test('tag: the full tag name matches both forms, without a warning', () => {
    const built = hostsOf('    tag: writer\n', tagged)
    assert.deepEqual(built.model!.accessory.hosts, ['10.0.0.4', '10.0.0.5'])
    assert.deepEqual(rules(built.findings), [])
  })
  test('tag: a list-form host tag needs the exact name: no hosts, an error', () => {
    const built = hostsOf('    tag: back\n')
    assert.deepEqual(built.model!.accessory.hosts, [])
    assert.deepEqual(rules(built.findings).sort(), ['kamal/no-hosts', 'kamal/tag-skipped'], '10.0.0.3: backup (text) would match, but its role uses hosts:')
  })
  test('tags with list-form servers give no hosts: an error that says why', () => {
    const f = only(hostsOf('    tags: [backup]\n', 'servers:\n  - 10.0.0.1\n  - 10.0.0.2: backup\n').findings, 'kamal/no-hosts')
    assert.match(f.message, /map of roles/)
  })
  test('exactly one selector: one finding with the fix, no repeated no-hosts', () => {
    const two = hostsOf('    host: a\n    roles: [web]\n').findings
    assert.deepEqual(rules(two), ['kamal/host-selector'])
    assert.match(two[0]!.message, /host and roles/)
    assert.match(two[0]!.suggestion!, /keep one of host, roles and remove the other/)
    const none = hostsOf('    cmd: x\n').findings
    assert.deepEqual(rules(none), ['kamal/host-selector'])
    assert.match(none[0]!.message, /has no host/)
  })
  test('a tagged entry in an accessory\'s hosts: warning (Kamal does not unwrap it)', () => {
    const built = hostsOf('    hosts:\n      - 10.0.0.8: backup\n')
    assert.equal(only(built.findings, 'kamal/tagged-accessory-host').line, 13)
  })
})

describe('the rest of the model', () => {
  const deploy = `service: shop
servers: [10.0.0.1]
ssh:
  user: app
  port: 2222
  proxy: bastion.example.com
  keys: [~/.ssh/deploy]
  keys_only: true
  config: false
accessories:
  backup:
    image: ghcr.io/kamal-backup/kamal-backup:0.1
    service: shop-backups
    host: 10.0.0.1
    files:
      - config/kamal-backup.yml:/app/config/kamal-backup.yml:ro
      - local: config/ca.pem
        remote: /certs/ca.pem
        mode: "0644"
    directories:
      - data:/data:ro
    volumes:
      - shop_storage:/rails/storage
      - /srv/uploads:/uploads:ro
      - /scratch
    env:
      clear:
        AWS_DEFAULT_REGION: eu-central-1
        PORT: 8080
      secret:
        - RESTIC_PASSWORD
        - DATABASE_PASSWORD:SHOP_DB_PASSWORD
  db:
    image: postgres:16
    host: 10.0.0.1
`
  const m = () => model(deploy).model!

  test('container name: service: overrides <service>-<accessory>', () => {
    assert.equal(m().accessory.container, 'shop-backups')
    assert.equal(m().containers.db, 'shop-db')
  })
  test('files, directories, volumes', () => {
    assert.deepEqual(m().accessory.files, [
      {local: 'config/kamal-backup.yml', remote: '/app/config/kamal-backup.yml', options: 'ro'},
      {local: 'config/ca.pem', remote: '/certs/ca.pem', mode: '0644'},
    ])
    assert.deepEqual(m().accessory.directories, [{local: 'data', remote: '/data', options: 'ro'}])
    assert.deepEqual(m().accessory.volumes, [
      {source: 'shop_storage', target: '/rails/storage', readOnly: false},
      {source: '/srv/uploads', target: '/uploads', options: 'ro', readOnly: true},
      {source: '', target: '/scratch', readOnly: false},
    ])
  })
  test('env.clear and env.secret with NAME:ALIAS', () => {
    assert.deepEqual(m().accessory.env, {
      clear: {AWS_DEFAULT_REGION: 'eu-central-1', PORT: '8080'},
      secret: [{name: 'RESTIC_PASSWORD', secret: 'RESTIC_PASSWORD'}, {name: 'DATABASE_PASSWORD', secret: 'SHOP_DB_PASSWORD'}],
    })
  })
  test('a simple env hash is all clear', () => {
    const built = model(acc('  backup:\n    image: kamal-backup\n    host: h\n    env:\n      A: "1"\n'))
    assert.deepEqual(built.model!.accessory.env, {clear: {A: '1'}, secret: []})
  })
  test('ssh settings and secrets path', () => {
    assert.deepEqual(m().ssh, {user: 'app', port: 2222, proxy: 'bastion.example.com', keys: ['~/.ssh/deploy'], keys_only: true, config: false})
    assert.equal(m().secretsPath, '.kamal/secrets')
    assert.deepEqual(m().accessoryNames, ['backup', 'db'])
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Kamal's own test configs (MIT, /work/shared/corpus). Expected values follow kamal-config.md (3.2, 5) and what
// the fixtures say; they are outside the repo, so these tests skip when it is absent.

const CORPUS = join(fileURLToPath(new URL('../../../', import.meta.url)), '../shared/corpus')
const FIXTURES = join(CORPUS, 'kamal-fixtures')
const APPS = join(CORPUS, 'kamal-integration-apps')
const noCorpus = existsSync(CORPUS) ? false : 'shared corpus not present'

describe('corpus: Kamal fixtures', {skip: noCorpus}, () => {
  const overlays = /^deploy_for_(required_)?dest\.(world|mars)\.yml$/
  const erbBeyondSubset = new Set([
    'deploy_with_cloud_builder.yml',
    'deploy_with_local_registry_and_remote_builder.yml',
    'deploy_with_local_registry_and_remote_builder_with_port.yml',
    'deploy_with_remote_builder.yml',
    'deploy_with_remote_builder_and_custom_ports.yml',
  ])
  const files = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((f) => f.endsWith('.yml') && !overlays.test(f)) : []

  for (const file of files) {
    test(file, () => {
      const r = readDeployConfig({cwd: FIXTURES, configFile: file, env: {}, ...(file === 'deploy_for_required_dest.yml' && {destination: 'world'})})
      const errors = r.findings.filter((f) => f.severity === 'error')
      if (erbBeyondSubset.has(file)) {
        // builder.arch: <%= Kamal::Utils.docker_arch … %> is outside what kamal-backup reads: a located warning.
        const f = only(r.findings, 'erb/unsupported-unread')
        assert.equal(f.file, file)
        assert.equal(f.path, 'builder.arch')
        assert.ok(f.line > 1 && f.column > 1)
        assert.match(f.message, /Kamal::Utils\.docker_arch/)
        assert.match(f.suggestion!, /--kamal-config/)
      }
      assert.deepEqual(errors, [], `${file} reads without errors`)
      // Every accessory can be modelled, as the backup accessory if it were requested by name.
      for (const name of Object.keys((r.source!.data.accessories ?? {}) as object)) {
        const built = buildDeployModel(r.source!, {name, position: REQUEST_AT})
        assert.deepEqual(built.findings.filter((f) => f.severity === 'error'), [], `${file}: accessory ${name}`)
      }
    })
  }

  const accessories = (file: string) => {
    const r = readDeployConfig({cwd: FIXTURES, configFile: file, env: {}})
    return Object.fromEntries(
      Object.keys(r.source!.data.accessories as object).map((name) => {
        const a = buildDeployModel(r.source!, {name, position: REQUEST_AT}).model!.accessory
        return [name, {container: a.container, hosts: a.hosts}]
      }),
    )
  }

  test('deploy_with_accessories.yml: host and roles selectors', () => {
    assert.deepEqual(accessories('deploy_with_accessories.yml'), {
      mysql: {container: 'app-mysql', hosts: ['1.1.1.3']},
      redis: {container: 'app-redis', hosts: ['1.1.1.1', '1.1.1.2']},
    })
  })

  test('deploy_with_accessories.yml: env, files, directories of mysql', () => {
    const r = readDeployConfig({cwd: FIXTURES, configFile: 'deploy_with_accessories.yml', env: {}})
    const a = buildDeployModel(r.source!, {name: 'mysql', position: REQUEST_AT}).model!.accessory
    assert.deepEqual(a.env, {clear: {MYSQL_ROOT_HOST: '%'}, secret: [{name: 'MYSQL_ROOT_PASSWORD', secret: 'MYSQL_ROOT_PASSWORD'}]})
    assert.deepEqual(a.files, [{local: 'test/fixtures/files/my.cnf', remote: '/etc/mysql/my.cnf'}])
    assert.deepEqual(a.directories, [{local: 'data', remote: '/var/lib/mysql'}])
  })

  test('deploy_with_accessories_with_different_registries.yml: service: overrides the container name', () => {
    assert.equal(accessories('deploy_with_accessories_with_different_registries.yml').busybox!.container, 'custom-box')
  })

  test('deploy_for_dest.yml -d world / -d mars: servers come from the destination', () => {
    for (const [dest, hosts] of [['world', ['1.1.1.1', '1.1.1.2']], ['mars', ['1.1.1.3', '1.1.1.4']]] as const) {
      const r = readDeployConfig({cwd: FIXTURES, configFile: 'deploy_for_dest.yml', destination: dest, env: {}})
      assert.deepEqual(r.findings, [])
      assert.deepEqual(r.source!.data.servers, hosts)
      assert.deepEqual(r.source!.files, ['deploy_for_dest.yml', `deploy_for_dest.${dest}.yml`])
    }
  })

  test('deploy_for_required_dest.yml without -d: require_destination', () => {
    const r = readDeployConfig({cwd: FIXTURES, configFile: 'deploy_for_required_dest.yml', env: {}})
    assert.deepEqual(rules(r.findings), ['deploy/require-destination'])
  })

  test('deploy.erb.yml: string literals in ERB', () => {
    const r = readDeployConfig({cwd: FIXTURES, configFile: 'deploy.erb.yml', env: {}})
    assert.deepEqual((r.source!.data.registry as Record<string, unknown>).username, 'my-user')
  })

  test('deploy_with_extensions.yml: x- anchors merged into roles', () => {
    const r = readDeployConfig({cwd: FIXTURES, configFile: 'deploy_with_extensions.yml', env: {}})
    assert.deepEqual(r.findings, [])
  })
})

describe('corpus: Kamal integration apps', {skip: noCorpus}, () => {
  const apps = existsSync(APPS) ? readdirSync(APPS) : []
  for (const app of apps) {
    test(`${app}: Kamal::Utils.docker_arch and the git backticks in builder are located warnings, and the config reads`, () => {
      const destination = existsSync(join(APPS, app, 'config/deploy.production.yml')) ? 'production' : undefined
      const r = readDeployConfig({cwd: join(APPS, app), env: {}, ...(destination && {destination})})
      assert.deepEqual(r.findings.filter((f) => f.severity === 'error'), [])
      const unread = r.findings.filter((f) => f.rule === 'erb/unsupported-unread')
      assert.deepEqual(unread.map((f) => f.path), ['builder.arch', 'builder.args.COMMIT_SHA'])
      const lines = readFileSync(join(APPS, app, 'config/deploy.yml'), 'utf8').split('\n')
      const line = lines.findIndex((l) => l.includes('<%= Kamal::Utils.docker_arch %>')) + 1
      assert.deepEqual([unread[0]!.file, unread[0]!.line, unread[0]!.column], ['config/deploy.yml', line, lines[line - 1]!.indexOf('<%') + 1])
      assert.match(unread[0]!.message, /<%= Kamal::Utils\.docker_arch %>/)
      for (const name of Object.keys((r.source!.data.accessories ?? {}) as object)) {
        assert.deepEqual(buildDeployModel(r.source!, {name, position: REQUEST_AT}).findings.filter((f) => f.severity === 'error'), [], `${app}: accessory ${name}`)
      }
    })
  }
})

describe('wrong shapes are located findings, never crashes (each said once)', () => {
  const all = (files: Record<string, string>, destination?: string) => {
    const cwd = makeApp(files)
    const read = readDeployConfig({cwd, env: {}, ...(destination && {destination})})
    const built = read.source ? buildDeployModel(read.source) : {findings: []}
    return [...read.findings, ...built.findings]
  }
  const backup = (body: string) => `service: shop\nservers: [10.0.0.1]\naccessories:\n  backup:\n    image: ghcr.io/kamal-backup/kamal-backup\n${body}`

  test('hosts: as a string (the auditor\'s "list.flatMap is not a function")', () => {
    const findings = all({'config/deploy.yml': backup('    hosts: h1\n')})
    assert.deepEqual(rules(findings), ['deploy/type'])
    assert.deepEqual([findings[0]!.path, findings[0]!.line], ['accessories.backup.hosts', 6])
    assert.ok(findings[0]!.suggestion)
  })

  test('an empty accessory (db:), and db: ~ in a destination file', () => {
    const base = backup('    host: 10.0.0.1\n') + '  db:\n'
    const empty = all({'config/deploy.yml': base})
    assert.deepEqual(rules(empty), ['deploy/type'])
    assert.equal(empty[0]!.path, 'accessories.db')
    const overlay = all({'config/deploy.yml': backup('    host: 10.0.0.1\n') + '  db:\n    image: postgres\n    host: 10.0.0.1\n', 'config/deploy.staging.yml': 'accessories:\n  db: ~\n'}, 'staging')
    assert.deepEqual(rules(overlay), ['deploy/type'])
    assert.equal(overlay[0]!.file, 'config/deploy.staging.yml')
  })

  test('the backup accessory itself empty: one error at it, no model', () => {
    const findings = all({'config/deploy.yml': 'service: shop\naccessories:\n  backup:\n'})
    assert.deepEqual(rules(findings), ['deploy/type'])
    assert.equal(findings[0]!.line, 3)
  })

  test('without the schema (a source built elsewhere), the model reports the shape itself', () => {
    const cwd = makeApp({'config/deploy.yml': backup('    hosts: h1\n    volumes: data:/data\n')})
    const source = readDeployConfig({cwd, env: {}}).source!
    source.invalid.clear()
    const built = buildDeployModel(source)
    assert.deepEqual(rules(built.findings), ['deploy/type', 'deploy/type'])
    assert.deepEqual(built.model!.accessory.invalidKeys.sort(), ['hosts', 'volumes'])
  })
})
