import {test, describe, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {ConfigError} from '../../../src/errors.js'
import {parseDotenv} from '../../../src/kamal/dotenv.js'
import {kamalSecrets, secretsFiles} from '../../../src/kamal/secrets.js'
import type {CommandRunner} from '../../../src/kamal/secrets.js'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const CORPUS = join(REPO, '../shared/corpus')
const noCorpus = existsSync(CORPUS) ? false : 'shared corpus not present'
const APPS = join(CORPUS, 'kamal-integration-apps')

let root: string

function app(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'app-'))
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), {recursive: true})
    writeFileSync(join(dir, name), text)
  }
  return dir
}

function counting(answers: Record<string, string> = {}): CommandRunner & {calls: string[]} {
  const calls: string[] = []
  const run: CommandRunner = (command) => {
    calls.push(command)
    const stdout = answers[command]
    return stdout === undefined ? {status: 1, stdout: '', stderr: 'failed\n'} : {status: 0, stdout, stderr: ''}
  }
  return Object.assign(run, {calls})
}

function thrown(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
    return error
  }
  assert.fail('expected an error')
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'kb-secrets-'))
})
after(() => {
  rmSync(root, {recursive: true, force: true})
})

describe('secretsFiles', () => {
  test('common first, then the plain file or the destination file, never both', () => {
    assert.deepEqual(secretsFiles('.kamal/secrets'), ['.kamal/secrets-common', '.kamal/secrets'])
    assert.deepEqual(secretsFiles('.kamal/secrets', 'staging'), ['.kamal/secrets-common', '.kamal/secrets.staging'])
    assert.deepEqual(secretsFiles('config/creds'), ['config/creds-common', 'config/creds'])
  })
})

