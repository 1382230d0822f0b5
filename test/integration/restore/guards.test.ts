// Where a restore or drill may write, and how it must be asked: refused targets and flag combinations exit 2
// before anything changes. Each case has a real backup behind it, so a missing guard would really destroy data.
import {before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, kb} from '../../support/cli.ts'
import {freshRepo, run, tempDir} from '../../support/lab.ts'
import {backup, cli, historyLines, sqlite, writeApp, type App} from './support.ts'

describe('drill production: the scratch directory is never live data, and never someone else\'s', {concurrency: false}, () => {
  let app: App
  let root: string
  let live: string
  let repo: string
  before(async () => {
    root = tempDir('scratch-guards')
    mkdirSync(join(root, 'live'))
    live = join(root, 'live', 'app.sqlite3')
    sqlite(live, "CREATE TABLE t(x); INSERT INTO t VALUES ('live');")
    mkdirSync(join(root, 'storage'))
    writeFileSync(join(root, 'storage', 'upload.txt'), 'upload\n')
    repo = freshRepo('0.18', join(root, 'repo'))
    // The repository written as local:<path>, the way restic also accepts it.
    app = writeApp({dir: root, repo, repository: `local:${repo}`, databases: [`  - {name: main, adapter: sqlite, path: ${live}}`], paths: [join(root, 'storage')]})
    await backup(app)
  })

  const drill = (files: string, extra: string[] = [], env: Record<string, string> = {}) => cli(app, ['drill', 'production', '--sqlite-path', join(root, 'scratch.sqlite3'), '--files', files, '--yes', ...extra], {env})

  test('the directory of the live SQLite database, the local repository (local:), the state directory, HOME, the current directory or a system directory are refused', async () => {
    mkdirSync(join(root, 'home'))
    const cases: [string, RegExp][] = [
      [join(root, 'live'), /is the directory of the database file/],
      [repo, /is the restic repository/],
      [join(repo, 'data'), /is inside the restic repository/],
      [join(root, 'state'), /is the state directory/],
      [join(root, 'state', 'cache'), /restic's cache/],
      [join(root, 'home'), /is HOME/],
      [root, /is the current directory/],
      ['/etc/drill', /system directory \/etc/],
      ['/var/lib', /system directory/],
    ]
    const before = readdirSync(join(repo, 'data')).length
    for (const [dir, message] of cases) {
      const result = await drill(dir, [], {HOME: join(root, 'home')})
      assert.equal(result.code, 2, `${dir}: ${result.stdout}${result.stderr}`)
      assert.match(result.stderr, message, dir)
    }
    assert.equal(sqlite(live, 'SELECT x FROM t'), 'live', 'the live database is still there')
    assert.equal(readdirSync(join(repo, 'data')).length, before, 'the repository is intact')
    assert.ok(existsSync(join(repo, 'config')))
    assert.equal(historyLines(join(root, 'state', 'drills.jsonl')).length, 0, 'refused drills are not recorded')
  })

  test('a non-empty directory the drill did not create is refused; a new one is created and marked, and later drills reuse it', async () => {
    const foreign = join(root, 'somebody-elses')
    mkdirSync(foreign)
    writeFileSync(join(foreign, 'keep.txt'), 'keep me\n')
    const refused = await drill(foreign)
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /is not empty and was not created by a drill/)
    assert.equal(readFileSync(join(foreign, 'keep.txt'), 'utf8'), 'keep me\n')

    const scratch = join(root, 'drill-files')
    const first = await drill(scratch)
    assert.equal(first.code, 0, first.stdout + first.stderr)
    assert.deepEqual(readdirSync(scratch).sort(), ['.kamal-backup-drill', 'upload.txt'])
    writeFileSync(join(scratch, 'stale.txt'), 'stale\n')
    const second = await drill(scratch, ['--json'])
    assert.equal(second.code, 0, second.stdout + second.stderr)
    assert.deepEqual(readdirSync(scratch).sort(), ['.kamal-backup-drill', 'upload.txt'], 'the stale file is gone, the marker stays')
  })

  test('--sqlite-path may not be a live database file (or its -wal), nor lie inside a backed-up path, nor overwrite another file', async () => {
    writeFileSync(join(root, 'notes.txt'), 'not a database\n')
    for (const [path, message] of [[live, /configured source database/], [`${live}-wal`, /configured source database/], [join(root, 'storage', 'drill.sqlite3'), /inside the backed-up path/], [join(root, 'notes.txt'), /not a SQLite database/]] as const) {
      const result = await cli(app, ['drill', 'production', '--sqlite-path', path, '--no-files', '--yes'])
      assert.equal(result.code, 2, `${path}: ${result.stderr}`)
      assert.match(result.stderr, message)
    }
    assert.equal(readFileSync(join(root, 'notes.txt'), 'utf8'), 'not a database\n')
  })

  test('with paths configured, --files <dir> or --no-files is required; --no-files is recorded as skipped', async () => {
    const missing = await cli(app, ['drill', 'production', '--sqlite-path', join(root, 'scratch.sqlite3'), '--yes'])
    assert.equal(missing.code, 2, missing.stderr)
    assert.match(missing.stderr, /--files <dir>.*or skips them \(--no-files\)/)
    const skipped = await cli(app, ['drill', 'production', '--sqlite-path', join(root, 'scratch.sqlite3'), '--no-files', '--yes', '--json'])
    assert.equal(skipped.code, 0, skipped.stdout + skipped.stderr)
    const record = JSON.parse(skipped.stdout)
    assert.equal(record.files.length, 0)
    assert.deepEqual(record.skipped, [`files (${join(root, 'storage')}): --no-files`])
  })
})

