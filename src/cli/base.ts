// The one base class for every command: --json, a redacting Ui on stderr, results on stdout, and errors rendered
// once with their location and a suggestion (a stack trace only with DEBUG=kamal-backup*).
import {Command} from '@oclif/core/command'
import {ExitCode, formatLocation, InterruptedError, isKamalBackupError, KamalBackupError} from '../errors.js'
import {Redactor} from '../redact.js'
import {isDebugEnabled, Ui} from './ui.js'

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  #ui: Ui | undefined

  /** Stderr logger, redacting, quiet under --json. */
  protected get ui(): Ui {
    this.#ui ??= new Ui({quiet: this.jsonEnabled(), redactor: new Redactor().addEnvironment(process.env)})
    return this.#ui
  }

  protected get redactor(): Redactor {
    return this.ui.redactor
  }

  /** Writes a human result to stdout (never under --json: the returned value is printed instead). */
  protected out(text: string): void {
    if (this.jsonEnabled()) return
    process.stdout.write(this.redactor.redact(text.endsWith('\n') ? text : text + '\n'))
  }

  /** The JSON printed for a successful --json run goes through the redactor too. */
  protected override toSuccessJson(result: unknown): unknown {
    return this.redactor.redactValue(result)
  }

  protected override toErrorJson(err: unknown): unknown {
    const error = asKamalBackupError(err)
    return {error: this.redactor.redactValue(error.toJSON())}
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<void> {
    const error = asKamalBackupError(err)
    process.exitCode = error.exitCode
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(error))
      return
    }
    this.renderError(error, err)
  }

  protected renderError(error: KamalBackupError, original: unknown): void {
    const s = this.ui.style
    const lines: string[] = []
    const where = formatLocation(error.location)
    lines.push(`${s.red(s.bold('Error:'))} ${where ? s.bold(where) + ': ' : ''}${error.message}`)
    for (const suggestion of error.suggestions) lines.push(`  ${s.cyan('→')} ${suggestion}`)
    if (isDebugEnabled() && original instanceof Error && original.stack) lines.push(s.dim(original.stack))
    else if (error.code === 'internal/bug') lines.push(s.dim('  Run again with DEBUG=kamal-backup* for the stack trace, and please report it.'))
    this.ui.raw(lines.join('\n') + '\n')
  }
}

/** Turns anything thrown into a KamalBackupError: our own pass through, oclif's parser errors are usage errors,
 *  anything else is a bug. */
export function asKamalBackupError(err: unknown): KamalBackupError {
  if (isKamalBackupError(err)) return err
  const anyErr = err as {message?: string; oclif?: {exit?: number}; code?: string; suggestions?: string[]; name?: string}
  if (anyErr?.oclif?.exit !== undefined) {
    // oclif: flag/argument parsing (exit 2) and this.error() calls.
    const exit = anyErr.oclif.exit
    return new KamalBackupError(cleanOclifMessage(anyErr.message ?? 'usage error'), {
      code: exit === ExitCode.usage ? 'usage/invalid' : 'command/failed',
      exitCode: exit,
      suggestions: anyErr.suggestions ?? (exit === ExitCode.usage ? ['See --help for the flags and arguments this command takes.'] : []),
    })
  }
  if (anyErr?.name === 'AbortError' || (err as NodeJS.ErrnoException)?.code === 'ABORT_ERR') {
    return new InterruptedError()
  }
  const message = err instanceof Error ? err.message : String(err)
  return new KamalBackupError(`unexpected error: ${message}`, {code: 'internal/bug', exitCode: ExitCode.failed, cause: err})
}

function cleanOclifMessage(message: string): string {
  // oclif appends "See more help with --help" to parser errors; our suggestion says it instead.
  return message.replace(/\n*See more help with --help\s*$/, '').trim()
}
