// What each run event becomes for the notify targets (src/notify/payload.ts) and the request each kind of target
// gets (src/notify/transports.ts requestFor); real deliveries are in test/integration/engine/notify.test.ts.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {createHmac} from 'node:crypto'
import type {BackupRunRecord, DrillRecord} from '../../../src/documents.ts'
import {payloadsFor, testPayload} from '../../../src/notify/payload.ts'
import {requestFor} from '../../../src/notify/transports.ts'
import {assertMatchesSchema} from '../../support/schemas.ts'

const record = (over: Partial<BackupRunRecord>): BackupRunRecord => ({
  schema_version: 1, kind: 'backup_run', app: 'shop', run_id: '20261207T030000Z', status: 'ok', reason: null, trigger: 'scheduled',
  started_at: '2026-12-07T03:00:00.000Z', finished_at: '2026-12-07T03:00:12.345Z', duration_ms: 12345, restic_version: '0.18.1', repository: 's3:x',
  steps: [], failed_step: null, error: null, snapshots: [{group: 'files', id: 'a'.repeat(64), bytes: 10}], last_success_at: null, next_due_at: null, warnings: [], file_counts: [],
  ...over,
})
const context = {app: 'shop', host: 'vm1'}

test('a run: ok alone; ok, warning and recovered together; failed (also before its first step); busy is skipped; not due says nothing', () => {
  const events = (r: BackupRunRecord, previous?: BackupRunRecord) => payloadsFor({type: 'backup-finished', record: r}, {...context, previous: () => previous}).map((p) => p.event)
  assert.deepEqual(events(record({})), ['ok'])
  assert.deepEqual(events(record({warnings: ['path /x holds 1 files']}), record({status: 'failed', run_id: '20261206T030000Z'})), ['ok', 'warning', 'recovered'])
  assert.deepEqual(events(record({status: 'failed', failed_step: 'preflight', error: 'the repository server cannot be reached'})), ['failed'])
  assert.deepEqual(events(record({status: 'skipped', reason: 'busy', run_id: null, error: 'another run holds the lock'})), ['skipped'])
  assert.deepEqual(events(record({status: 'skipped', reason: 'not_due', run_id: null})), [])
  assert.deepEqual(events(record({trigger: 'pre-restore'})), [], 'a safety backup is its restore\'s business')
  const [failed] = payloadsFor({type: 'backup-finished', record: record({status: 'failed', failed_step: 'database:main', error: 'pg_dump exited with status 1'})}, context)
  assert.equal(failed!.message, 'shop: backup run 20261207T030000Z FAILED at step database:main: pg_dump exited with status 1')
  for (const p of payloadsFor({type: 'backup-finished', record: record({warnings: ['w']})}, {...context, previous: () => record({status: 'failed'})})) assertMatchesSchema('notification.schema.json', p)
})

test('drills, checks and restores; step events say nothing', () => {
  const drill = {app: 'shop', run_id: 'r', scope: 'production', status: 'failed', started_at: 't', finished_at: 't', duration_ms: 5, error: 'database main is missing tables: users'} as unknown as DrillRecord
  const [p] = payloadsFor({type: 'drill-finished', record: drill}, context)
  assert.equal(p!.event, 'drill_failed')
  assert.match(p!.message, /restore drill \(production\) of run r FAILED: database main is missing tables: users/)
  assert.deepEqual(payloadsFor({type: 'maintenance-finished', record: {schema_version: 1, kind: 'check', status: 'failed', started_at: 't', finished_at: 't', duration_ms: 1, output: null, error: 'pack damaged'}}, context).map((x) => x.event), ['check_failed'])
  assert.deepEqual(payloadsFor({type: 'maintenance-finished', record: {schema_version: 1, kind: 'prune', status: 'failed', started_at: 't', finished_at: 't', duration_ms: 1, output: null, error: 'x'}}, context), [])
  assert.deepEqual(payloadsFor({type: 'step-finished', app: 'shop', run_id: 'r', title: 't', step: {name: 'files', status: 'ok', started_at: null, duration_ms: 1}}, context), [])
  // A safety backup and a restore point before a deploy: neither start nor finish is told (a healthchecks /start
  // without its end would read as a backup that hung).
  for (const trigger of ['pre-restore', 'pre-deploy'] as const) {
    assert.deepEqual(payloadsFor({type: 'backup-started', app: 'shop', run_id: 'r', trigger, started_at: 't'}, context), [], trigger)
    assert.deepEqual(payloadsFor({type: 'backup-finished', record: record({trigger})}, context), [], trigger)
    assert.deepEqual(payloadsFor({type: 'backup-finished', record: record({trigger, status: 'failed', failed_step: 'files', error: 'x'})}, context), [], trigger)
  }
})

test('each target\'s request: the webhook signed, healthchecks by protocol path with the log, ntfy headers, slack text', () => {
  const ok = payloadsFor({type: 'backup-finished', record: record({})}, context)[0]!
  const failed = payloadsFor({type: 'backup-finished', record: record({status: 'failed', failed_step: 'files', error: 'boom'})}, context)[0]!
  const started = payloadsFor({type: 'backup-started', app: 'shop', run_id: 'r', trigger: 'scheduled', started_at: 't'}, context)[0]!
  const hook = requestFor({index: 0, type: 'webhook', url: 'https://h.example/x', signingSecret: 'k'}, ok, () => [], '1.2.3')
  assert.equal(hook.headers['x-kamal-backup-signature'], `sha256=${createHmac('sha256', 'k').update(hook.body).digest('hex')}`)
  assert.equal(hook.headers['user-agent'], 'kamal-backup/1.2.3')
  assert.deepEqual(JSON.parse(hook.body), ok)
  assert.equal(requestFor({index: 0, type: 'webhook', url: 'https://h.example/x'}, ok, () => [], '1').headers['x-kamal-backup-signature'], undefined)
  const hc = (p: typeof ok) => requestFor({index: 1, type: 'healthchecks', url: 'https://hc-ping.com/u/'}, p, () => ['2026-12-07T03:00:01Z INFO  a log line'], '1')
  assert.deepEqual([hc(started).url, hc(ok).url, hc(failed).url, hc(testPayload('shop', 'vm1', new Date())).url], ['https://hc-ping.com/u/start', 'https://hc-ping.com/u', 'https://hc-ping.com/u/fail', 'https://hc-ping.com/u'])
  assert.match(hc(failed).body, /^shop: backup run \S+ FAILED at step files: boom\n\n2026-12-07T03:00:01Z INFO {2}a log line$/)
  const ntfy = requestFor({index: 2, type: 'ntfy', url: 'https://ntfy.sh/t'}, failed, () => [], '1')
  assert.deepEqual([ntfy.headers['title'], ntfy.headers['priority'], ntfy.headers['tags']], ['kamal-backup shop: failed', 'high', 'rotating_light'])
  assert.deepEqual(JSON.parse(requestFor({index: 3, type: 'slack', url: 'https://hooks.slack.com/x'}, ok, () => [], '1').body), {text: ok.message})
})
