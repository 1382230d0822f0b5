import {test} from 'node:test'
import assert from 'node:assert/strict'
import {PassThrough, Writable} from 'node:stream'
import {CountingSink, formatPlanLine, parsePlanLine, planFilter} from '../../../src/remote/dump.js'
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

test('the counting sink counts what passes, keeps backpressure, and keeps the target\'s first error', async () => {
  const target = new PassThrough({highWaterMark: 4})
  const sink = new CountingSink(target)
  const seen: number[] = []
  sink.onProgress = (n) => seen.push(n)
  const received: Buffer[] = []
  target.on('data', (b: Buffer) => received.push(b))
  sink.write(Buffer.from('hello '))
  sink.write(Buffer.from('world'))
  await new Promise<void>((resolve) => sink.end(resolve))
  assert.equal(sink.bytes, 11)
  assert.equal(Buffer.concat(received).toString(), 'hello world')
  assert.deepEqual(seen, [6])
  const failing = new Writable({write: (_c, _e, done) => done(new Error('ENOSPC: no space left on device'))})
  const broken = new CountingSink(failing)
  broken.write(Buffer.from('x'))
  await new Promise((resolve) => setImmediate(resolve))
  assert.match(broken.error?.message ?? '', /ENOSPC/)
  assert.equal(broken.destroyed, true)
})
