// Findings of an audit of the backup engine, each reproduced with the built CLI against the lab's real restic 0.14
// and 0.18, PostgreSQL and SQLite: restic's own error first when a piped dump loses its reader (and init_if_missing
// for a database-first app), one --time per run so retention never splits a run across midnight, per-path
// excludes, JSON output longer than 1 MiB, a backend that accepts connections but answers garbage, a full state
// volume, an unreadable password file, a failed dump's snapshot that could not be removed, a stale run lock from a
// replaced container, and SIGTERM reaching a dump wrapper's own children.
//
// Fault injectors are small scripts standing in for pg_dump or wrapping restic; each says what it simulates.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {BIN} from '../../support/cli.ts'
import {createPostgresDatabase, dropPostgresDatabase, freshRepo, lab, psql, restic, resticBin, resticEnv, RESTIC_VERSIONS, run, tempDir, uniqueName, type ResticVersion, type TestDatabase} from '../../support/lab.ts'
import {assertSchema, cli, cliJson, localRestic, pgDatabaseLine, readHistory, readState, repoLocks, repoSnapshots, script, writeApp} from './support.ts'

function filesDir(prefix: string): string {
  const dir = join(tempDir(prefix), 'files')
  mkdirSync(dir)
  writeFileSync(join(dir, 'a.txt'), 'data\n')
  return dir
}

/** A real restic holding an exclusive lock (`check`), frozen (SIGSTOP) once it has written its lock (it then prints
 *  "load indexes"): another restic, say a prune from a laptop, in the middle of its work. Killing it later leaves
 *  the lock stale. On a small repository the check can finish between that line and the SIGSTOP (its lock already
 *  removed): such an attempt is killed and tried again, so no frozen restic is ever left behind. */
async function frozenExclusiveLock(version: ResticVersion, repo: string): Promise<ChildProcess> {
  const locks = () => readdirSync(join(repo, 'locks')).length
  for (let attempt = 0; attempt < 20; attempt++) {
    const holder = spawn(resticBin(version), ['-r', repo, 'check'], {env: {...process.env, ...resticEnv()}, stdio: ['ignore', 'pipe', 'ignore']})
    const exited = new Promise((resolve) => holder.once('exit', resolve))
    const frozen = await new Promise<boolean>((resolve) => {
      let out = ''
      holder.stdout!.on('data', (d) => {
        out += d
        if (/load indexes/.test(out)) resolve(holder.kill('SIGSTOP'))
      })
      holder.once('exit', () => resolve(false))
    })
    if (frozen && holder.exitCode === null && locks() === 1) return holder
    holder.kill('SIGKILL')
    await exited
    if (locks() > 0) execFileSync(resticBin(version), ['-r', repo, 'unlock', '--remove-all'], {env: {...process.env, ...resticEnv()}, stdio: 'ignore'})
  }
  throw new Error('could not catch restic check holding its lock in 20 attempts')
}

