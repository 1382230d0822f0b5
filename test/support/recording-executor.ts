// An Executor (src/exec/executor.ts) that runs nothing: it records every command it is given and answers from a
// script, so a flow that starts processes (a restore's sequence of client calls, a backup run's restic calls) can
// be tested for what it asks, in which order, and how it reacts to each answer. The real executor is tested
// against real processes elsewhere; this stands in only where the subject is the flow.
import type {Executor} from '../../src/exec/executor.ts'
import type {PipeResult, ProcessResult, RunOptions} from '../../src/exec/local.ts'
import type {StreamOptions, StreamResult} from '../../src/exec/pipeline.ts'
import type {CommandSpec} from '../../src/exec/spec.ts'

export type CallKind = 'run' | 'pipe' | 'stream' | 'toFile' | 'toStream' | 'group'

export interface Call {
  kind: CallKind
  /** The command (for pipe and stream: the producer). */
  spec: CommandSpec
  /** pipe and stream: the consumer. */
  consumer?: CommandSpec
  /** What was written to its stdin (run with stdin text). */
  stdin?: string
  /** The command line, words joined by spaces (for matching and messages). */
  line: string
}

/** A scripted answer: exit code (default 0), stdout and stderr (each line goes to the line callbacks too). */
export interface Answer {
  exitCode?: number | null
  stdout?: string
  stderr?: string
  signal?: NodeJS.Signals | null
  interrupted?: boolean
  /** pipe and stream: the producer's answer (the main answer is the consumer's). */
  producer?: Omit<Answer, 'producer' | 'tap'>
  /** stream with a tap: what the tap printed (the tables a MySQL dump creates and fills, a PostgreSQL dump's rows). */
  tap?: string
  /** stream with a tap sink: the bytes it is given (a PostgreSQL restore's copy of the dump) */
  tapBytes?: Buffer
}

export type Script = (call: Call) => Answer | undefined

function result(answer: Omit<Answer, 'producer' | 'tap'> = {}): ProcessResult {
  return {exitCode: answer.exitCode === undefined ? 0 : answer.exitCode, signal: answer.signal ?? null, stdout: answer.stdout ?? '', stderr: answer.stderr ?? '', durationMs: 1, timedOut: false, interrupted: answer.interrupted ?? false}
}

function feed(text: string | undefined, onLine: ((line: string) => void) | undefined): void {
  if (!onLine || !text) return
  for (const line of text.replace(/\n$/, '').split('\n')) onLine(line)
}

export class RecordingExecutor implements Executor {
  readonly calls: Call[] = []

  /** `script` answers each call (undefined: exit 0, no output). `installed`: what `which` finds. */
  constructor(
    private readonly script: Script = () => undefined,
    private readonly installed: (name: string) => boolean = () => true,
  ) {}

  /** The command lines run so far, as `line`. */
  get lines(): string[] {
    return this.calls.map((c) => (c.consumer ? `${c.line} | ${c.consumer.argv.join(' ')}` : c.line))
  }

  #record(kind: CallKind, spec: CommandSpec, extra: Partial<Call> = {}): Answer {
    const call: Call = {kind, spec, line: spec.argv.join(' '), ...extra}
    this.calls.push(call)
    return this.script(call) ?? {}
  }

  async run(spec: CommandSpec, options: RunOptions = {}): Promise<ProcessResult> {
    const stdin = options.stdin && 'text' in options.stdin ? options.stdin.text : undefined
    const answer = this.#record('run', spec, stdin === undefined ? {} : {stdin})
    feed(answer.stdout, options.onStdoutLine)
    feed(answer.stderr, options.onStderrLine)
    const out = result(answer)
    // Like the real runner: stdout given line by line is not kept unless asked.
    if (options.onStdoutLine && !options.keepStdout) out.stdout = ''
    return out
  }

  async pipe(producer: CommandSpec, consumer: CommandSpec, options: {onConsumerStdoutLine?: (line: string) => void} = {}): Promise<PipeResult> {
    const answer = this.#record('pipe', producer, {consumer})
    feed(answer.stdout, options.onConsumerStdoutLine)
    return {producer: result(answer.producer), consumer: result(answer), consumerStopped: false}
  }

  async stream(producer: CommandSpec, consumer: CommandSpec, options: StreamOptions = {}): Promise<StreamResult> {
    const answer = this.#record('stream', producer, {consumer})
    feed(answer.stdout, options.onConsumerStdoutLine)
    feed(answer.stderr, options.onConsumerStderrLine)
    if (options.onTapLine) feed(answer.tap, options.onTapLine)
    if (options.tapSink) await new Promise<void>((resolve) => options.tapSink!.end(answer.tapBytes ?? Buffer.alloc(0), () => resolve()))
    const tap = result({stdout: options.onTapLine ? '' : (answer.tap ?? '')})
    return {producer: result(answer.producer), consumer: result(answer), ...(options.tap && {tee: result(), tap, tapStages: [tap]}), ...(options.tapSink && {tee: result()})}
  }

  async toFile(spec: CommandSpec): Promise<ProcessResult> {
    return result(this.#record('toFile', spec))
  }

  async toStream(spec: CommandSpec): Promise<ProcessResult & {bytes: number}> {
    const answer = this.#record('toStream', spec)
    return {...result(answer), bytes: 0}
  }

  async group(spec: CommandSpec): Promise<ProcessResult> {
    return result(this.#record('group', spec))
  }

  which(name: string): string | undefined {
    return this.installed(name) ? (name.includes('/') ? name : `/usr/bin/${name}`) : undefined
  }
}
