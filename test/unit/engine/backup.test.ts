// The backup's pure parts (src/engine/backup.ts): the excludes restic gets (per-path patterns anchored to their
// path, live SQLite files under a backed-up path) and when the next backup is due from the state directory.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseSchedule} from '../../../src/config/schedule.ts'
import type {BackupConfig} from '../../../src/config/types.ts'
import type {ResolvedDatabase} from '../../../src/db/connection.ts'
import {anchorExclude, fileExcludes, nextDue} from '../../../src/engine/backup.ts'
import {StateDir} from '../../../src/engine/state.ts'
import {Secret} from '../../../src/redact.ts'

const pg: ResolvedDatabase = {name: 'main', adapter: 'postgres', host: 'db', port: 5432, user: 'app', database: 'app_production', params: {sslmode: 'require', connect_timeout: '5', bogus: 'x'}, password: new Secret('pg-secret-pw')}

describe('what the config becomes for restic', () => {
  test('a SQLite database under a backed-up path is excluded with -wal/-shm/-journal; one elsewhere is not', () => {
    const cfg = {paths: [{path: '/rails/storage', exclude: ['*.tmp'], label: 'rails-storage'}]} as unknown as BackupConfig
    const dbs: ResolvedDatabase[] = [
      {name: 'a', adapter: 'sqlite', params: {}, path: '/rails/storage/production.sqlite3'},
      {name: 'b', adapter: 'sqlite', params: {}, path: '/rails/storage-other/x.sqlite3'},
      pg,
    ]
    assert.deepEqual(fileExcludes({config: cfg}, dbs).filter((e) => !e.includes('.kamal-backup-')), ['/rails/storage/**/*.tmp', '/rails/storage/production.sqlite3', '/rails/storage/production.sqlite3-wal', '/rails/storage/production.sqlite3-shm', '/rails/storage/production.sqlite3-journal'])
  })
})

describe('per-path excludes', () => {
  test('a relative pattern applies under its own path only, at any depth; absolute ones stay', () => {
    assert.equal(anchorExclude('/data/pa', 'cache'), '/data/pa/**/cache')
    assert.equal(anchorExclude('/tmp/app/', 'tmp'), '/tmp/app/**/tmp')
    assert.equal(anchorExclude('/data', './logs/*.log'), '/data/**/logs/*.log')
    assert.equal(anchorExclude('/data', '/data/x'), '/data/x')
    assert.equal(anchorExclude('/data', '!keep'), '!/data/**/keep')
    assert.equal(anchorExclude('/da[t]a*', 'x'), '/da\\[t]a\\*/**/x', 'glob characters in the path itself are literal')
    const config = {paths: [{path: '/pa', exclude: ['cache'], label: 'pa'}, {path: '/pb', exclude: [], label: 'pb'}]} as unknown as BackupConfig
    assert.deepEqual(fileExcludes({config}, []).filter((e) => !e.includes('.kamal-backup-')), ['/pa/**/cache'])
  })
})

describe('backup due logic and run ids', () => {
  test('nextDue reads the last successful run from the state directory', () => {
    const state = new StateDir(mkdtempSync(join(tmpdir(), 'kb-due-')))
    const config = {schedule: parseSchedule('6h')} as never
    assert.deepEqual(nextDue({config, state}), {lastSuccessAt: null, dueAt: null, previousRunId: undefined})
    writeFileSync(state.file('last_successful_backup.json'), JSON.stringify({finished_at: '2026-01-01T10:00:00.000Z', run_id: '20260101T095900Z'}))
    const due = nextDue({config, state})
    assert.equal(due.dueAt?.toISOString(), '2026-01-01T16:00:00.000Z')
    assert.equal(due.previousRunId, '20260101T095900Z', 'the run a copy must have had to be up to date')
    writeFileSync(state.file('last_successful_backup.json'), '{not json')
    assert.equal(nextDue({config, state}).dueAt, null, 'a corrupt record means "no backup yet", not a crash')
  })
})
