// Restore plumbing: `restic dump` streamed straight into a database client through OS pipes (the data never
// passes through this process), optionally through `tee` and a named pipe to a small scanner that reports what went by (the
// table names of a MySQL dump). Every exit code is checked by the caller. Also: a command run in a process group
// of its own (the drill check), stopped as a whole.
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {closeSync, constants, createReadStream, mkdtempSync, openSync, rmSync} from 'node:fs'
import {finished} from 'node:stream/promises'
import type {Writable} from 'node:stream'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {commandNotFound, keepTail, lines, stopOnAbortOrTimeout, stopper, whenAborted, type ProcessResult} from './local.js'
import {childEnvironment, type CommandSpec} from './spec.js'

export interface StreamResult {
  producer: ProcessResult
  consumer: ProcessResult
  tee?: ProcessResult
  /** The tap's last stage (its stdout is kept, unless onTapLine takes it). */
  tap?: ProcessResult
  /** Every stage of the tap, in order: each exit code matters. */
  tapStages?: ProcessResult[]
}

export interface StreamOptions {
  signal?: AbortSignal
  /** A scanner that sees a copy of the stream (the stream's named pipe is appended to its first stage's argv; a
   *  later stage reads the previous one's stdout); the last stage's stdout is captured. */
  tap?: CommandSpec | readonly CommandSpec[]
  /** Every line the tap's last stage writes, as it comes (then its stdout is not kept). */
  onTapLine?: (line: string) => void
  /** Instead of a tap command: a copy of the stream read here, into this sink (the restore's row counter). The
   *  stream resolves once the sink has taken all of it. */
  tapSink?: Writable
  /** Every line the consumer writes, as it comes (the kept stdout and stderr are bounded tails). */
  onConsumerStdoutLine?: (line: string) => void
  onConsumerStderrLine?: (line: string) => void
}


function empty(): ProcessResult {
  return {exitCode: null, signal: null, stdout: '', stderr: '', durationMs: 0, timedOut: false, interrupted: false}
}

function launch(spec: CommandSpec, stdio: Parameters<typeof spawn>[2]['stdio'], result: ProcessResult, failures: Error[], onStderrLine?: (line: string) => void): ChildProcess {
  const child = spawn(spec.argv[0], spec.argv.slice(1), {cwd: spec.cwd, env: childEnvironment(spec), stdio, shell: false})
  child.on('error', (error) => failures.push((error as NodeJS.ErrnoException).code === 'ENOENT' ? commandNotFound(spec) : error))
  if (child.stderr) {
    const tail = keepTail(result)
    lines(child.stderr, (line) => {
      onStderrLine?.(line)
      tail(line)
    })
  }
  return child
}

