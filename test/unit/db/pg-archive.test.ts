// The restore's row counter reads pg_dump custom-format archives as they stream by. The fixtures are real archives,
// made once by pg_dump 15 (archive version 1.14) and pg_dump 17 (1.16, from the lab's accessory image) from a small
// database (see test/fixtures/pg/README.md); what
// `pg_restore --data-only` prints for them is the reference: users 50 rows, posts 0, "My Schema"."Odd ""Name"""
// 3 (a value with a line break, one with a backslash, and one that is `\.`), blobs 1 (its large object's data,
// which holds line breaks, is not a table's).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from '../../support/cli.ts'
import {ArchiveRowCounter} from '../../../src/db/pg-archive.ts'

const fixture = (name: string) => readFileSync(join(ROOT, 'test/fixtures/pg', name))
const expected = [
  ['My Schema.Odd "Name"', 3],
  ['public.blobs', 1],
  ['public.posts', 0],
  ['public.users', 50],
]

async function count(archive: Buffer, chunk: number): Promise<ArchiveRowCounter> {
  const counter = new ArchiveRowCounter()
  for (let i = 0; i < archive.length; i += chunk) counter.write(archive.subarray(i, i + chunk))
  await counter.end()
  return counter
}

describe('ArchiveRowCounter', () => {
  for (const name of ['sample-uncompressed.dump', 'sample-gzip.dump', 'sample-pg17-uncompressed.dump', 'sample-pg17-gzip.dump']) {
    test(`${name}: each table's rows, fed in chunks of any size`, async () => {
      for (const chunk of [1, 3, 64, 4096, 1 << 20]) {
        const counter = await count(fixture(name), chunk)
        assert.equal(counter.problem, undefined)
        assert.deepEqual([...counter.rows].sort(), expected, `chunks of ${chunk}`)
      }
    })
  }

  test('as a stream: the sink finishes once the counts are final', async () => {
    const counter = new ArchiveRowCounter()
    const sink = counter.sink()
    const archive = fixture('sample-gzip.dump')
    await new Promise<void>((resolve) => sink.end(archive, () => resolve()))
    assert.deepEqual([...counter.rows].sort(), expected)
  })

  test('a cut archive, something else, a newer version or an unknown compression: a problem, never a count', async () => {
    const archive = fixture('sample-uncompressed.dump')
    assert.match((await count(archive.subarray(0, archive.length - 40), 512)).problem!, /ended inside a data block/)
    assert.match((await count(archive.subarray(0, 200), 512)).problem!, /ended inside its table of contents/)
    assert.match((await count(Buffer.from('-- PostgreSQL database dump\n'), 512)).problem!, /not a pg_dump custom-format archive/)
    assert.match((await count(Buffer.alloc(0), 512)).problem!, /no copy of the dump arrived/, 'an empty copy is never "0 rows"')
    const newer = Buffer.from(archive)
    newer[6] = 17 // archive version 1.17
    assert.match((await count(newer, 512)).problem!, /archive version 1\.17 is not one this counter knows/)
  })
})
