// Where restores and drills may write (src/engine/targets.ts): production-looking names, and the places a scratch
// directory, a scratch SQLite file or a local files target must never be. Filesystem cases run in temporary
// directories.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {sqliteFiles} from '../../../src/db/sqlite.ts'
import {assertLocalFilesTarget, assertScratchDirectory, assertScratchSqliteFile, DRILL_MARKER, looksLikeProduction, ownName, type ProtectedPlaces} from '../../../src/engine/targets.ts'
import {errorOf, temp} from './support.ts'

describe('looksLikeProduction and ownName', () => {
  test('"production" anywhere; prod and live as words, with digits after them', () => {
    for (const name of ['myapp_production', 'PRODUCTION', 'prod', 'myapp-prod', 'prod_copy', 'prod01', 'db.prod02.internal', 'live', 'live2', 'app_live_3', '/srv/prod/db.sqlite3']) {
      assert.equal(looksLikeProduction(name), true, name)
    }
    for (const name of ['products', 'myapp_development', 'delivery', 'olive', 'liver', 'reproduce', 'drill', 'db1prodx', 'prodigy']) {
      assert.equal(looksLikeProduction(name), false, name)
    }
  })

  test('a path is judged by its part below the project, else by its last component', () => {
    assert.equal(ownName('/tmp/x/live-app/storage/development.sqlite3', '/tmp/x/live-app'), 'storage/development.sqlite3')
    assert.equal(looksLikeProduction(ownName('/tmp/x/live-app/storage/development.sqlite3', '/tmp/x/live-app')), false, 'an ancestor named live-app says nothing about the target')
    assert.equal(ownName('/srv/live/drill.sqlite3'), 'drill.sqlite3')
    assert.equal(ownName('/srv/app/storage/prod.sqlite3', '/srv/app'), 'storage/prod.sqlite3')
    assert.equal(ownName('/elsewhere/x.sqlite3', '/srv/app'), 'x.sqlite3')
  })
})

function places(root: string, extra: Partial<ProtectedPlaces> = {}): ProtectedPlaces {
  return {
    backedUp: [join(root, 'storage')],
    databaseFiles: sqliteFiles(join(root, 'db', 'production.sqlite3')),
    stateDir: join(root, 'state'),
    repositories: [join(root, 'repo')],
    cacheDir: join(root, 'state', 'cache'),
    home: join(root, 'home'),
    cwd: join(root, 'cwd'),
    project: undefined,
    ...extra,
  }
}