/** producer | [tee → tap] | consumer. Resolves when every process has exited. */
export function streamInto(producerSpec: CommandSpec, consumerSpec: CommandSpec, options: StreamOptions = {}): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const failures: Error[] = []
    const results: StreamResult = {producer: empty(), consumer: empty()}
    const children: ChildProcess[] = []
    const consumer = launch(consumerSpec, ['pipe', 'pipe', 'pipe'], results.consumer, failures, options.onConsumerStderrLine)
    lines(consumer.stdout!, (line) => {
      options.onConsumerStdoutLine?.(line)
      if (results.consumer.stdout.length < 1024 * 1024) results.consumer.stdout += line + '\n'
    })
    children.push(consumer)
    let into = consumer.stdin!
    let fifoDir: string | undefined
    let tapPairs: [ChildProcess, ProcessResult][] = []
    let sinkDone: Promise<void> = Promise.resolve()
    let sinkOpened = true
    let fifoPath: string | undefined
    if (options.tap || options.tapSink) {
      results.tee = empty()
      // tee writes the stream to its stdout (the consumer) and to a named pipe the tap reads. (Node's stdio pipes
      // are socket pairs, which /dev/fd/N cannot reopen; a FIFO is a real pipe.)
      fifoDir = mkdtempSync(join(tmpdir(), 'kamal-backup-tap-'))
      const fifo = join(fifoDir, 'stream')
      const made = spawnSync('mkfifo', ['-m', '600', fifo])
      if (made.status !== 0) {
        rmSync(fifoDir, {recursive: true, force: true})
        return reject(new Error(`mkfifo failed: ${made.stderr?.toString() ?? made.error}`))
      }
      fifoPath = fifo
      const stages = options.tapSink ? [] : Array.isArray(options.tap) ? (options.tap as readonly CommandSpec[]) : [options.tap as CommandSpec]
      if (options.tapSink) {
        // Opening a named pipe waits for its writer (tee); the end of the stream, or of the sink, is awaited below.
        sinkOpened = false
        const reader = createReadStream(fifo, {highWaterMark: 64 * 1024})
        reader.once('open', () => (sinkOpened = true))
        reader.pipe(options.tapSink)
        sinkDone = finished(options.tapSink).catch(() => undefined)
      }
      results.tapStages = stages.map(() => empty())
      if (stages.length > 0) results.tap = results.tapStages.at(-1)!
      // Launched last stage first, so each earlier stage can write straight into the next one's stdin.
      const tapChildren: ChildProcess[] = []
      let next: ChildProcess | undefined
      for (let i = stages.length - 1; i >= 0; i--) {
        const spec = i === 0 ? {...stages[0]!, argv: [...stages[0]!.argv, fifo] as unknown as CommandSpec['argv']} : stages[i]!
        const child = launch(spec, [i === 0 ? 'ignore' : 'pipe', next ? next.stdin! : 'pipe', 'pipe'], results.tapStages[i]!, failures)
        if (next) next.stdin!.destroy()
        else {
          lines(child.stdout!, (line) => {
            if (options.onTapLine) options.onTapLine(line)
            else if (results.tap!.stdout.length < 4 * 1024 * 1024) results.tap!.stdout += line + '\n'
          })
        }
        tapChildren.unshift(child)
        next = child
      }
      const tee = launch({argv: ['tee', '-p', fifo], label: 'tee'}, ['pipe', consumer.stdin!, 'pipe'], results.tee, failures)
      consumer.stdin!.destroy()
      children.push(tee, ...tapChildren)
      into = tee.stdin!
      tapPairs = tapChildren.map((child, i) => [child, results.tapStages![i]!])
    }
    const producer = launch(producerSpec, ['ignore', into, 'pipe'], results.producer, failures)
    into.destroy()
    children.push(producer)
    const named: [ChildProcess, ProcessResult][] = [
      [producer, results.producer],
      [consumer, results.consumer],
      ...(results.tee ? ([[children[1]!, results.tee], ...tapPairs] as [ChildProcess, ProcessResult][]) : []),
    ]
    const stops = named.map(([child]) => stopper(child))
    const stopListening = whenAborted(options.signal, () => {
      for (const [, r] of named) r.interrupted = true
      for (const stop of stops) stop()
    })
    let open = named.length
    for (const [child, result] of named) {
      child.on('close', (code, signal) => {
        result.exitCode = code
        result.signal = signal
        result.durationMs = Date.now() - started
        // A consumer that gives up must not leave the producer blocked on a full pipe.
        if (child === consumer && code !== 0 && producer.exitCode === null) stops[0]!()
        if (--open === 0) {
          stopListening()
          // tee never opened the pipe (it could not start): open it for writing once, so the reader sees its end.
          if (!sinkOpened && fifoPath) {
            try {
              closeSync(openSync(fifoPath, constants.O_WRONLY | constants.O_NONBLOCK))
            } catch {}
          }
          void sinkDone.then(() => {
            if (fifoDir) rmSync(fifoDir, {recursive: true, force: true})
            if (failures.length > 0) reject(failures[0])
            else resolve(results)
          })
        }
      })
    }
  })
}

/** Runs a command with its stdout written to a file (a staged SQLite database), never through this process. A
 *  number is a descriptor of this process the child writes to as it is (1: `dump -o -` in the accessory, straight
 *  into `docker exec`'s pipe). */
