// Notifications end to end: real backups (restic 0.18, and the run that dies before it starts on 0.14 too, SQLite)
// telling real HTTP servers on 127.0.0.1 (test/support/http-recorder.ts) and a real command. What each target
// receives and in which order, the webhook's signature, healthchecks' start/success/fail pings with the log, the
// events a failure, a warning and a recovery make; a target that never answers or refuses costs a bounded time,
// changes nothing in the run, and is recorded and shown by evidence; `notify test`; no secret anywhere.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createHmac} from 'node:crypto'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {freshRepo, lab, RESTIC_VERSIONS, run, tempDir, type ResticVersion} from '../../support/lab.ts'
import {closedPort, httpRecorder, selfSignedCertificate, type Recorder} from '../../support/http-recorder.ts'
import {assertNoSecret, assertSchema, cli, cliJson, localRestic, readHistory, writeApp, type App} from './support.ts'

const pause = () => new Promise((r) => setTimeout(r, 1100)) // run ids have one-second resolution
const TOKEN = 'hook-token-5d1c9a'
const SIGNING = 'signing-secret-77aa'

async function sqliteApp(version: ResticVersion, notify: string[], extraEnv: Record<string, string> = {}): Promise<{app: App; storage: string; db: string}> {
  const dir = tempDir(`notify-${version}`)
  const storage = join(dir, 'storage')
  mkdirSync(storage)
  for (let i = 0; i < 4; i++) writeFileSync(join(storage, `blob-${i}`), `blob ${i}\n`)
  const db = join(dir, 'app.sqlite3')
  const r = await run(lab().bins.sqlite3, [db, 'CREATE TABLE t (v); INSERT INTO t VALUES (1);'])
  assert.equal(r.code, 0, r.stderr)
  const repo = freshRepo(version)
  const app = writeApp({version, repo, databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], paths: [`  - ${storage}`], restic: localRestic(repo), extra: ['notify:', ...notify], env: {HOOK_URL: '', SIGNING_SECRET: SIGNING, ...extraEnv}})
  return {app, storage, db}
}