describe('restic 0.14, a PostgreSQL database first: restic\'s error, not the dump\'s broken pipe', {concurrency: true}, () => {
  let pg: TestDatabase
  before(async () => {
    pg = await createPostgresDatabase()
    // Big enough that pg_dump is still writing when restic gives up.
    await psql(pg.name, `CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t(v) SELECT repeat(md5(g::text), 20) FROM generate_series(1, 20000) g;`, {as: 'app'})
  })
  after(async () => {
    await dropPostgresDatabase(pg.name).catch(() => {})
  })
  const noDumpBlame = (stderr: string) => assert.doesNotMatch(stderr, /pg_dump main (exited|was killed|failed)|Broken pipe|EPIPE|ECONNRESET/, stderr)

  test('a missing repository without init_if_missing: "does not exist yet", the suggestion, nothing created', async () => {
    const repo = join(tempDir('h-noinit'), 'repo')
    const app = writeApp({version: '0.14', repo, databases: [pgDatabaseLine('main', pg)], paths: [`  - ${filesDir('h-noinit')}`], restic: localRestic(repo)})
    const r = await cli(app, ['backup', '--force'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /the restic repository does not exist yet/)
    assert.match(r.stderr, /init_if_missing/)
    noDumpBlame(r.stderr)
    assert.match(readState(app, 'last_backup.json').error, /does not exist yet/)
    assert.ok(!existsSync(join(repo, 'config')))
  })

  test('init_if_missing creates the repository of a database-only app and backs up into it', async () => {
    const repo = join(tempDir('h-init'), 'repo')
    const app = writeApp({version: '0.14', repo, databases: [pgDatabaseLine('main', pg)], restic: localRestic(repo, ['init_if_missing: true'])})
    const r = await cli(app, ['backup', '--force'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /creating it/)
    const snapshots = await repoSnapshots(app)
    assert.equal(snapshots.length, 1)
    assert.ok(snapshots[0]!.tags!.includes('database:main'))
    const {json} = await cliJson(app, ['list'])
    assert.equal(json[0].complete, true)
  })

  test('a wrong repository password: "wrong password", never "creating it", never the dump', async () => {
    const repo = freshRepo('0.14')
    const app = writeApp({version: '0.14', repo, databases: [pgDatabaseLine('main', pg)], restic: localRestic(repo, ['init_if_missing: true']), env: {RESTIC_PASSWORD: 'not-the-repository-password'}})
    const r = await cli(app, ['backup', '--force'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /wrong password/)
    assert.doesNotMatch(r.stderr, /creating it/)
    noDumpBlame(r.stderr)
    assert.equal(readState(app, 'last_backup.json').failed_step, 'database:main')
  })

  for (const version of RESTIC_VERSIONS) {
    test(`a live lock (its restic running, frozen): "locked", never removed; once its process is gone, the next run removes it by itself (restic ${version})`, async () => {
      const repo = freshRepo(version)
      const app = writeApp({version, repo, databases: [pgDatabaseLine('main', pg)], restic: localRestic(repo)})
      const holder = await frozenExclusiveLock(version, repo)
      let r
      try {
        // restic >= 0.16 waits for a live lock (--retry-lock) this long before giving up.
        r = await cli(app, ['backup', '--force'], {env: {KAMAL_BACKUP_LOCK_WAIT: '3'}})
      } finally {
        holder.kill('SIGKILL') // its lock stays behind, stale
        await new Promise((resolve) => holder.once('exit', resolve))
      }
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /locked/)
      assert.match(r.stderr, /kamal-backup unlock/)
      noDumpBlame(r.stderr)
      assert.equal(readState(app, 'last_backup.json').failed_step, 'database:main')
      assert.match(r.stderr, /restic unlock removed no lock: this one is held by a running restic/)
      if (version !== '0.14') assert.match(r.stderr, /it was not released within 3 s/)
      assert.doesNotMatch(r.stderr, /goroutine|\.go:\d+/, 'no Go stack trace')
      assert.equal((await repoSnapshots(app)).length, 0)
      const again = await cli(app, ['backup', '--force'])
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stderr, /removed a stale restic lock \(exclusive\) of pid \d+/)
    })
  }
  for (const version of RESTIC_VERSIONS) {
    test(`list reads the runs while another restic holds the exclusive lock, say a prune from a laptop (restic ${version})`, async () => {
      const repo = freshRepo(version)
      const app = writeApp({version, repo, paths: [`  - ${filesDir(`list-locked-${version}`)}`], restic: localRestic(repo)})
      assert.equal((await cli(app, ['backup', '--force'])).code, 0)
      const holder = await frozenExclusiveLock(version, repo)
      let listed
      try {
        listed = await cliJson(app, ['list'])
      } finally {
        holder.kill('SIGKILL')
        await new Promise((resolve) => holder.once('exit', resolve))
      }
      assert.equal(listed.result.code, 0, listed.result.stderr)
      assertSchema('list', listed.json)
      assert.equal(listed.json.length, 1)
      assert.equal(listed.json[0].complete, true)
    })
  }
})

describe('retention never splits a run across midnight (every snapshot of a run has the run\'s start as its time)', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    test(`keep_daily: 2 with a run straddling midnight keeps two complete runs (restic ${version})`, async () => {
      const dir = tempDir(`midnight-${version}`)
      const files = filesDir(`midnight-${version}`)
      const db = join(dir, 'app.sqlite3')
      assert.equal((await run(lab().bins.sqlite3, [db, 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'])).code, 0)
      // Places runs in time. kamal-backup's --time (the run's start) is moved to $PLACE_RUN; a backup without one is
      // stamped as the clock would have moved during the run: the database at $PLACE_DB, the files at $PLACE_FILES.
      const wrapper = join(dir, 'restic')
      writeFileSync(wrapper, `#!/bin/bash
real='${resticBin(version)}'
if [[ " $* " == *" backup "* ]]; then
  out=(); prev=; stdin=no; timed=no
  for a in "$@"; do
    if [[ $prev == --time ]]; then a="$PLACE_RUN"; timed=yes; fi
    [[ $a == --stdin-filename ]] && stdin=yes
    out+=("$a"); prev=$a
  done
  if [[ $timed == no ]]; then
    if [[ $stdin == yes ]]; then out=(backup --time "$PLACE_DB" "\${out[@]:1}"); else out=(backup --time "$PLACE_FILES" "\${out[@]:1}"); fi
  fi
  exec "$real" "\${out[@]}"
fi
exec "$real" "$@"
`, {mode: 0o755})
      const repo = freshRepo(version)
      const app = writeApp({version, repo, databases: [`  - {name: lite, adapter: sqlite, path: ${db}}`], paths: [`  - ${files}`], restic: localRestic(repo, ['retention: {keep_daily: 2}']), env: {KAMAL_BACKUP_RESTIC: wrapper}})
      const place = (runAt: string, dbAt = runAt, filesAt = runAt) => ({env: {PLACE_RUN: runAt, PLACE_DB: dbAt, PLACE_FILES: filesAt}})
      const ids: string[] = []
      for (const at of [place('2026-11-29 12:00:00'), place('2026-11-29 23:59:00', '2026-11-29 23:59:00', '2026-11-30 00:00:05'), place('2026-11-30 12:00:00')]) {
        const {result, json} = await cliJson(app, ['backup', '--force'], at)
        assert.equal(json.status, 'ok', result.stderr)
        ids.push(json.run_id)
      }
      const snapshots = await repoSnapshots(app)
      const straddling = snapshots.filter((s) => s.tags!.includes(`run:${ids[1]}`))
      assert.equal(new Set(straddling.map((s) => s.time)).size, 1, `one time for the whole run: ${straddling.map((s) => s.time).join(', ')}`)
      const {json: runs} = await cliJson(app, ['list'])
      assert.deepEqual(runs.filter((r: {complete: boolean}) => r.complete).map((r: {id: string}) => r.id), [ids[2], ids[1]], `two days, two complete runs:\n${JSON.stringify(runs, null, 2)}`)
    })
  }
})

describe('per-path excludes apply to their own path only', () => {
  test('pa excludes cache: pb/cache stays; `tmp` under a path below /tmp drops only that path\'s tmp', async () => {
    const root = tempDir('excl')
    for (const f of ['pa/cache/x', 'pa/keep', 'pb/cache/keepme', 'pc/tmp/scratch', 'pc/data/real', 'pc/logs/app.log']) {
      mkdirSync(join(root, f, '..'), {recursive: true})
      writeFileSync(join(root, f), f)
    }
    const repo = freshRepo('0.18')
    const app = writeApp({
      version: '0.18',
      repo,
      paths: [`  - {path: ${join(root, 'pa')}, exclude: [cache]}`, `  - ${join(root, 'pb')}`, `  - {path: ${join(root, 'pc')}, exclude: [tmp, "*.log"]}`],
      restic: localRestic(repo),
    })
    assert.ok(root.startsWith('/tmp/'), 'the paths are under /tmp, where an unanchored `tmp` matched everything')
    const r = await cli(app, ['backup', '--force'])
    assert.equal(r.code, 0, r.stderr)
    const ls = await restic('0.18', ['ls', 'latest'], {repo})
    const listed = new Set(ls.stdout.split('\n'))
    for (const kept of ['pa/keep', 'pb/cache/keepme', 'pc/data/real']) assert.ok(listed.has(join(root, kept)), `${kept} is in the snapshot:\n${ls.stdout}`)
    for (const gone of ['pa/cache', 'pc/tmp', 'pc/logs/app.log']) assert.ok(!listed.has(join(root, gone)), `${gone} is excluded`)
    const {json} = await cliJson(app, ['evidence'])
    assert.deepEqual(json.paths[0].exclude.slice(0, 1), ['cache'], 'evidence shows the configured pattern')
  })
})

describe('JSON output longer than 1 MiB (about a thousand snapshots) is read whole', () => {
  test('list, evidence, and a backup\'s forget and verify steps on restic 0.18', async () => {
    const repo = freshRepo('0.18')
    const dir = filesDir('big-json')
    const app = writeApp({version: '0.18', repo, paths: [`  - ${dir}`], restic: localRestic(repo, ['retention: {keep_last: 20}'])})
    const label = dir.replace(/^\/+/, '').replace(/[^A-Za-z0-9_.-]+/g, '-')
    // Eight complete runs whose snapshots carry long extra tags: `restic snapshots --json` prints them as one line
    // of well over 1 MiB, as a thousand ordinary snapshots would.
    const padding = (i: number) => Array.from({length: 2}, (_, j) => `note:${String(i * 10 + j).padStart(3, '0')}${'x'.repeat(100_000)}`)
    await Promise.all(
      Array.from({length: 8}, (_, i) => {
        const runId = `2026113${Math.floor(i / 4)}T0${i % 4}0000Z`
        const tags = ['kamal-backup', `app:${app.name}`, 'type:files', `run:${runId}`, `path:${label}`, ...padding(i)]
        return restic('0.18', ['backup', '--host', `kamal-backup-${app.name}`, ...tags.flatMap((t) => ['--tag', t]), dir], {repo}).then((r) => assert.equal(r.code, 0, r.stderr))
      }),
    )
    const raw = await restic('0.18', ['snapshots', '--json'], {repo})
    assert.ok(raw.stdout.length > 1.5 * 1024 * 1024, `${raw.stdout.length} bytes of JSON`)
    const {result, json} = await cliJson(app, ['list'])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(json.length, 8)
    const evidence = await cli(app, ['evidence'])
    const doc = JSON.parse(evidence.stdout)
    assert.equal(doc.repository_error, null)
    assert.equal(doc.runs.total, 8)
    const backup = await cliJson(app, ['backup', '--force'])
    assert.equal(backup.json.status, 'ok', backup.result.stderr)
    assert.equal(readState(app, 'last_prune.json').kept, 9, 'forget --json (one long line) was parsed')
    const verify = writeApp({version: '0.18', repo, paths: [`  - ${dir}`], restic: localRestic(repo, ['forget_after_backup: false'])})
    writeFileSync(verify.config, readFileSync(verify.config, 'utf8').replace(/^app: .*$/m, `app: ${app.name}`))
    const verified = await cliJson(verify, ['backup', '--force'])
    assert.equal(verified.json.status, 'ok', verified.result.stderr)
    assert.ok(verified.json.steps.some((s: {name: string; status: string}) => s.name === 'verify' && s.status === 'ok'))
  })
})

describe('a backend that accepts connections but answers garbage', () => {
  let server: Server
  let port: number
  before(async () => {
    // Stands in for a wrong port or a proxy in the way: TCP connects, every request gets nonsense.
    server = createServer((socket) => {
      socket.on('data', () => socket.write('garbage garbage\r\n\r\n'))
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as {port: number}).port
  })
  after(() => server.close())

  for (const version of RESTIC_VERSIONS) {
    test(`restic ${version}: backup, list and evidence stop at the deadline with an error naming the backend`, async () => {
      const repository = `rest:http://127.0.0.1:${port}/${uniqueName('repo')}`
      const pg = await createPostgresDatabase()
      try {
        const app = writeApp({version, repo: repository, databases: [pgDatabaseLine('main', pg)], paths: [`  - ${filesDir('garbage')}`], restic: [`repository: ${repository}`, 'password: {secret: RESTIC_PASSWORD}', 'init_if_missing: true'], env: {KAMAL_BACKUP_REPOSITORY_TIMEOUT: '3'}})
        const started = Date.now()
        const r = await cli(app, ['backup', '--force'], {timeoutMs: 90_000})
        assert.equal(r.code, 1, r.stderr)
        assert.doesNotMatch(r.stderr, /creating it/)
        assert.ok(Date.now() - started < 40_000, `gave up in ${Date.now() - started} ms`)
        if (version === '0.18') assert.match(r.stderr, new RegExp(`the repository rest:http://127\\.0\\.0\\.1:${port}/\\S+ cannot be reached or is not answering`))
        else assert.match(r.stderr, /cannot be reached or is not answering|unable to open config file/)
        if (version === '0.18') {
          const list = await cli(app, ['list'], {timeoutMs: 60_000})
          assert.equal(list.code, 1)
          assert.match(list.stderr, /cannot be reached or is not answering/)
          assert.match(list.stderr, /KAMAL_BACKUP_REPOSITORY_TIMEOUT/)
          const evidence = await cli(app, ['evidence'], {timeoutMs: 60_000})
          assert.match(JSON.parse(evidence.stdout).repository_error, /not answering/)
        }
      } finally {
        await dropPostgresDatabase(pg.name).catch(() => {})
      }
    })
  }
})

describe('the state volume and the password file', () => {
  test('a full state volume: a clear error naming the state directory and what to do, exit 1', async (t) => {
    const mnt = join(tempDir('full'), 'state')
    mkdirSync(mnt)
    const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt])
    if (mounted.code !== 0) return t.skip(`cannot mount a tmpfs here: ${mounted.stderr}`)
    try {
      await run('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=4k'])
      const repo = freshRepo('0.18')
      const app = writeApp({version: '0.18', repo, paths: [`  - ${filesDir('full')}`], restic: localRestic(repo), env: {KAMAL_BACKUP_STATE_DIR: mnt}})
      const r = await cli(app, ['backup', '--force'])
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, new RegExp(`state directory ${mnt}: no space left on the device`))
      assert.match(r.stderr, /free space on the volume/)
      assert.doesNotMatch(r.stderr, /unexpected error|please report/)
      assert.ok(!existsSync(join(mnt, 'kamal-backup.lock')), 'no half-written lock')
      assert.equal((await repoSnapshots(app)).length, 0, 'nothing was backed up')
    } finally {
      await run('umount', [mnt])
    }
  })

  test('an unreadable restic password file fails before anything runs, with its suggestion', async () => {
    const repo = freshRepo('0.18')
    const dir = tempDir('pwfile')
    const log = join(dir, 'calls.log')
    const wrapper = script(join(dir, 'bin'), 'restic', `printf '%s\\n' "$*" >> '${log}'\nexec '${resticBin('0.18')}' "$@"`)
    const app = writeApp({version: '0.18', repo, paths: [`  - ${filesDir('pwfile')}`], restic: [`repository: ${repo}`, `password: {file: ${join(dir, 'missing-password')}}`], env: {KAMAL_BACKUP_RESTIC: wrapper}})
    const r = await cli(app, ['backup', '--force'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /the restic password file .*missing-password \(restic.password\) cannot be read \(ENOENT\)/)
    assert.match(r.stderr, /mount the password file into the accessory/)
    assert.equal(readState(app, 'last_backup.json').failed_step, 'preflight')
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['version'], 'no repository call was made')
  })
})

