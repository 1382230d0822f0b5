// The only code that starts local processes. argv arrays only (shell: false); secrets reach children through
// their environment; output is captured with bounded memory; an AbortSignal stops children with SIGINT first
// (restic then removes its own lock), escalating to SIGTERM and SIGKILL.
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {accessSync, constants, openSync, closeSync} from 'node:fs'
import {delimiter, join} from 'node:path'
import {KamalBackupError} from '../errors.js'
import type {Redactor} from '../redact.js'
import {childEnvironment, displayCommand, type Argv, type CommandSpec} from './spec.js'

export interface RunOptions {
  /** Where stdin comes from: nothing (default), a file, or a string. */
  stdin?: {file: string} | {text: string}
  /** Called with each complete stdout line (the line is not kept in `stdout` then, unless `keepStdout`). */
  onStdoutLine?: (line: string) => void
  onStderrLine?: (line: string) => void
  keepStdout?: boolean
  /** Cap on the stdout kept in memory. Default 64 MiB; more is an error (we never buffer dumps). */
  maxStdout?: number
  signal?: AbortSignal
  /** Kill after this many milliseconds. */
  timeoutMs?: number
  /** Kill unless a stdout line that `opened` accepts (default: any line) arrives within `ms`: for restic's first
   *  call, which retries a backend that answers garbage for 15 minutes before it says anything. */
  openDeadline?: OpenDeadline
  /** Kill when stderr keeps reporting retries for `ms` without a recovery: restic retries a backend that went away
   *  mid-run for 15 minutes or more before it gives up. */
  stallDeadline?: StallDeadline
  /** Start the child in its own process group and signal the whole group on abort: a dump tool's own children
   *  (a wrapper script's pg_dump, restic's --stdin-from-command) stop with it. */
  processGroup?: boolean
  redactor?: Redactor
}

export interface OpenDeadline {
  ms: number
  opened?: (line: string) => boolean
}

export interface StallDeadline {
  ms: number
  /** A line that says an operation failed and is being retried: starts the clock unless it is running. */
  failing: (line: string) => boolean
  /** A line that says the operations succeeded again: stops the clock. */
  recovered: (line: string) => boolean
}

export interface ProcessResult {
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  /** The last ~64 KiB of stderr. */
  stderr: string
  durationMs: number
  timedOut: boolean
  /** The open deadline passed without a sign of life (timedOut is set too). */
  openTimedOut?: boolean
  /** The stall deadline passed while the child kept retrying (timedOut is set too). */
  stalled?: boolean
  interrupted: boolean
}

const STDERR_TAIL = 64 * 1024

/** Runs a command to completion. Never throws for a non-zero exit: callers decide what failure means. */
export function runProcess(spec: CommandSpec, options: RunOptions = {}): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now()
    let stdinFd: number | undefined
    if (options.stdin && 'file' in options.stdin) stdinFd = openSync(options.stdin.file, 'r')
    let child: ChildProcess
    try {
      child = spawn(spec.argv[0], spec.argv.slice(1), {
        cwd: spec.cwd,
        env: childEnvironment(spec),
        stdio: [stdinFd ?? (options.stdin ? 'pipe' : 'ignore'), 'pipe', 'pipe'],
        shell: false,
        detached: options.processGroup ?? false,
      })
    } finally {
      if (stdinFd !== undefined) closeSync(stdinFd)
    }
    const result: ProcessResult = {exitCode: null, signal: null, stdout: '', stderr: '', durationMs: 0, timedOut: false, interrupted: false}
    const maxStdout = options.maxStdout ?? 64 * 1024 * 1024
    let spawnError: Error | undefined
    child.on('error', (error) => {
      spawnError = error
    })
    if (options.stdin && 'text' in options.stdin) {
      child.stdin!.on('error', () => {}) // a child that exits without reading its input
      child.stdin!.end(options.stdin.text)
    }
    const stop = stopper(child, {group: options.processGroup ?? false})
    let opening = options.openDeadline
      ? setTimeout(() => {
          result.timedOut = true
          result.openTimedOut = true
          stop()
        }, options.openDeadline.ms)
      : undefined
    const signOfLife = (line: string) => {
      if (opening && (options.openDeadline!.opened ?? (() => true))(line)) {
        clearTimeout(opening)
        opening = undefined
      }
    }
    // The raw output, as it came: a JSON document is one line that can be far longer than any line limit.
    const chunks: string[] = []
    let kept = 0
    const keep = (text: string) => {
      kept += text.length
      if (kept > maxStdout) {
        if (!spawnError) {
          stop()
          spawnError = new Error(`${spec.label ?? spec.argv[0]} printed more than ${maxStdout} bytes`)
        }
        return
      }
      chunks.push(text)
    }
    if (options.onStdoutLine || options.openDeadline) {
      lines(child.stdout!, (line) => {
        signOfLife(line)
        options.onStdoutLine?.(line)
        if (options.onStdoutLine && options.keepStdout) keep(line + '\n')
      })
    }
    if (!options.onStdoutLine) {
      child.stdout!.setEncoding('utf8')
      child.stdout!.on('data', (chunk: string) => keep(chunk))
    }
    const tail = keepTail(result)
    const stall = stallWatch(options.stallDeadline, result, stop)
    lines(child.stderr!, (line) => {
      options.onStderrLine?.(line)
      stall.line(line)
      tail(line)
    })
    const stopWatching = stopOnAbortOrTimeout(result, stop, options)
    child.on('close', (code, signal) => {
      if (opening) clearTimeout(opening)
      stall.cancel()
      stopWatching()
      result.stdout = chunks.join('')
      result.exitCode = code
      result.signal = signal
      result.durationMs = Date.now() - started
      if (result.stderr.length > STDERR_TAIL) result.stderr = result.stderr.slice(-STDERR_TAIL)
      if (spawnError) {
        const code = (spawnError as NodeJS.ErrnoException).code
        if (code === 'ENOENT') return reject(commandNotFound(spec))
        return reject(new KamalBackupError(`${spec.label ?? spec.argv[0]} could not run: ${spawnError.message}`, {code: 'exec/start-failed', cause: spawnError}))
      }
      resolvePromise(result)
    })
  })
}

