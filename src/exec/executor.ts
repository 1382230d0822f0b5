// The seam between what to run and running it. restic and database code receive an Executor (in the engine's
// context) and never start a process themselves: the local executor below is the only one that does, and a test
// can pass a recording executor that answers from a script instead.
import {InterruptedError} from '../errors.js'
import type {Redactor} from '../redact.js'
import {CommandFailedError, findExecutable, runPipe, runProcess, type PipeOptions, type PipeResult, type ProcessResult, type RunOptions} from './local.js'
import {runGroup, runToFile, runToStream, streamInto, type StreamOptions, type StreamResult} from './pipeline.js'
import type {CommandSpec} from './spec.js'

export interface Executor {
  /** Runs a command to completion. Never throws for a non-zero exit: callers decide what failure means. */
  run(spec: CommandSpec, options?: RunOptions): Promise<ProcessResult>
  /** The producer's stdout into the consumer's stdin through an OS pipe (a dump into `restic backup --stdin`). */
  pipe(producer: CommandSpec, consumer: CommandSpec, options?: PipeOptions): Promise<PipeResult>
  /** producer | [tee → tap] | consumer (`restic dump` into a database client). */
  stream(producer: CommandSpec, consumer: CommandSpec, options?: StreamOptions): Promise<StreamResult>
  /** The command's stdout into a file (or a descriptor of this process), never through this process. */
  toFile(spec: CommandSpec, file: string | number, options?: {signal?: AbortSignal}): Promise<ProcessResult>
  /** The command's stdout into a stream through this process, with backpressure, counted (`dump -o -`). */
  toStream(spec: CommandSpec, sink: NodeJS.WritableStream, options?: {signal?: AbortSignal; onBytes?: (total: number) => void}): Promise<ProcessResult & {bytes: number; sinkError?: Error}>
  /** A command in a process group of its own, stopped as a whole (a user's shell command). */
  group(spec: CommandSpec, options?: {signal?: AbortSignal; timeoutMs?: number}): Promise<ProcessResult>
  /** Where an executable is (a name looked up on PATH, or a path checked), if it is there. */
  which(name: string, pathEnv?: string): string | undefined
}

/** Processes on this machine. */
export const localExecutor: Executor = {
  run: runProcess,
  pipe: runPipe,
  stream: streamInto,
  toFile: (spec, file, options = {}) => runToFile(spec, file, options.signal),
  toStream: runToStream,
  group: runGroup,
  which: findExecutable,
}

/** Like `executor.run`, but an interrupt is an InterruptedError and a non-zero exit (or a signal) a
 *  CommandFailedError. */
export async function runChecked(executor: Executor, spec: CommandSpec, options: RunOptions & {redactor?: Redactor} = {}): Promise<ProcessResult> {
  const result = await executor.run(spec, options)
  if (result.interrupted) throw new InterruptedError()
  if (result.exitCode !== 0) throw new CommandFailedError(spec, result, options.redactor)
  return result
}
