// The data behind `evidence --html`: the evidence document, unchanged (its digest and signature still verify), and
// beside it the recent history the report's charts need — backup runs (runs.jsonl), drills (drills.jsonl) and
// restores (restores.jsonl) — which the evidence only summarises. schemas/output/report.schema.json.
import type {BackupRunRecord, DrillRecord, RestoreResult} from '../documents.js'
import type {Engine} from './context.js'
import {buildEvidence, type Evidence} from './evidence.js'
import {STATE_FILES} from './state.js'

/** How far back the history goes: the last 90 days, and at most 500 records of each kind (newest kept). A run
 *  every hour for 90 days is 2160 runs: 500 is three weeks of those, and still a readable timeline. */
export const REPORT_HISTORY_DAYS = 90
export const REPORT_HISTORY_LIMIT = 500

export interface ReportHistory {
  /** Records finished before this time are left out. */
  since: string
  /** At most this many records of each kind (the newest). */
  limit: number
  /** Each state file's records, oldest first, within `since` and `limit`. */
  runs: BackupRunRecord[]
  drills: DrillRecord[]
  restores: RestoreResult[]
  /** How many records each file holds that were left out (older than `since`, or past `limit`). */
  omitted: {runs: number; drills: number; restores: number}
}

/** One further repository the runs are copied to (the evidence's `copies`, where the version has them). */
export interface ReportCopy {
  name: string
  repository: string
  last_copy_at: string | null
  last_copied_run_id: string | null
  status: 'ok' | 'failed' | 'never'
  error: string | null
}

export interface Report {
  schema_version: 1
  kind: 'report'
  /** The evidence document exactly as `evidence` prints it (`copies` only from versions that copy). */
  evidence: Evidence & {copies?: ReportCopy[]}
  history: ReportHistory
}

export async function buildReport(engine: Engine, version: string): Promise<Report> {
  const evidence = await buildEvidence(engine, version)
  const since = new Date(engine.now().getTime() - REPORT_HISTORY_DAYS * 86_400_000)
  const runs = recent(engine.state.history<BackupRunRecord>(STATE_FILES.runs), since)
  const drills = recent(engine.state.history<DrillRecord>(STATE_FILES.drills), since)
  const restores = recent(engine.state.history<RestoreResult>(STATE_FILES.restores), since)
  // The records were redacted when they were written; again here, with today's secrets, as evidence does.
  const history = engine.redactor.redactValue({runs: runs.kept, drills: drills.kept, restores: restores.kept})
  return {
    schema_version: 1,
    kind: 'report',
    evidence,
    history: {
      since: since.toISOString(),
      limit: REPORT_HISTORY_LIMIT,
      ...history,
      omitted: {runs: runs.omitted, drills: drills.omitted, restores: restores.omitted},
    },
  }
}

/** The records finished at or after `since` (a record without a readable time is kept), the newest `limit`. */
function recent<T extends {finished_at?: string | null; started_at?: string}>(records: T[], since: Date): {kept: T[]; omitted: number} {
  const inWindow = records.filter((r) => {
    const time = Date.parse(r.finished_at ?? r.started_at ?? '')
    return Number.isNaN(time) || time >= since.getTime()
  })
  const kept = inWindow.slice(-REPORT_HISTORY_LIMIT)
  return {kept, omitted: records.length - kept.length}
}
