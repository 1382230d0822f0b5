// `dump`: one database's dump of a run, as a file (or on stdout), for staging, inspection or a colleague. The
// plan (which run, which snapshot, its recorded size) is resolved where the repository is; the bytes are `restic
// dump` of that snapshot, streamed. Where it runs:
// - in the accessory (from a workstation, over SSH): `--plan --json` prints the plan, then `--snapshot-id ... -o -`
//   streams the bytes on stdout and records the export in dumps.jsonl (the workstation writes the file);
// - with --local: restic here, into the file (or stdout), recorded in this state directory.
// A file is written under a temporary name beside FILE and linked into place only when the stream ended, restic
// exited 0, the size is the snapshot's (when it is known) and, with --verify, the database's own tool read it back.
import {closeSync, existsSync, fstatSync, linkSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {Writable} from 'node:stream'
import {hostname} from 'node:os'
import {basename, dirname, join, resolve} from 'node:path'
import type {Adapter} from '../config/types.js'
import {databaseAdapter, type DbContext} from '../db/index.js'
import {errorMessage, InterruptedError, KamalBackupError, UsageError} from '../errors.js'
import {resticArgv} from '../restic/argv.js'
import {resticError, type Restic} from '../restic/client.js'
import {openRepository, type Engine} from './context.js'
import {drillOperator} from './drill.js'
import {loadRuns} from './list.js'
import {bytes as formatBytes} from './progress.js'
import {databaseGroup, selectRun, type RunSnapshot} from './runs.js'
import {STATE_FILES} from './state.js'
import type {DumpPlan, DumpRecord, DumpResult} from '../documents.js'

export type {DumpPlan, DumpRecord, DumpResult}

export const DUMPS_FILE = STATE_FILES.dumps

/** Which database: the one named, else the only one configured (several: a usage error naming them). */
export function dumpDatabase(engine: Pick<Engine, 'config'>, name: string | undefined): {name: string; adapter: string} {
  const databases = engine.config.databases
  const names = databases.map((d) => d.name).join(', ')
  if (databases.length === 0) throw new UsageError(`${engine.config.app} backs up no database: there is nothing to dump`)
  if (name === undefined) {
    if (databases.length === 1) return databases[0]!
    throw new UsageError(`${engine.config.app} backs up ${databases.length} databases: say which with --database (${names})`)
  }
  const found = databases.find((d) => d.name === name)
  if (!found) throw new UsageError(`no database "${name}" in ${engine.config.file}`, {suggestions: [`the databases: ${names}`]})
  return found
}

/** Resolves the run ([SNAPSHOT] | latest | --at) and the database's snapshot in it. */
export async function planDump(engine: Engine, selection: {snapshot?: string; at?: Date}, database: string | undefined): Promise<DumpPlan> {
  const db = dumpDatabase(engine, database)
  const {runs} = await loadRuns(engine)
  const run = selectRun(runs, selection)
  const snapshot = run.snapshots.find((s) => s.group === databaseGroup(db.name))
  if (!snapshot) throw new KamalBackupError(`run ${run.id} has no snapshot of database ${db.name}`, {code: 'run/incomplete'})
  return {kind: 'dump-plan', app: engine.config.app, run_id: run.id, run_time: run.time, database: db.name, adapter: db.adapter, snapshot_id: snapshot.id, short_id: snapshot.shortId, path: snapshotPath(snapshot), bytes: snapshot.bytes}
}

function snapshotPath(snapshot: RunSnapshot): string {
  const path = snapshot.paths[0]
  if (!path) throw new KamalBackupError(`snapshot ${snapshot.shortId} has no path`, {code: 'restore/bad-snapshot'})
  return path
}

/** `restic dump` of the plan's snapshot into `sink` (counted, with backpressure), or with `{fd}` straight into a
 *  descriptor of this process (the accessory's stdout for a workstation, which counts and checks what arrives: no
 *  copy through this process, whose synchronous pipe writes cost a tenth of the dump's time in the dump-pg
 *  benchmark). Recorded in dumps.jsonl whatever happens. Resolves with the bytes written (with `{fd}`: the
 *  snapshot's recorded size once restic sent it whole, null when none is recorded); throws when restic failed, was
 *  interrupted or its reader went away. */
export async function streamDump(engine: Engine, plan: Pick<DumpPlan, 'run_id' | 'database' | 'snapshot_id' | 'path' | 'bytes'>, sink: NodeJS.WritableStream | {fd: number}, options: {onBytes?: (total: number) => void; restic?: Restic} = {}): Promise<number | null> {
  const started = engine.now()
  let written: number | null = 0
  let failure: unknown
  try {
    const restic = options.restic ?? (await openRepository(engine))
    const spec = resticArgv.dump(restic.target, plan.snapshot_id, plan.path)
    if ('fd' in sink) {
      written = null
      const result = await engine.exec.toFile(spec, sink.fd, {signal: engine.signal})
      if (result.interrupted) throw new InterruptedError()
      if (result.exitCode !== 0) throw resticError(spec, result, engine.redactor, {version: restic.version})
      return (written = plan.bytes)
    }
    const result = await engine.exec.toStream(spec, sink, {signal: engine.signal, onBytes: (total) => options.onBytes?.((written = total))})
    written = result.bytes
    if (result.interrupted) throw new InterruptedError()
    if (result.sinkError) throw new KamalBackupError(`the dump's reader went away after ${formatBytes(written)}: ${errorMessage(result.sinkError)}`, {code: 'dump/incomplete', cause: result.sinkError})
    if (result.exitCode !== 0) throw resticError(spec, result, engine.redactor, {version: restic.version})
    return written
  } catch (error) {
    failure = error
    throw error
  } finally {
    const finished = engine.now()
    const record: DumpRecord = {
      kind: 'dump',
      status: failure === undefined ? 'ok' : failure instanceof InterruptedError ? 'interrupted' : 'failed',
      operator: drillOperator(engine.env),
      host: hostname(),
      run_id: plan.run_id,
      database: plan.database,
      snapshot: plan.snapshot_id,
      bytes: written,
      expected_bytes: plan.bytes,
      started_at: started.toISOString(),
      finished_at: finished.toISOString(),
      duration_ms: finished.getTime() - started.getTime(),
      error: failure === undefined ? null : engine.redactor.redact(errorMessage(failure)),
    }
    try {
      engine.state.append(DUMPS_FILE, record)
    } catch (error) {
      // The export happened (or failed) either way: a record that cannot be written must not hide it.
      engine.log.warn(`the dump could not be recorded in ${DUMPS_FILE}: ${errorMessage(error)}`)
    }
  }
}

/** The dumps recorded in this state directory, for `evidence`: how many, and the last. */
export function dumpsSummary(engine: Pick<Engine, 'state'>): {count: number; last: DumpRecord | null} {
  const records = engine.state.history<DumpRecord>(DUMPS_FILE)
  return {count: records.length, last: records.at(-1) ?? null}
}

/** Refuses an existing FILE without --force, before anything is read. */
export function assertWritableTarget(file: string, force: boolean): string {
  const target = resolve(file)
  if (existsSync(target) && !force) throw new KamalBackupError(`${file} exists: not overwriting it without --force; nothing was written`, {code: 'dump/exists', suggestions: ['give another -o FILE, or --force to replace it']})
  if (!existsSync(dirname(target))) throw new UsageError(`the directory of ${file} does not exist`)
  return target
}

/** Where a dump's bytes go, counted: a file descriptor, written synchronously (a local disk: each write is short,
 *  and the thread-pool round trip of an async write per 32 KiB packet cost a third more CPU than the whole copy in
 *  the dump-pg benchmark), or a stream, whose backpressure is passed on (stdout: a pipe, a slow reader). The first
 *  error (a full disk, a reader gone) is kept in `error` and ends the sink. */
export class ByteSink extends Writable {
  bytes = 0
  error: Error | undefined
  onProgress: ((bytes: number) => void) | undefined
  #last = 0

  constructor(private readonly target: NodeJS.WritableStream | number) {
    super({highWaterMark: 1024 * 1024})
    // Kept in `error` for the caller; the sink's own 'error' must not crash the process after its writer is gone.
    this.on('error', () => {})
    if (typeof target !== 'number') {
      target.on('error', (error: Error) => {
        this.error ??= error
        this.destroy(error)
      })
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.bytes += chunk.length
    if (this.onProgress && Date.now() - this.#last >= 250) {
      this.#last = Date.now()
      this.onProgress(this.bytes)
    }
    if (typeof this.target === 'number') {
      try {
        for (let offset = 0; offset < chunk.length; ) offset += writeSync(this.target, chunk, offset)
      } catch (error) {
        this.error ??= error as Error
        return done(error as Error)
      }
      return done()
    }
    if (this.target.write(chunk)) done()
    else this.target.once('drain', () => done())
  }
}

/** A dump being written beside its FILE: `stream` takes the bytes; `commit` checks and links it into place; `discard`
 *  removes it (Ctrl-C, a lost connection, a failed check): FILE is never half-written. */
export class DumpFile {
  readonly temporary: string
  readonly stream: ByteSink
  #fd: number | undefined

  private constructor(readonly target: string, readonly force: boolean) {
    this.temporary = join(dirname(target), `.${basename(target)}.kamal-backup-dump-${process.pid}`)
    // 0600: a database dump is as secret as the database.
    this.#fd = openSync(this.temporary, 'wx', 0o600)
    this.stream = new ByteSink(this.#fd)
    // A second Ctrl-C exits at once (process.exit): the temporary file goes with it.
    process.once('exit', this.#onExit)
  }

  readonly #onExit = () => rmSync(this.temporary, {force: true})

  static open(file: string, force: boolean): DumpFile {
    return new DumpFile(assertWritableTarget(file, force), force)
  }

  /** Waits until every byte is written and returns the file's size. */
  async finish(): Promise<number> {
    await new Promise<void>((resolveEnd, reject) => {
      this.stream.once('error', reject)
      this.stream.end(() => resolveEnd())
    })
    if (this.stream.error) throw this.stream.error
    const size = fstatSync(this.#fd!).size
    this.#close()
    return size
  }

  /** The stream ended cleanly: its size against the snapshot's, then --verify, then into place. */
  async commit(plan: DumpPlan, options: {verify?: DbContext | undefined}): Promise<Pick<DumpResult, 'bytes' | 'checked'>> {
    const size = await this.finish()
    assertSize(size, plan)
    const verify = options.verify ? await databaseAdapter(plan.adapter as Adapter).verifyDumpFile(options.verify, this.temporary) : null
    if (this.force) renameSync(this.temporary, this.target)
    else {
      // link: fails if FILE appeared meanwhile (never overwritten without --force).
      try {
        linkSync(this.temporary, this.target)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new KamalBackupError(`${this.target} appeared while the dump was written: not overwriting it without --force`, {code: 'dump/exists'})
        throw error
      }
      rmSync(this.temporary, {force: true})
    }
    process.off('exit', this.#onExit)
    return {bytes: size, checked: {size: plan.bytes === null ? 'unknown' : 'equal', verify}}
  }

  discard(): void {
    this.stream.destroy()
    this.#close()
    rmSync(this.temporary, {force: true})
    process.off('exit', this.#onExit)
  }

  #close(): void {
    if (this.#fd === undefined) return
    closeSync(this.#fd)
    this.#fd = undefined
  }
}

/** The bytes received against the snapshot's recorded size (when one is recorded). */
export function assertSize(received: number, plan: Pick<DumpPlan, 'bytes' | 'short_id' | 'database'>): void {
  if (plan.bytes === null || received === plan.bytes) return
  throw new KamalBackupError(`the dump of ${plan.database} is ${received} bytes, but snapshot ${plan.short_id} records ${plan.bytes}: it is incomplete`, {
    code: 'dump/incomplete',
    suggestions: ['run the dump again; if the size differs again, check the repository (kamal-backup check)'],
  })
}

/** Progress as bytes and rate ("312.0 MiB of 1.0 GiB, 85.3 MiB/s"). */
export function transferDetail(done: number, total: number | null, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? `, ${formatBytes((done * 1000) / elapsedMs)}/s` : ''
  return `${formatBytes(done)}${total !== null ? ` of ${formatBytes(total)}` : ''}${rate}`
}
