// The accessory's half of the remote protocol (see protocol.ts): announce the version, wait for `go`, then treat a
// 0x03 byte as an interrupt, and end of stdin too unless the workstation asked the command to outlive a dropped
// connection (KAMAL_BACKUP_REMOTE_ON_HANGUP=continue). Loaded only when KAMAL_BACKUP_REMOTE_CLIENT is set.
import {ExitCode} from '../errors.js'
import {formatHandshake, GO, INTERRUPT_BYTE, ON_HANGUP_ENV, PROTOCOL_VERSION} from './protocol.js'

export interface AccessorySideOptions {
  version: string
  stdin?: NodeJS.ReadableStream & {ref?: () => void; unref?: () => void}
  stderr?: NodeJS.WritableStream
  /** What an interrupt does (default: SIGINT to this process, which the command's signal handler turns into a
   *  clean stop). */
  interrupt?: () => void
  /** What a refusal does (default: exit 4 at once). */
  refuse?: () => void
  /** What end of stdin after `go` means (default: from KAMAL_BACKUP_REMOTE_ON_HANGUP; `interrupt` unless it says
   *  `continue`). */
  onHangup?: 'interrupt' | 'continue'
}

/** Resolves once the workstation said `go`. Never resolves when it refused (the process exits). */
export function acceptRemoteClient(options: AccessorySideOptions): Promise<void> {
  const stdin = options.stdin ?? process.stdin
  const stderr = options.stderr ?? process.stderr
  const interrupt = options.interrupt ?? (() => process.kill(process.pid, 'SIGINT'))
  const refuse = options.refuse ?? (() => process.exit(ExitCode.versionMismatch))
  const onHangup = options.onHangup ?? (process.env[ON_HANGUP_ENV] === 'continue' ? 'continue' : 'interrupt')
  if (!options.stdin) {
    // The workstation may vanish: writes then fail with EPIPE, which must not crash the cleanup that follows.
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
  }
  stderr.write(formatHandshake({protocol: PROTOCOL_VERSION, version: options.version, node: process.version}))

  return new Promise<void>((resolve) => {
    let received = ''
    let started = false
    let interrupted = false
    const fire = () => {
      if (interrupted) return
      interrupted = true
      interrupt()
    }
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      if (started) {
        if (buffer.includes(INTERRUPT_BYTE)) fire()
        return
      }
      received += buffer.toString('latin1')
      const newline = received.indexOf('\n')
      if (newline < 0) {
        if (received.length > 64) refuse()
        return
      }
      if (received.slice(0, newline + 1) !== GO) {
        refuse()
        return
      }
      started = true
      // From here on stdin only carries interrupts: it must not keep the process alive once the command is done.
      stdin.unref?.()
      if (Buffer.from(received.slice(newline + 1), 'latin1').includes(INTERRUPT_BYTE)) fire()
      resolve()
    }
    const onEnd = () => {
      // A dropped connection: the output has nowhere to go (writes fail quietly, see above), but with `continue`
      // the command carries on to its end and records how it went.
      if (started) {
        if (onHangup === 'interrupt') fire()
      } else refuse()
    }
    stdin.on('data', onData)
    stdin.on('end', onEnd)
    stdin.on('error', onEnd)
    stdin.resume()
  })
}