describe('kamalSecrets', () => {
  test('reads -common then the plain file; later files win key by key; values know their file and line', () => {
    const cwd = app({
      '.kamal/secrets-common': 'SHARED=common\nOVERRIDDEN=common\n',
      '.kamal/secrets': '# prod\n\nOVERRIDDEN=plain\nONLY_PLAIN=p\n',
      '.kamal/secrets.staging': 'OVERRIDDEN=staging\n',
    })
    const secrets = kamalSecrets({cwd, env: {}})
    assert.deepEqual(secrets.files, ['.kamal/secrets-common', '.kamal/secrets'])
    assert.deepEqual(secrets.get('SHARED'), {value: 'common', file: '.kamal/secrets-common', line: 1})
    assert.deepEqual(secrets.get('OVERRIDDEN'), {value: 'plain', file: '.kamal/secrets', line: 3})
    assert.deepEqual(secrets.names(), ['SHARED', 'OVERRIDDEN', 'ONLY_PLAIN'])
    assert.equal(secrets.has('ONLY_PLAIN'), true)
    assert.equal(secrets.has('NOPE'), false)
    assert.equal(secrets.get('NOPE'), undefined)
  })

  test('with a destination: -common then .<destination>, and the plain file is not read', () => {
    const cwd = app({
      '.kamal/secrets-common': 'SHARED=common\nOVERRIDDEN=common\n',
      '.kamal/secrets': 'ONLY_PLAIN=p\n',
      '.kamal/secrets.staging': 'OVERRIDDEN=staging\n',
    })
    const secrets = kamalSecrets({cwd, env: {}, destination: 'staging'})
    assert.deepEqual(secrets.files, ['.kamal/secrets-common', '.kamal/secrets.staging'])
    assert.deepEqual(secrets.get('OVERRIDDEN'), {value: 'staging', file: '.kamal/secrets.staging', line: 1})
    assert.equal(secrets.has('ONLY_PLAIN'), false)
  })

  test('missing files are skipped; with none, there are no names', () => {
    const onlyPlain = kamalSecrets({cwd: app({'.kamal/secrets': 'A=1\n'}), env: {}})
    assert.deepEqual(onlyPlain.files, ['.kamal/secrets'])
    assert.deepEqual(onlyPlain.names(), ['A'])
    const none = kamalSecrets({cwd: app({}), env: {}, destination: 'production'})
    assert.deepEqual(none.files, [])
    assert.deepEqual(none.names(), [])
  })

  test('a custom secrets_path', () => {
    const cwd = app({'config/secrets-common': 'A=1\n', 'config/secrets.eu': 'B=2\n'})
    const secrets = kamalSecrets({cwd, secretsPath: 'config/secrets', destination: 'eu', env: {}})
    assert.deepEqual(secrets.files, ['config/secrets-common', 'config/secrets.eu'])
    assert.deepEqual(secrets.get('B'), {value: '2', file: 'config/secrets.eu', line: 1})
  })

  test('each file is parsed on its own: ${X} cannot see X from another file, only earlier keys and env', () => {
    const cwd = app({
      '.kamal/secrets-common': 'DB_USER=app\nURL_COMMON=postgres://$DB_USER@db\n',
      '.kamal/secrets': 'URL=postgres://${DB_USER}@db\nHOME_DIR=$HOME\n',
    })
    const secrets = kamalSecrets({cwd, env: {HOME: '/home/deploy'}})
    assert.equal(secrets.get('URL_COMMON')?.value, 'postgres://app@db')
    assert.equal(secrets.get('URL')?.value, 'postgres://@db')
    assert.equal(secrets.get('HOME_DIR')?.value, '/home/deploy')
  })

  test('lazy: nothing is read or run before the first get/has/names', () => {
    const cwd = app({})
    const run = counting({'op read x': 'pw\n'})
    const secrets = kamalSecrets({cwd, env: {}, run})
    // Written after the source was created: still seen, because nothing was read yet.
    mkdirSync(join(cwd, '.kamal'))
    writeFileSync(join(cwd, '.kamal/secrets'), 'PW=$(op read x)\n')
    assert.deepEqual(run.calls, [])
    assert.equal(secrets.get('PW')?.value, 'pw')
    assert.equal(secrets.has('PW'), true)
    assert.deepEqual(secrets.names(), ['PW'])
    assert.deepEqual(run.calls, ['op read x'])
  })

  test('commands run in cwd by default', () => {
    const cwd = app({'.kamal/secrets': 'CERT=$(cat certs/cert.pem)\n', 'certs/cert.pem': 'PEM DATA\n'})
    assert.equal(kamalSecrets({cwd, env: {PATH: process.env.PATH}}).get('CERT')?.value, 'PEM DATA')
  })

  test('a failing command fails the lookups of its key (and keys built from it), not the others, and runs once', () => {
    const cwd = app({'.kamal/secrets': 'OK=1\nPW=$(op read broken)\nPW2=${PW}x\n'})
    const run = counting()
    const secrets = kamalSecrets({cwd, env: {}, run})
    assert.equal(secrets.get('OK')?.value, '1')
    const first = thrown(() => secrets.get('PW'))
    assert.equal(first.code, 'secrets/command-failed')
    assert.deepEqual(first.location, {file: '.kamal/secrets', line: 2, key: 'PW'})
    assert.equal(thrown(() => secrets.get('PW2')), first)
    assert.equal(secrets.lookup('PW')?.failure, first)
    assert.equal(secrets.lookup('PW')?.value, '')
    assert.deepEqual(secrets.failures().map((f) => f.name), ['PW', 'PW2'])
    assert.deepEqual(secrets.names(), ['OK', 'PW', 'PW2'])
    assert.deepEqual(run.calls, ['op read broken'])
  })

  test('KAMAL_DESTINATION is set while the files are evaluated (Kamal sets it process-wide), and removed without -d', () => {
    const cwd = app({'.kamal/secrets.production': 'RESTIC_PASSWORD=$(echo pw-$KAMAL_DESTINATION)\nD=$KAMAL_DESTINATION\n', '.kamal/secrets': 'D=${KAMAL_DESTINATION}none\n'})
    const production = kamalSecrets({cwd, env: {PATH: process.env.PATH}, destination: 'production'})
    assert.equal(production.get('RESTIC_PASSWORD')?.value, 'pw-production')
    assert.equal(production.get('D')?.value, 'production')
    assert.equal(kamalSecrets({cwd, env: {KAMAL_DESTINATION: 'leaked'}}).get('D')?.value, 'none')
  })

  test('warnings carry their file', () => {
    const cwd = app({'.kamal/secrets-common': 'A=1\n', '.kamal/secrets': '\nB=${X:-y}\n'})
    assert.deepEqual(
      kamalSecrets({cwd, env: {}}).warnings().map((w) => `${w.file}:${w.line}`),
      ['.kamal/secrets:2'],
    )
  })
})

