// How each kind of target is told: an HTTP request (webhook, healthchecks, ntfy, slack) or a command. Every send
// has a deadline (5 s); a send that failed fast (the connection refused or reset, an HTTP 5xx or 429) is tried again
// twice, a little later; one that timed out is not (a target that never answers costs its deadline, once).
import {runChecked, type Executor} from '../exec/executor.js'
import {lastLines} from '../exec/local.js'
import type {NotificationPayload} from './payload.js'

export const SEND_TIMEOUT_MS = 5000
const RETRY_DELAYS_MS = [500, 1500]

/** A target with its URL and signing secret resolved (they are secrets: never shown). */
export type ResolvedTarget =
  | {index: number; type: 'webhook'; url: string; signingSecret?: string}
  | {index: number; type: 'healthchecks' | 'ntfy' | 'slack'; url: string}
  | {index: number; type: 'command'; command: readonly string[]}

export interface Delivery {
  ok: boolean
  /** The HTTP status, or the command's exit code. */
  status: number | null
  attempts: number
  duration_ms: number
  error: string | null
}

export interface SendContext {
  exec: Executor
  signal?: AbortSignal
  version: string
  /** The run's last log lines (healthchecks shows them with the ping). */
  logTail: () => string[]
  timeoutMs?: number
}

interface Request {
  url: string
  body: string
  headers: Record<string, string>
}

/** The HTTP request a target gets for a payload (the command target has none). */
export function requestFor(target: Exclude<ResolvedTarget, {type: 'command'}>, payload: NotificationPayload, logTail: () => string[], version: string): Request {
  const headers: Record<string, string> = {'user-agent': `kamal-backup/${version}`}
  switch (target.type) {
    case 'webhook': {
      const body = JSON.stringify(payload)
      headers['content-type'] = 'application/json'
      headers['x-kamal-backup-event'] = payload.event
      if (target.signingSecret !== undefined) headers['x-kamal-backup-signature'] = `sha256=${hmac(target.signingSecret, body)}`
      return {url: target.url, body, headers}
    }
    case 'healthchecks': {
      // healthchecks.io's protocol: /start, success on the URL itself, /fail; anything else is only logged.
      const suffix = payload.event === 'started' ? '/start' : payload.event === 'ok' || payload.event === 'test' ? '' : /failed/.test(payload.event) ? '/fail' : '/log'
      headers['content-type'] = 'text/plain; charset=utf-8'
      return {url: target.url.replace(/\/+$/, '') + suffix, body: [payload.message, '', ...logTail()].join('\n').slice(-90_000), headers}
    }
    case 'ntfy': {
      headers['title'] = `kamal-backup ${payload.app}: ${payload.event}`
      headers['priority'] = payload.status === 'failed' ? 'high' : 'default'
      headers['tags'] = payload.status === 'failed' ? 'rotating_light' : payload.warnings.length > 0 ? 'warning' : 'white_check_mark'
      headers['content-type'] = 'text/plain; charset=utf-8'
      return {url: target.url, body: payload.message, headers}
    }
    case 'slack':
      headers['content-type'] = 'application/json'
      return {url: target.url, body: JSON.stringify({text: payload.message}), headers}
  }
}

function hmac(secret: string, body: string): string {
  // Loaded here: node:crypto is not needed on the start-up path of every command.
  const {createHmac} = process.getBuiltinModule('node:crypto')
  return createHmac('sha256', secret).update(body).digest('hex')
}

/** Sends one payload to one target. Never throws: the result says how it went. */
export async function send(target: ResolvedTarget, payload: NotificationPayload, context: SendContext): Promise<Delivery> {
  const started = Date.now()
  const timeoutMs = context.timeoutMs ?? SEND_TIMEOUT_MS
  let attempts = 0
  for (;;) {
    attempts++
    const outcome = target.type === 'command' ? await runCommand(target.command, payload, context, timeoutMs) : await post(requestFor(target, payload, context.logTail, context.version), timeoutMs)
    const delay = RETRY_DELAYS_MS[attempts - 1]
    if (outcome.ok || !outcome.retry || delay === undefined) {
      return {ok: outcome.ok, status: outcome.status, attempts, duration_ms: Date.now() - started, error: outcome.error}
    }
    await new Promise((r) => setTimeout(r, delay))
  }
}

