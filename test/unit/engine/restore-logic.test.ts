// The pure logic of restores and drills: production-looking names, the places a scratch or local files target
// must never be, the content replacement that keeps live SQLite files, staging directories and a drill's marker,
// the MySQL reset statements, what pg_restore's output says, the undo command, the check's environment and the
// drill's verification. Filesystem cases run in temporary directories.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {firstSentence} from '../../../src/cli/confirm.ts'
import {restoreSelection} from '../../../src/cli/engine-command.ts'
import {sqliteFiles} from '../../../src/db/sqlite.ts'
import {mysqlDropStatements, mysqlLockProbe, mysqlReadOnly} from '../../../src/db/mysql.ts'
import {ignoredErrors, parsePostgresState, pgRestoreSpec, tableFromPgRestoreLine, tablesFromPgRestore, tocTableCount} from '../../../src/db/postgres.ts'
import {checkEnvironment, verificationProblems} from '../../../src/engine/drill.ts'
import {undoCommand} from '../../../src/engine/restore-flows.ts'
import {describeChanges, freeSpaceShortfalls, lockTimeoutSeconds, replaceContents} from '../../../src/engine/restore.ts'
import {assertLocalFilesTarget, assertScratchDirectory, assertScratchSqliteFile, DRILL_MARKER, looksLikeProduction, ownName, type ProtectedPlaces} from '../../../src/engine/targets.ts'
import {KamalBackupError} from '../../../src/errors.ts'
import {Secret} from '../../../src/redact.ts'
import type {DatabaseReport} from '../../../src/documents.ts'

function temp(): string {
  return mkdtempSync(join(tmpdir(), 'kb-restore-logic-'))
}

function errorOf(work: () => unknown): KamalBackupError {
  try {
    work()
  } catch (error) {
    assert.ok(error instanceof KamalBackupError, String(error))
    return error
  }
  assert.fail('expected an error')
}

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

describe('replaceContents', () => {
  function tree(): {target: string; staged: string} {
    const root = temp()
    const target = join(root, 'target')
    const staged = join(root, 'staged')
    for (const d of ['target/old', 'target/db', 'target/.kamal-backup-restore-1', 'staged/new', 'staged/db']) mkdirSync(join(root, d), {recursive: true})
    writeFileSync(join(target, 'top.txt'), 'old top\n')
    writeFileSync(join(target, 'old', 'gone.txt'), 'gone\n')
    writeFileSync(join(target, 'db', 'live.sqlite3'), 'live database\n')
    writeFileSync(join(target, 'db', 'live.sqlite3-wal'), 'live wal\n')
    writeFileSync(join(target, 'db', 'stale.txt'), 'stale\n')
    writeFileSync(join(target, '.kamal-backup-restore-1', 'in-flight'), 'staging\n')
    writeFileSync(join(staged, 'top.txt'), 'new top\n')
    writeFileSync(join(staged, 'new', 'file.txt'), 'new\n')
    writeFileSync(join(staged, 'db', 'other.txt'), 'restored\n')
    writeFileSync(join(staged, 'db', 'live.sqlite3'), 'an old copy that must not win\n')
    return {target, staged}
  }

  test('replaces the contents, keeps the directory itself, preserved files (deep down) and skipped paths', () => {
    const {target, staged} = tree()
    const inode = statSync(target).ino
    const preserve = new Set([join(target, 'db', 'live.sqlite3'), join(target, 'db', 'live.sqlite3-wal')])
    replaceContents(target, staged, preserve, new Set([join(target, '.kamal-backup-restore-1')]))
    assert.equal(statSync(target).ino, inode, 'the directory itself stays (a mount point cannot be replaced)')
    assert.deepEqual(readdirSync(target).sort(), ['.kamal-backup-restore-1', 'db', 'new', 'top.txt'])
    assert.equal(readFileSync(join(target, 'top.txt'), 'utf8'), 'new top\n')
    assert.deepEqual(readdirSync(join(target, 'db')).sort(), ['live.sqlite3', 'live.sqlite3-wal', 'other.txt'], 'stale.txt gone, the live database kept, the restored file in')
    assert.equal(readFileSync(join(target, 'db', 'live.sqlite3'), 'utf8'), 'live database\n', 'the database step restores it, not the file step')
    assert.deepEqual(readdirSync(join(target, '.kamal-backup-restore-1')), ['in-flight'])
  })

  test('a skipped path deeper down (a drill marker, another target\'s staging) keeps its directories', () => {
    const {target, staged} = tree()
    const marker = join(target, 'old', DRILL_MARKER)
    writeFileSync(marker, '')
    replaceContents(target, staged, new Set(), new Set([marker]))
    assert.deepEqual(readdirSync(join(target, 'old')), [DRILL_MARKER], 'the marker stays, the rest of old/ goes')
  })
})

