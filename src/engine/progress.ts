// Progress for long steps, as the engine reports it: a task with a title, transient details, and a result line.
// The CLI renders it (src/cli/progress.ts: listr2 on a terminal, timestamped lines elsewhere, nothing under --json).

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
