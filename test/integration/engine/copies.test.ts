// restic.copies (3-2-1), for real: a primary local repository and copies on a local path, the lab's REST server
// (with credentials) and its SFTP server, each with its own password, on restic 0.14 and 0.18. Each run is copied
// and proved there; the copy's retention applies; a copy that cannot be reached makes a warning run (and a
// notification), and the next run catches up; check covers copies; list, restore and drill read a copy alone once
// the primary is gone.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, test} from 'node:test'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {freshRepo, lab, restic, RESTIC_VERSIONS, tempDir, uniqueName, type ResticVersion} from '../../support/lab.ts'
import {cli, writeApp, type App} from './support.ts'

const sqlite = (path: string, sql: string) => execFileSync(lab().bins.sqlite3, [path, sql], {encoding: 'utf8'}).trim()

interface Snap {id: string; original?: string; tags: string[]}

/** The snapshots of a repository, read by the test's own restic with that repository's password. */
async function snapshots(version: ResticVersion, repository: string, password: string, extra: {args?: string[]; env?: Record<string, string>} = {}): Promise<Snap[]> {
  const r = await restic(version, [...(extra.args ?? []), 'snapshots', '--json', '--no-lock'], {env: {RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: password, ...extra.env}})
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as Snap[]
}

const runOf = (s: Snap) => s.tags.find((t) => t.startsWith('run:'))?.slice(4)

interface Setup {
  app: App
  db: string
  primary: string
  local: string
  rest: {url: string; urlWithCredentials: string}
  sftp: {repository: string; option: string}
  events: string
}

/** An app with one SQLite database, a primary local repository and three copies that do not exist yet
 *  (init_if_missing: made with the primary's chunker parameters). */
function setup(version: ResticVersion, copyLines: (s: Omit<Setup, 'app'>) => string[], extraEnv: Record<string, string> = {}): Setup {
  const l = lab()
  const dir = tempDir(`copies-${version}`)
  const db = join(dir, 'app.sqlite3')
  sqlite(db, "CREATE TABLE users(name); INSERT INTO users VALUES ('ada'), ('grace');")
  const primary = freshRepo(version)
  const name = uniqueName('copy')
  const parts: Omit<Setup, 'app'> = {
    db,
    primary,
    local: join(dir, 'copy-local'),
    rest: {url: `${l.rest.auth.url}/${name}`, urlWithCredentials: `${l.rest.auth.urlWithCredentials}/${name}`},
    sftp: {repository: `${l.sftp.urlPrefix}${join(l.sftp.root, name)}`, option: `sftp.command=${l.sftp.command}`},
    events: join(dir, 'events.jsonl'),
  }
  const hook = join(dir, 'notify.sh')
  writeFileSync(hook, `#!/bin/sh\ncat >> ${parts.events}\necho >> ${parts.events}\n`, {mode: 0o755})
  const app = writeApp({
    version,
    repo: primary,
    databases: [`  - {name: main, adapter: sqlite, path: ${db}}`],
    restic: [`repository: ${primary}`, 'password: {secret: RESTIC_PASSWORD}', 'retention: {keep_last: 10}', 'copies:', ...copyLines(parts).map((line) => `  ${line}`)],
    extra: ['notify:', `  - {type: command, command: [${hook}], events: [ok, warning, failed]}`],
    env: {LOCAL_COPY_PASSWORD: 'local-copy-password', REST_COPY_PASSWORD: 'rest-copy-password', SFTP_COPY_PASSWORD: 'sftp-copy-password', REST_PASSWORD: l.rest.auth.password, ...extraEnv},
  })
  return {...parts, app}
}

const localCopy = (s: Omit<Setup, 'app'>, retention = '') => [`- {name: usb, repository: ${s.local}, password: {secret: LOCAL_COPY_PASSWORD}, init_if_missing: true${retention}}`]
const restCopy = (s: Omit<Setup, 'app'>) => [`- {name: offsite, repository: "${s.rest.url}", rest: {username: ${lab().rest.auth.user}, password: {secret: REST_PASSWORD}}, password: {secret: REST_COPY_PASSWORD}, init_if_missing: true}`]
const sftpCopy = (s: Omit<Setup, 'app'>) => [`- {name: vault, repository: "${s.sftp.repository}", options: ["${s.sftp.option}"], password: {secret: SFTP_COPY_PASSWORD}, init_if_missing: true}`]