describe('notifications', {concurrency: false}, () => {
  let server: Recorder
  before(async () => {
    server = await httpRecorder((path) => (path.startsWith('/hang') ? 'hang' : path.startsWith('/broken') ? 503 : 200))
  })
  after(async () => {
    await server.close()
  })

  test('a successful run: the webhook (signed), healthchecks (start, then success with the log), ntfy, Slack and a command each get what they subscribed to', async () => {
    const dir = tempDir('notify-command')
    const out = join(dir, 'event.json')
    const script = join(dir, 'notify.sh')
    writeFileSync(script, `#!/bin/sh\ncat > ${out}\nenv > ${out}.env\n`, {mode: 0o755})
    const hook = `${server.url}/hook/${TOKEN}`
    const {app} = await sqliteApp('0.18', [
      '  - {type: webhook, url: {secret: HOOK_URL}, signing_secret: {secret: SIGNING_SECRET}, events: [started, ok]}',
      `  - {type: healthchecks, url: "${server.url}/hc/${TOKEN}"}`,
      `  - {type: ntfy, url: "${server.url}/ntfy/backups", events: [ok]}`,
      `  - {type: slack, url: "${server.url}/slack/${TOKEN}", events: [ok]}`,
      `  - {type: command, command: [${script}], events: [ok]}`,
    ], {HOOK_URL: hook})
    const result = await cli(app, ['backup', '--force'])
    assert.equal(result.code, 0, result.stderr)

    const hooks = await server.waitFor(`/hook/${TOKEN}`, 2)
    const [started, ok] = hooks.map((r) => JSON.parse(r.body))
    assert.deepEqual([started.event, ok.event], ['started', 'ok'], 'in the order they happened')
    for (const [request, doc] of [[hooks[0]!, started], [hooks[1]!, ok]] as const) {
      assertSchema('notification', doc)
      assert.equal(request.headers['content-type'], 'application/json')
      assert.equal(request.headers['x-kamal-backup-event'], doc.event)
      assert.equal(request.headers['x-kamal-backup-signature'], `sha256=${createHmac('sha256', SIGNING).update(request.body).digest('hex')}`, 'the signature is the HMAC of the body as sent')
    }
    assert.equal(ok.app, app.name)
    assert.equal(ok.status, 'ok')
    assert.match(ok.run_id, /^\d{8}T\d{6}Z$/)
    assert.equal(ok.snapshots.length, 2)
    assert.match(ok.message, new RegExp(`^${app.name}: backup run ${ok.run_id} ok in \\d+\\.\\d s \\(2 snapshots\\)$`))

    const pings = await server.waitFor(`/hc/${TOKEN}`, 2)
    assert.deepEqual(pings.map((p) => p.path), [`/hc/${TOKEN}/start`, `/hc/${TOKEN}`])
    assert.match(pings[1]!.body, /backup run \S+ ok/)
    assert.match(pings[1]!.body, /INFO {2}files \(.*\): .* new, snapshot/, 'the run\'s log follows the message')

    const [ntfy] = await server.waitFor('/ntfy/backups', 1)
    assert.equal(ntfy!.headers['title'], `kamal-backup ${app.name}: ok`)
    assert.equal(ntfy!.headers['priority'], 'default')
    assert.match(ntfy!.body, /ok in/)
    const [slack] = await server.waitFor(`/slack/${TOKEN}`, 1)
    assert.match(JSON.parse(slack!.body).text, /backup run \S+ ok/)

    const fromCommand = JSON.parse(readFileSync(out, 'utf8'))
    assertSchema('notification', fromCommand)
    assert.equal(fromCommand.event, 'ok')
    // The command sees none of this process's secrets: only PATH, HOME, LANG and TZ.
    const commandEnv = readFileSync(`${out}.env`, 'utf8')
    assert.doesNotMatch(commandEnv, /RESTIC_PASSWORD|SIGNING_SECRET|HOOK_URL/)

    // The webhook's URL and the secrets are never shown: not in the output, not in the state directory.
    const state = ['last_backup.json', 'runs.jsonl'].map((f) => readFileSync(join(app.state, f), 'utf8')).join('\n')
    assertNoSecret('output and state', result.stdout + result.stderr + state, [TOKEN, SIGNING, lab().resticPassword])
    const evidence = await cliJson(app, ['evidence'])
    assertNoSecret('evidence', JSON.stringify(evidence.json), [TOKEN, SIGNING])
    assert.deepEqual(evidence.json.notifications.targets.map((t: {type: string}) => t.type), ['webhook', 'healthchecks', 'ntfy', 'slack', 'command'])
    assert.equal(evidence.json.notifications.failed_deliveries, 0)
  })

  for (const version of RESTIC_VERSIONS) {
    test(`restic ${version}: a run that dies before its first step (wrong password) still says failed; the next good run says recovered; healthchecks gets /fail`, async () => {
      const {app} = await sqliteApp(version, [
        `  - {type: webhook, url: "${server.url}/dies-${version}", events: [failed, recovered]}`,
        `  - {type: healthchecks, url: "${server.url}/hc-dies-${version}"}`,
      ])
      const failed = await cli(app, ['backup', '--force'], {env: {RESTIC_PASSWORD: 'not-the-password'}})
      assert.equal(failed.code, 1)
      const [event] = await server.waitFor(`/dies-${version}`, 1)
      const doc = JSON.parse(event!.body)
      assertSchema('notification', doc)
      assert.equal(doc.event, 'failed')
      assert.match(doc.message, /FAILED at step database:main: restic could not open the repository: wrong password/)
      assert.ok(!event!.body.includes('not-the-password'))
      const pings = await server.waitFor(`/hc-dies-${version}`, 2)
      assert.deepEqual(pings.map((p) => p.path.replace(`/hc-dies-${version}`, '')), ['/start', '/fail'])
      assert.match(pings[1]!.body, /wrong password/)

      await pause()
      const ok = await cli(app, ['backup', '--force'])
      assert.equal(ok.code, 0, ok.stderr)
      const events = (await server.waitFor(`/dies-${version}`, 2)).map((r) => JSON.parse(r.body).event)
      assert.deepEqual(events, ['failed', 'recovered'], 'ok is not subscribed; recovered is')
    })
  }

  test('a run that saved with a warning (a path lost most of its files) says warning', async () => {
    const {app, storage} = await sqliteApp('0.18', [`  - {type: webhook, url: "${server.url}/warn"}`])
    assert.equal((await cli(app, ['backup', '--force'])).code, 0)
    for (let i = 0; i < 3; i++) rmSync(join(storage, `blob-${i}`))
    await pause()
    assert.equal((await cli(app, ['backup', '--force'])).code, 0)
    const [warning] = await server.waitFor('/warn', 1)
    const doc = JSON.parse(warning!.body)
    assert.equal(doc.event, 'warning')
    assert.match(doc.warnings[0], /holds 1 files, 75% fewer than the 4/)
    assert.equal(server.requests.filter((r) => r.path === '/warn').length, 1, 'the default `events` (failed, warning, recovered) leaves ok out')
  })

  test('a target that never answers costs its 5 s deadline once; one that refuses or fails is tried three times; the run is ok, exit 0; each failure is recorded and shown by evidence', async () => {
    const refused = await closedPort()
    const {app} = await sqliteApp('0.18', [
      `  - {type: webhook, url: "${server.url}/hang/${TOKEN}", events: [ok]}`,
      `  - {type: webhook, url: "http://127.0.0.1:${refused}/refused", events: [ok]}`,
      `  - {type: slack, url: "${server.url}/broken/${TOKEN}", events: [ok]}`,
    ])
    const started = Date.now()
    const result = await cliJson(app, ['backup', '--force'])
    const took = Date.now() - started
    assert.equal(result.result.code, 0, result.result.stderr)
    assert.equal(result.json.status, 'ok')
    assert.ok(took < 5000 + 12_000, `the run with its deliveries took ${took} ms`)
    assert.match(result.result.stderr, /notification ok to notify\[0\] \(webhook\) failed: no answer within 5 s/)
    assert.match(result.result.stderr, /notification ok to notify\[1\] \(webhook\) failed: ECONNREFUSED/)
    assert.match(result.result.stderr, /notification ok to notify\[2\] \(slack\) failed: HTTP 503/)
    assert.equal(server.requests.filter((r) => r.path.startsWith('/broken')).length, 3, 'a 503 is tried three times')
    assert.equal(server.requests.filter((r) => r.path.startsWith('/hang')).length, 1, 'a timeout is not tried again')
    const failures = readHistory(app, 'notifications.jsonl')
    // Recorded as each finishes (the refused and the failing ones first): compared in target order.
    assert.deepEqual(failures.map((f) => [f.target, f.type, f.event, f.attempts]).sort((a, b) => a[0] - b[0]), [[0, 'webhook', 'ok', 1], [1, 'webhook', 'ok', 3], [2, 'slack', 'ok', 3]], JSON.stringify(failures))
    const evidence = await cliJson(app, ['evidence'])
    assert.equal(evidence.json.notifications.failed_deliveries, 3)
    assertNoSecret('stderr, notifications.jsonl and evidence', result.result.stderr + JSON.stringify(failures) + JSON.stringify(evidence.json), [TOKEN])
  })

  test('notify test: every target (or --target N) gets a test event; each result said; exit 1 when one fails', async () => {
    const {app} = await sqliteApp('0.18', [`  - {type: webhook, url: "${server.url}/test-ok"}`, `  - {type: ntfy, url: "${server.url}/broken/test"}`])
    const all = await cliJson(app, ['notify', 'test'])
    assert.equal(all.result.code, 1)
    assert.deepEqual(all.json.map((r: {target: number; ok: boolean}) => [r.target, r.ok]), [[0, true], [1, false]])
    const [event] = await server.waitFor('/test-ok', 1)
    assertSchema('notification', JSON.parse(event!.body))
    assert.equal(JSON.parse(event!.body).event, 'test')
    const one = await cli(app, ['notify', 'test', '--target', '0'])
    assert.equal(one.code, 0, one.stderr)
    assert.match(one.stdout, /^✔ notify\[0\] webhook: ok \(200\) in \d+ ms\n$/)
    assert.equal((await cli(app, ['notify', 'test', '--target', '5'])).code, 2)
  })

  test('over HTTPS (a certificate the system trusts) and through redirects: 307/308 repeat the POST, 302 becomes a GET; an untrusted certificate fails', async () => {
    const dir = tempDir('notify-tls')
    const certificate = selfSignedCertificate(dir)
    const secure = await httpRecorder((path) => (path === '/moved' ? {status: 308, location: '/hook/moved'} : path === '/found' ? {status: 302, location: '/hook/found'} : 200), certificate)
    try {
      const {app} = await sqliteApp('0.18', [`  - {type: webhook, url: "${secure.url}/moved"}`, `  - {type: healthchecks, url: "${secure.url}/found"}`], {NODE_EXTRA_CA_CERTS: certificate.caFile})
      const trusted = await cliJson(app, ['notify', 'test'])
      assert.equal(trusted.result.code, 0, trusted.result.stderr)
      assert.deepEqual(trusted.json.map((r: {ok: boolean; status: number}) => [r.ok, r.status]), [[true, 200], [true, 200]])
      const [moved] = await secure.waitFor('/hook/moved', 1)
      assert.equal(moved!.method, 'POST')
      assert.equal(JSON.parse(moved!.body).event, 'test', 'the body is sent again to the new location')
      const [found] = await secure.waitFor('/hook/found', 1)
      assert.deepEqual([found!.method, found!.body], ['GET', ''])

      const untrusted = await cliJson(app, ['notify', 'test', '--target', '0'], {env: {NODE_EXTRA_CA_CERTS: undefined}})
      assert.equal(untrusted.result.code, 1)
      assert.match(untrusted.json[0].error, /SELF_SIGNED|CERT/)
    } finally {
      await secure.close()
    }
  })
})
