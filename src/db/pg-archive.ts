// Counts the rows of each table in a pg_dump custom-format archive as it streams by (a copy of the restore's
// stream), without a second pg_restore: the archive's header and table of contents say which dump id is which
// table's data, and each data block holds that table's COPY text, one row per line (COPY escapes line breaks inside
// values), ending with the end-of-data line `\.` and blank lines. Uncompressed archives (kamal-backup dumps with --compress=0) are counted as they are; gzip-compressed
// ones (pg_dump's default, e.g. dumps taken by the Ruby gem) are inflated on the way. Other compressions (lz4,
// zstd) are reported as not countable.
//
// The layout (archive versions 1.12 to 1.16, PostgreSQL 9.6 to 17+): ints are a sign byte and `intSize` bytes,
// least significant first; strings are an int length (negative: null) and the bytes; a data block is a type byte
// (1: table data, 3: large objects), the dump id, then chunks (an int length, the bytes) ending with a length of 0.
import {once} from 'node:events'
import {Writable} from 'node:stream'
import {createInflate, type Inflate} from 'node:zlib'

const BLOCK_DATA = 1
const BLOCK_BLOBS = 3

/** Thrown while the header or table of contents is incomplete: parse again with more bytes. */
class NeedMore extends Error {}

class Reader {
  pos = 0
  intSize = 4
  constructor(readonly buf: Buffer) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new NeedMore()
    return this.buf[this.pos++]!
  }
  int(): number {
    const negative = this.byte() !== 0
    let value = 0
    for (let i = 0; i < this.intSize; i++) value += this.byte() * 2 ** (8 * i)
    return negative ? -value : value
  }
  str(): string | null {
    const length = this.int()
    if (length < 0) return null
    if (this.pos + length > this.buf.length) throw new NeedMore()
    const text = this.buf.toString('utf8', this.pos, this.pos + length)
    this.pos += length
    return text
  }
  skip(n: number): void {
    if (this.pos + n > this.buf.length) throw new NeedMore()
    this.pos += n
  }
}

interface Archive {
  version: number
  intSize: number
  compression: 'none' | 'gzip' | 'other'
  /** dump id → `schema.table` of its TABLE DATA entry */
  tables: Map<number, string>
  /** where the data blocks start */
  end: number
}

const version = (major: number, minor: number) => major * 100 + minor

/** The header and table of contents, or NeedMore. */
function readArchive(buf: Buffer): Archive {
  const r = new Reader(buf)
  if (buf.length >= 5 && buf.toString('latin1', 0, 5) !== 'PGDMP') throw new Error('not a pg_dump custom-format archive')
  r.skip(5)
  const vmaj = r.byte()
  const vmin = r.byte()
  r.byte() // revision
  const v = version(vmaj, vmin)
  if (v < version(1, 12) || v > version(1, 16)) throw new Error(`archive version ${vmaj}.${vmin} is not one this counter knows (1.12 to 1.16)`)
  r.intSize = r.byte()
  const offSize = r.byte()
  if (r.byte() !== 1) throw new Error('not a custom-format archive')
  let compression: Archive['compression']
  if (v >= version(1, 15)) {
    const algorithm = r.byte()
    compression = algorithm === 0 ? 'none' : algorithm === 1 ? 'gzip' : 'other'
  } else {
    compression = r.int() === 0 ? 'none' : 'gzip'
  }
  for (let i = 0; i < 7; i++) r.int() // creation time
  r.str() // database name
  r.str() // server version
  r.str() // pg_dump version
  const tables = new Map<number, string>()
  const entries = r.int()
  for (let i = 0; i < entries; i++) {
    const dumpId = r.int()
    if (dumpId <= 0) throw new Error(`table of contents entry ${i} has dump id ${dumpId}`)
    r.int() // had a data dumper
    r.str() // table oid
    r.str() // oid
    const tag = r.str()
    const desc = r.str()
    r.int() // section
    r.str() // definition
    r.str() // drop statement
    r.str() // copy statement
    const namespace = r.str()
    r.str() // tablespace
    if (v >= version(1, 14)) r.str() // table access method
    if (v >= version(1, 16)) r.int() // relkind
    r.str() // owner
    r.str() // with oids
    while (r.str() !== null); // dependencies
    r.skip(1 + offSize) // data offset: a flag, then offSize bytes
    if (desc === 'TABLE DATA' && tag !== null) tables.set(dumpId, namespace ? `${namespace}.${tag}` : tag)
  }
  return {version: v, intSize: r.intSize, compression, tables, end: r.pos}
}

