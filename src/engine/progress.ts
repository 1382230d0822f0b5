// Progress for long steps. On a terminal: a listr2 task list (loaded only then); elsewhere one timestamped line
// per event through the Ui; under --json nothing at all.
import type {Ui} from '../cli/ui.js'

export interface TaskHandle {
  /** A transient detail (bytes, throughput); plain output shows it at most every 30 seconds. */
  update(detail: string): void
}

export interface Progress {
  task<T>(title: string, run: (task: TaskHandle) => Promise<T>, done?: (result: T) => string): Promise<T>
}

export const silentProgress: Progress = {
  task: (_title, run) => run({update: () => {}}),
}

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

/** A listr2 task list on stderr, for terminals. */
export async function listrProgress(ui: Ui): Promise<Progress> {
  const {Listr, ListrLogger, ProcessOutput} = await import('listr2')
  return {
    async task(title, run, done) {
      let result: Awaited<ReturnType<typeof run>> | undefined
      const list = new Listr(
        [
          {
            title,
            task: async (_ctx, task) => {
              const started = Date.now()
              result = await run({update: (detail) => (task.output = detail)})
              task.title = `${title}: ${done ? done(result) : 'done'} (${seconds(Date.now() - started)})`
            },
            rendererOptions: {bottomBar: 1, persistentOutput: false},
          },
        ],
        {
          exitOnError: true,
          rendererOptions: {
            formatOutput: 'truncate',
            // Progress belongs on stderr: stdout carries results.
            logger: new ListrLogger({processOutput: new ProcessOutput(process.stderr, process.stderr)}),
          },
        },
      )
      void ui
      await list.run()
      return result as Awaited<ReturnType<typeof run>>
    },
  }
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

/** "1 table", "2 tables". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}
