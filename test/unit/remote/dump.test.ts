import {test} from 'node:test'
import assert from 'node:assert/strict'
import {Writable} from 'node:stream'
import {formatPlanLine, parsePlanLine, planFilter} from '../../../src/remote/dump.js'
import type {DumpPlan} from '../../../src/documents.js'

const PLAN: DumpPlan = {kind: 'dump-plan', app: 'shop', run_id: '20261201T030000Z', run_time: '2026-12-01T03:00:00Z', database: 'primary', adapter: 'postgres', snapshot_id: 'a'.repeat(64), short_id: 'aaaaaaaa', path: '/shop.primary.pgdump', bytes: 1234}

function collect(): {stream: Writable; text: () => string} {
  const chunks: string[] = []
  return {stream: new Writable({write: (chunk: Buffer, _e, done) => (chunks.push(chunk.toString()), done())}), text: () => chunks.join('')}
}

test('the plan line round-trips; anything else is not a plan', () => {
  assert.deepEqual(parsePlanLine(formatPlanLine(PLAN)), PLAN)
  assert.equal(parsePlanLine('@kamal-backup-dump-plan {"kind":"restore-plan"}\n'), undefined)
  assert.equal(parsePlanLine('@kamal-backup-dump-plan {not json\n'), undefined)
  assert.equal(parsePlanLine('INFO  dump primary\n'), undefined)
})

test('the stderr filter takes the plan line out (even split across chunks) and passes every other byte through', async () => {
  const out = collect()
  const plans: DumpPlan[] = []
  const filter = planFilter(out.stream, (p) => plans.push(p))
  const line = formatPlanLine(PLAN)
  const text = `a warning before\n${line}progress 1\nprogress 2 without end`
  for (let i = 0; i < text.length; i += 7) filter.write(Buffer.from(text.slice(i, i + 7)))
  await new Promise<void>((resolve) => filter.end(resolve))
  assert.deepEqual(plans, [PLAN])
  assert.equal(out.text(), 'a warning before\nprogress 1\nprogress 2 without end')
})

test('without a plan line, stderr passes through whole (the accessory\'s error)', async () => {
  const out = collect()
  const filter = planFilter(out.stream, () => assert.fail('no plan'))
  filter.write(Buffer.from('Error: no complete run\n  → run a backup'))
  await new Promise<void>((resolve) => filter.end(resolve))
  assert.equal(out.text(), 'Error: no complete run\n  → run a backup')
})
