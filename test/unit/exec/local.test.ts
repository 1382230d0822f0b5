// The local process runner (src/exec/local.ts), each from an auditor's finding: raw stdout kept whole (a JSON
// document longer than 1 MiB) and bounded, the open deadline that stops a restic talking to a backend that answers
// garbage, signals reaching a dump tool's own children (process groups), and pipes whose consumer fails first.
// Real processes.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runPipe, runProcess} from '../../../src/exec/local.ts'

const dir = () => mkdtempSync(join(tmpdir(), 'kb-exec-local-'))
const node = (code: string): [string, ...string[]] => [process.execPath, '-e', code]

describe('local processes', () => {
  test('stdout longer than 1 MiB on one line is kept whole (restic prints a JSON array on one line)', async () => {
    const r = await runProcess({argv: node(`process.stdout.write(JSON.stringify(Array.from({length: 40000}, (_, i) => ({id: 'x'.repeat(40) + i}))))`)})
    assert.equal(r.exitCode, 0)
    assert.ok(r.stdout.length > 1024 * 1024, `${r.stdout.length} bytes`)
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 40000)
  })

  test('stdout beyond maxStdout is refused, not kept', async () => {
    await assert.rejects(runProcess({argv: node(`process.stdout.write('y'.repeat(300000))`)}, {maxStdout: 100_000}), /printed more than 100000 bytes/)
  })

  test('the open deadline stops a command that prints nothing; a sign of life cancels it', async () => {
    const silent = await runProcess({argv: node('setTimeout(() => {}, 30000)')}, {openDeadline: {ms: 300}})
    assert.equal(silent.openTimedOut, true)
    assert.ok(silent.durationMs < 10_000)
    // The deadline must leave room for node's own start on a loaded machine; the command outlives it by far.
    const talking = await runProcess({argv: node(`console.log('{"message_type":"status"}'); setTimeout(() => console.log('done'), 3000)`)}, {openDeadline: {ms: 2000}, onStdoutLine: () => {}})
    assert.equal(talking.openTimedOut, undefined)
    assert.equal(talking.exitCode, 0)
    const preOpen = await runProcess({argv: node(`console.log('using temporary cache in /x'); setTimeout(() => {}, 30000)`)}, {openDeadline: {ms: 300, opened: (l) => !l.startsWith('using temporary cache')}})
    assert.equal(preOpen.openTimedOut, true, 'a line printed before the repository opened is not a sign of life')
  })

  test('the stall deadline stops a command that keeps retrying; a recovery resets it (process and pipe)', async () => {
    const stall = {ms: 600, failing: (l: string) => l.includes('retrying'), recovered: (l: string) => l.includes('successful')}
    const retrying = `setInterval(() => console.error('Save(<data/ab>) returned error, retrying after 1s'), 100)`
    const stuck = await runProcess({argv: node(retrying)}, {stallDeadline: stall})
    assert.equal(stuck.stalled, true)
    assert.ok(stuck.durationMs < 10_000)
    // Retries that keep getting through (a recovery every 400 ms) never add up to the deadline.
    const flaky = await runProcess({argv: node(`${retrying}; setInterval(() => console.error('operation successful after 2 retries'), 400); setTimeout(() => process.exit(0), 2500)`)}, {stallDeadline: stall})
    assert.equal(flaky.stalled, undefined)
    assert.equal(flaky.exitCode, 0)
    const piped = await runPipe({argv: node('')}, {argv: node(retrying)}, {consumerStallDeadline: stall})
    assert.equal(piped.consumer.stalled, true)
  })

  test('an abort reaches a dump tool\'s own children (process group), so the run ends at once', async () => {
    const d = dir()
    const pidFile = join(d, 'sleep.pid')
    // A wrapper script whose child is the real work: SIGINT to the wrapper alone would leave `sleep` holding the pipes.
    const wrapper = join(d, 'dump.sh')
    writeFileSync(wrapper, `#!/bin/sh\nsh -c 'echo $$ > "${pidFile}"; exec sleep 60'\necho the wrapper goes on\n`, {mode: 0o755})
    const ac = new AbortController()
    const started = Date.now()
    const running = runProcess({argv: [wrapper]}, {signal: ac.signal, processGroup: true})
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 20))
    ac.abort()
    const r = await running
    assert.equal(r.interrupted, true)
    assert.ok(Date.now() - started < 4000, `stopped in ${Date.now() - started} ms`)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    await new Promise((r) => setTimeout(r, 100))
    assert.ok(!existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')), 'the grandchild is gone')
  })

  test('a pipe whose consumer fails first says so: the producer\'s broken pipe is a consequence', async () => {
    const piped = await runPipe({argv: node(`const b = Buffer.alloc(65536); (function w() { process.stdout.write(b, (e) => e ? process.exit(1) : w()) })()`)}, {argv: node(`process.stdin.once('data', () => process.exit(3))`)}, {commitOnProducerSuccess: true})
    assert.equal(piped.consumer.exitCode, 3)
    assert.notEqual(piped.producer.exitCode, 0)
    assert.equal(piped.consumerStopped, false)
    const failing = await runPipe({argv: node('process.exit(2)')}, {argv: node(`process.stdin.resume(); process.on('SIGINT', () => process.exit(130))`)}, {commitOnProducerSuccess: true})
    assert.equal(failing.producer.exitCode, 2)
    assert.equal(failing.consumerStopped, true, 'we stopped the consumer because the producer failed')
  })
})