describe('drill production --files without configured paths', () => {
  test('says there are no files to drill (exit 2) instead of ignoring it', async () => {
    const dir = tempDir('nofiles')
    const db = join(dir, 'db', 'app.sqlite3')
    mkdirSync(join(dir, 'db'))
    sqlite(db, 'CREATE TABLE t(x);')
    const app = writeApp({dir, repo: freshRepo('0.18'), databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], paths: []})
    const result = await cli(app, ['drill', 'production', '--sqlite-path', join(dir, 'drill.sqlite3'), '--files', join(dir, 'drill-files'), '--yes'])
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /backs up no paths, so there are no files to drill/)
  })
})

describe('restore local: files targets that would destroy the checkout are refused', {concurrency: false}, () => {
  let checkout: string
  let app: App
  const local = (paths: string) => writeFileSync(join(checkout, 'config', 'kamal-backup.local.yml'), `databases:\n  - {name: primary, path: storage/development.sqlite3}\npaths:\n${paths}`)
  before(async () => {
    // The checkout lives below a directory named like production: its own targets are what is judged.
    const parent = join(tempDir('guards'), 'live-app')
    checkout = join(parent, 'checkout')
    mkdirSync(join(checkout, 'config'), {recursive: true})
    mkdirSync(join(checkout, '.git'))
    mkdirSync(join(checkout, 'storage'))
    writeFileSync(join(checkout, 'config', 'deploy.yml'), 'service: x\n')
    writeFileSync(join(checkout, 'Gemfile'), 'source "https://rubygems.org"\n')
    const server = join(parent, 'server')
    mkdirSync(join(server, 'files'), {recursive: true})
    writeFileSync(join(server, 'files', 'upload.txt'), 'upload\n')
    sqlite(join(server, 'production.sqlite3'), "CREATE TABLE posts(title); INSERT INTO posts VALUES ('from production');")
    app = writeApp({dir: checkout, repo: freshRepo('0.18'), databases: [`  - {name: primary, adapter: sqlite, path: ${join(server, 'production.sqlite3')}}`], paths: [join(server, 'files')]})
    app.env.RAILS_ENV = ''
    await backup(app)
  })

  test('to: . (the checkout), .. (above it), / , HOME, the state directory, a directory with .git', async () => {
    mkdirSync(join(checkout, 'vendor', 'engine', '.git'), {recursive: true})
    const files = join(checkout, '..', 'server', 'files')
    for (const [to, message] of [['.', /is the current directory/], ['..', /contains the current directory/], ['/', /root directory/], [join(app.dir, 'home'), /is HOME/], ['tmp/kamal-backup', /state directory/], ['vendor/engine', /app checkout or repository/]] as const) {
      local(`  - {from: ${files}, to: ${to}}\n`)
      const result = await kb(['restore', 'local', '--yes', '--backup-config', app.config], {cwd: checkout, env: {...app.env, HOME: join(app.dir, 'home')}})
      assert.equal(result.code, 2, `${to}: ${result.stdout}${result.stderr}`)
      assert.match(result.stderr, message, to)
      assert.match(result.stderr, /kamal-backup\.local\.yml: files target/)
    }
    assert.deepEqual(readdirSync(checkout).sort(), ['.git', 'Gemfile', 'config', 'kamal-backup.yml', 'state', 'storage', 'vendor'], 'the checkout is intact')
  })

  test('an ancestor named live-app does not make storage/ look like production; the restore goes ahead', async () => {
    local(`  - {from: ${join(checkout, '..', 'server', 'files')}, to: storage/files}\n`)
    mkdirSync(join(checkout, 'storage', 'files'))
    const result = await kb(['restore', 'local', '--yes', '--backup-config', app.config, '--json'], {cwd: checkout, env: app.env})
    assert.equal(result.code, 0, result.stdout + result.stderr)
    assert.equal(readFileSync(join(checkout, 'storage', 'files', 'upload.txt'), 'utf8'), 'upload\n')
    assert.equal(sqlite(join(checkout, 'storage', 'development.sqlite3'), 'SELECT title FROM posts'), 'from production')
  })

  test('a target whose own name is prod01 / live2 is refused', async () => {
    writeFileSync(join(checkout, 'config', 'kamal-backup.local.yml'), 'databases:\n  - {name: primary, path: storage/prod01.sqlite3}\n')
    const result = await kb(['restore', 'local', '--yes', '--backup-config', app.config], {cwd: checkout, env: app.env})
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /prod01\.sqlite3 for database "primary" looks like production/)
    writeFileSync(join(checkout, 'config', 'kamal-backup.local.yml'), `databases:\n  - {name: primary, path: storage/development.sqlite3}\npaths:\n  - {from: ${join(checkout, '..', 'server', 'files')}, to: storage/live2}\n`)
    const files = await kb(['restore', 'local', '--yes', '--backup-config', app.config], {cwd: checkout, env: app.env})
    assert.equal(files.code, 2, files.stderr)
    assert.match(files.stderr, /storage\/live2 looks like production/)
  })

  test('--files with a path that has no local target says so (exit 2)', async () => {
    writeFileSync(join(checkout, 'config', 'kamal-backup.local.yml'), 'databases:\n  - {name: primary, path: storage/development.sqlite3}\n')
    const result = await kb(['restore', 'local', '--files', '--yes', '--backup-config', app.config], {cwd: checkout, env: app.env})
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /--files: no local target for .*server\/files/)
  })
})

