// The renderers of the engine's progress: on a terminal a listr2 task list (loaded only then); elsewhere one
// timestamped line per event through the Ui; under --json the engine gets silentProgress.
import {seconds, type Progress} from '../engine/progress.js'
import type {Ui} from './ui.js'

export function plainProgress(ui: Ui, now: () => number = Date.now): Progress {
  return {
    async task(title, run, done) {
      ui.info(`${title}...`)
      let last = now()
      const started = now()
      try {
        const result = await run({
          update(detail) {
            if (now() - last >= 30_000) {
              last = now()
              ui.info(`${title}: ${detail}`)
            }
          },
        })
        ui.info(`${title}: ${done ? done(result) : 'done'} (${seconds(now() - started)})`)
        return result
      } catch (error) {
        ui.error(`${title}: failed (${seconds(now() - started)})`)
        throw error
      }
    },
  }
}

/** A listr2 task list on stderr, for terminals. Everything listr2 prints passes the redactor: the titles and
 *  details we hand it, and its stream (a second line of defence). A failed task shows only "failed": the error
 *  itself (redacted, with its suggestions) is printed once, by the caller. */
export async function listrProgress(ui: Ui): Promise<Progress> {
  const {Listr, ListrLogger, ProcessOutput} = await import('listr2')
  const redact = (text: string) => ui.redactor.redact(text)
  const stream = redactingStream(process.stderr, redact)
  return {
    async task(title, run, done) {
      let result: Awaited<ReturnType<typeof run>> | undefined
      let failure: {error: unknown} | undefined
      // What is said while the list renders (a repository being created, a stale lock removed) shows under the
      // task, and is printed once the list has drawn its last frame.
      const said: string[] = []
      let running: {output?: string} | undefined
      const previous = ui.divert((line) => {
        said.push(line)
        if (running) running.output = line
      })
      const list = new Listr(
        [
          {
            title: redact(title),
            task: async (_ctx, task) => {
              running = task
              const started = Date.now()
              try {
                result = await run({update: (detail) => (task.output = redact(detail))})
              } catch (error) {
                failure = {error}
                task.title = redact(`${title}: failed (${seconds(Date.now() - started)})`)
                throw new Error('failed')
              }
              task.title = redact(`${title}: ${done ? done(result) : 'done'} (${seconds(Date.now() - started)})`)
            },
            rendererOptions: {bottomBar: 1, persistentOutput: false},
          },
        ],
        {
          exitOnError: true,
          // listr2 would exit 127 on SIGINT, mid-frame: the command's own handler stops the work, which then ends
          // (and is recorded) as interrupted, exit 130.
          registerSignalListeners: false,
          rendererOptions: {
            formatOutput: 'truncate',
            showErrorMessage: false,
            // Progress belongs on stderr: stdout carries results.
            logger: new ListrLogger({processOutput: new ProcessOutput(stream, stream)}),
          },
        },
      )
      try {
        await list.run()
      } catch (error) {
        throw failure ? failure.error : error
      } finally {
        ui.divert(previous)
        for (const line of said) {
          if (previous) previous(line)
          else ui.raw(line + '\n')
        }
      }
      if (failure) throw failure.error
      return result as Awaited<ReturnType<typeof run>>
    },
  }
}

/** The terminal stream with every write redacted (listr2 writes whole frames, so a secret is not split). An
 *  object of its own whose prototype is the real stream (isTTY, columns): listr2 swaps the `write` of the streams
 *  it is given while it renders, and must not swap the real one under our feet. */
function redactingStream(target: NodeJS.WriteStream, redact: (text: string) => string): NodeJS.WriteStream {
  const stream = Object.create(target) as NodeJS.WriteStream
  Object.defineProperty(stream, 'write', {
    configurable: true,
    writable: true,
    value: (chunk: unknown, ...rest: unknown[]) => (target.write as (...args: unknown[]) => boolean).call(target, typeof chunk === 'string' ? redact(chunk) : Buffer.isBuffer(chunk) ? redact(chunk.toString('utf8')) : chunk, ...rest),
  })
  return stream
}
