// A backup's failures, printed by the CLI as they happen: the engine records each failed step (and a run that
// failed before its first step) and emits it (src/engine/events.ts); the command layer prints it once, with what
// to do. An interrupt is not a failure to explain.
import type {RunEventListener} from '../engine/events.js'
import {InterruptedError, isKamalBackupError} from '../errors.js'
import type {Ui} from './ui.js'

export function failurePrinter(ui: Ui): RunEventListener {
  const print = (line: string, error: unknown) => {
    if (error instanceof InterruptedError) return
    ui.error(line)
    for (const suggestion of isKamalBackupError(error) ? error.suggestions : []) ui.error(`  → ${suggestion}`)
  }
  return (event) => {
    if (event.type === 'step-finished' && event.error !== undefined) print(`${event.title}: ${event.step.error}`, event.error)
    if (event.type === 'backup-finished' && event.error !== undefined && event.record.failed_step === 'preflight') print(`preflight: ${event.record.error}`, event.error)
  }
}
