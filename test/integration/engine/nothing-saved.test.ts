// Nothing saved is a failure, on restic 0.14 and 0.18 with real SQLite and real repositories: an empty path (the
// usual look of a volume that is not mounted) fails the run before any snapshot; inside the accessory image
// (KAMAL_BACKUP_IN_ACCESSORY=1) a path on the root file system fails too, while one on a real mount (the lab's
// tmpfs) is backed up; a path or a dump that shrank past max_shrink is saved with a warning; a drill that restored
// 0 files proves nothing and fails.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {freshRepo, lab, RESTIC_VERSIONS, run, tempDir, uniqueName} from '../../support/lab.ts'
import {mountOf, mountPoints} from '../../../src/engine/sources.ts'
import {assertSchema, cli, cliJson, localRestic, readState, repoSnapshots, writeApp} from './support.ts'

const pause = () => new Promise((r) => setTimeout(r, 1100)) // run ids have one-second resolution

async function sqlite(file: string, sql: string): Promise<void> {
  const r = await run(lab().bins.sqlite3, [file, sql])
  assert.equal(r.code, 0, r.stderr)
}

describe('nothing saved is a failure', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    describe(`on restic ${version}`, {concurrency: true}, () => {
      test('an empty path fails before any snapshot, naming the path and the fix; allow_empty backs it up', async () => {
        const dir = tempDir(`empty-${version}`)
        const storage = join(dir, 'storage')
        mkdirSync(storage)
        await sqlite(join(dir, 'app.sqlite3'), 'CREATE TABLE t (v); INSERT INTO t VALUES (1);')
        const repo = freshRepo(version)
        const app = writeApp({version, repo, databases: [`  - {name: main, adapter: sqlite, path: ${join(dir, 'app.sqlite3')}}`], paths: [`  - ${storage}`], restic: localRestic(repo)})
        const r = await cli(app, ['backup', '--force'])
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, new RegExp(`preflight: path ${storage} is empty`))
        assert.match(r.stderr, /allow_empty: true/)
        const record = readState(app, 'last_backup.json')
        assertSchema('backup-run', record)
        assert.equal(record.status, 'failed')
        assert.equal(record.failed_step, 'preflight')
        assert.deepEqual(await repoSnapshots(app), [], 'not even the database was saved: nothing was written')
        // --json: the error document names the code.
        const {json} = await cliJson(app, ['backup', '--force'])
        assert.equal(json.status, 'failed')

        writeFileSync(app.config, readFileSync(app.config, 'utf8').replace(`  - ${storage}`, `  - {path: ${storage}, allow_empty: true}`))
        await pause()
        const ok = await cli(app, ['backup', '--force'])
        assert.equal(ok.code, 0, ok.stderr)
        assert.deepEqual(readState(app, 'last_backup.json').file_counts, [{path: storage, files: 0}])
      })

      test('in the accessory image, a path on the root file system is not a volume; one on a real mount is', async () => {
        // The lab's scratch space is itself a mount (test/lab/up.sh): the root file system's own /tmp is not.
        const onRoot = mkdtempSync(join(tmpdir(), `kb-on-root-${version}-`))
        assert.equal(mountOf(onRoot, mountPoints(readFileSync('/proc/self/mountinfo', 'utf8'))), '/', `${onRoot} is on the root file system here`)
        writeFileSync(join(onRoot, 'blob'), 'x')
        // The lab's tmpfs is a real mount (another entry of /proc/self/mountinfo).
        const onMount = join(lab().mountPoint, uniqueName('vol'))
        mkdirSync(onMount)
        writeFileSync(join(onMount, 'blob'), 'y')
        try {
          const repo = freshRepo(version)
          const app = writeApp({version, repo, paths: [`  - ${onRoot}`], restic: localRestic(repo), env: {KAMAL_BACKUP_IN_ACCESSORY: '1'}})
          const r = await cli(app, ['backup', '--force'])
          assert.equal(r.code, 1, r.stderr)
          assert.match(r.stderr, new RegExp(`path ${onRoot} is not on a mounted volume`))
          assert.equal(readState(app, 'last_backup.json').failed_step, 'preflight')
          assert.deepEqual(await repoSnapshots(app), [])
          const mounted = writeApp({version, repo, paths: [`  - ${onMount}`], restic: localRestic(repo), env: {KAMAL_BACKUP_IN_ACCESSORY: '1'}})
          const ok = await cli(mounted, ['backup', '--force'])
          assert.equal(ok.code, 0, ok.stderr)
        } finally {
          rmSync(onMount, {recursive: true, force: true})
          rmSync(onRoot, {recursive: true, force: true})
        }
      })

      test('a path that lost most of its files and a dump that shrank: saved, exit 0, with a warning in the output and the record', async () => {
        const dir = tempDir(`shrink-${version}`)
        const storage = join(dir, 'storage')
        mkdirSync(storage)
        for (let i = 0; i < 20; i++) writeFileSync(join(storage, `blob-${i}`), `blob ${i}\n`)
        const db = join(dir, 'app.sqlite3')
        await sqlite(db, `CREATE TABLE t (v); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO t SELECT hex(randomblob(40)) FROM n;`)
        const repo = freshRepo(version)
        const app = writeApp({version, repo, databases: [`  - {name: main, adapter: sqlite, path: ${db}}`], paths: [`  - ${storage}`], restic: localRestic(repo)})
        const first = await cliJson(app, ['backup', '--force'])
        assert.equal(first.result.code, 0, first.result.stderr)
        assert.deepEqual(first.json.warnings, [])
        assert.deepEqual(first.json.file_counts, [{path: storage, files: 20}])

        for (let i = 0; i < 15; i++) rmSync(join(storage, `blob-${i}`))
        await sqlite(db, 'DELETE FROM t WHERE rowid > 100; VACUUM;')
        await pause()
        const second = await cliJson(app, ['backup', '--force'])
        assert.equal(second.result.code, 0, second.result.stderr)
        assertSchema('backup-run', second.json)
        assert.equal(second.json.status, 'ok')
        assert.equal(second.json.warnings.length, 2, JSON.stringify(second.json.warnings))
        assert.match(second.json.warnings[0], new RegExp(`path ${storage} holds 5 files, 75% fewer than the 20`))
        assert.match(second.json.warnings[1], /the dump of database main is \d+ bytes, \d+% smaller than/)
        // Without --json the warning is said on stderr.
        for (let i = 15; i < 19; i++) rmSync(join(storage, `blob-${i}`))
        await pause()
        const human = await cli(app, ['backup', '--force'])
        assert.equal(human.code, 0, human.stderr)
        assert.match(human.stderr, /WARN .*path .* holds 1 files, 80% fewer than the 5/)
      })

      test('a drill that restored 0 files fails its verification', async () => {
        const dir = tempDir(`drill0-${version}`)
        const storage = join(dir, 'storage')
        mkdirSync(storage)
        const repo = freshRepo(version)
        const app = writeApp({version, repo, paths: [`  - {path: ${storage}, allow_empty: true}`], restic: localRestic(repo)})
        assert.equal((await cli(app, ['backup', '--force'])).code, 0)
        const drill = await cliJson(app, ['drill', 'production', '--yes', '--files', join(dir, 'scratch')])
        assert.equal(drill.result.code, 1, drill.result.stderr)
        assert.equal(drill.json.status, 'failed')
        assert.match(drill.json.verification.problems.join('\n'), new RegExp(`files ${storage}: the drill restored 0 files, so it proves nothing`))
      })
    })
  }
})