export function runToFile(spec: CommandSpec, file: string | number, signal?: AbortSignal): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const fd = typeof file === 'number' ? file : openSync(file, 'w', 0o600)
    const result = empty()
    const failures: Error[] = []
    let child: ChildProcess
    try {
      child = launch(spec, ['ignore', fd, 'pipe'], result, failures)
    } finally {
      if (typeof file !== 'number') closeSync(fd)
    }
    settleOnClose(child, result, started, failures, {resolve, reject}, stopOnAbortOrTimeout(result, stopper(child), {signal}))
  })
}

/** Runs a command with its stdout piped into `sink` through this process (with backpressure: memory stays flat
 *  whatever the size), counting the bytes: `kamal-backup dump -o -`, whose reader is a pipe or an SSH channel. The
 *  sink is not ended. A sink that fails (its reader went away) stops the command; its error is `sinkError`. */
export function runToStream(spec: CommandSpec, sink: NodeJS.WritableStream, options: {signal?: AbortSignal; onBytes?: (total: number) => void} = {}): Promise<ProcessResult & {bytes: number; sinkError?: Error}> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const result: ProcessResult & {bytes: number; sinkError?: Error} = {...empty(), bytes: 0}
    const failures: Error[] = []
    const child = launch(spec, ['ignore', 'pipe', 'pipe'], result, failures)
    const stop = stopper(child)
    const source = child.stdout!
    const onSinkError = (error: Error) => {
      result.sinkError ??= error
      source.resume()
      stop()
    }
    sink.on('error', onSinkError)
    source.on('data', (chunk: Buffer) => {
      if (result.sinkError) return
      result.bytes += chunk.length
      options.onBytes?.(result.bytes)
      if (!sink.write(chunk)) {
        source.pause()
        sink.once('drain', () => source.resume())
      }
    })
    const stopWatching = stopOnAbortOrTimeout(result, stop, options)
    settleOnClose(child, result, started, failures, {resolve: () => resolve(result), reject}, () => {
      sink.off('error', onSinkError)
      stopWatching()
    })
  })
}

/** Once the child has closed: its exit in the result, the cleanup run, and the promise settled (a launch failure
 *  wins over the exit code). */
function settleOnClose(child: ChildProcess, result: ProcessResult, started: number, failures: Error[], settle: {resolve: (r: ProcessResult) => void; reject: (e: unknown) => void}, cleanup: () => void): void {
  child.on('close', (code, sig) => {
    cleanup()
    result.exitCode = code
    result.signal = sig
    result.durationMs = Date.now() - started
    if (failures.length > 0) settle.reject(failures[0])
    else settle.resolve(result)
  })
}

/** Runs a command in a process group of its own (the operator's drill check: `sh -c` and whatever it starts) and
 *  stops the whole group on abort or timeout — SIGINT, then SIGTERM after 5 s, SIGKILL after 10 s — so a
 *  grandchild holding the output pipes cannot keep the drill waiting. Output is kept as bounded tails. */
export function runGroup(spec: CommandSpec, options: {signal?: AbortSignal; timeoutMs?: number} = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const result = empty()
    const failures: Error[] = []
    const child = spawn(spec.argv[0], spec.argv.slice(1), {cwd: spec.cwd, env: childEnvironment(spec), stdio: ['ignore', 'pipe', 'pipe'], shell: false, detached: true})
    child.on('error', (error) => failures.push((error as NodeJS.ErrnoException).code === 'ENOENT' ? commandNotFound(spec) : error))
    lines(child.stdout!, keepTail(result, 'stdout'))
    lines(child.stderr!, keepTail(result))
    const timers: NodeJS.Timeout[] = []
    let stopping = false
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig)
      } catch {}
    }
    const stop = () => {
      if (stopping) return
      stopping = true
      signalGroup('SIGINT')
      timers.push(setTimeout(() => signalGroup('SIGTERM'), 5000), setTimeout(() => signalGroup('SIGKILL'), 10_000))
      for (const t of timers) t.unref()
    }
    const stopWatching = stopOnAbortOrTimeout(result, stop, options)
    child.on('exit', () => {
      // The group's leader is gone: whatever it left running in the group goes too, so the pipes close.
      if (stopping) signalGroup('SIGKILL')
    })
    settleOnClose(child, result, started, failures, {resolve, reject}, () => {
      for (const t of timers) clearTimeout(t)
      stopWatching()
    })
  })
}
