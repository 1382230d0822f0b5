#!/usr/bin/env node
// A tiny `kamal-backup` for the remote tests' "argv" container: it speaks the handshake of src/remote/protocol.ts
// like the real CLI, then reports exactly what it received and behaves as the test asks through its environment
// (set in the container's env file): FAKE_VERSION, FAKE_EXIT (exit code), FAKE_MEGABYTES (stdout volume),
// FAKE_SLEEP_S (run that long; an interrupt byte or EOF on stdin makes it exit 130).
const version = process.env.FAKE_VERSION ?? '0.1.0'
process.stderr.write(`@kamal-backup-handshake ${JSON.stringify({protocol: 1, version, node: process.version})}\n`)
let buffered = ''
let started = false
process.stdin.on('data', (chunk) => {
  if (started) {
    if (chunk.includes(3)) finish(130, 'interrupted')
    return
  }
  buffered += chunk.toString('latin1')
  if (!buffered.includes('\n')) return
  if (!buffered.startsWith('go\n')) process.exit(4)
  started = true
  main()
})
process.stdin.on('end', () => (started ? finish(130, 'stdin closed') : process.exit(4)))

function finish(code, why) {
  process.stderr.write(`fake kamal-backup: ${why}\n`)
  process.exit(code)
}

function main() {
  const report = {argv: process.argv.slice(2), operator: process.env.KAMAL_BACKUP_OPERATOR ?? null, client: process.env.KAMAL_BACKUP_REMOTE_CLIENT ?? null, inAccessory: process.env.KAMAL_BACKUP_IN_ACCESSORY ?? null}
  const megabytes = Number(process.env.FAKE_MEGABYTES ?? 0)
  if (megabytes > 0) {
    // 100-byte lines, each numbered, so the receiver can check nothing was lost or reordered.
    const total = megabytes * 10_000
    let i = 0
    const write = () => {
      while (i < total) {
        const line = `line ${String(i).padStart(10, '0')} ${'x'.repeat(83)}\n`
        i++
        if (!process.stdout.write(line)) return process.stdout.once('drain', write)
      }
      process.stdout.end(() => process.exit(0))
    }
    write()
    return
  }
  process.stdout.write(JSON.stringify(report) + '\n')
  process.stderr.write('fake kamal-backup: stderr line with PGPASSWORD=hunter2-secret\n')
  const sleep = Number(process.env.FAKE_SLEEP_S ?? 0)
  if (sleep > 0) {
    process.stderr.write('fake kamal-backup: sleeping\n')
    setTimeout(() => process.exit(Number(process.env.FAKE_EXIT ?? 0)), sleep * 1000)
    return
  }
  process.exitCode = Number(process.env.FAKE_EXIT ?? 0)
  process.stdin.unref?.()
  process.stdin.pause()
}
