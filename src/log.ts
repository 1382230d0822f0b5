// What the layers below the CLI need from the terminal: lines by level and pre-formatted text, every one redacted
// by the implementation (the CLI's Ui, on stderr), and where a remote command's own stderr is passed through. The
// engine and the remote layer depend on this interface, never on the Ui class.
import type {Redactor} from './redact.js'

export interface Log {
  /** Every secret resolved so far; whatever is written through this log is redacted with it. */
  readonly redactor: Redactor
  /** Where raw output goes (stderr): the accessory's own stderr is streamed here byte for byte. */
  readonly stream: NodeJS.WritableStream
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
  error(message: string): void
  /** Text that is already formatted (newlines included). */
  raw(text: string): void
}