// restic 0.14 itself refuses an empty stdin (no snapshot): 0.18 saves one and exits 3, which must then be removed.
describe('a failed dump whose snapshot could not be removed never makes a run complete', {concurrency: true}, () => {
  for (const version of ['0.18'] as const) {
    test(`database-only app, restic ${version}`, async () => {
      const pg = await createPostgresDatabase()
      try {
        const dir = tempDir(`leftover-${version}`)
        // The dump "succeeds" with nothing in it, and every `restic forget` fails (a backend that refuses deletes).
        script(join(dir, 'bin'), 'pg_dump', 'exit 0')
        const wrapper = script(join(dir, 'rbin'), 'restic', `[ "$1" = forget ] && { echo "Fatal: remove snapshot: permission denied" >&2; exit 1; }\nexec '${resticBin(version)}' "$@"`)
        const repo = freshRepo(version)
        const app = writeApp({version, repo, databases: [pgDatabaseLine('main', pg)], restic: localRestic(repo, ['retention: {keep_last: 5}']), env: {KAMAL_BACKUP_RESTIC: wrapper, PATH: `${join(dir, 'bin')}:${process.env.PATH}`}})
        const r = await cli(app, ['backup', '--force'])
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, /could not be removed/)
        const left = await repoSnapshots(app)
        assert.equal(left.length, 1, 'the empty dump\'s snapshot is still in the repository')
        const {json: runs} = await cliJson(app, ['list'])
        assertSchema('list', runs)
        assert.equal(runs.filter((x: {complete: boolean}) => x.complete).length, 0, `no complete run:\n${JSON.stringify(runs)}`)
        const {json: doc} = await cliJson(app, ['evidence'])
        assert.equal(doc.latest_complete_run, null)
        assert.ok(readState(app, 'partial_snapshots.json').snapshots.some((s: {failed?: boolean}) => s.failed))
        // The next good run (real pg_dump, a restic that can forget) removes it.
        const good = await cliJson(app, ['backup', '--force'], {env: {KAMAL_BACKUP_RESTIC: resticBin(version), PATH: process.env.PATH}})
        assert.equal(good.json.status, 'ok', good.result.stderr)
        const after = await repoSnapshots(app)
        assert.ok(!after.some((s) => left[0]!.id === s.id), 'the leftover snapshot was forgotten')
        assert.deepEqual(readState(app, 'partial_snapshots.json'), {snapshots: []})
      } finally {
        await dropPostgresDatabase(pg.name).catch(() => {})
      }
    })
  }
})