describe('MySQL reset statements', () => {
  const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase()
  const inventory = [`EVENT\t${hex('nightly')}`, `TABLE\t${hex('users')}`, `VIEW\t${hex('totals')}`, `SEQUENCE\t${hex('ids')}`, `PROCEDURE\t${hex('add_user')}`, `FUNCTION\t${hex('dbl')}`, `TABLE\t${hex('we`ird ünïcode')}`, 'garbage line', ''].join('\n')

  test('every object is dropped, views first, names quoted with doubled backticks, foreign keys off around it', () => {
    assert.equal(
      mysqlDropStatements(inventory),
      [
        'SET FOREIGN_KEY_CHECKS=0;',
        'DROP VIEW IF EXISTS `totals`;',
        'DROP TABLE IF EXISTS `users`;',
        'DROP TABLE IF EXISTS `we``ird ünïcode`;',
        'DROP SEQUENCE IF EXISTS `ids`;',
        'DROP PROCEDURE IF EXISTS `add_user`;',
        'DROP FUNCTION IF EXISTS `dbl`;',
        'DROP EVENT IF EXISTS `nightly`;',
        'SET FOREIGN_KEY_CHECKS=1;',
        '',
      ].join('\n'),
    )
    assert.equal(mysqlDropStatements(''), 'SET FOREIGN_KEY_CHECKS=0;\nSET FOREIGN_KEY_CHECKS=1;\n')
  })

  test('the lock probe locks every base table, and nothing when there are none', () => {
    assert.equal(mysqlLockProbe(inventory), 'LOCK TABLES `users` WRITE, `we``ird ünïcode` WRITE;\nUNLOCK TABLES;\n')
    assert.equal(mysqlLockProbe(`VIEW\t${hex('v')}\n`), undefined)
  })

  test('read_only and super_read_only', () => {
    assert.equal(mysqlReadOnly('read_only\tOFF\n'), undefined)
    assert.equal(mysqlReadOnly('read_only\tON\nsuper_read_only\tOFF\n'), 'read_only')
    assert.equal(mysqlReadOnly('read_only\tOFF\nsuper_read_only\tON\n'), 'super_read_only')
  })
})

describe('what pg_restore says', () => {
  const stderr = ['pg_restore: connecting to database for restore', 'pg_restore: creating SCHEMA "reporting"', 'pg_restore: creating TABLE "public.users"', 'pg_restore: creating TABLE "reporting.daily"', 'pg_restore: creating TABLE "public.users"', 'pg_restore: processing data for table "public.users"', 'pg_restore: creating FK CONSTRAINT "public.posts posts_user_id_fkey"'].join('\n')

  test('the tables it created, once each, line by line or from its whole stderr', () => {
    assert.deepEqual(tablesFromPgRestore(stderr), ['public.users', 'reporting.daily'])
    assert.equal(tableFromPgRestoreLine('pg_restore: creating TABLE "public.we ird"'), 'public.we ird')
    assert.equal(tableFromPgRestoreLine('pg_restore: creating VIEW "public.v"'), undefined)
    assert.deepEqual(tablesFromPgRestore(''), [])
  })

  test('"errors ignored on restore: N"', () => {
    assert.equal(ignoredErrors('pg_restore: warning: errors ignored on restore: 3'), 3)
    assert.equal(ignoredErrors(stderr), 0)
  })

  test('table entries of pg_restore --list', () => {
    const toc = [';', '; Archive created at 2026-12-01 18:00:00 UTC', '215; 1259 16386 TABLE public users kbapp', '216; 1259 16390 TABLE reporting daily kbapp', '3390; 0 16386 TABLE DATA public users kbapp', '217; 1259 16400 VIEW public post_counts kbapp', '218; 1259 16410 FOREIGN TABLE public ft kbapp']
    assert.equal(toc.reduce((n, line) => n + tocTableCount(line), 0), 2)
  })

  test('what stops a reset: standby, read-only sessions, no CREATE, schemas owned by someone else', () => {
    assert.match(parsePostgresState('t|off|f|t|\n')!, /standby/)
    assert.match(parsePostgresState('f|on|f|t|\n')!, /read-only/)
    assert.match(parsePostgresState('f|off|f|f|\n')!, /CREATE privilege/)
    assert.match(parsePostgresState('f|off|f|t|audit, "Weird"\n')!, /does not own the schema\(s\) audit, "Weird"/)
    assert.match(parsePostgresState('f|off|f|t||publication pub, event trigger audit\n')!, /does not own the publication pub, event trigger audit/)
    assert.equal(parsePostgresState('f|off|f|t||\n'), undefined)
    assert.equal(parsePostgresState('f|off|f|t|\n'), undefined)
    assert.equal(parsePostgresState('f|off|t|f|other\n'), undefined, 'a superuser can do it anyway')
  })

  test('pg_restore waits at most the lock timeout and never hits a role\'s statement_timeout', () => {
    const spec = pgRestoreSpec({name: 'x', adapter: 'postgres', params: {}, database: 'x'}, {pg_dump: 'pg_dump', pg_restore: 'pg_restore', psql: 'psql'}, 'x', 7)
    assert.equal(spec.env?.PGOPTIONS, '-c lock_timeout=7000 -c statement_timeout=0')
  })
})

describe('undo command', () => {
  const all = {databases: ['primary', 'queue'], pathsConfigured: true}
  test('from the safety run, with -c/-d from the accessory environment, and the restore\'s own limits', () => {
    assert.equal(undoCommand('shop', '20261122T031000Z', {}, {databases: ['primary', 'queue'], files: true}, all), 'kamal-backup restore production 20261122T031000Z --confirm shop')
    assert.equal(undoCommand('shop', 'R', {destination: 'staging', configFile: 'config/deploy.eu.yml'}, {databases: ['primary', 'queue'], files: true}, all), 'kamal-backup restore production R --confirm shop -c config/deploy.eu.yml -d staging')
    assert.equal(undoCommand('shop', 'R', {destination: 'production'}, {databases: ['primary'], files: false}, all), 'kamal-backup restore production R --confirm shop -d production --database primary')
    assert.equal(undoCommand('shop', 'R', {}, {databases: ['primary', 'queue'], files: false}, all), 'kamal-backup restore production R --confirm shop --no-files')
    assert.equal(undoCommand('shop', 'R', {}, {databases: [], files: true}, all), 'kamal-backup restore production R --confirm shop --files')
    assert.equal(undoCommand('shop', 'R', {}, {databases: ['queue'], files: true}, all), 'kamal-backup restore production R --confirm shop --database queue --files')
    assert.equal(undoCommand('shop', 'R', {local: true, backupConfig: '/x/kamal backup.yml'}, {databases: ['primary', 'queue'], files: true}, all), "kamal-backup restore production R --confirm shop --local --backup-config '/x/kamal backup.yml'")
  })

  test('after a failure, the state of every part', () => {
    assert.equal(describeChanges([{part: 'files:/data', target: '/data', state: 'unchanged'}]), undefined)
    assert.equal(
      describeChanges([
        {part: 'files:/data', target: '/data', state: 'restored'},
        {part: 'database:primary', target: 'db/app', state: 'partial', note: 'it was reset'},
        {part: 'database:queue', target: '/q.sqlite3', state: 'unchanged'},
      ]),
      'the restore stopped part-way: files /data: restored from the backup; database primary (db/app): PARTLY restored (it was reset); database queue (/q.sqlite3): unchanged',
    )
  })
})

describe('the drill check\'s environment', () => {
  const pg = {name: 'main', adapter: 'postgres' as const, host: 'db', port: 5432, user: 'app', password: new Secret('pw'), database: 'drill_main', params: {}}
  const lite = {name: 'queue', adapter: 'sqlite' as const, params: {}, path: '/scratch/queue.sqlite3'}
  const inherited = {DATABASE_URL: 'postgres://prod/app', QUEUE_DATABASE_URL: 'sqlite3:/rails/queue.sqlite3', CACHE_DATABASE_URL: 'x', PATH: '/bin'}

  test('several databases: the inherited *DATABASE_URL are removed; one variable per database; no DATABASE_URL', () => {
    const env = checkEnvironment([{name: 'main', db: pg}, {name: 'queue', db: lite}], [], inherited)
    assert.equal('DATABASE_URL' in env && env.DATABASE_URL, undefined)
    assert.equal(env.CACHE_DATABASE_URL, undefined)
    assert.ok('CACHE_DATABASE_URL' in env, 'removed, not just left alone')
    assert.equal(env.MAIN_DATABASE_URL, 'postgres://app:pw@db:5432/drill_main')
    assert.equal(env.KAMAL_BACKUP_DRILL_MAIN_URL, 'postgres://app:pw@db:5432/drill_main')
    assert.equal(env.QUEUE_DATABASE_URL, 'sqlite3:/scratch/queue.sqlite3')
    assert.equal(env.PATH, undefined, 'other variables are inherited as they are')
  })

  test('DATABASE_URL for the only database, or the one named primary; the files directory', () => {
    assert.equal(checkEnvironment([{name: 'main', db: pg}], [{from: '/d', to: '/scratch/files'}], inherited).DATABASE_URL, 'postgres://app:pw@db:5432/drill_main')
    assert.equal(checkEnvironment([{name: 'primary', db: pg}, {name: 'queue', db: lite}], [], inherited).DATABASE_URL, 'postgres://app:pw@db:5432/drill_main')
    assert.equal(checkEnvironment([], [{from: '/d', to: '/scratch/files'}], {}).KAMAL_BACKUP_DRILL_FILES, '/scratch/files')
    assert.equal(checkEnvironment([], [{from: '/a', to: '/scratch/files/a'}, {from: '/b', to: '/scratch/files/b'}], {}).KAMAL_BACKUP_DRILL_FILES, '/scratch/files')
  })
})

describe('drill verification', () => {
  const db = (over: Partial<DatabaseReport>): DatabaseReport => ({name: 'main', adapter: 'postgres', snapshot: 's', target: 't', tables_in_dump: ['public.a'], tables_restored: ['public.a'], missing_tables: [], tables_in_toc: 1, integrity: null, ...over})
  test('missing tables, SQLite integrity, and table lists that cannot vouch for anything', () => {
    assert.deepEqual(verificationProblems([db({})]), [])
    assert.match(verificationProblems([db({missing_tables: ['public.b']})]).join(), /missing tables: public.b/)
    assert.match(verificationProblems([db({adapter: 'sqlite', integrity: null, tables_in_toc: null})]).join(), /integrity check/)
    assert.match(verificationProblems([db({tables_in_dump: [], tables_in_toc: 3})]).join(), /lists 3 tables, but only 0 could be checked/)
    assert.match(verificationProblems([db({adapter: 'mysql', tables_in_dump: [], tables_in_toc: null})]).join(), /table list is empty, but 1 tables were restored/)
  })
})

describe('small rules', () => {
  test('the confirmation question\'s first sentence', () => {
    assert.equal(firstSentence('Restore run 20261120T030000Z (x) into 127.0.0.1/db? This overwrites local data.'), 'Restore run 20261120T030000Z (x) into 127.0.0.1/db')
    assert.equal(firstSentence('Run a production drill? It restores into scratch targets.'), 'Run a production drill')
  })

  test('free space: the staged copies of one file system add up, with headroom', () => {
    const probe = (path: string) => ({device: path.startsWith('/a') ? 1 : 2, available: 100 * 1024 * 1024})
    assert.deepEqual(freeSpaceShortfalls([{path: '/a/x', bytes: 10 * 1024 * 1024}, {path: '/b', bytes: 50 * 1024 * 1024}], probe), [])
    const short = freeSpaceShortfalls([{path: '/a/x', bytes: 50 * 1024 * 1024}, {path: '/a/y', bytes: 40 * 1024 * 1024}], probe)
    assert.equal(short.length, 1)
    assert.equal(short[0]!.path, '/a/x')
  })

  test('the lock timeout', () => {
    assert.equal(lockTimeoutSeconds({}), 30)
    assert.equal(lockTimeoutSeconds({KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT: '5'}), 5)
    assert.equal(errorOf(() => lockTimeoutSeconds({KAMAL_BACKUP_RESTORE_LOCK_TIMEOUT: 'soon'})).exitCode, 2)
  })

  test('a SNAPSHOT next to --at is a usage error', () => {
    const error = errorOf(() => restoreSelection({snapshot: '20261120T030000Z'}, {at: '2026-11-21T00:00:00Z'}, [{type: 'arg'}, {type: 'flag'}]))
    assert.equal(error.exitCode, 2)
    assert.match(error.message, /either a SNAPSHOT \(20261120T030000Z\) or --at/)
    assert.equal(restoreSelection({snapshot: 'latest'}, {at: '2026-11-21T00:00:00Z'}, [{type: 'flag'}]).at?.toISOString(), '2026-11-21T00:00:00.000Z')
    assert.deepEqual(restoreSelection({snapshot: 'latest'}, {database: ['a'], files: false}, []), {snapshot: 'latest', databases: ['a'], files: false})
  })
})
