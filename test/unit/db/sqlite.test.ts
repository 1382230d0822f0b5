// The SQLite adapter's command builders (src/db/sqlite.ts): .backup into a copy, a read-only quick_check, and how
// a path becomes one argument of a sqlite3 dot-command (the integration test restores into such a path for real).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {dotCommandArg, sqliteBackupSpec, sqliteQuickCheckSpec, sqlitePathProblem, sqliteRestoreSpec} from '../../../src/db/sqlite.ts'

describe('database dump commands', () => {
  test('sqlite3: .backup into the copy, quick_check read-only', () => {
    assert.deepEqual(sqliteBackupSpec('/data/app.sqlite3', '/state/tmp/x.sqlite3').argv, ['sqlite3', '-bail', '/data/app.sqlite3', ".backup '/state/tmp/x.sqlite3'"])
    assert.deepEqual(sqliteQuickCheckSpec('/c').argv, ['sqlite3', '-bail', '-readonly', '/c', 'PRAGMA quick_check;'])
  })

  test('a path in a dot-command: single quotes unless it has one, then double quotes with \\ and " escaped; line breaks refused', () => {
    assert.equal(dotCommandArg('/a b/c.db'), "'/a b/c.db'")
    assert.equal(dotCommandArg(`/it's "x"\\y.db`), `"/it's \\"x\\"\\\\y.db"`)
    assert.equal(sqliteRestoreSpec(`/it's/db`, `/it's/.db.staged`).argv.at(-1), `.restore "/it's/.db.staged"`)
    assert.match(sqlitePathProblem('/a\nb') ?? '', /line break/)
    assert.equal(sqlitePathProblem(`/it's`), undefined)
    assert.throws(() => sqliteBackupSpec('/db', '/tmp/a\nb'), /line break/)
  })
})
