// The engine's restic settings (src/engine/context.ts): the environment a config turns into for each restic
// version, the password file's preflight and the repository open timeout. Real files in temporary directories.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {environmentSecrets} from '../../../src/config/resolve.ts'
import type {ResticConfig} from '../../../src/config/types.ts'
import {checkPasswordFile, openTimeoutMs, resticTarget} from '../../../src/engine/context.ts'
import {StateDir} from '../../../src/engine/state.ts'
import {parseResticVersion} from '../../../src/restic/client.ts'
import {Redactor, Secret} from '../../../src/redact.ts'

const dir = () => mkdtempSync(join(tmpdir(), 'kb-context-'))

describe('what the config becomes for restic', () => {
  const config = (rest: Partial<ResticConfig>): ResticConfig => ({password: {kind: 'secret', name: 'RP'}, env: {}, options: [], initIfMissing: false, checkAfterBackup: false, forgetAfterBackup: true, copies: [], ...rest})
  const engine = (env: Record<string, string>) => ({secrets: environmentSecrets(env), redactor: new Redactor(), env: {}, resticBin: 'restic', state: new StateDir('/state')})
  const reveal = (v: unknown) => (v instanceof Secret ? v.reveal() : v)

  test('REST credentials: in RESTIC_REST_* from 0.17 on, in the URL (environment only) on 0.14', () => {
    const c = config({repository: {kind: 'value', value: 'rest:https://backup.example/app'}, rest: {username: {kind: 'value', value: 'u'}, password: {kind: 'secret', name: 'RESTPW'}}})
    const v18 = parseResticVersion('restic 0.18.0 compiled with go1.24')!
    const v14 = parseResticVersion('restic 0.14.0 compiled with go1.19.8 on linux/amd64')!
    const t18 = resticTarget(c, v18, engine({RP: 'rp-1234', RESTPW: 'rest-pw/:@'}))
    assert.equal(reveal(t18.env.RESTIC_REPOSITORY), 'rest:https://backup.example/app')
    assert.equal(reveal(t18.env.RESTIC_REST_PASSWORD), 'rest-pw/:@')
    const t14 = resticTarget(c, v14, engine({RP: 'rp-1234', RESTPW: 'rest-pw/:@'}))
    assert.equal(reveal(t14.env.RESTIC_REPOSITORY), `rest:https://u:${encodeURIComponent('rest-pw/:@')}@backup.example/app`)
    assert.equal(t14.env.RESTIC_REST_PASSWORD, undefined)
    assert.equal(reveal(t14.env.RESTIC_PASSWORD), 'rp-1234')
    assert.ok(t14.env.RESTIC_CACHE_DIR === '/state/cache')
    for (const key of ['RESTIC_PASSWORD_FILE', 'RESTIC_PASSWORD_COMMAND', 'RESTIC_REPOSITORY_FILE']) assert.ok(key in t14.env && t14.env[key] === undefined, `${key} is cleared`)
  })
})

describe('preflight of the restic settings', () => {
  test('the password file must be readable and not empty', () => {
    const d = dir()
    assert.throws(() => checkPasswordFile(join(d, 'missing')), /restic password file .*missing \(restic.password\) cannot be read \(ENOENT\)/)
    writeFileSync(join(d, 'empty'), '')
    assert.throws(() => checkPasswordFile(join(d, 'empty')), /is empty/)
    assert.throws(() => checkPasswordFile(d), /is not a file/)
    writeFileSync(join(d, 'pw'), 'x\n')
    assert.equal(checkPasswordFile(join(d, 'pw')), join(d, 'pw'))
  })

  test('KAMAL_BACKUP_REPOSITORY_TIMEOUT: seconds, default 60, 0 turns it off, nonsense refused', () => {
    assert.equal(openTimeoutMs({}), 60_000)
    assert.equal(openTimeoutMs({KAMAL_BACKUP_REPOSITORY_TIMEOUT: '2.5'}), 2500)
    assert.equal(openTimeoutMs({KAMAL_BACKUP_REPOSITORY_TIMEOUT: '0'}), 0)
    assert.throws(() => openTimeoutMs({KAMAL_BACKUP_REPOSITORY_TIMEOUT: 'soon'}), /not a number of seconds/)
  })
})
