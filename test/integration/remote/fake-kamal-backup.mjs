#!/usr/bin/env node
// A tiny `kamal-backup` for the remote tests' "argv" container: it speaks the handshake of src/remote/protocol.ts
// like the real CLI, then reports exactly what it received and behaves as the test asks through its environment
// (set in the container's env file): FAKE_VERSION, FAKE_PROTOCOL, FAKE_EXIT (exit code), FAKE_MEGABYTES (stdout
// volume), FAKE_STDOUT_FILE / FAKE_STDERR_FILE (print exactly these bytes instead of the report), FAKE_RC_NOISE (text
// on stdout before the handshake, as a login shell's rc file would), FAKE_SLEEP_S (run that long; an interrupt byte
// makes it exit 130, and so does EOF on stdin unless KAMAL_BACKUP_REMOTE_ON_HANGUP=continue, like the real CLI;
// FAKE_DONE_FILE is written when it finishes its sleep; FAKE_SAY is a line for stderr before it), FAKE_LOG_FILE (each
// invocation appends its argv, parent pid and hangup mode), and `--dry-run` answers with a restore plan (see dryRun()). Like the real accessory
// it redacts its own output: the secret-looking line on stderr is written already redacted.
import {appendFileSync, readFileSync, writeFileSync} from 'node:fs'
const version = process.env.FAKE_VERSION ?? '0.1.0'
const handshake = () => process.stderr.write(`@kamal-backup-handshake ${JSON.stringify({protocol: Number(process.env.FAKE_PROTOCOL ?? 1), version, node: process.version})}\n`)
// rc-file noise comes from the shell before docker exec starts: give it time to arrive before the handshake.
if (process.env.FAKE_RC_NOISE) {
  process.stdout.write(process.env.FAKE_RC_NOISE + '\n')
  setTimeout(handshake, 300)
} else handshake()
process.stdout.on('error', () => {})
process.stderr.on('error', () => {})
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
process.stdin.on('end', () => {
  if (!started) process.exit(4)
  if (process.env.KAMAL_BACKUP_REMOTE_ON_HANGUP !== 'continue') finish(130, 'stdin closed')
})

function finish(code, why) {
  process.stderr.write(`fake kamal-backup: ${why}\n`)
  process.exit(code)
}

/** `restore production ... --dry-run --json`: a plan for run FAKE_PLAN_RUN (default 20261120T030000Z), or with
 *  FAKE_PLAN_FAIL a failed one (exit 1). Appends its argv to FAKE_LOG_FILE, like every invocation. */
function dryRun() {
  const failed = process.env.FAKE_PLAN_FAIL
  const plan = {
    schema_version: 1, kind: 'restore-plan', scope: 'production', status: failed ? 'failed' : 'ok', dry_run: true, app: 'fake', host: 'fake-host',
    requested: {snapshot: 'latest', at: null, databases: null, files: null},
    run: {id: process.env.FAKE_PLAN_RUN ?? '20261120T030000Z', time: '2026-11-20T03:00:04Z', age_seconds: 7380, pre_restore: false, snapshots: []},
    targets: {databases: [], files: [{from: '/srv/storage', to: '/srv/storage'}]},
    safety_backup: !process.argv.includes('--no-safety-backup'),
    checks: [{name: 'the restore tools are installed', status: 'ok'}, ...(failed ? [{name: 'files /srv/storage: a writable directory', status: 'failed', error: failed}] : [])],
    not_checked: ['the files are not downloaded'], planned_at: new Date().toISOString(), duration_ms: 1, error: failed ?? null, suggestions: failed ? ['fix it'] : [],
  }
  process.stdout.write(JSON.stringify(plan, null, 2) + '\n')
  process.exitCode = failed ? 1 : 0
  process.stdin.unref?.()
  process.stdin.pause()
}

function main() {
  // ppid: the sshd process of the connection (docker exec and the shell exec into this process), to tell connections apart.
  if (process.env.FAKE_LOG_FILE) appendFileSync(process.env.FAKE_LOG_FILE, JSON.stringify({argv: process.argv.slice(2), ppid: process.ppid, onHangup: process.env.KAMAL_BACKUP_REMOTE_ON_HANGUP ?? null}) + '\n')
  if (process.argv.includes('--dry-run')) return dryRun()
  const report = {
    argv: process.argv.slice(2),
    operator: process.env.KAMAL_BACKUP_OPERATOR ?? null,
    client: process.env.KAMAL_BACKUP_REMOTE_CLIENT ?? null,
    inAccessory: process.env.KAMAL_BACKUP_IN_ACCESSORY ?? null,
    destination: process.env.KAMAL_BACKUP_DESTINATION ?? null,
    configFile: process.env.KAMAL_BACKUP_CONFIG_FILE ?? null,
    onHangup: process.env.KAMAL_BACKUP_REMOTE_ON_HANGUP ?? null,
  }
  if (process.env.FAKE_STDOUT_FILE || process.env.FAKE_STDERR_FILE) {
    if (process.env.FAKE_STDERR_FILE) process.stderr.write(readFileSync(process.env.FAKE_STDERR_FILE))
    if (process.env.FAKE_STDOUT_FILE) process.stdout.write(readFileSync(process.env.FAKE_STDOUT_FILE))
    process.exitCode = Number(process.env.FAKE_EXIT ?? 0)
    process.stdin.unref?.()
    process.stdin.pause()
    return
  }
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
  process.stderr.write('fake kamal-backup: stderr line with PGPASSWORD=[REDACTED]\n')
  const sleep = Number(process.env.FAKE_SLEEP_S ?? 0)
  if (sleep > 0) {
    if (process.env.FAKE_SAY) process.stderr.write(process.env.FAKE_SAY + '\n')
    process.stderr.write('fake kamal-backup: sleeping\n')
    setTimeout(() => {
      if (process.env.FAKE_DONE_FILE) writeFileSync(process.env.FAKE_DONE_FILE, 'finished\n')
      process.exit(Number(process.env.FAKE_EXIT ?? 0))
    }, sleep * 1000)
    return
  }
  process.exitCode = Number(process.env.FAKE_EXIT ?? 0)
  process.stdin.unref?.()
  process.stdin.pause()
}
