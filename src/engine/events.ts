// What happens during a run, as events: a backup started, each of its steps finished, it finished (also when it
// was skipped or refused); a drill, a restore or a maintenance command finished. The engine emits them at those
// moments and knows nothing of who listens: the CLI prints a failed step's error from them, and notifications or
// metrics subscribe here instead of being written into runBackup.
import type {BackupRunRecord, DrillRecord, MaintenanceRecord, RestoreResult, StepRecord} from '../documents.js'
import {errorMessage} from '../errors.js'
import type {Log} from '../log.js'

export type RunEvent =
  | {type: 'backup-started'; app: string; run_id: string; trigger: BackupRunRecord['trigger']; started_at: string}
  /** `title` is the step as progress shows it; `error` the failure itself (suggestions included), when it failed. */
  | {type: 'step-finished'; app: string; run_id: string; step: StepRecord; title: string; error?: unknown}
  /** Every attempt ends with one: ok, failed (`error` when it failed before any step), or skipped (not due,
   *  disabled, another run holding the lock). */
  | {type: 'backup-finished'; record: BackupRunRecord; error?: unknown}
  | {type: 'drill-finished'; record: DrillRecord}
  | {type: 'restore-started'; record: RestoreResult}
  | {type: 'restore-finished'; record: RestoreResult}
  | {type: 'maintenance-finished'; record: MaintenanceRecord}
  /** The scheduler's runs have kept failing for two schedule intervals. */
  | {type: 'stale'; app: string; last_success_at: string | null; since_seconds: number}

export type RunEventListener = (event: RunEvent) => void | Promise<void>

export class RunEvents {
  readonly #listeners = new Set<RunEventListener>()
  readonly #pending = new Set<Promise<void>>()

  constructor(private readonly log?: Pick<Log, 'warn'>) {}

  /** Subscribes; returns the function that unsubscribes. */
  on(listener: RunEventListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Tells every listener. A listener never changes a run: what it throws (or rejects with) is only warned
   *  about, and asynchronous work goes on while the run continues (see settled). */
  emit(event: RunEvent): void {
    for (const listener of this.#listeners) {
      try {
        const result = listener(event)
        if (result instanceof Promise) {
          const tracked: Promise<void> = result.catch((error: unknown) => this.#warn(event, error)).finally(() => this.#pending.delete(tracked))
          this.#pending.add(tracked)
        }
      } catch (error) {
        this.#warn(event, error)
      }
    }
  }

  /** Resolves once the listeners' asynchronous work has finished (a command waits for it before it exits). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending])
  }

  #warn(event: RunEvent, error: unknown): void {
    this.log?.warn(`a listener of ${event.type} failed: ${errorMessage(error)}`)
  }
}
