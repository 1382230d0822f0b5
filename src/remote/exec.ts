// Runs the accessory command on an open connection: one exec channel, the handshake (protocol.ts) read off stderr,
// stdout and stderr streamed as they arrive (with backpressure, so output of any size flows in constant memory),
// interrupts sent on stdin, and the remote exit status returned.
//
// Decision: what the accessory writes after the handshake passes through byte for byte, on both streams. The
// accessory redacts its own output (it holds the secrets; this machine's environment says nothing about them),
// and a second pass here could only corrupt it: a local variable's value replaced inside a number or a word, or a
// redaction pattern matching the accessory's own `[REDACTED]` and swallowing the quote after it. What the host
// says outside the accessory (docker's errors, login-shell noise, before the handshake) is redacted here.
import {constants} from 'node:os'
import {StringDecoder} from 'node:string_decoder'
import type {Client, ClientChannel} from 'ssh2'
import type {Redactor} from '../redact.js'
import {GO, INTERRUPT_BYTE, parseHandshake, type Handshake} from './protocol.js'

export type HandshakeDecision = 'go' | 'stop'

export interface ExecOptions {
  /** For what the host says before the handshake (never the accessory's own output). */
  redactor: Redactor
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  /** Called once with the accessory's handshake; `stop` closes stdin, so the accessory exits without running. */
  onHandshake: (handshake: Handshake) => HandshakeDecision
  /** Aborting sends the interrupt byte (after `go`) or stops the command (before). */
  signal?: AbortSignal
  /** Capture stdout instead of writing it (small outputs only: `version`). */
  captureStdout?: boolean
  /** Hold up to this many bytes of stdout until the exit status arrives (--json): a connection lost halfway then
   *  leaves nothing on stdout rather than half a document. Past the limit, stdout streams on. */
  holdStdout?: number
  /** Sees each chunk the accessory writes on stderr after the handshake (to notice a line). */
  onStderr?: (chunk: Buffer) => void
}

export interface ExecResult {
  /** The remote exit code (128+n for a signal), or null when the connection was lost before one arrived. */
  exitCode: number | null
  handshake?: Handshake
  /** Whether `go` was sent, i.e. the command may have run. */
  started: boolean
  /** stderr lines seen before any handshake (what `docker exec` says when kamal-backup never started). */
  preamble: string
  interrupted: boolean
  /** Our stdout was closed by its reader (`| head`): the command was interrupted and its output dropped. */
  outputClosed?: boolean
  /** Why the connection ended without an exit status. */
  lostReason?: string
  captured?: string
  /** Bytes of held stdout dropped because no exit status arrived. */
  discardedStdout?: number
}

/** Splits a byte stream into lines, redacts each, and writes them in batches. Returns a function for each chunk
 *  (returning whether the destination wants more) and a flush. */
export function redactingWriter(redactor: Redactor, write: (text: string) => boolean): {push(chunk: Buffer): boolean; flush(): void} {
  let pending = ''
  // Chunks split multi-byte characters; the decoder carries the partial bytes over to the next chunk.
  const decoder = new StringDecoder('utf8')
  return {
    push(chunk) {
      pending += decoder.write(chunk)
      const last = pending.lastIndexOf('\n')
      if (last < 0) {
        if (pending.length <= 65_536) return true
        // A very long line: pass it on rather than hold it (a secret split at this boundary is the price).
        const text = redactor.redact(pending)
        pending = ''
        return write(text)
      }
      const complete = pending.slice(0, last + 1)
      pending = pending.slice(last + 1)
      let out = ''
      let start = 0
      while (start < complete.length) {
        const end = complete.indexOf('\n', start) + 1
        out += redactor.redact(complete.slice(start, end))
        start = end
      }
      return write(out)
    },
    flush() {
      pending += decoder.end()
      if (pending !== '') write(redactor.redact(pending))
      pending = ''
    },
  }
}

function signalExitCode(signal: string | undefined): number {
  const number = signal ? (constants.signals as Record<string, number>)[`SIG${signal.replace(/^SIG/, '')}`] : undefined
  return 128 + (number ?? 1)
}

