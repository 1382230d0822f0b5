// The SQLite adapter's command builders (src/db/sqlite.ts): .backup into a copy, a read-only quick_check, and the
// paths it refuses to put into a sqlite3 dot-command.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {assertSafeSqlitePath, sqliteBackupSpec, sqliteQuickCheckSpec} from '../../../src/db/sqlite.ts'

describe('database dump commands', () => {
  test('sqlite3: .backup into the copy, quick_check read-only; quotes in paths are refused', () => {
    assert.deepEqual(sqliteBackupSpec('/data/app.sqlite3', '/state/tmp/x.sqlite3').argv, ['sqlite3', '-bail', '/data/app.sqlite3', ".backup '/state/tmp/x.sqlite3'"])
    assert.deepEqual(sqliteQuickCheckSpec('/c').argv, ['sqlite3', '-bail', '-readonly', '/c', 'PRAGMA quick_check;'])
    assert.throws(() => assertSafeSqlitePath("/tmp/it's"), /unsupported character/)
    assert.throws(() => sqliteBackupSpec('/db', '/tmp/a\nb'), /unsupported character/)
  })
})