/** Rows per table of a custom-format archive, fed chunk by chunk. */
export class ArchiveRowCounter {
  readonly rows = new Map<string, number>()
  /** Why the rows could not be counted (set once; counting stops). */
  problem: string | undefined
  #head: Buffer[] = []
  #headBytes = 0
  #nextAttempt = 64 * 1024
  #archive: Archive | undefined
  // The data section's state: the bytes of a header or length not complete yet, and where in a block we are.
  #pending = Buffer.alloc(0)
  #state: 'block' | 'chunk-length' | 'chunk' | 'blob-oid' = 'block'
  #blockType = 0
  #table: string | undefined
  #tally: LineTally | undefined
  #remaining = 0
  #inflate: Inflate | undefined
  #inflated: Promise<void>[] = []
  #drain: Promise<unknown> | undefined

  /** A stream to pipe the archive into; it finishes once the counts are final. */
  sink(): Writable {
    return new Writable({
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _encoding, done) => {
        this.write(chunk)
        const drain = this.#drain
        this.#drain = undefined
        if (drain) drain.then(() => done(), () => done())
        else done()
      },
      final: (done) => void this.end().then(() => done(), () => done()),
    })
  }

  write(chunk: Buffer): void {
    if (this.problem) return
    try {
      if (!this.#archive) {
        this.#head.push(chunk)
        this.#headBytes += chunk.length
        if (this.#headBytes < this.#nextAttempt && this.#headBytes >= 5) return
        const buf = Buffer.concat(this.#head)
        this.#head = [buf]
        try {
          this.#archive = readArchive(buf)
        } catch (error) {
          if (error instanceof NeedMore) {
            this.#nextAttempt = Math.max(this.#nextAttempt, buf.length * 2)
            return
          }
          throw error
        }
        if (this.#archive.compression === 'other') throw new Error('the dump is compressed with lz4 or zstd, which this counter does not read')
        this.#head = []
        this.#data(buf.subarray(this.#archive.end))
        return
      }
      this.#data(chunk)
    } catch (error) {
      this.problem = (error as Error).message
    }
  }

  /** After the last chunk: the counts are final once this resolves (gzip blocks inflate asynchronously). */
  async end(): Promise<void> {
    if (!this.problem && !this.#archive && this.#headBytes > 0) {
      // A whole archive smaller than the first attempt: parse what there is.
      this.#nextAttempt = 0
      this.write(Buffer.alloc(0))
      if (!this.#archive && !this.problem) this.problem = 'the dump ended inside its table of contents'
    }
    // Nothing arrived (the copy of the stream never started): no count, and no silent "0 rows".
    if (!this.problem && !this.#archive) this.problem = 'no copy of the dump arrived'
    if (!this.problem && (this.#state !== 'block' || this.#pending.length > 0)) this.problem = 'the dump ended inside a data block'
    await Promise.all(this.#inflated)
    if (!this.problem) for (const table of this.#archive?.tables.values() ?? []) if (!this.rows.has(table)) this.rows.set(table, 0)
  }

  #int(buf: Buffer, at: number): number {
    const size = this.#archive!.intSize
    let value: number
    if (size === 4) value = buf[at + 1]! + buf[at + 2]! * 0x100 + buf[at + 3]! * 0x10000 + buf[at + 4]! * 0x1000000
    else {
      value = 0
      for (let i = 0; i < size; i++) value += buf[at + 1 + i]! * 2 ** (8 * i)
    }
    return buf[at]! !== 0 ? -value : value
  }

  #data(input: Buffer): void {
    let buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, input]) : input
    this.#pending = Buffer.alloc(0)
    const intBytes = 1 + this.#archive!.intSize
    let at = 0
    while (at < buf.length) {
      if (this.#state === 'chunk') {
        const take = Math.min(this.#remaining, buf.length - at)
        this.#payload(buf, at, at + take)
        at += take
        this.#remaining -= take
        if (this.#remaining === 0) this.#state = 'chunk-length'
        continue
      }
      const need = this.#state === 'block' ? 1 + intBytes : intBytes
      if (buf.length - at < need) break
      if (this.#state === 'block') {
        this.#blockType = buf[at]!
        const id = this.#int(buf, at + 1)
        at += need
        if (this.#blockType === BLOCK_DATA) {
          this.#table = this.#archive!.tables.get(id)
          this.#tally = this.#table === undefined ? undefined : new LineTally()
          if (this.#table !== undefined && this.#archive!.compression === 'gzip') this.#startInflate(this.#table, this.#tally!)
          this.#state = 'chunk-length'
        } else if (this.#blockType === BLOCK_BLOBS) {
          this.#table = undefined
          this.#state = 'blob-oid'
        } else {
          throw new Error(`unexpected block type ${this.#blockType} in the dump's data`)
        }
        continue
      }
      const value = this.#int(buf, at)
      at += need
      if (this.#state === 'blob-oid') {
        this.#state = value === 0 ? 'block' : 'chunk-length'
        continue
      }
      // a chunk's length; 0 ends the block (or, for large objects, this object)
      if (value < 0) throw new Error(`a negative chunk length (${value}) in the dump's data`)
      if (value === 0) {
        if (this.#inflate) this.#inflate.end()
        else if (this.#table !== undefined) this.rows.set(this.#table, (this.rows.get(this.#table) ?? 0) + this.#tally!.rows())
        this.#inflate = undefined
        this.#table = undefined
        this.#state = this.#blockType === BLOCK_BLOBS ? 'blob-oid' : 'block'
      } else {
        this.#remaining = value
        this.#state = 'chunk'
      }
    }
    if (at < buf.length) this.#pending = Buffer.from(buf.subarray(at))
    buf = Buffer.alloc(0)
  }

  #payload(buf: Buffer, start: number, end: number): void {
    if (this.#table === undefined) return
    if (this.#inflate) {
      // Inflating runs off the main thread: wait for it rather than buffer a whole compressed table.
      if (!this.#inflate.write(buf.subarray(start, end))) this.#drain = once(this.#inflate, 'drain')
    } else this.#tally!.add(buf, start, end)
  }

  #startInflate(table: string, tally: LineTally): void {
    const inflate = createInflate()
    this.#inflate = inflate
    this.#inflated.push(
      new Promise((resolve) => {
        inflate.on('data', (out: Buffer) => tally.add(out, 0, out.length))
        inflate.on('error', (error) => {
          this.problem ??= `inflating the data of ${table} failed: ${error.message}`
          resolve()
        })
        inflate.on('end', () => {
          this.rows.set(table, (this.rows.get(table) ?? 0) + tally.rows())
          resolve()
        })
      }),
    )
  }
}

/** The rows of one block of COPY text: its line breaks, less the end-of-data line `\.` and the blank lines after it.
 *  Called once per row of an uncompressed dump (pg_dump writes each row as a chunk): it allocates nothing and lets
 *  indexOf (memchr) find the line breaks. */
class LineTally {
  #breaks = 0
  /** the block's last TAIL bytes so far */
  readonly #tail = new Uint8Array(TAIL)
  #tailLength = 0
  add(buf: Uint8Array, start: number, end: number): void {
    for (let i = buf.indexOf(10, start); i !== -1 && i < end; i = buf.indexOf(10, i + 1)) this.#breaks++
    const n = end - start
    if (n >= TAIL) {
      this.#tail.set(buf.subarray(end - TAIL, end))
      this.#tailLength = TAIL
    } else if (n > 0) {
      const keep = Math.min(this.#tailLength, TAIL - n)
      this.#tail.copyWithin(0, this.#tailLength - keep, this.#tailLength)
      for (let i = 0; i < n; i++) this.#tail[keep + i] = buf[start + i]!
      this.#tailLength = keep + n
    }
  }
  rows(): number {
    // ...\n \. \n\n\n: the end line and the blank lines after it are not rows.
    let end = this.#tailLength
    let trailing = 0
    while (end > 0 && this.#tail[end - 1] === 10) {
      end--
      trailing++
    }
    const t = this.#tail
    const marker = end >= 2 && t[end - 2] === 92 && t[end - 1] === 46 && (end === 2 || t[end - 3] === 10)
    return marker ? this.#breaks - trailing : this.#breaks
  }
}

const TAIL = 16