describe('how a restore must be asked', {concurrency: false}, () => {
  let app: App
  let db: string
  before(async () => {
    const dir = tempDir('asked')
    mkdirSync(join(dir, 'db'))
    db = join(dir, 'db', 'app.sqlite3')
    sqlite(db, "CREATE TABLE t(x); INSERT INTO t VALUES ('backed up');")
    app = writeApp({dir, repo: freshRepo('0.18'), databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], paths: []})
    await backup(app)
    sqlite(db, "UPDATE t SET x = 'current';")
  })

  test('--yes next to --confirm <app> is refused for restore production', async () => {
    const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--yes', '--no-safety-backup'])
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /--yes is refused for a production restore/)
    assert.equal(sqlite(db, 'SELECT x FROM t'), 'current')
  })

  test('a SNAPSHOT together with --at is a usage error', async () => {
    for (const command of [['restore', 'production', 'latest', '--at', '2030-01-01T00:00:00Z', '--confirm', app.app], ['drill', 'production', 'latest', '--at', '2030-01-01T00:00:00Z', '--sqlite-path', join(app.dir, 'd.sqlite3'), '--yes']]) {
      const result = await cli(app, command)
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, /either a SNAPSHOT \(latest\) or --at/)
    }
    assert.equal(sqlite(db, 'SELECT x FROM t'), 'current')
  })

  test('on a terminal: the resolved run is shown first; a wrong app name, a wrong phrase, or "n" at [y/N] is "not confirmed", exit 2', async () => {
    const env = Object.fromEntries(Object.entries({...process.env, ...app.env, CI: undefined, NO_COLOR: '1', BASH_ENV: undefined, ENV: undefined, TERM: 'xterm', SHELL: '/bin/sh'}).filter(([, v]) => v !== undefined)) as Record<string, string>
    const inTty = (args: string, input: string) =>
      run('script', ['-qec', `exec env -u CI ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ${args} --local --backup-config ${JSON.stringify(app.config)}`, '/dev/null'], {cwd: app.dir, env, input, timeoutMs: 120_000})
    const wrongName = await inTty('restore production --no-safety-backup', 'not-the-app\n')
    assert.equal(wrongName.code, 2, wrongName.stdout)
    const asked = wrongName.stdout.indexOf('Type the app name')
    assert.ok(asked > 0, wrongName.stdout)
    // Before the question: the run (id, time, age), what goes where, and that no safety backup is taken.
    const shown = wrongName.stdout.slice(0, asked)
    assert.match(shown, /This restores run \d{8}T\d{6}Z \(the latest complete backup run\) into PRODUCTION/, 'the run it restores, before the question')
    assert.match(shown, /run +\d{8}T\d{6}Z, taken \S+ \(\d+ (s|min) ago\)/)
    assert.match(shown, new RegExp(`database main → ${db.replace(/[.]/g, '\\.')}`))
    assert.match(shown, /safety +NONE \(--no-safety-backup\)/)
    assert.match(wrongName.stdout, /not confirmed: nothing was changed/)
    const wrongPhrase = await inTty('restore production --no-safety-backup', `${app.app}\nrestore production\n`)
    assert.equal(wrongPhrase.code, 2, wrongPhrase.stdout)
    const no = await inTty('drill production --sqlite-path drill.sqlite3', 'n\n')
    assert.equal(no.code, 2, no.stdout)
    assert.match(no.stdout, /not confirmed/)
    assert.equal(sqlite(db, 'SELECT x FROM t'), 'current')
    const yes = await inTty('restore production --no-safety-backup', `${app.app}\nRESTORE PRODUCTION\n`)
    assert.equal(yes.code, 0, yes.stdout)
    assert.equal(sqlite(db, 'SELECT x FROM t'), 'backed up')
  })

  test('without a terminal, restore local says what needs confirming (no "data.:")', async () => {
    const result = await kb(['restore', 'local', '--backup-config', app.config], {cwd: app.dir, env: {...app.env, RAILS_ENV: ''}})
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /Restore into the local targets: confirmation required/)
  })
})
