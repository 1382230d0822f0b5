// A MariaDB server without TLS (the lab's 10.11, as MariaDB 10.x usually runs beside an app), backed up inside the
// real accessory image: its MariaDB 11 client requires TLS unless told not to, so the run fails, naming the cause,
// until the URL says ?ssl-mode=DISABLED; then the dump is whole. Through the lab's sshd and the accessory container.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {createMariaDatabase, dropMariaDatabase, freshRepo, lab, mariadb, resticBin, tempDir, type TestDatabase} from '../../support/lab.ts'
import {accessory, cli, remoteApp, type Container, type RemoteApp} from './fixture.ts'

describe('MariaDB without TLS, backed up in the accessory', {concurrency: false}, () => {
  let my: TestDatabase
  let app: RemoteApp
  let box: Container
  let repo: string

  before(async () => {
    my = await createMariaDatabase()
    await mariadb(my.name, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT); INSERT INTO items VALUES (1, 'plain text over the wire');")
    repo = freshRepo('0.18')
    execFileSync('chmod', ['-R', 'a+rwX', repo])
    const state = tempDir('mariadb-tls-state')
    execFileSync('chmod', ['a+rwX', state])
    app = remoteApp({
      backupConfig: ['databases:', `  - {name: shop, adapter: mysql, url: "${my.url}", password: {secret: MY_PW}}`, 'restic:', `  repository: ${repo}`, '  password: {secret: RESTIC_PASSWORD}', `state: {path: ${state}}`, 'backup: {enabled: false}', ''].join('\n'),
    })
    box = accessory(app.containerName, {env: {RESTIC_PASSWORD: lab().resticPassword, MY_PW: lab().mariadb.password}, config: app.config})
  })

  after(async () => {
    box?.remove()
    if (my) await dropMariaDatabase(my.name).catch(() => {})
  })

  test('the client insists on TLS: a failed run that says why; with ?ssl-mode=DISABLED the dump is whole', async () => {
    const refused = await cli(app, ['backup', '--force'])
    assert.equal(refused.code, 1, refused.stdout + refused.stderr)
    assert.match(refused.stdout + refused.stderr, /SSL is required, but the server does not support it/)

    writeFileSync(app.config, readFileSync(app.config, 'utf8').replace(my.url, `${my.url}?ssl-mode=DISABLED`))
    const saved = await cli(app, ['backup', '--force'])
    assert.equal(saved.code, 0, saved.stdout + saved.stderr)
    const snapshots = JSON.parse(execFileSync(resticBin('0.18'), ['-r', repo, '--no-cache', 'snapshots', '--json', '--no-lock'], {env: {...process.env, RESTIC_PASSWORD: lab().resticPassword}, encoding: 'utf8'}))
    const dump = execFileSync(resticBin('0.18'), ['-r', repo, '--no-cache', 'dump', snapshots.at(-1).id, snapshots.at(-1).paths[0]], {env: {...process.env, RESTIC_PASSWORD: lab().resticPassword}, encoding: 'utf8'})
    assert.match(dump, /plain text over the wire/)
  })
})
