// Everything the CLI tells a human goes through here, on stderr: results go to stdout from the commands.
// On a TTY lines are short and coloured; elsewhere (CI, Docker logs) each line carries a UTC timestamp and a level,
// and is written unbuffered. Every line is redacted.
import type {Log} from '../log.js'
import {Redactor} from '../redact.js'
import {style, type Style} from './style.js'

export type Level = 'debug' | 'info' | 'warn' | 'error'

export interface UiOptions {
  stream?: NodeJS.WritableStream & {isTTY?: boolean}
  redactor?: Redactor
  /** Under --json only warnings and errors reach stderr. */
  quiet?: boolean
  debug?: boolean
  now?: () => Date
}

export class Ui implements Log {
  readonly redactor: Redactor
  readonly stream: NodeJS.WritableStream & {isTTY?: boolean}
  readonly isTTY: boolean
  readonly style: Style
  readonly quiet: boolean
  readonly debugEnabled: boolean
  readonly #now: () => Date
  /** The last lines written (or, under --json, held back), redacted: what a notification quotes of a run's log. */
  readonly #recent: string[] = []
  /** While a terminal task list renders, lines go to it (src/cli/progress.ts): a line written between its frames
   *  would leave a stale frame, a spinner that never stops, on the screen. */
  #sink: ((line: string) => void) | undefined

  constructor(options: UiOptions = {}) {
    this.stream = options.stream ?? process.stderr
    this.isTTY = Boolean(this.stream.isTTY) && process.env.TERM !== 'dumb'
    this.redactor = options.redactor ?? new Redactor()
    this.style = style(this.isTTY && !('NO_COLOR' in process.env))
    this.quiet = options.quiet ?? false
    this.debugEnabled = options.debug ?? isDebugEnabled()
    this.#now = options.now ?? (() => new Date())
  }

  debug(message: string): void {
    if (this.debugEnabled) this.#line('debug', message)
  }

  info(message: string): void {
    if (this.quiet) this.#remember('info', this.redactor.redact(message))
    else this.#line('info', message)
  }

  /** A line that reads as good news on a TTY (a tick) and as INFO elsewhere. */
  success(message: string): void {
    if (this.quiet) this.#remember('info', this.redactor.redact(message))
    else this.#line('info', message, 'success')
  }

  /** The last `count` lines of this run's log (timestamped, redacted), including those --json held back. */
  recentLines(count = 50): string[] {
    return this.#recent.slice(-count)
  }

  #remember(level: Level, text: string): void {
    const stamp = this.#now().toISOString()
    for (const line of text.split('\n')) this.#recent.push(`${stamp} ${level.toUpperCase().padEnd(5)} ${line}`)
    if (this.#recent.length > 400) this.#recent.splice(0, this.#recent.length - 200)
  }

  warn(message: string): void {
    this.#line('warn', message)
  }

  error(message: string): void {
    this.#line('error', message)
  }

  /** Sends every line to `sink` instead of the stream until called again with the previous sink (returned). */
  divert(sink: ((line: string) => void) | undefined): ((line: string) => void) | undefined {
    const previous = this.#sink
    this.#sink = sink
    return previous
  }

  /** Writes pre-formatted text (already containing newlines) as is, redacted. */
  raw(text: string): void {
    this.stream.write(this.redactor.redact(text))
  }

  #line(level: Level, message: string, flavour?: 'success'): void {
    const text = this.redactor.redact(message)
    this.#remember(level, text)
    if (this.isTTY) {
      const s = this.style
      const prefix =
        level === 'error' ? s.red('✖ ') : level === 'warn' ? s.yellow('! ') : flavour === 'success' ? s.green('✔ ') : level === 'debug' ? s.dim('· ') : ''
      const line = prefix + (level === 'debug' ? s.dim(text) : text)
      if (this.#sink) this.#sink(line)
      else this.stream.write(line + '\n')
      return
    }
    const stamp = this.#now().toISOString()
    const tag = level.toUpperCase().padEnd(5)
    for (const line of text.split('\n')) this.stream.write(`${stamp} ${tag} ${line}\n`)
  }
}

export function isDebugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.DEBUG ?? ''
  return value.split(',').some((part) => {
    const p = part.trim()
    return p === '*' || p === 'kamal-backup' || p.startsWith('kamal-backup*') || p.startsWith('kamal-backup:')
  })
}