describe('kamalSecrets: Kamal integration app shapes (inline copies)', () => {
  const COMMON = `SECRET_TOKEN='1234 with "中文"'\nSECRET_TAG='TAGME'\n`
  const FETCHING = [
    'SECRETS=$(kamal secrets fetch --adapter test --account test INTERPOLATED_SECRET1 INTERPOLATED_SECRET2 INTERPOLATED_中文 INTERPOLATED_LPARENRPAREN)',
    'INTERPOLATED_SECRET1=$(kamal secrets extract INTERPOLATED_SECRET1 ${SECRETS})',
    'INTERPOLATED_SECRET2=$(kamal secrets extract INTERPOLATED_SECRET2 ${SECRETS})',
    'INTERPOLATED_SECRET3=$(kamal secrets extract INTERPOLATED_中文 ${SECRETS})',
    'INTERPOLATED_SECRET4=$(kamal secrets extract INTERPOLATED_LPARENRPAREN ${SECRETS})',
    '',
  ].join('\n')

  test('secrets-common values', () => {
    const secrets = kamalSecrets({cwd: app({'.kamal/secrets-common': COMMON}), env: {}})
    assert.deepEqual(secrets.get('SECRET_TOKEN'), {value: '1234 with "中文"', file: '.kamal/secrets-common', line: 1})
    assert.deepEqual(secrets.get('SECRET_TAG'), {value: 'TAGME', file: '.kamal/secrets-common', line: 2})
  })

  test('kamal secrets fetch without kamal installed: the clear "needs kamal" error, for the secrets built from it', () => {
    const secrets = kamalSecrets({cwd: app({'.kamal/secrets-common': COMMON, '.kamal/secrets': FETCHING}), env: {PATH: '/nonexistent'}})
    assert.equal(secrets.get('SECRET_TOKEN')?.value, '1234 with "中文"', 'secrets-common is unaffected')
    const error = thrown(() => secrets.get('INTERPOLATED_SECRET2'))
    assert.equal(error.code, 'secrets/needs-kamal')
    assert.equal(error.message, 'Line 1 of .kamal/secrets (SECRETS) runs "kamal secrets fetch", which needs the kamal CLI, and kamal is not on PATH')
    assert.deepEqual(error.location, {file: '.kamal/secrets', line: 1, key: 'SECRETS'})
  })

  test('with a kamal on PATH that behaves like the test adapter, fetch + extract resolve end to end', () => {
    const bin = fakeTestAdapterKamal()
    const secrets = kamalSecrets({
      cwd: app({'.kamal/secrets-common': COMMON, '.kamal/secrets': FETCHING}),
      env: {PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`},
    })
    assert.equal(secrets.get('INTERPOLATED_SECRET1')?.value, '1TERCES_DETALOPRETNI')
    assert.equal(secrets.get('INTERPOLATED_SECRET2')?.value, '2TERCES_DETALOPRETNI')
    assert.equal(secrets.get('INTERPOLATED_SECRET3')?.value, '文中_DETALOPRETNI')
    assert.deepEqual(secrets.get('INTERPOLATED_SECRET4'), {value: 'NERAPRNERAPL_DETALOPRETNI', file: '.kamal/secrets', line: 5})
    assert.equal(secrets.get('SECRET_TAG')?.value, 'TAGME')
  })

  test('$(cat certs/…) with the certificate missing: secrets-command-failed with cat\'s stderr', () => {
    const cwd = app({'.kamal/secrets': 'CUSTOM_CERT=$(cat certs/cert.pem)\nCUSTOM_KEY=$(cat certs/key.pem)\n'})
    const error = thrown(() => kamalSecrets({cwd, env: {PATH: process.env.PATH}}).get('CUSTOM_CERT'))
    assert.equal(error.code, 'secrets/command-failed')
    assert.deepEqual(error.location, {file: '.kamal/secrets', line: 1, key: 'CUSTOM_CERT'})
    assert.match(error.message, /^The command \$\(cat certs\/cert\.pem\) on line 1 of \.kamal\/secrets \(for CUSTOM_CERT\) failed with exit status 1\nstderr:\n {2}cat: certs\/cert\.pem: No such file or directory$/)
  })
})

/** A `kamal` that answers `secrets fetch … NAMES` like Kamal's test adapter (each name reversed), printing the
 *  JSON shell-escaped as Kamal does. */
function fakeTestAdapterKamal(): string {
  const dir = mkdtempSync(join(root, 'bin-'))
  const script = [
    '#!/usr/bin/env node',
    'const args = process.argv.slice(2)',
    "if (args[0] !== 'secrets' || args[1] !== 'fetch') process.exit(2)",
    'const names = []',
    "for (let i = 2; i < args.length; i++) { if (args[i].startsWith('--')) { i++; continue } names.push(args[i]) }",
    "const json = JSON.stringify(Object.fromEntries(names.map((n) => [n, [...n].reverse().join('')])))",
    "process.stdout.write(json.replace(/[^A-Za-z0-9_\\-.,:+\\/@\\n]/g, (c) => '\\\\' + c) + '\\n')",
    '',
  ].join('\n')
  writeFileSync(join(dir, 'kamal'), script)
  chmodSync(join(dir, 'kamal'), 0o755)
  return dir
}

describe('corpus .kamal/secrets files', {skip: noCorpus}, () => {
  test('app/.kamal/secrets-common parses to the expected values', () => {
    const file = 'kamal-integration-apps/app/.kamal/secrets-common'
    const result = parseDotenv(readFileSync(join(CORPUS, file), 'utf8'), {file, env: {}})
    assert.deepEqual(result.entries, [
      {name: 'SECRET_TOKEN', value: '1234 with "中文"', line: 1},
      {name: 'SECRET_TAG', value: 'TAGME', line: 2},
    ])
  })

  test('app_with_traefik and app_with_roles secrets', () => {
    for (const name of ['app_with_traefik', 'app_with_roles']) {
      const secrets = kamalSecrets({cwd: join(APPS, name), env: {}})
      assert.deepEqual(secrets.files, ['.kamal/secrets'])
      assert.deepEqual(secrets.get('SECRET_TOKEN'), {value: '1234 with "中文"', file: '.kamal/secrets', line: 1})
    }
  })

  test('app: kamal secrets fetch --adapter test needs kamal', () => {
    const secrets = kamalSecrets({cwd: join(APPS, 'app'), env: {PATH: '/nonexistent'}})
    assert.deepEqual(secrets.files, ['.kamal/secrets-common', '.kamal/secrets'])
    assert.equal(secrets.get('SECRET_TAG')?.value, 'TAGME')
    const error = thrown(() => secrets.get('INTERPOLATED_SECRET1'))
    assert.equal(error.code, 'secrets/needs-kamal')
    assert.deepEqual(error.location, {file: '.kamal/secrets', line: 1, key: 'SECRETS'})
    assert.deepEqual(error.suggestions, [
      'Install Kamal (gem install kamal) so that kamal-backup can run it, then run kamal-backup again',
      'Or set SECRETS in the environment and make that line read it from there ($SECRETS)',
    ])
  })

  test('app: with a test-adapter kamal on PATH, all secrets resolve', () => {
    const cwd = mkdtempSync(join(root, 'corpus-app-'))
    cpSync(join(APPS, 'app', '.kamal'), join(cwd, '.kamal'), {recursive: true})
    const bin = fakeTestAdapterKamal()
    const secrets = kamalSecrets({cwd, env: {PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`}})
    assert.deepEqual(
      Object.fromEntries(secrets.names().filter((n) => n !== 'SECRETS').map((n) => [n, secrets.get(n)?.value])),
      {
        SECRET_TOKEN: '1234 with "中文"',
        SECRET_TAG: 'TAGME',
        INTERPOLATED_SECRET1: '1TERCES_DETALOPRETNI',
        INTERPOLATED_SECRET2: '2TERCES_DETALOPRETNI',
        INTERPOLATED_SECRET3: '文中_DETALOPRETNI',
        INTERPOLATED_SECRET4: 'NERAPRNERAPL_DETALOPRETNI',
      },
    )
  })

  test('app_with_custom_certificate: $(cat certs/…) fails clearly without the certs, and reads them when present', () => {
    const missing = kamalSecrets({cwd: join(APPS, 'app_with_custom_certificate'), env: {PATH: process.env.PATH}})
    const error = thrown(() => missing.get('CUSTOM_CERT'))
    assert.equal(error.code, 'secrets/command-failed')
    assert.deepEqual(error.location, {file: '.kamal/secrets', line: 1, key: 'CUSTOM_CERT'})
    assert.match(error.message, /^The command \$\(cat certs\/cert\.pem\) on line 1 of \.kamal\/secrets/)

    const cwd = mkdtempSync(join(root, 'corpus-cert-'))
    cpSync(join(APPS, 'app_with_custom_certificate', '.kamal'), join(cwd, '.kamal'), {recursive: true})
    mkdirSync(join(cwd, 'certs'))
    writeFileSync(join(cwd, 'certs/cert.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
    writeFileSync(join(cwd, 'certs/key.pem'), '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n')
    const present = kamalSecrets({cwd, env: {PATH: process.env.PATH}})
    assert.deepEqual(present.get('CUSTOM_CERT'), {value: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', file: '.kamal/secrets', line: 1})
    assert.equal(present.get('CUSTOM_KEY')?.value, '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----')
  })
})