export function execInAccessory(client: Client, commandLine: string, options: ExecOptions): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    client.exec(commandLine, (error, channel: ClientChannel) => {
      if (error) return reject(error)
      const result: ExecResult = {exitCode: null, started: false, preamble: '', interrupted: false}
      let handshakeDone = false
      let stderrPending = Buffer.alloc(0)
      const captured: Buffer[] = []
      let connectionEnded = false
      let closed = false
      let held: Buffer[] | undefined = options.holdStdout !== undefined && !options.captureStdout ? [] : undefined
      let heldBytes = 0

      let outputClosed = false
      // Host output (before the handshake): redacted here, always to stderr, so it can never pollute --json.
      const host = redactingWriter(options.redactor, (text) => (outputClosed ? true : options.stderr.write(text)))
      // The reader of our stdout went away (EPIPE): stop the command, as a SIGPIPE would, and drop the rest.
      const onStdoutError = () => {
        if (outputClosed || closed) return
        outputClosed = true
        result.outputClosed = true
        if (result.started) channel.write(Buffer.from([INTERRUPT_BYTE]))
        else channel.end()
        channel.resume()
        channel.stderr.resume()
      }
      options.stdout.on('error', onStdoutError)

      const flowControl = (stream: NodeJS.WritableStream, ok: boolean, source: NodeJS.ReadableStream) => {
        if (ok || outputClosed) return
        source.pause()
        stream.once('drain', () => source.resume())
      }

      channel.on('data', (chunk: Buffer) => {
        // The accessory writes nothing on stdout before it has our `go`: this is the host (a login shell's rc file).
        if (!handshakeDone) return flowControl(options.stderr, host.push(chunk), channel)
        if (outputClosed) return
        if (options.captureStdout) {
          captured.push(chunk)
          return
        }
        if (held) {
          held.push(chunk)
          heldBytes += chunk.length
          if (heldBytes <= options.holdStdout!) return
          // Too big to hold: stream on (a reader of that much JSON will see a truncation for itself).
          const ok = options.stdout.write(Buffer.concat(held))
          held = undefined
          return flowControl(options.stdout, ok, channel)
        }
        flowControl(options.stdout, options.stdout.write(chunk), channel)
      })

      const accessoryStderr = (chunk: Buffer) => {
        if (chunk.length === 0) return
        options.onStderr?.(chunk)
        if (outputClosed) return
        flowControl(options.stderr, options.stderr.write(chunk), channel.stderr)
      }

      const onStderr = (chunk: Buffer) => {
        if (handshakeDone) return accessoryStderr(chunk)
        stderrPending = Buffer.concat([stderrPending, chunk])
        if (stderrPending.length > 65_536) {
          // No line end in sight: not a handshake. Keep it as the preamble.
          result.preamble += stderrPending.toString('utf8')
          stderrPending = Buffer.alloc(0)
        }
        let newline: number
        while (!handshakeDone && (newline = stderrPending.indexOf(0x0a)) >= 0) {
          const line = stderrPending.subarray(0, newline + 1).toString('utf8')
          stderrPending = stderrPending.subarray(newline + 1)
          const handshake = parseHandshake(line)
          if (!handshake) {
            // Held back: if kamal-backup never starts, this is docker's explanation, shown as part of our error.
            result.preamble += line
            if (result.preamble.length > 16_384) {
              host.push(Buffer.from(result.preamble))
              result.preamble = ''
            }
            continue
          }
          handshakeDone = true
          result.handshake = handshake
          if (result.preamble !== '') {
            host.push(Buffer.from(result.preamble))
            result.preamble = ''
          }
          host.flush()
          const decision = options.signal?.aborted ? 'stop' : options.onHandshake(handshake)
          if (decision === 'go') {
            result.started = true
            channel.write(GO)
          } else {
            channel.end()
          }
          if (stderrPending.length > 0) {
            accessoryStderr(stderrPending)
            stderrPending = Buffer.alloc(0)
          }
        }
      }
      channel.stderr.on('data', onStderr)

      const onAbort = () => {
        result.interrupted = true
        if (result.started) channel.write(Buffer.from([INTERRUPT_BYTE]))
        else channel.end()
      }
      if (options.signal?.aborted) onAbort()
      else options.signal?.addEventListener('abort', onAbort, {once: true})

      channel.on('exit', (code: number | null, signal?: string) => {
        result.exitCode = code ?? signalExitCode(signal)
      })
      const onConnectionEnd = (why: string) => () => {
        connectionEnded = true
        result.lostReason ??= why
      }
      const endListener = onConnectionEnd('the server closed the connection')
      const errorListener = (e: Error) => {
        connectionEnded = true
        result.lostReason ??= e.message
      }
      client.on('end', endListener)
      client.on('error', errorListener)
      channel.on('close', () => {
        closed = true
        options.signal?.removeEventListener('abort', onAbort)
        client.off('end', endListener)
        client.off('error', errorListener)
        if (!handshakeDone) {
          result.preamble += stderrPending.toString('utf8')
          host.flush()
        }
        if (options.captureStdout) result.captured = Buffer.concat(captured).toString('utf8')
        if (result.exitCode !== null) delete result.lostReason
        else if (!connectionEnded) result.lostReason ??= 'the channel closed without an exit status'
        if (held && heldBytes > 0) {
          // A finished command's output is written whole; a lost one's is dropped (never half a document).
          if (result.exitCode !== null && !outputClosed) options.stdout.write(Buffer.concat(held))
          else if (result.exitCode === null) result.discardedStdout = heldBytes
          held = undefined
        } else {
          options.stdout.off('error', onStdoutError)
        }
        resolve(result)
      })
    })
  })
}