function events(s: Setup): {event: string; warnings: string[]}[] {
  if (!existsSync(s.events)) return []
  return readFileSync(s.events, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
}

describe('restic.copies: a second copy of every run', {concurrency: 2}, () => {
  for (const version of RESTIC_VERSIONS) {
    test(`restic ${version}: each run reaches a local, a REST and an SFTP copy (their own passwords), proved by original id and run tag`, async () => {
      const s = setup(version, (p) => [...localCopy(p), ...restCopy(p), ...sftpCopy(p)])
      const backup = await cli(s.app, ['backup', '--force', '--json'])
      assert.equal(backup.code, 0, backup.stderr)
      const record = JSON.parse(backup.stdout)
      assertMatchesSchema('backup-run.schema.json', record)
      assert.equal(record.status, 'ok')
      assert.deepEqual(record.warnings, [])
      assert.deepEqual(record.copies.map((c: {name: string; status: string; runs: string[]; snapshots: number}) => [c.name, c.status, c.runs, c.snapshots]), [
        ['usb', 'ok', [record.run_id], 1],
        ['offsite', 'ok', [record.run_id], 1],
        ['vault', 'ok', [record.run_id], 1],
      ])
      const [primarySnap] = await snapshots(version, s.primary, lab().resticPassword)
      const copies = {
        usb: await snapshots(version, s.local, 'local-copy-password'),
        offsite: await snapshots(version, s.rest.urlWithCredentials, 'rest-copy-password'),
        vault: await snapshots(version, s.sftp.repository, 'sftp-copy-password', {args: ['-o', s.sftp.option]}),
      }
      for (const [name, found] of Object.entries(copies)) {
        assert.equal(found.length, 1, name)
        assert.equal(found[0]!.original, primarySnap!.id, `${name}: the copy names the primary's snapshot`)
        assert.deepEqual(found[0]!.tags, primarySnap!.tags, name)
      }
      // Metrics: each copy's last result and when it last received a run.
      const metrics = readFileSync(join(s.app.state, 'metrics.prom'), 'utf8')
      for (const name of ['usb', 'offsite', 'vault']) {
        assert.match(metrics, new RegExp(`^kamal_backup_copy_last_success\\{app="${s.app.name}",copy="${name}"\\} 1$`, 'm'))
        assert.match(metrics, new RegExp(`^kamal_backup_copy_last_success_timestamp_seconds\\{app="${s.app.name}",copy="${name}"\\} \\d+`, 'm'))
      }
      // Each copy has its own password: the primary's does not open it.
      const wrong = await restic(version, ['cat', 'config'], {env: {RESTIC_REPOSITORY: s.local, RESTIC_PASSWORD: lab().resticPassword}})
      assert.notEqual(wrong.code, 0)
      // Evidence shows each copy's freshness.
      const evidence = await cli(s.app, ['evidence', '--report-only'])
      const doc = JSON.parse(evidence.stdout)
      assertMatchesSchema('evidence.schema.json', doc)
      assert.deepEqual(doc.copies.map((c: {name: string; status: string; last_copied_run_id: string}) => [c.name, c.status, c.last_copied_run_id]), [['usb', 'ok', record.run_id], ['offsite', 'ok', record.run_id], ['vault', 'ok', record.run_id]])
      assert.ok(doc.copies.every((c: {last_copy_at: string | null}) => c.last_copy_at !== null))
      assert.doesNotMatch(evidence.stdout + evidence.stderr, /rest-copy-password|local-copy-password|sftp-copy-password/)
      // check covers the copies.
      const check = await cli(s.app, ['check', '--json'])
      assert.equal(check.code, 0, check.stderr)
      const checked = JSON.parse(check.stdout)
      assertMatchesSchema('check.schema.json', checked)
      assert.deepEqual(checked.copies.map((c: {name: string; status: string}) => [c.name, c.status]), [['usb', 'ok'], ['offsite', 'ok'], ['vault', 'ok']])
    })

    test(`restic ${version}: a copy that cannot be reached is a warning run and a notification; the next run catches up; the copy keeps its own retention`, async () => {
      // The REST copy with a wrong REST password: refused by the server. keep_last: 2 on the local copy.
      const s = setup(version, (p) => [...localCopy(p, ', retention: {keep_last: 2}'), ...restCopy(p)], {REST_PASSWORD: 'not-the-password'})
      const first = await cli(s.app, ['backup', '--force', '--json'])
      assert.equal(first.code, 0, `a failed copy never fails the backup:\n${first.stderr}`)
      const r1 = JSON.parse(first.stdout)
      assertMatchesSchema('backup-run.schema.json', r1)
      assert.equal(r1.status, 'ok')
      const offsite = r1.copies.find((c: {name: string}) => c.name === 'offsite')
      assert.equal(offsite.status, 'failed')
      assert.ok(offsite.error)
      assert.doesNotMatch(JSON.stringify(r1), /not-the-password/)
      assert.equal(r1.warnings.length, 1)
      assert.match(r1.warnings[0], /^the copy to offsite failed: /)
      assert.match(first.stderr, /the copy to offsite failed/)
      const warning = events(s).find((e) => e.event === 'warning')
      assert.ok(warning, `a warning notification was sent: ${JSON.stringify(events(s))}`)
      assert.match(warning.warnings.join(' '), /offsite/)
      assert.match(readFileSync(join(s.app.state, 'metrics.prom'), 'utf8'), new RegExp(`^kamal_backup_copy_last_success\\{app="${s.app.name}",copy="offsite"\\} 0$`, 'm'))
      const evidence = JSON.parse((await cli(s.app, ['evidence', '--report-only'])).stdout)
      assert.deepEqual(evidence.copies.find((c: {name: string}) => c.name === 'offsite'), {name: 'offsite', repository: s.rest.url, status: 'failed', last_copy_at: null, last_copied_run_id: null, error: offsite.error})

      // `copy --to offsite` on its own: the same failure is the command's, exit 1, with the reason.
      const alone = await cli(s.app, ['copy', '--to', 'offsite'])
      assert.equal(alone.code, 1, alone.stderr)
      assert.match(alone.stderr, /the copy to offsite failed: /)
      assert.doesNotMatch(alone.stdout + alone.stderr, /not-the-password/)

      // The copy is reachable again (its password right). The next run copies itself; the first run missed the
      // copy because it never existed there — a copy that never got a run starts from the current one.
      s.app.env.REST_PASSWORD = lab().rest.auth.password
      const second = JSON.parse((await cli(s.app, ['backup', '--force', '--json'])).stdout)
      assert.equal(second.copies.find((c: {name: string}) => c.name === 'offsite').status, 'ok')
      // Now it fails again for one run, and the run after that catches up with the run it missed.
      s.app.env.REST_PASSWORD = 'not-the-password'
      const third = JSON.parse((await cli(s.app, ['backup', '--force', '--json'])).stdout)
      assert.equal(third.copies.find((c: {name: string}) => c.name === 'offsite').status, 'failed')
      s.app.env.REST_PASSWORD = lab().rest.auth.password
      const fourth = JSON.parse((await cli(s.app, ['backup', '--force', '--json'])).stdout)
      // `copy` now: every copy already has the latest run.
      const again = await cli(s.app, ['copy', '--json'])
      assert.equal(again.code, 0, again.stderr)
      const copied = JSON.parse(again.stdout)
      assertMatchesSchema('copy.schema.json', copied)
      assert.equal(copied.run_id, fourth.run_id)
      assert.deepEqual(copied.copies.map((c: {name: string; status: string; runs: string[]}) => [c.name, c.status, c.runs]), [['usb', 'ok', [fourth.run_id]], ['offsite', 'ok', [fourth.run_id]]])
      assert.equal((await snapshots(version, s.local, 'local-copy-password')).filter((x) => runOf(x) === fourth.run_id).length, 1, 'restic copy skipped what the copy had: no second snapshot of the run')
      const caughtUp = fourth.copies.find((c: {name: string}) => c.name === 'offsite')
      assert.equal(caughtUp.status, 'ok')
      assert.deepEqual(caughtUp.runs, [fourth.run_id, third.run_id])
      const restRuns = (await snapshots(version, s.rest.urlWithCredentials, 'rest-copy-password')).map(runOf).sort()
      assert.deepEqual(restRuns, [second.run_id, third.run_id, fourth.run_id].sort())
      // The local copy's own retention (keep_last 2); the primary keeps its 10.
      const usbRuns = (await snapshots(version, s.local, 'local-copy-password')).map(runOf).sort()
      assert.deepEqual(usbRuns, [third.run_id, fourth.run_id].sort())
      assert.equal((await snapshots(version, s.primary, lab().resticPassword)).length, 4)
      assert.equal(fourth.copies.find((c: {name: string}) => c.name === 'usb').removed, 1)
    })
  }

  test('copy with no copies configured, or before any complete run: an error that says so, never a green nothing', async () => {
    const dir = tempDir('copies-none')
    const db = join(dir, 'app.sqlite3')
    sqlite(db, 'CREATE TABLE t(v); INSERT INTO t VALUES (1);')
    const primary = freshRepo('0.18')
    const none = writeApp({version: '0.18', repo: primary, databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], restic: [`repository: ${primary}`, 'password: {secret: RESTIC_PASSWORD}']})
    const r = await cli(none, ['copy'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /lists no copies \(restic\.copies\)/)
    const s = setup('0.18', (p) => localCopy(p))
    const early = await cli(s.app, ['copy'])
    assert.equal(early.code, 1, early.stderr)
    assert.match(early.stderr, /there is no complete backup run to copy/)
    assert.equal(existsSync(s.local), false, 'nothing was created')
  })

  test('restic 0.18: the primary gone, list --repository, drill and restore --from read the copy alone; check names a damaged copy', async () => {
    const version = '0.18'
    const s = setup(version, (p) => [...localCopy(p), ...restCopy(p)])
    const backup = JSON.parse((await cli(s.app, ['backup', '--force', '--json'])).stdout)
    assert.equal(backup.status, 'ok')
    sqlite(s.db, "INSERT INTO users VALUES ('after the backup');")
    renameSync(s.primary, `${s.primary}.gone`)

    const listed = await cli(s.app, ['list', '--repository', 'offsite', '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    const runs = JSON.parse(listed.stdout)
    assertMatchesSchema('list.schema.json', runs)
    assert.deepEqual(runs.map((r: {id: string; complete: boolean}) => [r.id, r.complete]), [[backup.run_id, true]])
    const plain = await cli(s.app, ['list', '--repository', 'offsite'])
    assert.match(plain.stdout, new RegExp(`^${backup.run_id} .* complete`, 'm'))
    assert.match(plain.stderr, /using the copy offsite \(restic\.copies\) instead of the primary repository/)
    const unknown = await cli(s.app, ['list', '--repository', 'nowhere'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /there is no copy named "nowhere".*\n.*the copies are: usb, offsite/)
    const primaryGone = await cli(s.app, ['list'])
    assert.notEqual(primaryGone.code, 0)

    const drill = await cli(s.app, ['drill', 'production', '--from', 'usb', '--sqlite-path', join(tempDir('copies-drill'), 'drill.sqlite3'), '--yes', '--json'])
    assert.equal(drill.code, 0, drill.stderr)
    assert.equal(JSON.parse(drill.stdout).status, 'ok')

    // Production restored from the copy; the safety backup goes to the copy too (the only repository there is), and
    // the undo command says --from.
    const restored = await cli(s.app, ['restore', 'production', '--from', 'offsite', '--confirm', s.app.name, '--json'])
    assert.equal(restored.code, 0, restored.stderr)
    assert.equal(sqlite(s.db, 'SELECT count(*) FROM users'), '2')
    const result = JSON.parse(restored.stdout)
    assert.match(result.safety_backup.undo_command, /--from offsite/)
    const offsiteRuns = (await snapshots(version, s.rest.urlWithCredentials, 'rest-copy-password')).map(runOf)
    assert.ok(offsiteRuns.includes(result.safety_backup.run_id), 'the safety backup is in the copy')

    // check: a copy with a pack removed fails with its name; the primary's result is separate.
    renameSync(`${s.primary}.gone`, s.primary)
    const data = join(s.local, 'data')
    const sub = readdirSync(data).find((d) => readdirSync(join(data, d)).length > 0)!
    unlinkSync(join(data, sub, readdirSync(join(data, sub))[0]!))
    const check = await cli(s.app, ['check', '--json'])
    assert.equal(check.code, 1, check.stderr)
    assert.match(check.stdout + check.stderr, /the primary repository is ok, but the check of the copy usb failed/)
    const only = await cli(s.app, ['check', '--repository', 'offsite'])
    assert.equal(only.code, 0, only.stderr)
    assert.match(only.stdout, /copy offsite check ok/)
    rmSync(s.local, {recursive: true, force: true})
  })
})