interface Outcome {
  ok: boolean
  status: number | null
  error: string | null
  retry: boolean
}

async function post(request: Request, timeoutMs: number): Promise<Outcome> {
  try {
    const response = await httpRequest('POST', new URL(request.url), request.headers, request.body, AbortSignal.timeout(timeoutMs))
    if (response.status >= 200 && response.status < 300) return {ok: true, status: response.status, error: null, retry: false}
    return {ok: false, status: response.status, error: `HTTP ${response.status} ${response.statusText}`.trim(), retry: response.status >= 500 || response.status === 429}
  } catch (error) {
    const e = error as Error & {code?: string}
    if (e.name === 'AbortError') return {ok: false, status: null, error: `no answer within ${timeoutMs / 1000} s`, retry: false}
    if (e.name === 'RedirectError') return {ok: false, status: null, error: e.message, retry: false}
    // The code alone (ECONNREFUSED, ENOTFOUND, ...): the message would name the host, a part of a secret URL.
    return {ok: false, status: null, error: e.code ?? e.message, retry: true}
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const MAX_REDIRECTS = 5

/** One HTTP request with node:http(s), following redirects (307/308 repeat the POST, the others turn it into a
 *  GET, as browsers do). Not fetch(): loading it costs a run about 50 ms of CPU and 40 MiB, for two small posts. */
async function httpRequest(method: string, url: URL, headers: Record<string, string>, body: string | undefined, signal: AbortSignal, redirects = 0): Promise<{status: number; statusText: string}> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw Object.assign(new Error(`unsupported URL scheme ${url.protocol}`), {name: 'RedirectError'})
  const {request} = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http') as typeof import('node:http')
  const answer = await new Promise<{status: number; statusText: string; location: string | undefined}>((resolve, reject) => {
    const outgoing = body === undefined ? headers : {...headers, 'content-length': String(Buffer.byteLength(body))}
    const req = request(url, {method, headers: outgoing, signal, agent: false}, (res) => {
      // The answer is not needed; reading it to the end lets the connection close.
      res.resume()
      res.on('end', () => resolve({status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', location: res.headers.location}))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
  if (!REDIRECTS.has(answer.status) || answer.location === undefined) return answer
  if (redirects >= MAX_REDIRECTS) throw Object.assign(new Error(`more than ${MAX_REDIRECTS} redirects`), {name: 'RedirectError'})
  const keep = answer.status === 307 || answer.status === 308
  const next = keep ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'content-type'))
  return httpRequest(keep ? method : 'GET', new URL(answer.location, url), next, keep ? body : undefined, signal, redirects + 1)
}

/** The operator's own program, without a shell, with the document on stdin and none of this process's secrets
 *  (only PATH, HOME, LANG and TZ are passed on). */
async function runCommand(command: readonly string[], payload: NotificationPayload, context: SendContext, timeoutMs: number): Promise<Outcome> {
  try {
    const result = await runChecked(context.exec, {argv: command as [string, ...string[]], label: 'notify command', inheritEnv: ['PATH', 'HOME', 'LANG', 'TZ']}, {stdin: {text: JSON.stringify(payload) + '\n'}, timeoutMs, ...(context.signal && {signal: context.signal})})
    return {ok: true, status: result.exitCode, error: null, retry: false}
  } catch (error) {
    const e = error as Error & {result?: {exitCode: number | null; stderr: string; timedOut: boolean}}
    if (e.result?.timedOut) return {ok: false, status: null, error: `no exit within ${timeoutMs / 1000} s`, retry: false}
    return {ok: false, status: e.result?.exitCode ?? null, error: e.result ? `exit ${e.result.exitCode}${e.result.stderr ? `: ${lastLines(e.result.stderr, 3)}` : ''}` : e.message, retry: false}
  }
}