describe('the run lock', () => {
  test('a stale lock of a replaced container (another hostname, not refreshed) no longer blocks; unlock reports it', async () => {
    const repo = freshRepo('0.18')
    const app = writeApp({version: '0.18', repo, paths: [`  - ${filesDir('lock')}`], restic: localRestic(repo)})
    mkdirSync(app.state, {recursive: true})
    const lock = join(app.state, 'kamal-backup.lock')
    const plant = (ageMs: number) => {
      writeFileSync(lock, JSON.stringify({pid: 7, start: null, hostname: 'a1b2c3d4e5f6', command: 'backup', started_at: new Date(Date.now() - ageMs).toISOString()}))
      const at = new Date(Date.now() - ageMs)
      utimesSync(lock, at, at)
    }
    plant(20_000)
    const busy = await cli(app, ['backup', '--force'])
    assert.equal(busy.code, 1)
    assert.match(busy.stderr, /another kamal-backup backup is running \(pid 7 on host a1b2c3d4e5f6/)
    assert.match(busy.stderr, /goes stale 5 minutes after its last refresh.*`kamal-backup unlock`/)
    const attempt = readHistory(app).at(-1)
    assertSchema('backup-run', attempt)
    assert.equal(attempt.reason, 'busy', 'the attempt is in the history')
    assert.equal(readState(app, 'last_backup.json'), undefined, 'but not the last run: that one is still running')
    plant(3 * 3600_000)
    const {result, json} = await cliJson(app, ['unlock'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(json.output, /removed a stale kamal-backup run lock \(backup, pid 7 on host a1b2c3d4e5f6/)
    plant(3 * 3600_000)
    // A SQLite copy left in state/tmp by a run that was killed: the next run (holding the lock) removes it.
    mkdirSync(join(app.state, 'tmp'), {recursive: true})
    writeFileSync(join(app.state, 'tmp', '20261130T020000Z-lite.sqlite3'), 'a torn copy')
    const backup = await cli(app, ['backup', '--force'])
    assert.equal(backup.code, 0, backup.stderr)
    assert.ok(!existsSync(lock))
    assert.deepEqual(readdirSync(join(app.state, 'tmp')), [], 'the leftover SQLite copy is gone')
  })
})

describe('SIGTERM reaches a dump wrapper\'s own children', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    test(`schedule exits within Docker's 10 s (restic ${version})`, async () => {
      const pg = await createPostgresDatabase()
      let child: ChildProcess | undefined
      try {
        const dir = tempDir(`group-${version}`)
        const pidFile = join(dir, 'sleep.pid')
        // A dump wrapper (as some setups use) whose real work is a child process: here a sleep that never ends.
        script(join(dir, 'bin'), 'pg_dump', `head -c 100000 /dev/urandom\nsh -c 'echo $$ > "${pidFile}"; exec sleep 300'\necho wrapper done >&2`)
        const repo = freshRepo(version)
        const app = writeApp({version, repo, databases: [pgDatabaseLine('main', pg)], restic: localRestic(repo), extra: ['backup: {schedule: 1m}']})
        const env: NodeJS.ProcessEnv = {...process.env, ...app.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`}
        for (const [k, v] of Object.entries(app.env)) if (v === undefined) delete env[k]
        child = spawn(process.execPath, [BIN, 'schedule', '--local', '--backup-config', app.config], {cwd: app.dir, env, stdio: ['ignore', 'ignore', 'pipe']})
        let log = ''
        child.stderr!.on('data', (d) => (log += d))
        const exited = new Promise<number | null>((resolve) => child!.once('close', (code) => resolve(code)))
        for (let i = 0; i < 300 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50))
        assert.ok(existsSync(pidFile), `the dump is running:\n${log}`)
        await new Promise((r) => setTimeout(r, 300))
        const sent = Date.now()
        child.kill('SIGTERM')
        assert.equal(await exited, 0, log)
        assert.ok(Date.now() - sent < 8000, `stopped in ${Date.now() - sent} ms`)
        const pid = readFileSync(pidFile, 'utf8').trim()
        await new Promise((r) => setTimeout(r, 200))
        assert.ok(!existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')), 'the dump\'s child is gone')
        assert.deepEqual(await repoLocks(app), [])
        assert.equal((await repoSnapshots(app)).length, 0)
      } finally {
        child?.kill('SIGKILL')
        await dropPostgresDatabase(pg.name).catch(() => {})
      }
    })
  }
})
