import {test} from 'node:test'
import assert from 'node:assert/strict'
import {PassThrough, Writable} from 'node:stream'
import {runToStream} from '../../../src/exec/pipeline.js'

const sh = (script: string) => ({argv: ['sh', '-c', script] as const, label: 'sh'})

test('runToStream: the stdout bytes, counted, into the sink, which is not ended; the exit code is the command\'s', async () => {
  const sink = new PassThrough()
  const chunks: Buffer[] = []
  sink.on('data', (b: Buffer) => chunks.push(b))
  const seen: number[] = []
  const r = await runToStream(sh('head -c 300000 /dev/zero; printf tail; exit 3'), sink, {onBytes: (n) => seen.push(n)})
  assert.equal(r.exitCode, 3)
  assert.equal(r.bytes, 300_004)
  assert.equal(Buffer.concat(chunks).length, 300_004)
  assert.equal(seen.at(-1), 300_004)
  assert.equal(sink.writableEnded, false)
})

test('runToStream: a sink that fails stops the command; the error is kept', async () => {
  const failing = new Writable({write: (_c, _e, done) => done(Object.assign(new Error('EPIPE'), {code: 'EPIPE'}))})
  const r = await runToStream(sh('exec yes'), failing)
  assert.match(r.sinkError?.message ?? '', /EPIPE/)
  assert.notEqual(r.exitCode, 0)
})

test('runToStream: an abort interrupts the command', async () => {
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 100)
  const r = await runToStream(sh('exec sleep 30'), new PassThrough(), {signal: controller.signal})
  assert.equal(r.interrupted, true)
})