export class CommandFailedError extends KamalBackupError {
  readonly result: ProcessResult
  readonly command: string
  constructor(spec: CommandSpec, result: ProcessResult, redactor?: Redactor, message?: string, suggestions: string[] = []) {
    const command = displayCommand(spec)
    const status = result.timedOut ? 'timed out' : result.signal ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`
    const tail = lastLines(result.stderr, 8)
    const text = message ?? `${spec.label ?? spec.argv[0]} ${status}${tail ? `: ${tail}` : ''}`
    super(redactor ? redactor.redact(text) : text, {code: 'exec/failed', suggestions})
    this.name = 'CommandFailedError'
    this.result = result
    this.command = redactor ? redactor.redact(command) : command
  }
}

export function commandNotFound(spec: CommandSpec): KamalBackupError {
  const name = spec.argv[0]
  return new KamalBackupError(`${name} is not installed (not found on PATH)`, {
    code: 'exec/not-found',
    suggestions: [name === 'restic' ? 'install restic (apt install restic, or https://restic.net); the accessory image ships it' : `install ${name}; the kamal-backup accessory image ships it`],
  })
}

/** Keeps the tail of a child's output in result[which], line by line (about the last STDERR_TAIL characters). */
export function keepTail(result: ProcessResult, which: 'stdout' | 'stderr' = 'stderr'): (line: string) => void {
  return (line) => {
    result[which] += line + '\n'
    if (result[which].length > STDERR_TAIL * 2) result[which] = result[which].slice(-STDERR_TAIL)
  }
}

/** Watches stderr lines for a run of retries that lasts `deadline.ms`; then marks the result stalled and stops
 *  the child. */
export function stallWatch(deadline: StallDeadline | undefined, result: ProcessResult, stop: () => void): {line: (line: string) => void; cancel: () => void} {
  let timer: NodeJS.Timeout | undefined
  const cancel = () => {
    if (timer) clearTimeout(timer)
    timer = undefined
  }
  if (!deadline) return {line: () => {}, cancel}
  return {
    cancel,
    line: (line) => {
      if (deadline.recovered(line)) cancel()
      else if (!timer && deadline.failing(line)) {
        timer = setTimeout(() => {
          result.timedOut = true
          result.stalled = true
          stop()
        }, deadline.ms)
      }
    },
  }
}

/** Stops a child when `signal` aborts (the result marked interrupted) or after `timeoutMs` (marked timed out);
 *  returns the function that cancels both, called once the child has closed. */
export function stopOnAbortOrTimeout(result: ProcessResult, stop: () => void, options: {signal?: AbortSignal | undefined; timeoutMs?: number | undefined}): () => void {
  const stopListening = whenAborted(options.signal, () => {
    result.interrupted = true
    stop()
  })
  const timer = options.timeoutMs
    ? setTimeout(() => {
        result.timedOut = true
        stop()
      }, options.timeoutMs)
    : undefined
  return () => {
    if (timer) clearTimeout(timer)
    stopListening()
  }
}

/** Calls `onAbort` when `signal` aborts (at once if it already has); returns the function that stops listening. */
export function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (!signal) return () => {}
  signal.addEventListener('abort', onAbort, {once: true})
  if (signal.aborted) onAbort()
  return () => signal.removeEventListener('abort', onAbort)
}

/** SIGINT, then SIGTERM after 5 s, then SIGKILL after 10 s: restic cleans up its lock on the first. With `group`
 *  (a child started with processGroup) every process of its group gets the signals, and the escalation goes on
 *  while any of them is left: a grandchild holding a pipe open would otherwise keep the run from ending. */
export function stopper(child: ChildProcess, options: {group?: boolean} = {}): () => void {
  let stopping = false
  const group = options.group === true && child.pid !== undefined
  const signal = (sig: NodeJS.Signals): void => {
    if (group) {
      try {
        process.kill(-child.pid!, sig)
      } catch {}
    } else if (child.exitCode === null && child.signalCode === null) child.kill(sig)
  }
  const alive = (): boolean => {
    if (!group) return child.exitCode === null && child.signalCode === null
    try {
      process.kill(-child.pid!, 0)
      return true
    } catch {
      return false
    }
  }
  return () => {
    if (stopping || !alive()) return
    stopping = true
    signal('SIGINT')
    const term = setTimeout(() => alive() && signal('SIGTERM'), 5000)
    const kill = setTimeout(() => alive() && signal('SIGKILL'), 10_000)
    term.unref()
    kill.unref()
    child.once('close', () => {
      clearTimeout(term)
      clearTimeout(kill)
    })
  }
}

export function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = ''
  stream.setEncoding?.('utf8')
  stream.on('data', (chunk: string) => {
    pending += chunk
    let index: number
    while ((index = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, index).replace(/\r$/, ''))
      pending = pending.slice(index + 1)
    }
    // A line longer than 1 MiB (binary noise) is cut rather than buffered without limit.
    if (pending.length > 1024 * 1024) {
      onLine(pending)
      pending = ''
    }
  })
  stream.on('end', () => {
    if (pending.length > 0) onLine(pending)
    pending = ''
  })
}

export function lastLines(text: string, count: number): string {
  return text
    .trim()
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .slice(-count)
    .join('\n')
}

/** Finds an executable on PATH (no shell, no `which`). */
export function findExecutable(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return undefined
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Two processes joined by an OS pipe: the producer writes straight into the consumer; the data never passes
// through this process. Both exit codes are checked.

export interface PipeOptions {
  signal?: AbortSignal
  /** Keep the consumer's stdin open after the producer exits, and end it only if the producer succeeded: on
   *  failure the consumer is interrupted before it sees end-of-file. This is how a failed dump never becomes a
   *  snapshot on restic versions without --stdin-from-command. */
  commitOnProducerSuccess?: boolean
  onConsumerStdoutLine?: (line: string) => void
  /** See RunOptions.openDeadline; applies to the consumer (restic). */
  consumerOpenDeadline?: OpenDeadline
  /** See RunOptions.stallDeadline; applies to the consumer (restic). */
  consumerStallDeadline?: StallDeadline
  redactor?: Redactor
}

export interface PipeResult {
  producer: ProcessResult
  consumer: ProcessResult
  /** The consumer was stopped by us because the producer failed (otherwise a failed consumer failed on its own,
   *  and the producer's broken pipe is a consequence). */
  consumerStopped: boolean
}

export function runPipe(producerSpec: CommandSpec, consumerSpec: CommandSpec, options: PipeOptions = {}): Promise<PipeResult> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now()
    const empty = (): ProcessResult => ({exitCode: null, signal: null, stdout: '', stderr: '', durationMs: 0, timedOut: false, interrupted: false})
    const results: PipeResult = {producer: empty(), consumer: empty(), consumerStopped: false}
    const consumer = spawn(consumerSpec.argv[0], consumerSpec.argv.slice(1), {cwd: consumerSpec.cwd, env: childEnvironment(consumerSpec), stdio: ['pipe', 'pipe', 'pipe']})
    let failure: Error | undefined
    consumer.on('error', (error) => {
      failure ??= (error as NodeJS.ErrnoException).code === 'ENOENT' ? commandNotFound(consumerSpec) : error
    })
    // The producer's stdout is a duplicate of the consumer's stdin pipe.
    // Its own process group: a dump tool's children stop with it.
    const producer = spawn(producerSpec.argv[0], producerSpec.argv.slice(1), {cwd: producerSpec.cwd, env: childEnvironment(producerSpec), stdio: ['ignore', consumer.stdin!, 'pipe'], detached: true})
    producer.on('error', (error) => {
      failure ??= (error as NodeJS.ErrnoException).code === 'ENOENT' ? commandNotFound(producerSpec) : error
    })
    // Without commit-on-success our copy of the write end is closed at once, so EOF follows the producer's exit.
    if (!options.commitOnProducerSuccess) consumer.stdin!.destroy()
    consumer.stdin!.on('error', () => {})
    const stopProducer = stopper(producer, {group: true})
    const stopConsumer = stopper(consumer)
    let opening = options.consumerOpenDeadline
      ? setTimeout(() => {
          results.consumer.timedOut = true
          results.consumer.openTimedOut = true
          stopConsumer()
        }, options.consumerOpenDeadline.ms)
      : undefined
    lines(consumer.stdout!, (line) => {
      if (opening && (options.consumerOpenDeadline!.opened ?? (() => true))(line)) {
        clearTimeout(opening)
        opening = undefined
      }
      options.onConsumerStdoutLine?.(line)
      if (results.consumer.stdout.length < 1024 * 1024) results.consumer.stdout += line + '\n'
    })
    const consumerTail = keepTail(results.consumer)
    const stall = stallWatch(options.consumerStallDeadline, results.consumer, stopConsumer)
    lines(consumer.stderr!, (line) => {
      stall.line(line)
      consumerTail(line)
    })
    lines(producer.stderr!, keepTail(results.producer))
    const stopListening = whenAborted(options.signal, () => {
      results.producer.interrupted = true
      results.consumer.interrupted = true
      stopProducer()
      stopConsumer()
    })
    let open = 2
    const finish = () => {
      if (--open > 0) return
      if (opening) clearTimeout(opening)
      stall.cancel()
      stopListening()
      results.producer.durationMs = results.consumer.durationMs = Date.now() - started
      if (failure) return reject(failure)
      resolvePromise(results)
    }
    producer.on('close', (code, signal) => {
      results.producer.exitCode = code
      results.producer.signal = signal
      if (options.commitOnProducerSuccess) {
        if (code === 0 && !results.producer.interrupted) consumer.stdin!.end()
        else {
          // A consumer that failed first (so the producer died of the broken pipe) may have exited without Node
          // having seen it yet: give its exit 100 ms to arrive before calling it stopped by us.
          const stopIfRunning = () => {
            if (consumer.exitCode !== null || consumer.signalCode !== null) return
            results.consumerStopped = true
            stopConsumer()
          }
          setTimeout(stopIfRunning, 100)
        }
      }
      finish()
    })
    consumer.on('close', (code, signal) => {
      results.consumer.exitCode = code
      results.consumer.signal = signal
      // If the consumer dies first, the producer gets SIGPIPE/EPIPE on its own; make sure it does not linger.
      if (producer.exitCode === null) stopProducer()
      finish()
    })
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Two shapes the asynchronous runners above do not cover.

export interface SyncResult {
  status: number | null
  stdout: string
  stderr: string
  /** The command could not be started (ENOENT: not installed). */
  error?: NodeJS.ErrnoException
}

/** Runs a command synchronously with exactly `env` (not merged with this process's), its output kept whole: for
 *  reading configuration, which is synchronous (`$(…)` in .kamal/secrets, `kamal config`). */
export function runSync(argv: Argv, options: {env: NodeJS.ProcessEnv; cwd?: string | undefined}): SyncResult {
  const result = spawnSync(argv[0], argv.slice(1), {env: options.env, cwd: options.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024})
  return {status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', ...(result.error && {error: result.error as NodeJS.ErrnoException})}
}

/** A local process whose stdin and stdout carry a byte stream (an SSH ProxyCommand or `ssh -W`); the caller reads
 *  its stderr and ends it. */
export function startStreamProcess(argv: Argv): ChildProcess {
  return spawn(argv[0], argv.slice(1), {stdio: ['pipe', 'pipe', 'pipe']})
}

export type {ChildProcess}
