// `dump` from an app checkout: the built CLI here → the lab's real sshd → real `docker exec` → the CLI in the
// accessory image, with real restic, PostgreSQL, MariaDB and SQLite. What arrives must be byte for byte `restic
// dump` of the same snapshot; a FILE is only ever complete; an interrupted stream leaves neither FILE nor the
// temporary file; memory stays flat for a 256 MB dump.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createMariaDatabase, createPostgresDatabase, dropMariaDatabase, dropPostgresDatabase, freshRepo, lab, mariadb, psql, resticBin, tempDir, type TestDatabase} from '../../support/lab.ts'
import {kb} from '../../support/cli.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'
import {accessory, cli, cliRaw, remoteApp, ROOT, sshdSessionOf, type Container, type RemoteApp} from './fixture.ts'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const BIG_ROWS = 65_536 // × 4000 random bytes: a 256 MiB+ SQLite file that neither compresses nor deduplicates

interface Snap {
  id: string
  time: string
  paths: string[]
  tags?: string[]
}

describe('dump from an app checkout, through sshd and the accessory', {concurrency: false}, () => {
  let app: RemoteApp
  let box: Container
  let data: string
  let repo: string
  let pg: TestDatabase
  let my: TestDatabase
  /** A directory the accessory does not see: what is written there can only come from this machine. */
  let out: string

  const resticLocal = (args: string[]) => execFileSync(resticBin('0.18'), ['-r', repo, '--no-cache', ...args], {env: {...process.env, RESTIC_PASSWORD: lab().resticPassword}, maxBuffer: 1 << 30})
  const snapshots = () => JSON.parse(resticLocal(['snapshots', '--json', '--no-lock']).toString('utf8')) as Snap[]
  /** `restic dump` of a database's snapshot in a run (the latest by default), by restic itself. */
  let backupRun: string
  const resticDump = (database: string, runId = backupRun) => {
    const s = snapshots()
      .filter((x) => x.tags?.includes(`database:${database}`) && x.tags.includes(`run:${runId}`))
      .sort((a, b) => (a.time < b.time ? 1 : -1))[0]!
    return {bytes: resticLocal(['dump', s.id, s.paths[0]!]), id: s.id}
  }
  const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.includes('kamal-backup-dump'))
  const records = () => readFileSync(join(data, 'state', 'dumps.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))

  before(async () => {
    pg = await createPostgresDatabase()
    await psql(pg.name, "CREATE TABLE notes (id serial PRIMARY KEY, body text); INSERT INTO notes(body) SELECT 'note ' || g FROM generate_series(1, 2000) g;", {as: 'app'})
    my = await createMariaDatabase()
    await mariadb(my.name, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT); INSERT INTO items VALUES (1, 'one'), (2, 'two');")
    data = tempDir('remote-dump')
    mkdirSync(join(data, 'db'))
    execFileSync(lab().bins.sqlite3, [join(data, 'db', 'app.sqlite3'), "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('a'), ('b');"])
    execFileSync(lab().bins.sqlite3, [join(data, 'db', 'big.sqlite3'), `CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${BIG_ROWS}) INSERT INTO big SELECT x, randomblob(4000) FROM c;`])
    execFileSync('chmod', ['-R', 'a+rwX', data])
    repo = freshRepo('0.18')
    execFileSync('chmod', ['-R', 'a+rwX', repo])
    app = remoteApp({
      backupConfig: [
        'databases:',
        `  - {name: primary, adapter: postgres, url: "${pg.url}", password: {secret: PG_PW}}`,
        `  - {name: shop, adapter: mysql, url: "${my.url}", password: {secret: MY_PW}}`,
        `  - {name: cache, adapter: sqlite, path: ${join(data, 'db', 'app.sqlite3')}}`,
        `  - {name: big, adapter: sqlite, path: ${join(data, 'db', 'big.sqlite3')}}`,
        'restic:',
        `  repository: ${repo}`,
        '  password: {secret: RESTIC_PASSWORD}',
        `state: {path: ${join(data, 'state')}}`,
        'backup: {enabled: false}',
        '',
      ].join('\n'),
    })
    box = accessory(app.containerName, {env: {RESTIC_PASSWORD: lab().resticPassword, PG_PW: lab().postgres.appPassword, MY_PW: lab().mariadb.password}, config: app.config})
    // The run is made here (--local, the lab's restic 0.18 and clients) into the repository the accessory reads:
    // the image's mariadb-dump insists on TLS, which the lab's MariaDB does not offer. What is under test is the
    // dump's way out of the accessory, not the backup.
    const backup = await kb(['backup', '--force', '--local'], {cwd: app.dir, timeoutMs: 300_000, env: {KAMAL_BACKUP_CONFIG: app.config, KAMAL_BACKUP_RESTIC: resticBin('0.18'), RESTIC_PASSWORD: lab().resticPassword, PG_PW: lab().postgres.appPassword, MY_PW: lab().mariadb.password, KAMAL_BACKUP_IN_ACCESSORY: undefined, KAMAL_BACKUP_REMOTE_CLIENT: undefined}})
    assert.equal(backup.code, 0, backup.stderr)
    execFileSync('chmod', ['-R', 'a+rwX', repo, data])
    backupRun = snapshots()[0]!.tags!.find((t) => t.startsWith('run:'))!.slice(4)
    out = mkdtempSync(join(tmpdir(), 'kb-dump-out-'))
  })

  after(async () => {
    box?.remove()
    if (pg) await dropPostgresDatabase(pg.name).catch(() => {})
    if (my) await dropMariaDatabase(my.name).catch(() => {})
  })

  for (const database of ['primary', 'shop', 'cache']) {
    test(`${database}: -o FILE --verify is byte for byte restic dump of the same snapshot (sha256); the laptop has no restic credentials`, async () => {
      const file = join(out, `${database}.dump`)
      const r = await cliRaw(app, ['dump', '--database', database, '-o', file, '--verify'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, database === 'primary' ? /pg_restore --list: 1 table/ : database === 'shop' ? /ends with the dump footer/ : /integrity_check: ok/)
      assert.equal(r.stdout.length, 0, 'nothing on stdout with -o FILE')
      assert.doesNotMatch(r.stderr, /@kamal-backup-(handshake|dump-plan)/, 'the protocol lines are taken out of stderr')
      const expected = resticDump(database)
      assert.equal(sha256(readFileSync(file)), sha256(expected.bytes))
      assert.match(r.stderr, new RegExp(`snapshot ${expected.id.slice(0, 8)}`))
      assert.deepEqual(leftovers(out), [])
    })
  }

  test('-o - piped: the same bytes on stdout, nothing else; the accessory records the export with the workstation\'s operator', async () => {
    const r = await cliRaw(app, ['dump', '--database', 'primary', '-o', '-'], {env: {KAMAL_BACKUP_OPERATOR: 'laptop-alice'}})
    assert.equal(r.code, 0, r.stderr)
    const expected = resticDump('primary')
    assert.equal(sha256(r.stdout), sha256(expected.bytes))
    assert.match(r.stderr, /streamed|dump primary|dump the database/)
    const last = records().at(-1)
    assertMatchesSchema('dump.schema.json#/definitions/record', last)
    assert.equal(last.status, 'ok')
    assert.equal(last.operator, 'laptop-alice')
    assert.equal(last.database, 'primary')
    assert.equal(last.snapshot, expected.id)
    assert.equal(last.bytes, expected.bytes.length)
    const evidence = await cli(app, ['evidence'])
    const doc = JSON.parse(evidence.stdout)
    assertMatchesSchema('evidence.schema.json', doc)
    assert.equal(doc.dumps.last.operator, 'laptop-alice')
    assert.ok(doc.dumps.count >= 4)
  })

  test('--json with -o FILE: the document (schema), the size checked against the snapshot\'s', async () => {
    const file = join(out, 'cache.json.sqlite3')
    const r = await cli(app, ['dump', '--database', 'cache', '-o', file, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout)
    assertMatchesSchema('dump.schema.json', doc)
    assert.equal(doc.bytes, statSync(file).size)
    assert.equal(doc.checked.size, 'equal')
  })

  test('FILE exists without --force: refused before anything is read (exit 2), FILE unchanged, nothing recorded', async () => {
    const file = join(out, 'exists.sqlite3')
    writeFileSync(file, 'keep me')
    const before = records().length
    const r = await cliRaw(app, ['dump', '--database', 'cache', '-o', file])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /exists: not overwriting it without --force/)
    assert.equal(readFileSync(file, 'utf8'), 'keep me')
    assert.equal(records().length, before, 'the accessory was not asked')
    assert.deepEqual(leftovers(out), [])
  })

  test('--verify: a good SQLite dump passes; a corrupted one fails (dump/unverified) and leaves no FILE and no temporary file', async () => {
    const good = join(out, 'verified.sqlite3')
    const ok = await cliRaw(app, ['dump', '--database', 'cache', '-o', good, '--verify'])
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stderr, /integrity_check: ok/)
    // A complete run whose snapshots are not what their tags say (a corrupted backup), written with restic itself.
    const runId = '20261201T030000Z'
    for (const [name, adapter, ext] of [['primary', 'postgres', 'pgdump'], ['shop', 'mysql', 'sql'], ['cache', 'sqlite', 'sqlite3'], ['big', 'sqlite', 'sqlite3']]) {
      const tags = ['kamal-backup', `app:${app.app}`, `run:${runId}`, 'type:database', `database:${name}`, `adapter:${adapter}`]
      execFileSync(resticBin('0.18'), ['-r', repo, '--no-cache', 'backup', '--stdin', '--stdin-filename', `${app.app}.${name}.${ext}`, '--host', `kamal-backup-${app.app}`, ...tags.flatMap((t) => ['--tag', t])], {input: 'SQLite format 3\0 but not really\n', env: {...process.env, RESTIC_PASSWORD: lab().resticPassword}})
    }
    execFileSync('chmod', ['-R', 'a+rwX', repo])
    const bad = join(out, 'corrupt.sqlite3')
    const refused = await cliRaw(app, ['dump', runId, '--database', 'cache', '-o', bad, '--verify'])
    assert.equal(refused.code, 1, refused.stderr)
    assert.match(refused.stderr, /sqlite3 PRAGMA integrity_check cannot read the dump/)
    assert.equal(existsSync(bad), false)
    assert.deepEqual(leftovers(out), [])
    // --verify's tool missing on this machine: an error naming it, nothing kept.
    const noTool = await cliRaw(app, ['dump', '--database', 'cache', '-o', bad, '--verify'], {env: {PATH: '/nonexistent'}})
    assert.equal(noTool.code, 1, noTool.stderr)
    assert.match(noTool.stderr, /sqlite3 is not installed .*--verify reads the dump back with it/)
    assert.equal(existsSync(bad), false)
    assert.deepEqual(leftovers(out), [])
  })

  /** Starts a dump of the big database into `file`; `act` runs once the temporary file holds 32 MB. */
  const interrupted = async (file: string, act: (child: import('node:child_process').ChildProcess) => void) => {
    let acted = false
    let timer: NodeJS.Timeout | undefined
    const result = await cliRaw(app, ['dump', '--database', 'big', '-o', file], {
      onStderr: (_soFar, child) => {
        if (timer) return
        timer = setInterval(() => {
          const temp = leftovers(out)[0]
          if (!acted && temp && statSync(join(out, temp)).size > 32 * 1024 * 1024) {
            acted = true
            clearInterval(timer)
            act(child)
          }
        }, 20)
      },
    })
    clearInterval(timer)
    assert.ok(acted, `the stream was interrupted mid-way:\n${result.stderr}`)
    return result
  }

  test('Ctrl-C mid-stream: exit 130, no FILE, no temporary file; the accessory records the export', async () => {
    const file = join(out, 'big-ctrl-c.sqlite3')
    const r = await interrupted(file, (child) => child.kill('SIGINT'))
    assert.equal(r.code, 130, r.stderr)
    assert.equal(existsSync(file), false)
    assert.deepEqual(leftovers(out), [])
    // The accessory finishes writing its record as restic stops.
    for (let i = 0; i < 50 && records().at(-1)?.database !== 'big'; i++) await new Promise((r) => setTimeout(r, 100))
    // What the accessory knows: restic stopped by the interrupt ('interrupted'), or, when the host's pipes had
    // already taken every byte, all of it sent ('ok'); either way the workstation kept nothing (above).
    const last = records().at(-1)
    assertMatchesSchema('dump.schema.json#/definitions/record', last)
    assert.equal(last.database, 'big')
    assert.match(last.status, /^(interrupted|ok)$/)
  })

  test('a connection dropped mid-stream (sshd session killed): ssh/connection-lost, no FILE, no temporary file', async () => {
    const file = join(out, 'big-dropped.sqlite3')
    const r = await interrupted(file, () => {
      const pid = sshdSessionOf(app.containerName)
      assert.ok(pid, 'the sshd session of the dump')
      process.kill(pid, 'SIGKILL')
    })
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, /connection/i)
    assert.equal(existsSync(file), false)
    assert.deepEqual(leftovers(out), [])
  })

  test('a client killed mid-stream (SIGTERM twice: exits at once): no FILE, no temporary file', async () => {
    const file = join(out, 'big-killed.sqlite3')
    const r = await interrupted(file, (child) => {
      child.kill('SIGTERM')
      child.kill('SIGTERM')
    })
    assert.equal(r.code, 130, r.stderr)
    assert.equal(existsSync(file), false)
    assert.deepEqual(leftovers(out), [])
  })

  test('256 MiB streams with flat memory in the CLI process, and arrives whole', async () => {
    const measure = async (database: string) => {
      const file = join(out, `mem-${database}.sqlite3`)
      const child = spawn(process.execPath, ['--max-semi-space-size=1', join(ROOT, 'bin', 'run.js'), 'dump', '--database', database, '-o', file, '--force'], {cwd: app.dir, env: {...process.env, HOME: app.home, NO_COLOR: '1', SSH_AUTH_SOCK: ''}, stdio: ['ignore', 'pipe', 'pipe']})
      let peakRss = 0
      const sampler = setInterval(() => {
        try {
          peakRss = Math.max(peakRss, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024)
        } catch {}
      }, 20)
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      clearInterval(sampler)
      assert.equal(code, 0, stderr)
      return {peakRss, size: statSync(file).size, file}
    }
    const runs = [await measure('cache'), await measure('big'), await measure('cache'), await measure('big')]
    const big = runs[1]!
    assert.ok(big.size > 256 * 1024 * 1024, `${big.size} bytes`)
    assert.equal(sha256(readFileSync(big.file)), sha256(resticDump('big').bytes))
    const small = Math.min(runs[0]!.peakRss, runs[2]!.peakRss)
    const large = Math.min(runs[1]!.peakRss, runs[3]!.peakRss)
    const growth = large - small
    assert.ok(growth < 16 * 1024 * 1024, `peak RSS grew by ${(growth / 1048576).toFixed(1)} MB from a few KB to ${(big.size / 1048576).toFixed(0)} MB of dump (${(small / 1048576).toFixed(0)} MB, ${(large / 1048576).toFixed(0)} MB)`)
  })
})
