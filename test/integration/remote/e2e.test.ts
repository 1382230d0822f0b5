// Remote execution end to end: the built CLI here → the lab's real OpenSSH sshd → the host's real `docker exec -i`
// (podman + runc) → the CLI inside the accessory container, built from the repository's Dockerfile and run as Kamal
// runs an accessory (see fixture.ts), with real restic, SQLite and PostgreSQL. The container's scheduler stays idle
// (backup.enabled: false) so that every backup here is one a test asked for; test/integration/image/ checks the
// scheduler itself.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {kb} from '../../support/cli.ts'
import {createPostgresDatabase, dropPostgresDatabase, freshRepo, lab, psql as labPsql, resticBin, tempDir, type TestDatabase} from '../../support/lab.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {launchChromium, noBrowser, openReport} from '../../support/browser.ts'
import {accessory, cli, cliRaw, onTerminal, remoteApp, ROOT, sshdSessionOf, startPostgres17, type AccessoryOptions, type Container, type RemoteApp} from './fixture.ts'

const HANDSHAKE = /@kamal-backup-handshake/

function sqlite(path: string, sql: string): string {
  return execFileSync(lab().bins.sqlite3, [path, sql], {encoding: 'utf8'}).trim()
}

describe('remote accessory commands over OpenSSH, with the real CLI in the container', {concurrency: false}, () => {
  let app: RemoteApp
  let box: Container
  let data: string
  let repo: string
  let pg: TestDatabase
  let containerEnv: Record<string, string>
  let pg17: Awaited<ReturnType<typeof startPostgres17>>
  /** SQL on the PostgreSQL 17 server the accessory backs up. */
  const psql = (db: string, sql: string, opts: {as?: 'app'} = {}) => labPsql(db, sql, {...opts, server: pg17})
  let boxOptions: AccessoryOptions

  before(async () => {
    pg17 = await startPostgres17()
    pg = await createPostgresDatabase(undefined, pg17)
    await psql(pg.name, "CREATE TABLE notes (id serial PRIMARY KEY, body text); INSERT INTO notes(body) SELECT 'note ' || g FROM generate_series(1, 200) g;", {as: 'app'})
    data = tempDir('remote-data')
    mkdirSync(join(data, 'storage', 'uploads'), {recursive: true})
    writeFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'hello\n')
    sqlite(join(data, 'storage', 'production.sqlite3'), "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items(name) VALUES ('one'), ('two'), ('three');")
    execFileSync('chmod', ['-R', 'a+rwX', data])
    repo = freshRepo('0.18')
    execFileSync('chmod', ['-R', 'a+rwX', repo])
    app = remoteApp({
      backupConfig: [
        'databases:',
        `  - {name: primary, adapter: sqlite, path: ${join(data, 'storage', 'production.sqlite3')}}`,
        `  - {name: notes, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`,
        'paths:',
        `  - ${join(data, 'storage')}`,
        'restic:',
        `  repository: ${repo}`,
        '  password: {secret: RESTIC_PASSWORD}',
        `state: {path: ${join(data, 'state')}}`,
        'backup: {enabled: false}',
        '',
      ].join('\n'),
    })
    // The accessory's secrets; everything else is the image's (restic, clients, state and config paths).
    containerEnv = {RESTIC_PASSWORD: lab().resticPassword, PG_PW: lab().postgres.appPassword}
    boxOptions = {env: containerEnv, config: app.config}
    box = accessory(app.containerName, boxOptions)
  })

  after(async () => {
    box?.remove()
    if (pg) await dropPostgresDatabase(pg.name, pg17).catch(() => {})
    pg17?.stop()
  })

  let runId: string

  test('backup runs in the accessory: output streams back, exit 0, and the run is in the repository', async () => {
    const result = await cli(app, ['backup', '--force'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /backup run \d{8}T\d{6}Z ok/)
    assert.match(result.stdout, /database:primary/)
    assert.match(result.stderr, /database notes \(postgres\)/, 'the accessory\'s progress lines arrive on stderr')
    assert.doesNotMatch(result.stderr + result.stdout, HANDSHAKE)
    for (const secret of [lab().postgres.appPassword, lab().resticPassword]) assert.ok(!(result.stdout + result.stderr).includes(secret), 'the accessory redacts its own output')
    // The repository really has the snapshots (read locally, outside the CLI).
    const snapshots = JSON.parse(execFileSync(resticBin('0.18'), ['-r', repo, 'snapshots', '--json', '--no-cache'], {env: {...process.env, RESTIC_PASSWORD: lab().resticPassword}, encoding: 'utf8'}))
    assert.equal(snapshots.length, 3)
  })

  test('list --json arrives byte for byte: the same document as running it inside the accessory, whatever secret-looking variables the laptop has', async () => {
    const local = await kb(['list', '--json'], {cwd: data, env: {...containerEnv, KAMAL_BACKUP_CONFIG: app.config, KAMAL_BACKUP_RESTIC: resticBin('0.18'), KAMAL_BACKUP_IN_ACCESSORY: '1'}})
    assert.equal(local.code, 0, local.stderr)
    // Values that occur in the document, as secret-looking variables on the laptop: the accessory's output must
    // not be touched by them (it redacts itself, with its own secrets).
    const number = /\b\d{4,}\b/.exec(local.stdout.replace(/"[^"]*"/g, '""'))?.[0]
    assert.ok(number, `a number of 4+ digits in ${local.stdout}`)
    const dirty = {POSTGRES_PASSWORD: 'files', DB_PASSWORD: number, SOME_FLAG_KEY: 'true', APP_SECRET: 'false', AWS_SECRET_ACCESS_KEY: 'null', PRIMARY_KEY: 'database:primary'}
    for (const value of Object.values(dirty)) assert.ok(local.stdout.includes(value), `${value} occurs in the document:\n${local.stdout}`)
    const remote = await cliRaw(app, ['list', '--json'], {env: dirty})
    assert.equal(remote.code, 0, remote.stderr)
    assert.ok(remote.stdout.equals(Buffer.from(local.stdout)), `byte for byte:\n${remote.stdout}\n---\n${local.stdout}`)
    const runs = JSON.parse(remote.stdout.toString('utf8'))
    assert.equal(runs.length, 1)
    assert.equal(runs[0].complete, true)
    runId = runs[0].id
  })

  test('status answers from the accessory: its document, and its exit code locally (0: healthy but no drill yet; 1 when stale)', async () => {
    const result = await cli(app, ['status', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const doc = JSON.parse(result.stdout)
    assert.equal(doc.kind, 'status')
    assert.equal(doc.status, 'warning')
    assert.equal(doc.latest_complete_run.id, runId)
    assert.match(doc.warnings.join('\n'), /no restore drill is recorded/)
    await new Promise((r) => setTimeout(r, 2100)) // older than the 1 s allowed below, whatever ran before
    const stale = await cli(app, ['status', '--max-age', '1s'])
    assert.equal(stale.code, 1, 'the accessory\'s exit code is this command\'s')
    assert.match(stale.stdout, new RegExp(`^✖ ${app.app}: failing: latest run ${runId}`))
  })

  test('evidence is produced remotely, names the latest run, matches its schema, and its digest checks out here', async () => {
    const result = await cli(app, ['evidence'])
    assert.equal(result.code, 0, result.stderr)
    const doc = JSON.parse(result.stdout)
    assertMatchesSchema('evidence.schema.json', doc)
    assert.equal(doc.kind, 'evidence')
    assert.equal(doc.app, app.app)
    assert.equal(doc.latest_complete_run.id, runId)
    const asJson = await cli(app, ['evidence', '--json'])
    assert.equal(asJson.code, 0, asJson.stderr)
    assertMatchesSchema('evidence.schema.json', JSON.parse(asJson.stdout))
    // The document as it came over SSH verifies on this machine (the digest recomputed over its canonical form).
    const file = join(tempDir('remote-evidence'), 'evidence.json')
    writeFileSync(file, result.stdout)
    const verified = await kb(['evidence', 'verify', file])
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
  })

  test('evidence --html from the checkout: the accessory sends the data, the page is written on this machine', async () => {
    // A directory the accessory does not see (only the lab's scratch space is mounted): the file can only come from here.
    const out = mkdtempSync(join(tmpdir(), 'kb-remote-report-'))
    try {
      const file = join(out, 'report.html')
      const result = await cli(app, ['evidence', '--html', file])
      assert.equal(result.code, 0, result.stderr)
      assert.equal(result.stdout, '', 'the page goes to the file, nothing to stdout')
      assert.match(result.stderr, new RegExp(`wrote ${file}`))
      const html = readFileSync(file, 'utf8')
      const runs = readFileSync(join(data, 'state', 'runs.jsonl'), 'utf8').trim().split('\n')
      assert.ok(html.includes(`<h1>Backups of <span class="app">${app.app}</span></h1>`))
      assert.equal(html.match(/<g class="mark run ok" data-status="ok">/g)?.length, runs.length)
      assert.ok(html.includes(`run ${runId} `), 'the run is in a mark\'s tooltip')
      if (!noBrowser) {
        const browser = await launchChromium()
        try {
          const {page, requests, errors} = await openReport(browser, file)
          assert.equal(await page.locator('svg.timeline g.mark[data-status="ok"]').count(), runs.length)
          assert.match(await page.locator('h1').innerText(), new RegExp(app.app))
          assert.deepEqual([requests, errors], [[], []])
        } finally {
          await browser.close()
        }
      }
      // --json: the report document as well (the evidence inside it, and the history), from the accessory.
      const asJson = await cli(app, ['evidence', '--html', file, '--json'])
      assert.equal(asJson.code, 0, asJson.stderr)
      const report = JSON.parse(asJson.stdout)
      assertMatchesSchema('report.schema.json', report)
      assert.equal(report.evidence.latest_complete_run.id, runId)
      assert.equal(report.history.runs.length, runs.length)
    } finally {
      rmSync(out, {recursive: true, force: true})
    }
  })

  test('drill production runs remotely, confirmed locally, and records the local operator', async () => {
    const scratch = join(data, 'drill')
    mkdirSync(scratch)
    execFileSync('chmod', ['a+rwx', scratch])
    const scratchDb = `${pg.name}_drill`
    const result = await cli(app, ['drill', 'production', '--yes', '--json', '--sqlite-path', join(scratch, 'drill.sqlite3'), '--database', scratchDb, '--files', join(scratch, 'files')], {env: {KAMAL_BACKUP_OPERATOR: 'alice on-call'}})
    try {
      assert.equal(result.code, 0, result.stdout + result.stderr)
      const record = JSON.parse(result.stdout)
      assert.equal(record.status, 'ok')
      assert.equal(record.operator, 'alice on-call')
      assertMatchesSchema('drill.schema.json', record)
      assert.equal(record.run_id, runId, 'the drill restored the latest run')
      assert.equal(sqlite(join(scratch, 'drill.sqlite3'), 'SELECT count(*) FROM items'), '3')
      assert.equal(await psql(scratchDb, 'SELECT count(*) FROM notes;'), '200')
      const last = JSON.parse(readFileSync(join(data, 'state', 'last_restore_drill.json'), 'utf8'))
      assert.equal(last.operator, 'alice on-call')
    } finally {
      await psql('postgres', `DROP DATABASE IF EXISTS "${scratchDb}" WITH (FORCE);`).catch(() => {})
    }
  })

  test('restore production: confirmed locally (refused without --confirm, before connecting), restored in the accessory', async () => {
    const db = join(data, 'storage', 'production.sqlite3')
    sqlite(db, "DELETE FROM items WHERE name <> 'one';")
    await psql(pg.name, 'DELETE FROM notes WHERE id > 10;', {as: 'app'})
    writeFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'changed\n')

    box.stop()
    const refused = await cli(app, ['restore', 'production', runId])
    box.start()
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /needs --confirm/)

    const result = await cli(app, ['restore', 'production', runId, '--confirm', app.app, '--json'])
    assert.equal(result.code, 0, result.stdout + result.stderr)
    const doc = JSON.parse(result.stdout)
    assert.equal(doc.status, 'ok')
    assert.equal(doc.run_id, runId)
    assert.equal(doc.safety_backup.status, 'ok')
    assert.equal(sqlite(db, 'SELECT count(*) FROM items'), '3')
    assert.equal(await psql(pg.name, 'SELECT count(*) FROM notes;', {as: 'app'}), '200')
    assert.equal(readFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'utf8'), 'hello\n')
  })

  /** What a restore would change or leave behind: the data, the runs, the records, every name in the targets and
   *  the state directory, and the repository's locks. */
  async function footprint() {
    const walk = (dir: string): string[] => readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? [`${e.name}/`, ...walk(join(dir, e.name)).map((n) => `${e.name}/${n}`)] : [e.name])).sort()
    const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : null)
    return {
      items: sqlite(join(data, 'storage', 'production.sqlite3'), 'SELECT group_concat(name) FROM items'),
      notes: await psql(pg.name, 'SELECT count(*) FROM notes;', {as: 'app'}),
      file: readFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'utf8'),
      /** Newest first; `*` marks a safety backup. */
      runs: (JSON.parse((await cli(app, ['list', '--json'])).stdout) as {id: string; pre_restore: boolean}[]).map((r) => `${r.id}${r.pre_restore ? '*' : ''}`),
      lastRestore: read(join(data, 'state', 'last_restore.json')),
      restores: read(join(data, 'state', 'restores.jsonl')),
      storage: walk(join(data, 'storage')),
      state: walk(join(data, 'state')).filter((n) => !n.startsWith('cache/') && !n.startsWith('tmp/')),
      locks: readdirSync(join(repo, 'locks')),
    }
  }

  async function changeProduction(items: string[]) {
    sqlite(join(data, 'storage', 'production.sqlite3'), `DELETE FROM items; ${items.map((n) => `INSERT INTO items(name) VALUES ('${n}');`).join(' ')}`)
    await psql(pg.name, `DELETE FROM notes WHERE id > ${items.length};`, {as: 'app'})
    writeFileSync(join(data, 'storage', 'uploads', 'a.txt'), `${items.join(',')}\n`)
  }

  test('restore production --dry-run in the accessory: the run latest resolves to, the targets, the checks; nothing changed, no safety backup, no record', async () => {
    await changeProduction(['changed'])
    const before = await footprint()
    assert.equal(before.runs.find((id) => !id.endsWith('*')), runId, 'the latest regular run is the first backup (the safety backup the restore took is never latest)')

    const text = await cli(app, ['restore', 'production', '--dry-run'])
    assert.equal(text.code, 0, text.stdout + text.stderr)
    assert.match(text.stdout, /dry run: restore production could proceed now; nothing was changed/)
    assert.match(text.stdout, new RegExp(`run +${runId}, taken \\S+ \\(\\d+ (s|min)`))
    assert.match(text.stdout, new RegExp(`database notes → 127\\.0\\.0\\.1:\\d+/${pg.name}\n`))
    assert.match(text.stdout, /safety +yes/)
    assert.match(text.stdout, /ok +free space for the staged copies/)
    assert.doesNotMatch(text.stdout + text.stderr, new RegExp(lab().postgres.appPassword))

    const json = await cli(app, ['restore', 'production', '--dry-run', '--json', '--no-safety-backup'])
    assert.equal(json.code, 0, json.stdout + json.stderr)
    const plan = JSON.parse(json.stdout)
    assertMatchesSchema('restore-plan.schema.json', plan)
    assert.equal(plan.status, 'ok')
    assert.equal(plan.run.id, runId)
    assert.ok(plan.run.age_seconds >= 0 && plan.run.age_seconds < 3600, String(plan.run.age_seconds))
    assert.deepEqual(plan.targets.databases.map((d: {name: string}) => d.name), ['primary', 'notes'])
    assert.deepEqual(plan.targets.files, [{from: join(data, 'storage'), to: join(data, 'storage')}])
    assert.equal(plan.safety_backup, false)
    assert.ok(plan.checks.length >= 7 && plan.checks.every((c: {status: string}) => c.status === 'ok'), JSON.stringify(plan.checks))
    assert.ok(plan.checks.some((c: {name: string}) => /pg_restore/.test(c.name)), 'the PostgreSQL dump is checked')

    assert.deepEqual(await footprint(), before, 'nothing changed and nothing was left behind')
  })

  test('a check failing in the accessory stops a remote restore before it asks or changes anything: exit 1, the failing check shown', async () => {
    const storage = join(data, 'storage')
    const before = await footprint()
    // The accessory (root in its container) gets the storage volume read-only.
    box.recreate({...boxOptions, volumes: [`${storage}:${storage}:ro`]})
    try {
      const dry = await cli(app, ['restore', 'production', '--dry-run'])
      assert.equal(dry.code, 1, dry.stdout + dry.stderr)
      assert.match(dry.stdout, new RegExp(`FAILED {2}files ${storage}: a writable directory: cannot restore files into ${storage}`))

      const restore = await cli(app, ['restore', 'production', '--confirm', app.app])
      assert.equal(restore.code, 1, restore.stdout + restore.stderr)
      assert.match(restore.stderr, /not restoring: cannot restore files into/)
      assert.match(restore.stdout, new RegExp(`run +${runId}`), 'the plan it stopped on')
      assert.doesNotMatch(restore.stderr, /taking a safety backup|restoring run/)
    } finally {
      box.recreate(boxOptions)
    }
    assert.deepEqual(await footprint(), before, 'no safety backup, no record, nothing changed')
  })

  test('restore production on a terminal: the accessory resolves the run first, the prompt shows it, and exactly that run is restored', async () => {
    await changeProduction(['b1', 'b2'])
    const shown = await (async () => {
      const result = await cli(app, ['backup', '--force'])
      assert.equal(result.code, 0, result.stderr)
      return /backup run (\d{8}T\d{6}Z) ok/.exec(result.stdout)![1]!
    })()
    await changeProduction(['after', 'the', 'backup'])
    const result = await onTerminal(app, 'restore production', (n, screen) => {
      if (n === 0) {
        // Everything above the first question: the run, the parts, the targets, the safety backup, the checks.
        assert.match(screen, new RegExp(`This restores run ${shown} \\(the latest complete backup run\\) into PRODUCTION for app "${app.app}"`))
        assert.match(screen, new RegExp(`run +${shown}, taken \\S+ \\(\\d+ (s|min) ago\\)`))
        assert.match(screen, /database primary → .*production\.sqlite3/)
        assert.match(screen, /files +.*storage → .*storage/)
        assert.match(screen, /safety +yes/)
        assert.match(screen, /checks +all \d+ checks of the targets passed in the accessory/)
        return app.app
      }
      return 'RESTORE PRODUCTION'
    })
    assert.equal(result.code, 0, result.screen)
    assert.match(result.screen, new RegExp(`restored run ${shown}`))
    assert.equal(sqlite(join(data, 'storage', 'production.sqlite3'), 'SELECT group_concat(name) FROM items'), 'b1,b2', 'the data of the run shown')
    assert.equal(readFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'utf8'), 'b1,b2\n')
    assert.equal(JSON.parse(readFileSync(join(data, 'state', 'last_restore.json'), 'utf8')).run_id, shown)
  })

  test('a backup finishing while the operator reads the prompt: the restore refuses the new latest (exit 2) instead of restoring it unseen; nothing changed', async () => {
    await changeProduction(['before', 'prompt'])
    let newer = ''
    let before: Awaited<ReturnType<typeof footprint>> | undefined
    const result = await onTerminal(app, 'restore production --database primary', async (n, screen) => {
      if (n === 0) {
        assert.match(screen, /This restores run (\d{8}T\d{6}Z)/)
        // The scheduler's backup finishes now, between the plan and the restore.
        await new Promise((r) => setTimeout(r, 1100)) // run ids have 1 s resolution
        const backup = await cli(app, ['backup', '--force'])
        assert.equal(backup.code, 0, backup.stderr)
        newer = /backup run (\d{8}T\d{6}Z) ok/.exec(backup.stdout)![1]!
        await changeProduction(['typed', 'late'])
        before = await footprint()
        return app.app
      }
      return 'RESTORE PRODUCTION'
    })
    const confirmed = /This restores run (\d{8}T\d{6}Z)/.exec(result.screen)![1]!
    assert.ok(newer && confirmed !== newer, `${confirmed} vs ${newer}`)
    assert.equal(result.code, 2, result.screen)
    assert.match(result.screen, new RegExp(`the latest complete backup run changed since it was confirmed: it is now run ${newer} \\(\\S+\\), not run ${confirmed}`))
    assert.match(result.screen, new RegExp(`to restore the run you confirmed: kamal-backup restore production ${confirmed} --database primary`))
    assert.doesNotMatch(result.screen, /taking a safety backup/)
    assert.deepEqual(await footprint(), before, 'nothing restored, no safety backup, no record')
  })

  test('--expect-run naming another run than the selection resolves to: refused in the accessory, exit 2, nothing changed', async () => {
    const before = await footprint()
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--expect-run', runId, '--json'])
    assert.equal(result.code, 2, result.stdout + result.stderr)
    // The accessory's dry run already refuses it: its plan, naming the run the selection resolves to now.
    const plan = JSON.parse(result.stdout)
    assertMatchesSchema('restore-plan.schema.json', plan)
    const latest = before.runs.find((id) => !id.endsWith('*'))!
    assert.notEqual(latest, runId)
    assert.equal(plan.run.id, latest)
    assert.match(plan.error, new RegExp(`it is now run ${latest} .*not run ${runId}`))
    const text = await cli(app, ['restore', 'production', '--confirm', app.app, '--expect-run', runId])
    assert.equal(text.code, 2, text.stdout + text.stderr)
    assert.match(text.stderr, /not restoring: the latest complete backup run changed since it was confirmed/)
    assert.deepEqual(await footprint(), before)
  })

  test('restore production, connection lost halfway: the accessory finishes the restore; the error says how to check', async () => {
    const db = join(data, 'storage', 'production.sqlite3')
    sqlite(db, "DELETE FROM items WHERE name <> 'one';")
    await psql(pg.name, 'DELETE FROM notes WHERE id > 10;', {as: 'app'})
    writeFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'changed again\n')
    // A big file makes the safety backup take long enough to drop the connection during it.
    const big = join(data, 'storage', 'big.bin')
    execFileSync('sh', ['-c', `head -c 300000000 /dev/urandom > ${big} && chmod 666 ${big}`])
    const runsBefore = (JSON.parse((await cli(app, ['list', '--json'])).stdout) as unknown[]).length
    const restoring = () => box.processes().some((line) => line.includes('restore production'))
    const session = () => sshdSessionOf(app.containerName, (args) => args.includes('restore production') && !args.includes('--dry-run'))
    try {
      let killed = false
      const result = await cliRaw(app, ['restore', 'production', runId, '--confirm', app.app], {
        env: {KAMAL_BACKUP_IN_ACCESSORY: ''},
        onStderr: (soFar) => {
          const pid = !killed && /taking a safety backup/.test(soFar) ? session() : undefined
          if (pid) {
            killed = true
            execFileSync('kill', ['-KILL', String(pid)])
          }
        },
      })
      assert.ok(killed, result.stderr)
      assert.equal(result.code, 3, result.stderr)
      assert.match(result.stderr, /was lost while `kamal-backup restore production` was running/)
      assert.match(result.stderr, /goes on in the accessory/)
      assert.ok(result.stderr.includes(`cat ${join(data, 'state')}/last_restore.json`), 'points at the record in the configured state directory')
      // The accessory carried on: safety backup, then the restore itself, to the end.
      const deadline = Date.now() + 180_000
      while (restoring() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250))
      assert.equal(restoring(), false, 'the accessory side finished')
      assert.equal(sqlite(db, 'SELECT count(*) FROM items'), '3')
      assert.equal(await psql(pg.name, 'SELECT count(*) FROM notes;', {as: 'app'}), '200')
      assert.equal(readFileSync(join(data, 'storage', 'uploads', 'a.txt'), 'utf8'), 'hello\n')
      assert.equal(existsSync(big), false, 'the files were replaced by the run\'s')
      const runs = JSON.parse((await cli(app, ['list', '--json'])).stdout) as unknown[]
      assert.equal(runs.length, runsBefore + 1, 'the safety backup was taken before restoring')
      assert.deepEqual(readdirSync(join(repo, 'locks')), [], 'no restic lock left')
    } finally {
      execFileSync('rm', ['-f', big])
    }
  })

  test('version shows both sides', async () => {
    const text = await cli(app, ['version'])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /^0\.1\.\d+ \(this machine\)\n0\.1\.\d+ \(accessory backup, container .+ on 127\.0\.0\.1\)\n$/)
    const json = await cli(app, ['version', '--json'])
    assert.equal(json.code, 0, json.stderr)
    const doc = JSON.parse(json.stdout)
    assert.equal(doc.accessory.container, app.containerName)
    assert.equal(doc.accessory.compatible, true)
    assert.ok(doc.accessory.tools && 'restic' in doc.accessory.tools, JSON.stringify(doc))
  })

  test('a failing remote command exits 1, and a usage error in the accessory exits 2', async () => {
    box.recreate({...boxOptions, env: {...containerEnv, KAMAL_BACKUP_RESTIC: '/nonexistent/restic'}})
    try {
      const failed = await cli(app, ['backup', '--force'])
      assert.equal(failed.code, 1, failed.stderr)
      assert.match(failed.stderr, /failed/)
    } finally {
      box.recreate(boxOptions)
    }
    // The scratch file must not be the production database: refused by the accessory with exit 2.
    const usage = await cli(app, ['drill', 'production', '--yes', '--sqlite-path', join(data, 'storage', 'production.sqlite3'), '--database', `${pg.name}_x`, '--skip-files'])
    assert.equal(usage.code, 2, usage.stdout + usage.stderr)
  })

  test('Ctrl-C interrupts the remote backup: restic stops and removes its lock, exit 130', async () => {
    // A file big enough that restic is still reading it when the interrupt arrives.
    execFileSync('sh', ['-c', `head -c 300000000 /dev/urandom > ${join(data, 'storage', 'big.bin')} && chmod 666 ${join(data, 'storage', 'big.bin')}`])
    const {spawn} = await import('node:child_process')
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), 'backup', '--force'], {
      cwd: app.dir,
      env: {...process.env, HOME: app.home, NO_COLOR: '1', SSH_AUTH_SOCK: '', KAMAL_BACKUP_IN_ACCESSORY: ''},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    let sent = false
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    child.stdout.resume()
    child.stderr.on('data', (d) => {
      stderr += d
      if (!sent && /files \(/.test(stderr)) {
        sent = true
        setTimeout(() => child.kill('SIGINT'), 400)
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    const code = await exited
    clearTimeout(timer)
    try {
      assert.ok(sent, `the files step never started: ${stderr}`)
      assert.equal(code, 130, stderr)
      assert.match(stderr, /SIGINT received/)
      assert.deepEqual(readdirSync(join(repo, 'locks')), [], 'restic removed its lock')
      assert.deepEqual(box.processes().filter((line) => line.includes('restic')), [], 'no restic left running in the accessory')
    } finally {
      execFileSync('rm', ['-f', join(data, 'storage', 'big.bin')])
    }
  })

  test('the connection dropping mid-backup: clear error locally; the accessory notices, stops restic cleanly and records the failure', async () => {
    const big = join(data, 'storage', 'big.bin')
    execFileSync('sh', ['-c', `head -c 300000000 /dev/urandom > ${big} && chmod 666 ${big}`])
    const previous = JSON.parse(readFileSync(join(data, 'state', 'last_backup.json'), 'utf8')).run_id
    try {
      const {spawn} = await import('node:child_process')
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), 'backup', '--force'], {
        cwd: app.dir,
        env: {...process.env, HOME: app.home, NO_COLOR: '1', SSH_AUTH_SOCK: '', KAMAL_BACKUP_IN_ACCESSORY: ''},
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      let killed = false
      child.stdout.resume()
      child.stderr.on('data', (d) => {
        stderr += d
        const pid = !killed && /files \(/.test(stderr) ? sshdSessionOf(app.containerName, (args) => args.includes('backup')) : undefined
        if (pid) {
          killed = true
          setTimeout(() => execFileSync('kill', ['-KILL', String(pid)]), 400)
        }
      })
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      assert.equal(code, 3, stderr)
      assert.match(stderr, /connection to kbdeploy@127\.0\.0\.1:2222 was lost while `kamal-backup backup` was running/)
      assert.match(stderr, /kamal-backup unlock/)
      // The accessory saw its stdin close, interrupted restic, and recorded the run as failed.
      const deadline = Date.now() + 30_000
      const running = () => box.processes().some((line) => line.includes('restic'))
      while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
      assert.equal(running(), false, 'restic stopped')
      let last: {status?: string; run_id?: string} = {}
      while (Date.now() < deadline) {
        last = JSON.parse(readFileSync(join(data, 'state', 'last_backup.json'), 'utf8'))
        if (last.run_id !== previous && last.status === 'failed') break
        await new Promise((r) => setTimeout(r, 200))
      }
      assert.notEqual(last.run_id, previous, 'the dropped run was recorded')
      assert.equal(last.status, 'failed', JSON.stringify(last))
      // By the time the run is recorded no lock is left: restic removed it, or (restic 0.14 interrupted while it
      // opened the repository, on a slow machine) the run's own unlock did.
      assert.deepEqual(readdirSync(join(repo, 'locks')), [], 'no lock left behind')
    } finally {
      execFileSync('rm', ['-f', big])
    }
  })
})
