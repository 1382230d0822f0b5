import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PassThrough, Writable} from 'node:stream'
import {assertSize, ByteSink, DumpFile, dumpDatabase, transferDetail, type DumpPlan} from '../../../src/engine/dump.js'
import {isKamalBackupError} from '../../../src/errors.js'
import {mysql} from '../../../src/db/mysql.js'
import {localExecutor} from '../../../src/exec/executor.js'
import {Redactor} from '../../../src/redact.js'

const config = (names: string[]) => ({config: {app: 'shop', file: 'config/kamal-backup.yml', databases: names.map((name) => ({name, adapter: 'postgres'}))}}) as never
const plan = (bytes: number | null): DumpPlan => ({kind: 'dump-plan', app: 'shop', run_id: '20261201T030000Z', run_time: '2026-12-01T03:00:00Z', database: 'primary', adapter: 'mysql', snapshot_id: 'f'.repeat(64), short_id: 'ffffffff', path: '/shop.primary.sql', bytes})
const codeOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    return isKamalBackupError(error) ? `${error.code} ${error.exitCode}` : String(error)
  }
  return 'no error'
}

test('which database: the only one without --database; with several, a usage error naming them; an unknown name likewise', () => {
  assert.equal(dumpDatabase(config(['primary']), undefined).name, 'primary')
  assert.equal(dumpDatabase(config(['primary', 'queue']), 'queue').name, 'queue')
  assert.equal(codeOf(() => dumpDatabase(config(['primary', 'queue']), undefined)), 'usage/invalid 2')
  assert.throws(() => dumpDatabase(config(['primary', 'queue']), undefined), /say which with --database \(primary, queue\)/)
  assert.throws(() => dumpDatabase(config(['primary']), 'nope'), /no database "nope"/)
  assert.equal(codeOf(() => dumpDatabase(config([]), undefined)), 'usage/invalid 2')
})

test('the size check: equal or unknown passes; anything else is dump/incomplete', () => {
  assertSize(10, plan(10))
  assertSize(10, plan(null))
  assert.equal(codeOf(() => assertSize(9, plan(10))), 'dump/incomplete 1')
  assert.match(transferDetail(1024 * 1024, 2 * 1024 * 1024, 1000), /^1\.0 MiB of 2\.0 MiB, 1\.0 MiB\/s$/)
})

test('a dump file: written beside FILE, 0600, linked into place on commit; an existing FILE refused without --force; discard leaves nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kb-dumpfile-'))
  try {
    const target = join(dir, 'out.sql')
    const file = DumpFile.open(target, false)
    assert.equal(file.temporary, join(dir, `.out.sql.kamal-backup-dump-${process.pid}`))
    const body = 'CREATE TABLE t (id int);\n/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n'
    file.stream.write(body)
    const kept = await file.commit(plan(Buffer.byteLength(body)), {verify: undefined})
    assert.deepEqual(kept, {bytes: Buffer.byteLength(body), checked: {size: 'equal', verify: null}})
    assert.equal(readFileSync(target, 'utf8'), body)
    assert.equal(statSync(target).mode & 0o777, 0o600)
    assert.deepEqual(readdirSync(dir), ['out.sql'])
    assert.equal(codeOf(() => DumpFile.open(target, false)), 'dump/exists 2')
    // A size mismatch: not kept, FILE untouched.
    const again = DumpFile.open(target, true)
    again.stream.write('short')
    await assert.rejects(again.commit(plan(100), {verify: undefined}), /is 5 bytes, but snapshot ffffffff records 100/)
    again.discard()
    assert.equal(readFileSync(target, 'utf8'), body)
    assert.deepEqual(readdirSync(dir), ['out.sql'])
    // FILE appearing while the dump is written, without --force: refused, not overwritten.
    rmSync(target)
    const raced = DumpFile.open(target, false)
    raced.stream.write('x')
    writeFileSync(target, 'someone else')
    await assert.rejects(raced.commit(plan(null), {verify: undefined}), /appeared while the dump was written/)
    raced.discard()
    assert.equal(readFileSync(target, 'utf8'), 'someone else')
    assert.equal(existsSync(raced.temporary), false)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('a MySQL dump is verified by how it ends: the footer or the completion trailer; a cut-off one fails (dump/unverified)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kb-mysqlverify-'))
  const ctx = {exec: localExecutor, env: process.env, signal: new AbortController().signal, redactor: new Redactor()}
  try {
    const footer = join(dir, 'a.sql')
    writeFileSync(footer, 'INSERT INTO t VALUES (1);\n/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n')
    assert.match(await mysql.verifyDumpFile(ctx, footer), /dump footer/)
    const trailer = join(dir, 'b.sql')
    writeFileSync(trailer, 'INSERT INTO t VALUES (1);\n-- Dump completed on 2026-12-01  3:00:00\n')
    assert.match(await mysql.verifyDumpFile(ctx, trailer), /completion trailer/)
    const cut = join(dir, 'c.sql')
    writeFileSync(cut, 'INSERT INTO t VALUES (1),(2),(')
    await assert.rejects(mysql.verifyDumpFile(ctx, cut), (error: unknown) => isKamalBackupError(error) && error.code === 'dump/unverified' && /cut short/.test(error.message))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('the byte sink counts what passes, keeps backpressure, and keeps the target\'s first error', async () => {
  const target = new PassThrough({highWaterMark: 4})
  const sink = new ByteSink(target)
  const seen: number[] = []
  sink.onProgress = (n) => seen.push(n)
  const received: Buffer[] = []
  target.on('data', (b: Buffer) => received.push(b))
  sink.write(Buffer.from('hello '))
  sink.write(Buffer.from('world'))
  await new Promise<void>((resolve) => sink.end(resolve))
  assert.equal(sink.bytes, 11)
  assert.equal(Buffer.concat(received).toString(), 'hello world')
  assert.deepEqual(seen, [6])
  const failing = new Writable({write: (_c, _e, done) => done(new Error('ENOSPC: no space left on device'))})
  const broken = new ByteSink(failing)
  broken.write(Buffer.from('x'))
  await new Promise((resolve) => setImmediate(resolve))
  assert.match(broken.error?.message ?? '', /ENOSPC/)
  assert.equal(broken.destroyed, true)
})
