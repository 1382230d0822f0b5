// Notifications: a listener of the run's events (src/engine/events.ts) that tells every notify[] target the events
// in its `events` list. Delivery never changes a run or its exit code: each target is sent to in parallel, with a
// deadline; a failed delivery is warned about, appended to notifications.jsonl in the state directory and shown by
// `evidence`. URLs and signing secrets are secrets: registered with the redactor the moment they are resolved.
import {hostname} from 'node:os'
import {resolveValue, type SecretSource} from '../config/resolve.js'
import type {NotifyTarget} from '../config/types.js'
import type {BackupRunRecord} from '../documents.js'
import {isRestorePoint} from '../documents.js'
import type {RunEvent, RunEventListener} from '../engine/events.js'
import {STATE_FILES, type StateDir} from '../engine/state.js'
import {errorMessage} from '../errors.js'
import type {Executor} from '../exec/executor.js'
import type {Log} from '../log.js'
import type {Redactor} from '../redact.js'
import {payloadsFor, testPayload, type NotificationPayload, type PreviousAttempt} from './payload.js'
import {send, type Delivery, type ResolvedTarget} from './transports.js'

export interface NotifierOptions {
  app: string
  targets: readonly NotifyTarget[]
  secrets: SecretSource
  redactor: Redactor
  exec: Executor
  state: StateDir
  log: Pick<Log, 'warn'>
  version: string
  logTail: () => string[]
  signal?: AbortSignal
  now?: () => Date
  timeoutMs?: number
}

/** One line of notifications.jsonl: a delivery that failed. */
export interface DeliveryFailure {
  at: string
  target: number
  type: NotifyTarget['type']
  event: NotificationPayload['event']
  attempts: number
  status: number | null
  error: string
}

/** The target with its secrets resolved; a secret that is missing is the delivery's error. */
export function resolveTarget(target: NotifyTarget, index: number, secrets: SecretSource, redactor: Redactor): ResolvedTarget {
  if (target.type === 'command') return {index, type: 'command', command: target.command}
  // The whole URL is secret, whether it came from a secret or was written in the file: webhook and push URLs
  // carry their token in the path.
  const url = resolveValue(target.url, `notify[${index}].url`, secrets, redactor)
  redactor.add(url)
  if (target.type === 'webhook') {
    const signingSecret = target.signingSecret ? resolveValue(target.signingSecret, `notify[${index}].signing_secret`, secrets, redactor) : undefined
    return {index, type: 'webhook', url, ...(signingSecret !== undefined && {signingSecret})}
  }
  return {index, type: target.type, url}
}

/** Sends one payload to one target, resolving it first; the outcome, never an exception. */
async function deliver(options: NotifierOptions, target: NotifyTarget, index: number, payload: NotificationPayload): Promise<Delivery & {target: number; type: NotifyTarget['type']}> {
  const started = Date.now()
  let resolved: ResolvedTarget
  try {
    resolved = resolveTarget(target, index, options.secrets, options.redactor)
  } catch (error) {
    return {target: index, type: target.type, ok: false, status: null, attempts: 0, duration_ms: Date.now() - started, error: errorMessage(error)}
  }
  const delivery = await send(resolved, payload, {exec: options.exec, version: options.version, logTail: options.logTail, ...(options.signal && {signal: options.signal}), ...(options.timeoutMs !== undefined && {timeoutMs: options.timeoutMs})})
  return {target: index, type: target.type, ...delivery, error: delivery.error === null ? null : options.redactor.redact(delivery.error)}
}

function record(options: NotifierOptions, payload: NotificationPayload, outcome: Delivery & {target: number; type: NotifyTarget['type']}): void {
  if (outcome.ok) return
  const failure: DeliveryFailure = {at: (options.now ?? (() => new Date()))().toISOString(), target: outcome.target, type: outcome.type, event: payload.event, attempts: outcome.attempts, status: outcome.status, error: outcome.error ?? 'failed'}
  options.log.warn(`notification ${payload.event} to notify[${outcome.target}] (${outcome.type}) failed: ${failure.error}`)
  try {
    options.state.append(STATE_FILES.notifications, options.redactor.redactValue(failure))
  } catch (error) {
    options.log.warn(`cannot record the failed notification: ${errorMessage(error)}`)
  }
}

/** The listener the CLI subscribes to an engine's events when notify[] has targets. */
export function notifier(options: NotifierOptions): RunEventListener {
  const host = hostname()
  // The attempt before the one that just finished (runs.jsonl already has it), for `recovered`.
  const previous = (): PreviousAttempt => options.state.history<BackupRunRecord>(STATE_FILES.runs).filter((r) => r.status !== 'skipped' && !isRestorePoint(r)).at(-2)
  return async (event: RunEvent) => {
    const payloads = payloadsFor(event, {app: options.app, host, previous})
    const sends: Promise<void>[] = []
    for (const payload of payloads) {
      options.targets.forEach((target, index) => {
        if (payload.event !== 'test' && !target.events.includes(payload.event)) return
        sends.push(deliver(options, target, index, options.redactor.redactValue(payload)).then((outcome) => record(options, payload, outcome)))
      })
    }
    await Promise.all(sends)
  }
}

/** `notify test`: a test event to every target (or one), each result returned. */
export async function sendTest(options: NotifierOptions, only?: number): Promise<(Delivery & {target: number; type: NotifyTarget['type']})[]> {
  const payload = testPayload(options.app, hostname(), (options.now ?? (() => new Date()))())
  const picked = options.targets.map((target, index) => ({target, index})).filter(({index}) => only === undefined || index === only)
  return Promise.all(
    picked.map(async ({target, index}) => {
      const outcome = await deliver(options, target, index, payload)
      record(options, payload, outcome)
      return outcome
    }),
  )
}