describe('scratch directory checks', () => {
  const root = temp()
  for (const d of ['storage/uploads', 'db', 'state/cache', 'repo/data', 'home', 'cwd', 'used', 'app/config', 'app/tmp']) mkdirSync(join(root, d), {recursive: true})
  writeFileSync(join(root, 'used', 'important.txt'), 'not a drill\'s\n')
  writeFileSync(join(root, 'app', 'config', 'deploy.yml'), 'service: x\n')

  test('refused: a backed-up path, its inside or its parent; the SQLite directory; state; repository; cache; HOME; cwd; system directories', () => {
    const p = places(root)
    const cases: [string, RegExp][] = [
      [join(root, 'storage'), /is the backed-up path/],
      [join(root, 'storage', 'uploads'), /is inside the backed-up path/],
      [root, /contains the (current directory|backed-up path)/],
      [join(root, 'db'), /is the directory of the database file/],
      [join(root, 'db', 'scratch'), /is inside the directory of the database file/],
      [join(root, 'state'), /is the state directory/],
      [join(root, 'state', 'cache'), /restic's cache/],
      [join(root, 'repo'), /is the restic repository/],
      [join(root, 'repo', 'data'), /is inside the restic repository/],
      [join(root, 'home'), /is HOME/],
      [join(root, 'cwd'), /is the current directory/],
      ['/etc/kamal-backup-drill', /inside the system directory \/etc/],
      ['/var/lib', /system directory \/var\/lib/],
      ['/usr/local/drill', /inside the system directory \/usr/],
    ]
    for (const [dir, message] of cases) assert.match(errorOf(() => assertScratchDirectory(dir, p)).message, message, dir)
    assert.match(errorOf(() => assertScratchDirectory('/tmp', p)).message, /too close to the root/)
  })

  test('a symlink cannot smuggle a live directory in', () => {
    const link = join(root, 'innocent-looking')
    symlinkSync(join(root, 'storage'), link)
    assert.match(errorOf(() => assertScratchDirectory(link, places(root))).message, /backed-up path/)
  })

  test('inside the state directory, and inside the app checkout only under its tmp/, is allowed', () => {
    assert.doesNotThrow(() => assertScratchDirectory(join(root, 'state', 'drill-files'), places(root)))
    const p = places(root, {project: join(root, 'app'), cwd: join(root, 'app')})
    assert.match(errorOf(() => assertScratchDirectory(join(root, 'app', 'config'), p)).message, /app checkout/)
    assert.doesNotThrow(() => assertScratchDirectory(join(root, 'app', 'tmp', 'drill'), p))
  })

  test('a non-empty directory is refused unless an earlier drill marked it; new and empty ones are fine', () => {
    const p = places(root)
    assert.match(errorOf(() => assertScratchDirectory(join(root, 'used'), p)).message, /not empty and was not created by a drill/)
    assert.deepEqual(readdirSync(join(root, 'used')), ['important.txt'], 'nothing was touched')
    mkdirSync(join(root, 'marked'))
    writeFileSync(join(root, 'marked', DRILL_MARKER), '')
    writeFileSync(join(root, 'marked', 'stale.txt'), '')
    assert.doesNotThrow(() => assertScratchDirectory(join(root, 'marked'), p))
    mkdirSync(join(root, 'empty'))
    assert.doesNotThrow(() => assertScratchDirectory(join(root, 'empty'), p))
    assert.doesNotThrow(() => assertScratchDirectory(join(root, 'does', 'not', 'exist'), p))
  })

  test('scratch SQLite file: not a live database (or its -wal), not in a backed-up path or the repository, not some other file', () => {
    const p = places(root)
    assert.match(errorOf(() => assertScratchSqliteFile(join(root, 'db', 'production.sqlite3'), p)).message, /configured source database/)
    assert.match(errorOf(() => assertScratchSqliteFile(join(root, 'db', 'production.sqlite3-wal'), p)).message, /configured source database/)
    assert.match(errorOf(() => assertScratchSqliteFile(join(root, 'storage', 'drill.sqlite3'), p)).message, /inside the backed-up path/)
    assert.match(errorOf(() => assertScratchSqliteFile(join(root, 'repo', 'drill.sqlite3'), p)).message, /restic repository/)
    assert.match(errorOf(() => assertScratchSqliteFile(join(root, 'state', 'last_backup.json'), p)).message, /state file/)
    assert.match(errorOf(() => assertScratchSqliteFile(join(root, 'used', 'important.txt'), p)).message, /not a SQLite database/)
    assert.match(errorOf(() => assertScratchSqliteFile(join(root, 'used'), p)).message, /not a file/)
    assert.doesNotThrow(() => assertScratchSqliteFile(join(root, 'state', 'drill.sqlite3'), p))
    writeFileSync(join(root, 'old-drill.sqlite3'), Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(100)]))
    assert.doesNotThrow(() => assertScratchSqliteFile(join(root, 'old-drill.sqlite3'), p), 'a SQLite file an earlier drill wrote')
  })
})

describe('local files targets (paths[].to)', () => {
  const root = temp()
  const project = join(root, 'app')
  for (const d of ['app/.git', 'app/storage', 'app/vendor/gem/.git', 'app/tmp/kamal-backup', 'home']) mkdirSync(join(root, d), {recursive: true})
  const p = places(root, {project, cwd: project, home: join(root, 'home'), stateDir: join(project, 'tmp', 'kamal-backup'), backedUp: ['/rails/storage'], databaseFiles: [], repositories: []})

  test('refused: the project and anything above it, a checkout, HOME, the state directory, system directories', () => {
    const cases: [string, RegExp][] = [
      [project, /is the current directory|is the app checkout/],
      [root, /contains/],
      ['/', /root directory/],
      [join(root, 'home'), /is HOME/],
      [join(project, 'vendor', 'gem'), /app checkout or repository/],
      [join(project, 'tmp', 'kamal-backup'), /state directory/],
      [join(project, 'tmp', 'kamal-backup', 'x'), /state directory/],
      ['/etc', /system directory/],
      ['/home', /system directory/],
    ]
    for (const [to, message] of cases) {
      const error = errorOf(() => assertLocalFilesTarget(to, p, 'config/kamal-backup.local.yml'))
      assert.equal(error.exitCode, 2)
      assert.match(error.message, /^config\/kamal-backup\.local\.yml: files target/)
      assert.match(error.message, message, to)
    }
  })

  test('a directory inside the app is fine', () => {
    assert.doesNotThrow(() => assertLocalFilesTarget(join(project, 'storage'), p, 'config/kamal-backup.local.yml'))
    assert.doesNotThrow(() => assertLocalFilesTarget(join(project, 'storage', 'new'), p, 'config/kamal-backup.local.yml'))
  })
})
