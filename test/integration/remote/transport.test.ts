// The SSH transport and the protocol through the lab's real OpenSSH sshd: argument fidelity, exit codes, large
// output in constant memory, host keys, jump host and proxy command, dropped connections, the version handshake,
// and the errors for a missing/stopped container, a wrong image, bad keys and unreachable hosts. The accessory's
// host runs a real `docker exec -i` (podman + runc) into a real container of the accessory image; most tests replace
// kamal-backup in it with the argv-echoing fake-kamal-backup.mjs, the version tests run the image's own CLI made to
// report another version (see fixture.ts).
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {lab, tempDir} from '../../support/lab.ts'
import {ed25519KeyPair} from '../../support/ssh-keys.ts'
import {accessory, cli, cliRaw, remoteApp, ROOT, sshdSessionOf, WRONG_IMAGE, type AccessoryOptions, type Container, type RemoteApp} from './fixture.ts'

/** An accessory whose kamal-backup is fake-kamal-backup.mjs, steered by these FAKE_* variables. */
function fake(env: Record<string, string> = {}): AccessoryOptions {
  return {fake: true, env}
}

const LOCAL_VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string

/** Secret-looking variables on the workstation whose values occur in ordinary output: none of them may change a
 *  byte of what the accessory prints. */
const DIRTY_LAPTOP = {POSTGRES_PASSWORD: 'postgres', DB_PASSWORD: '1000', SOME_FLAG_KEY: 'true', GITHUB_TOKEN: 'complete', AWS_SECRET_ACCESS_KEY: 'null'}

function parseReport(stdout: string): {argv: string[]; operator: string | null; client: string | null; inAccessory: string | null; destination: string | null; configFile: string | null; onHangup: string | null} {
  const line = stdout.trim().split('\n').at(-1) ?? ''
  return JSON.parse(line)
}

describe('remote transport over OpenSSH', {concurrency: false}, () => {
  let app: RemoteApp
  let box: Container

  before(() => {
    app = remoteApp({destinations: {staging: 'ssh:\n  user: kbdeploy\n'}, backupConfig: 'paths:\n  - /srv/storage\nrestic:\n  repository: /srv/repo\n  password: {secret: RESTIC_PASSWORD}\n'})
    box = accessory(app.containerName, fake())
  })
  after(() => box?.remove())

  test('arguments with spaces, quotes, $(...), backticks, newlines and non-ASCII arrive unchanged; workstation flags do not', async () => {
    const marker = join(tempDir('inject'), 'pwned')
    const nasty = [
      'two words',
      `it's "quoted"`,
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      'line one\nline two',
      'ünïcødé ✓ 日本語 🙂',
      '; touch ' + marker + ' | cat & echo',
      '*',
      '~',
      '',
      ' leading and trailing ',
      "\\'\\\"$HOME",
    ]
    const args = ['drill', 'production', 'latest', '--yes', '--files', nasty[0]!, '--check', nasty[1]!, '--database', nasty[2]!, '--sqlite-path', nasty[3]!]
    const result = await cli(app, [...args, '--only-database', nasty[4]!, '--only-database', nasty[5]!, '--only-database', nasty[6]!, '--only-database', nasty[7]!, '--only-database', nasty[8]!, '--only-database', nasty[9]!, '--only-database', nasty[10]!, '--only-database', nasty[11]!, '-d', 'staging', '--host', '127.0.0.1', '--strict-host-key'], {
      env: {KAMAL_BACKUP_OPERATOR: 'Zoë O\'Brien'},
    })
    assert.equal(result.code, 0, result.stderr)
    const report = parseReport(result.stdout)
    assert.deepEqual(report.argv, ['drill', 'production', 'latest', '--yes', '--files', nasty[0], '--check', nasty[1], '--database', nasty[2], '--sqlite-path', nasty[3], ...nasty.slice(4).flatMap((v) => ['--only-database', v])])
    assert.equal(report.operator, "Zoë O'Brien")
    assert.equal(report.client, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version)
    assert.equal(report.inAccessory, '1')
    assert.equal(report.destination, 'staging', 'the workstation\'s -d, for the accessory\'s messages')
    assert.equal(report.configFile, null, 'no -c given')
    assert.equal(report.onHangup, 'continue', 'a production drill finishes even when the connection drops')
    assert.equal(existsSync(marker), false, 'nothing was executed by a shell')
  })

  test('drill production --dry-run: one command in the accessory, no confirmation asked (no --yes, no terminal), stopped by a hangup', async () => {
    const log = join(tempDir('drill-plan-log'), 'argv.jsonl')
    box.recreate(fake({FAKE_LOG_FILE: log}))
    try {
      const result = await cli(app, ['drill', 'production', '--database', 'drill', '--no-files', '--dry-run'])
      assert.equal(result.code, 0, result.stderr)
      assert.equal(JSON.parse(result.stdout).dry_run, true, 'the accessory\'s plan, passed through')
      const entries = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {argv: string[]; onHangup: string | null})
      assert.deepEqual(entries.map((e) => [e.argv, e.onHangup]), [[['drill', 'production', '--database', 'drill', '--no-files', '--dry-run'], null]], 'one command, no --yes added, stopped by a hangup')
    } finally {
      box.recreate(fake())
    }
  })

  test('-c and -d reach the accessory as KAMAL_BACKUP_CONFIG_FILE / KAMAL_BACKUP_DESTINATION; other commands still stop on a hangup', async () => {
    const restore = await cli(app, ['restore', 'production', '--confirm', app.app, '-c', 'config/deploy.yml', '-d', 'staging'])
    assert.equal(restore.code, 0, restore.stderr)
    const r = parseReport(restore.stdout)
    assert.equal(r.configFile, 'config/deploy.yml')
    assert.equal(r.destination, 'staging')
    assert.equal(r.onHangup, 'continue')
    assert.deepEqual(r.argv, ['restore', 'production', '--confirm', app.app, '--expect-run', '20261120T030000Z'], 'the run its dry run resolved')
    const list = parseReport((await cli(app, ['list'])).stdout)
    assert.equal(list.destination, null)
    assert.equal(list.configFile, null)
    assert.equal(list.onHangup, null)
  })

  test('restore production: the accessory\'s dry run first, then the restore of the run it resolved, on one SSH connection; a dry run alone does not outlive a hangup', async () => {
    const log = join(tempDir('plan-log'), 'argv.jsonl')
    box.recreate(fake({FAKE_LOG_FILE: log, FAKE_PLAN_RUN: '20261122T030000Z'}))
    const entries = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as {argv: string[]; ppid: number; onHangup: string | null}) : [])
    try {
      const result = await cli(app, ['restore', 'production', '--confirm', app.app, '--no-safety-backup', '--json'])
      assert.equal(result.code, 0, result.stderr)
      const [dry, real, ...more] = entries()
      assert.deepEqual(more, [])
      assert.deepEqual(dry!.argv, ['restore', 'production', '--confirm', app.app, '--no-safety-backup', '--dry-run', '--json'])
      assert.equal(dry!.onHangup, null, 'a dry run changes nothing: a hangup stops it')
      assert.deepEqual(real!.argv, ['restore', 'production', '--confirm', app.app, '--no-safety-backup', '--json', '--expect-run', '20261122T030000Z'])
      assert.equal(real!.onHangup, 'continue')
      assert.equal(real!.ppid, dry!.ppid, 'both ran on the same SSH connection (the same sshd process)')
      // --json: stdout is the restore's one document, not the plan.
      assert.deepEqual(JSON.parse(result.stdout).argv, real!.argv)

      rmSync(log)
      const dryOnly = await cli(app, ['restore', 'production', '--dry-run'])
      assert.equal(dryOnly.code, 0, dryOnly.stderr)
      assert.deepEqual(entries().map((e) => [e.argv, e.onHangup]), [[['restore', 'production', '--dry-run'], null]], 'one command, no confirmation')
    } finally {
      box.recreate(fake())
    }
  })

  test('restore production: a failed check in the accessory\'s dry run stops it before any confirmation or restore (exit 1); --json prints the plan', async () => {
    const log = join(tempDir('plan-fail'), 'argv.jsonl')
    box.recreate(fake({FAKE_LOG_FILE: log, FAKE_PLAN_FAIL: 'cannot restore files into /srv/storage: it must be an existing, writable directory (EROFS); nothing was changed'}))
    try {
      const text = await cli(app, ['restore', 'production', '--confirm', app.app])
      assert.equal(text.code, 1, text.stderr)
      assert.match(text.stdout, /cannot proceed: cannot restore files into \/srv\/storage/)
      assert.match(text.stdout, /FAILED {2}files \/srv\/storage: a writable directory: .*EROFS/)
      assert.match(text.stderr, /not restoring: cannot restore files into \/srv\/storage/)
      assert.match(text.stderr, /fix it/, 'the accessory\'s suggestions')
      const json = await cli(app, ['restore', 'production', '--confirm', app.app, '--json'])
      assert.equal(json.code, 1, json.stderr)
      const plan = JSON.parse(json.stdout)
      assert.equal(plan.kind, 'restore-plan')
      assert.equal(plan.status, 'failed')
      const runs = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l).argv as string[])
      assert.equal(runs.length, 2)
      assert.ok(runs.every((argv) => argv.includes('--dry-run')), `only dry runs ran: ${JSON.stringify(runs)}`)
    } finally {
      box.recreate(fake())
    }
  })

  test('--json output and stderr arrive byte for byte as the accessory wrote them, whatever secret-looking variables this machine has', async () => {
    const dir = tempDir('bytes')
    // What a real accessory prints: its own redaction already applied ([REDACTED] right before a closing quote),
    // numbers, booleans, words that equal the laptop's variable values, non-ASCII.
    const doc = JSON.stringify([{id: '20261120T030000Z', adapter: 'postgres', files: 1000, complete: true, size: null, note: 'ünïcødé ✓ 日本語', check: {command: 'X_TOKEN=[REDACTED]', output: 'PGPASSWORD=[REDACTED]'}}], null, 2) + '\n'
    const log = 'database notes (postgres): 1000 rows, complete true, X_TOKEN=[REDACTED]" null\n'
    writeFileSync(join(dir, 'out.json'), doc)
    writeFileSync(join(dir, 'err.txt'), log)
    box.recreate(fake({FAKE_VERSION: LOCAL_VERSION, FAKE_STDOUT_FILE: join(dir, 'out.json'), FAKE_STDERR_FILE: join(dir, 'err.txt')}))
    try {
      const result = await cliRaw(app, ['list', '--json'], {env: DIRTY_LAPTOP})
      assert.equal(result.code, 0, result.stderr)
      assert.ok(result.stdout.equals(Buffer.from(doc)), `stdout differs from the accessory's:\n${result.stdout}`)
      assert.deepEqual(JSON.parse(result.stdout.toString('utf8')), JSON.parse(doc))
      assert.equal(result.stderr, log, 'stderr too, and the handshake line never shows')
    } finally {
      box.recreate(fake())
    }
  })

  test('output on stdout before the handshake (a login shell\'s rc file) goes to stderr: --json stays one document', async () => {
    box.recreate(fake({FAKE_RC_NOISE: 'Welcome to prod-1! Last login: yesterday'}))
    try {
      const result = await cli(app, ['list', '--json'])
      assert.equal(result.code, 0, result.stderr)
      assert.deepEqual(parseReport(result.stdout).argv, ['list', '--json'])
      assert.equal(result.stdout.trim().split('\n').length, 1, result.stdout)
      assert.match(result.stderr, /Welcome to prod-1!/)
      assert.doesNotMatch(result.stderr, /@kamal-backup-handshake/)
    } finally {
      box.recreate(fake())
    }
  })

  for (const code of [0, 1, 2]) {
    test(`remote exit code ${code} becomes the local exit code`, async () => {
      box.recreate(fake({FAKE_EXIT: String(code)}))
      try {
        const result = await cli(app, ['list'])
        assert.equal(result.code, code, result.stderr)
      } finally {
        box.recreate(fake())
      }
    })
  }

  test('SIGINT while the remote command runs: the accessory is interrupted through stdin, exit 130', async () => {
    box.recreate(fake({FAKE_SLEEP_S: '30'}))
    try {
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), 'backup', '--force'], {cwd: app.dir, env: {...process.env, HOME: app.home, NO_COLOR: '1', SSH_AUTH_SOCK: ''}, stdio: ['ignore', 'pipe', 'pipe']})
      let stderr = ''
      const started = Date.now()
      child.stdout.resume()
      let sent = false
      child.stderr.on('data', (d) => {
        stderr += d
        if (!sent && /sleeping/.test(stderr)) {
          sent = true
          child.kill('SIGINT')
        }
      })
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      assert.equal(code, 130, stderr)
      assert.match(stderr, /fake kamal-backup: interrupted/, `the accessory saw the interrupt byte: ${stderr}`)
      assert.ok(Date.now() - started < 20_000)
    } finally {
      box.recreate(fake())
    }
  })

  test('50 MB and 200 MB of output stream through in the same memory', async () => {
    const measure = async (megabytes: number) => {
      box.recreate(fake({FAKE_MEGABYTES: String(megabytes)}))
      // A small, fixed young generation: when V8 scavenges a 16 MB one moves RSS by up to that much between identical
      // runs (16.1 MB measured once), while anything the stream kept is promoted to the old generation and still shows.
      const child = spawn(process.execPath, ['--max-semi-space-size=1', join(ROOT, 'bin', 'run.js'), 'list'], {cwd: app.dir, env: {...process.env, HOME: app.home, NO_COLOR: '1', SSH_AUTH_SOCK: ''}, stdio: ['ignore', 'pipe', 'pipe']})
      let bytes = 0
      let lines = 0
      let expected = 0
      let ordered = true
      let partial = ''
      let peakRss = 0
      const sampler = setInterval(() => {
        try {
          const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
          const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024
          peakRss = Math.max(peakRss, rss)
        } catch {}
      }, 20)
      child.stdout.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        const text = partial + chunk.toString('latin1')
        const parts = text.split('\n')
        partial = parts.pop()!
        for (const line of parts) {
          if (Number(line.slice(5, 15)) !== expected++) ordered = false
          lines++
        }
      })
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      clearInterval(sampler)
      assert.equal(code, 0, stderr)
      return {bytes, lines, ordered, peakRss}
    }
    try {
      // Twice each, alternating, keeping the lower peak: RSS between identical runs varies by a few MB.
      const runs = [await measure(50), await measure(200), await measure(50), await measure(200)]
      for (const [i, run] of runs.entries()) {
        const megabytes = i % 2 === 0 ? 50 : 200
        assert.equal(run.bytes, megabytes * 1_000_000)
        assert.equal(run.lines, megabytes * 10_000)
        assert.ok(run.ordered, 'every line arrived, in order')
      }
      const small = Math.min(runs[0]!.peakRss, runs[2]!.peakRss)
      const big = Math.min(runs[1]!.peakRss, runs[3]!.peakRss)
      // 150 MB more output, (almost) the same memory: anything that kept even a tenth of the stream would show.
      const growth = big - small
      assert.ok(growth < 16 * 1024 * 1024, `peak RSS grew by ${(growth / 1048576).toFixed(1)} MB from 50 MB to 200 MB of output (${(small / 1048576).toFixed(0)} MB, ${(big / 1048576).toFixed(0)} MB)`)
    } finally {
      box.recreate(fake())
    }
  })

  test('the reader of stdout going away (| head) stops the remote command instead of hanging', async () => {
    box.recreate(fake({FAKE_MEGABYTES: '50'}))
    try {
      const started = Date.now()
      const r = spawnSync('bash', ['-c', `${process.execPath} ${join(ROOT, 'bin', 'run.js')} list | head -2; echo "rc=\${PIPESTATUS[0]}"`], {cwd: app.dir, env: {...process.env, HOME: app.home, SSH_AUTH_SOCK: '', NO_COLOR: '1'}, encoding: 'utf8', timeout: 60_000})
      assert.equal(r.stdout.split('\n').length, 4, r.stdout)
      assert.match(r.stdout, /^line 0000000000 x+\nline 0000000001 x+\nrc=141\n$/)
      assert.ok(Date.now() - started < 20_000, 'it did not stream all 50 MB first')
    } finally {
      box.recreate(fake())
    }
  })

  test('a changed host key is refused, showing both fingerprints, and nothing runs', async () => {
    const other = ed25519KeyPair().public
    const otherBlob = other.split(' ')[1]!
    const bad = remoteApp({knownHosts: `[127.0.0.1]:${lab().ssh.port} ssh-ed25519 ${otherBlob}\n`})
    const c = accessory(bad.containerName, fake({FAKE_LOG_FILE: join(bad.dir, 'ran')}))
    try {
      const result = await cli(bad, ['list'])
      assert.equal(result.code, 3, result.stderr)
      assert.match(result.stderr, /CHANGED/)
      assert.ok(result.stderr.includes(lab().ssh.hostKeyFingerprint), 'the offered fingerprint is shown')
      const recorded = 'SHA256:' + (await import('node:crypto')).createHash('sha256').update(Buffer.from(otherBlob, 'base64')).digest('base64').replace(/=+$/, '')
      assert.ok(result.stderr.includes(recorded), 'the recorded fingerprint is shown')
      assert.equal(existsSync(join(bad.dir, 'ran')), false, 'docker exec never ran')
      assert.equal(readFileSync(join(bad.home, '.ssh', 'known_hosts'), 'utf8').split('\n').filter(Boolean).length, 1, 'known_hosts untouched')
    } finally {
      c.remove()
    }
  })

  test('an unknown host is recorded with a note; --strict-host-key refuses it', async () => {
    const fresh = remoteApp({knownHosts: ''})
    const c = accessory(fresh.containerName, fake())
    try {
      const strict = await cli(fresh, ['list', '--strict-host-key'])
      assert.equal(strict.code, 3, strict.stderr)
      assert.match(strict.stderr, /not in known_hosts/)
      assert.equal(readFileSync(join(fresh.home, '.ssh', 'known_hosts'), 'utf8'), '')
      const accepted = await cli(fresh, ['list'])
      assert.equal(accepted.code, 0, accepted.stderr)
      assert.match(accepted.stderr, /Permanently added \[127\.0\.0\.1\]:2222/)
      assert.equal(readFileSync(join(fresh.home, '.ssh', 'known_hosts'), 'utf8'), `[127.0.0.1]:${lab().ssh.port} ${lab().ssh.hostPublicKey}\n`)
      // ... and the recorded key is accepted from then on, silently.
      const again = await cli(fresh, ['list'])
      assert.equal(again.code, 0, again.stderr)
      assert.doesNotMatch(again.stderr, /Permanently added/)
    } finally {
      c.remove()
    }
  })

  test('ssh.proxy: through the jump host (the target sshd itself forbids TCP forwarding)', async () => {
    const l = lab()
    const jumped = remoteApp({ssh: [`  proxy: kbdeploy@127.0.0.1:${l.jump.port}`], knownHosts: `[127.0.0.1]:${l.ssh.port} ${l.ssh.hostPublicKey}\n[127.0.0.1]:${l.jump.port} ${l.jump.hostPublicKey}\n`})
    const c = accessory(jumped.containerName, fake())
    try {
      const log = join(l.logs, 'sshd-jump.log')
      const logBefore = readFileSync(log, 'utf8').length
      const result = await cli(jumped, ['check', '--read-data-subset', '1/7'])
      assert.equal(result.code, 0, result.stderr)
      assert.deepEqual(parseReport(result.stdout).argv, ['check', '--read-data-subset', '1/7'])
      // The connection really came through the jump host: it logged a login during this run.
      assert.match(readFileSync(log, 'utf8').slice(logBefore), /Accepted publickey for kbdeploy/)
    } finally {
      c.remove()
    }
  })

  test('ProxyJump to an ssh_config alias (the lab\'s kblab-via-jump): the hop\'s HostName, Port, User and IdentityFile are used', async () => {
    const l = lab()
    const aliased = remoteApp({host: l.ssh.viaJumpAlias})
    const deploy = join(aliased.dir, 'config', 'deploy.yml')
    writeFileSync(deploy, readFileSync(deploy, 'utf8').replace('  config: false', `  config: ${l.ssh.config}`))
    const c = accessory(aliased.containerName, fake())
    try {
      const log = join(l.logs, 'sshd-jump.log')
      const before = readFileSync(log, 'utf8').length
      const result = await cli(aliased, ['list'])
      assert.equal(result.code, 0, result.stderr)
      assert.deepEqual(parseReport(result.stdout).argv, ['list'])
      assert.match(readFileSync(log, 'utf8').slice(before), /Accepted publickey for kbdeploy/, 'it came through the jump host')

      // ssh.proxy naming the alias works the same way.
      writeFileSync(deploy, readFileSync(deploy, 'utf8').replace(`  config: ${l.ssh.config}`, `  config: ${l.ssh.config}\n  proxy: kbdeploy@${l.jump.alias}`))
      const viaProxy = await cli(aliased, ['list'])
      assert.equal(viaProxy.code, 0, viaProxy.stderr)
    } finally {
      c.remove()
    }
  })

  test('a jump host alias: its host key is checked and recorded under its HostName, as OpenSSH does, not under the alias', async () => {
    const l = lab()
    const jumped = remoteApp({host: 'box-via-bastion', knownHosts: ''})
    const sshConfig = join(jumped.dir, 'ssh_config')
    writeFileSync(sshConfig, `Host box-via-bastion\n  HostName 127.0.0.1\n  ProxyJump bastion\nHost bastion\n  HostName 127.0.0.1\n  Port ${l.jump.port}\n  User kbdeploy\n  IdentityFile ${l.ssh.privateKey}\n  IdentitiesOnly yes\n`)
    const deploy = join(jumped.dir, 'config', 'deploy.yml')
    writeFileSync(deploy, readFileSync(deploy, 'utf8').replace('  config: false', `  config: ${sshConfig}`))
    const c = accessory(jumped.containerName, fake())
    try {
      const result = await cli(jumped, ['list'])
      assert.equal(result.code, 0, result.stderr)
      const known = readFileSync(join(jumped.home, '.ssh', 'known_hosts'), 'utf8')
      assert.ok(known.includes(`[127.0.0.1]:${l.jump.port} ${l.jump.hostPublicKey}`), known)
      assert.ok(known.includes(`[127.0.0.1]:${l.ssh.port} ${l.ssh.hostPublicKey}`), known)
      assert.doesNotMatch(known, /bastion/)
      // A changed key for the jump host, under its HostName, is refused.
      const other = ed25519KeyPair().public.split(' ')[1]!
      writeFileSync(join(jumped.home, '.ssh', 'known_hosts'), `[127.0.0.1]:${l.jump.port} ssh-ed25519 ${other}\n`)
      const changed = await cli(jumped, ['list'])
      assert.equal(changed.code, 3, changed.stderr)
      assert.match(changed.stderr, new RegExp(`host key of \\[127\\.0\\.0\\.1\\]:${l.jump.port} has CHANGED`))
    } finally {
      c.remove()
    }
  })

  test('several accessory hosts: the first by default, --host picks another; which one is said on stderr', async () => {
    const l = lab()
    // The jump sshd is the same machine, user and docker on another port: a second "host".
    const two = remoteApp({hostLines: ['hosts:', '  - 127.0.0.1', `  - 127.0.0.1:${l.jump.port}`], knownHosts: `[127.0.0.1]:${l.ssh.port} ${l.ssh.hostPublicKey}\n[127.0.0.1]:${l.jump.port} ${l.jump.hostPublicKey}\n`})
    const c = accessory(two.containerName, fake())
    const jumpLog = join(l.logs, 'sshd-jump.log')
    const mainLog = join(l.logs, 'sshd.log')
    try {
      const sizes = () => [readFileSync(mainLog, 'utf8').length, readFileSync(jumpLog, 'utf8').length] as const
      const [m0, j0] = sizes()
      const first = await cli(two, ['list'])
      assert.equal(first.code, 0, first.stderr)
      assert.match(first.stderr, new RegExp(`runs on 2 hosts \\(127\\.0\\.0\\.1, 127\\.0\\.0\\.1:${l.jump.port}\\); using 127\\.0\\.0\\.1 \\(--host picks another\\)`))
      assert.match(readFileSync(mainLog, 'utf8').slice(m0), /Accepted publickey for kbdeploy/)
      assert.doesNotMatch(readFileSync(jumpLog, 'utf8').slice(j0), /Accepted publickey/, 'the second host was not used')

      const [, j1] = sizes()
      const second = await cli(two, ['list', '--host', `127.0.0.1:${l.jump.port}`])
      assert.equal(second.code, 0, second.stderr)
      assert.match(second.stderr, new RegExp(`using 127\\.0\\.0\\.1:${l.jump.port}\\n`))
      assert.match(readFileSync(jumpLog, 'utf8').slice(j1), /Accepted publickey for kbdeploy/, '--host reached the second host')
      assert.deepEqual(parseReport(second.stdout).argv, ['list'], '--host is not passed on')
    } finally {
      c.remove()
    }
  })

  test('ssh.config: a host alias from an ssh_config file resolves to its HostName', async () => {
    const aliased = remoteApp({host: 'accessory-box'})
    const sshConfig = join(aliased.dir, 'ssh_config')
    writeFileSync(sshConfig, 'Host accessory-box\n  HostName 127.0.0.1\n')
    const deploy = join(aliased.dir, 'config', 'deploy.yml')
    writeFileSync(deploy, readFileSync(deploy, 'utf8').replace('  config: false', `  config: ${sshConfig}`))
    const c = accessory(aliased.containerName, fake())
    try {
      const result = await cli(aliased, ['list'])
      assert.equal(result.code, 0, result.stderr)
      assert.doesNotMatch(result.stderr, /Permanently added/, 'the key is looked up under the HostName')
    } finally {
      c.remove()
    }
  })

  test('ssh.proxy_command: the OpenSSH client carries the connection', async () => {
    const l = lab()
    const proxied = remoteApp({ssh: [`  proxy_command: ssh -F ${l.ssh.config} -W %h:%p ${l.jump.alias}`]})
    const c = accessory(proxied.containerName, fake())
    try {
      const result = await cli(proxied, ['list'])
      assert.equal(result.code, 0, result.stderr)
      const broken = remoteApp({ssh: ['  proxy_command: sh -c "echo no route to bastion >&2; exit 255"']})
      const failed = await cli(broken, ['list'])
      assert.equal(failed.code, 3, failed.stderr)
      assert.match(failed.stderr, /proxy/)
      assert.match(failed.stderr, /no route to bastion/)
    } finally {
      c.remove()
    }
  })

  /** Runs `args`, kills the sshd session serving it once the fake accessory says "sleeping". */
  async function dropMidCommand(args: string[], extra: Record<string, string> = {}) {
    const dir = tempDir('drop')
    const doneFile = join(dir, 'done')
    box.recreate(fake({FAKE_VERSION: LOCAL_VERSION, FAKE_SLEEP_S: '4', FAKE_DONE_FILE: doneFile, ...extra}))
    let killed = false
    try {
      const result = await cliRaw(app, args, {
        onStderr: (soFar) => {
          // Kill the sshd process serving this session: the TCP connection goes away under the client.
          const pid = !killed && /sleeping/.test(soFar) ? sshdSessionOf(app.containerName, (a) => !a.includes('--dry-run')) : undefined
          if (pid) {
            killed = true
            execFileSync('kill', ['-KILL', String(pid)])
          }
        },
      })
      assert.ok(killed, result.stderr)
      // Whether the accessory carried on: its sleep ends and it writes the done file.
      const deadline = Date.now() + 10_000
      while (!existsSync(doneFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      return {...result, stdoutText: result.stdout.toString('utf8'), finished: existsSync(doneFile)}
    } finally {
      box.recreate(fake())
    }
  }

  test('the connection dropping mid-restore: the accessory finishes the restore; the error says it may still be running and how to check', async () => {
    const result = await dropMidCommand(['restore', 'production', '--confirm', app.app, '-d', 'staging'])
    assert.equal(result.code, 3, result.stderr)
    assert.match(result.stderr, /connection to kbdeploy@127\.0\.0\.1:2222 was lost while `kamal-backup restore production` was running/)
    assert.match(result.stderr, /goes on in the accessory/)
    assert.match(result.stderr, /kamal accessory exec backup --reuse -d staging 'cat \/var\/lib\/kamal-backup\/last_restore\.json'/)
    assert.doesNotMatch(result.stderr, /accessory logs/)
    assert.equal(result.finished, true, 'the accessory side was not interrupted by the dropped connection')

    // The accessory announced its safety backup before the connection went: the error names it and its undo.
    const undo = `kamal-backup restore production 20261120T030000Z --confirm ${app.app} -d staging`
    const said = await dropMidCommand(['restore', 'production', '--confirm', app.app, '-d', 'staging'], {FAKE_SAY: `2026-11-20T03:00:09.123Z INFO  safety backup: run 20261120T030000Z. To undo this restore: ${undo}`})
    assert.equal(said.code, 3, said.stderr)
    assert.ok(said.stderr.includes(`the safety backup taken before it is run 20261120T030000Z; to undo the restore: ${undo}`), said.stderr)

    const none = await dropMidCommand(['restore', 'production', '--confirm', app.app, '--no-safety-backup'])
    assert.equal(none.code, 3, none.stderr)
    assert.match(none.stderr, /no safety backup was taken/)
    assert.doesNotMatch(none.stderr, /pre-restore/)
  })

  test('the connection dropping mid-backup still interrupts the accessory (unchanged), with the clear error', async () => {
    const result = await dropMidCommand(['backup', '--force'])
    assert.equal(result.code, 3, result.stderr)
    assert.match(result.stderr, /was lost while `kamal-backup backup` was running/)
    assert.match(result.stderr, /kamal-backup unlock/)
    assert.equal(result.finished, false, 'the accessory stopped when its stdin closed')
  })

  test('a connection lost during a --json command leaves exactly one JSON document on stdout: the error', async () => {
    const result = await dropMidCommand(['list', '--json'])
    assert.equal(result.code, 3, result.stderr)
    const doc = JSON.parse(result.stdoutText)
    assert.equal(doc.error.code, 'ssh/connection-lost')
    assert.ok(doc.error.suggestions.some((s: string) => /bytes of output that had arrived were dropped/.test(s)), JSON.stringify(doc))
  })

  test('the container does not exist, is stopped, or runs the wrong image: each says what to do', async () => {
    const missing = remoteApp({destinations: {production: 'ssh:\n  user: kbdeploy\n'}})
    const none = await cli(missing, ['list', '-d', 'production'])
    assert.equal(none.code, 3, none.stderr)
    assert.match(none.stderr, /does not exist/)
    assert.match(none.stderr, /kamal accessory boot backup -d production/)

    box.recreate({...fake(), running: false})
    const stopped = await cli(app, ['list'])
    assert.equal(stopped.code, 3, stopped.stderr)
    assert.match(stopped.stderr, /is not running/)
    assert.match(stopped.stderr, /kamal accessory boot backup/)

    box.recreate({image: WRONG_IMAGE})
    const wrong = await cli(app, ['list'])
    assert.equal(wrong.code, 3, wrong.stderr)
    assert.match(wrong.stderr, /kamal-backup is not installed in the container .*wrong image/)
    box.recreate(fake())
  })

  test('authentication failure names the user and the keys tried', async () => {
    const keyDir = tempDir('wrong-key')
    const key = join(keyDir, 'id_ed25519')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])
    const wrong = remoteApp()
    writeFileSync(join(wrong.dir, 'config', 'deploy.yml'), readFileSync(join(wrong.dir, 'config', 'deploy.yml'), 'utf8').replace(lab().ssh.privateKey, key))
    const result = await cli(wrong, ['list'])
    assert.equal(result.code, 3, result.stderr)
    assert.match(result.stderr, /authentication as kbdeploy on kbdeploy@127\.0\.0\.1:2222 failed; tried: .*wrong-key.*id_ed25519/)
  })

  test('ssh-agent: without keys_only the agent authenticates; it is named when authentication fails', async () => {
    const agentDir = tempDir('agent')
    const sock = join(agentDir, 'agent.sock')
    const agent = execFileSync('ssh-agent', ['-s', '-a', sock], {encoding: 'utf8'})
    const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(agent)?.[1])
    try {
      const viaAgent = remoteApp({ssh: []})
      const deploy = join(viaAgent.dir, 'config', 'deploy.yml')
      writeFileSync(deploy, readFileSync(deploy, 'utf8').replace(`  keys: [${lab().ssh.privateKey}]\n  keys_only: true\n`, ''))
      const c = accessory(viaAgent.containerName, fake())
      try {
        const empty = await cli(viaAgent, ['list'], {env: {SSH_AUTH_SOCK: sock}})
        assert.equal(empty.code, 3, empty.stderr)
        assert.match(empty.stderr, new RegExp(`tried: ssh-agent \\(${sock.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`))
        execFileSync('ssh-add', ['-q', lab().ssh.privateKey], {env: {...process.env, SSH_AUTH_SOCK: sock}, stdio: 'ignore'})
        const ok = await cli(viaAgent, ['list'], {env: {SSH_AUTH_SOCK: sock}})
        assert.equal(ok.code, 0, ok.stderr)
        assert.deepEqual(parseReport(ok.stdout).argv, ['list'])
      } finally {
        c.remove()
      }
    } finally {
      if (agentPid > 1) process.kill(agentPid)
    }
  })

  test('a stale SSH_AUTH_SOCK does not stop the configured keys from working', async () => {
    const stale = remoteApp()
    const deploy = join(stale.dir, 'config', 'deploy.yml')
    writeFileSync(deploy, readFileSync(deploy, 'utf8').replace('  keys_only: true\n', ''))
    const c = accessory(stale.containerName, fake())
    try {
      const result = await cli(stale, ['list'], {env: {SSH_AUTH_SOCK: join(tempDir('stale-agent'), 'gone.sock')}})
      assert.equal(result.code, 0, result.stderr)
    } finally {
      c.remove()
    }
  })

  test('ssh.key_data: a private key given inline authenticates', async () => {
    const inline = remoteApp()
    const deploy = join(inline.dir, 'config', 'deploy.yml')
    const key = readFileSync(lab().ssh.privateKey, 'utf8').trim().split('\n').map((l) => `      ${l}`).join('\n')
    writeFileSync(deploy, readFileSync(deploy, 'utf8').replace(`  keys: [${lab().ssh.privateKey}]\n`, `  key_data:\n    - |\n${key}\n`))
    const c = accessory(inline.containerName, fake())
    try {
      const result = await cli(inline, ['list'])
      assert.equal(result.code, 0, result.stderr)
    } finally {
      c.remove()
    }
  })

  test('a server that accepts TCP but never speaks SSH: timed out, with host, port and the configured ConnectTimeout', async () => {
    const {createServer} = await import('node:net')
    const sockets: import('node:net').Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as import('node:net').AddressInfo).port
    try {
      const slow = remoteApp()
      const sshConfig = join(slow.dir, 'ssh_config')
      writeFileSync(sshConfig, 'Host 127.0.0.1\n  ConnectTimeout 2\n')
      const deploy = join(slow.dir, 'config', 'deploy.yml')
      writeFileSync(deploy, readFileSync(deploy, 'utf8').replace(`port: ${lab().ssh.port}`, `port: ${port}`).replace('  config: false', `  config: ${sshConfig}`))
      const started = Date.now()
      const result = await cli(slow, ['list'])
      assert.equal(result.code, 3, result.stderr)
      assert.match(result.stderr, new RegExp(`connection to kbdeploy@127\\.0\\.0\\.1:${port} timed out after 2 s`))
      assert.ok(Date.now() - started < 10_000)
    } finally {
      for (const s of sockets) s.destroy()
      silent.close()
    }
  })

  test('restore production on a terminal: the typed confirmation is asked here, showing the run the accessory resolved; then --confirm <app> --expect-run <run> goes to the accessory', async () => {
    const l = lab()
    const confirmApp = remoteApp({backupConfig: 'paths:\n  - /srv/storage\nrestic:\n  repository: /srv/repo\n  password: {secret: RESTIC_PASSWORD}\n'})
    const dir = tempDir('tty-confirm')
    const ran = join(dir, 'ran.jsonl')
    const c = accessory(confirmApp.containerName, fake({FAKE_LOG_FILE: ran}))
    const commands = () => readFileSync(ran, 'utf8').trim().split('\n').map((l) => JSON.parse(l).argv as string[])
    // `script` gives the CLI a real pseudo-terminal; /bin/sh and env -u as in the tty tests (no CI, no BASH_ENV).
    const env = Object.fromEntries(Object.entries({...process.env, HOME: confirmApp.home, SSH_AUTH_SOCK: undefined, CI: undefined, NO_COLOR: '1', BASH_ENV: undefined, ENV: undefined, TERM: 'xterm', SHELL: '/bin/sh', KAMAL_BACKUP_IN_ACCESSORY: undefined}).filter(([, v]) => v !== undefined)) as Record<string, string>
    const inTty = (answers: string[]) =>
      new Promise<{code: number | null; screen: string}>((resolve) => {
        const child = spawn('script', ['-qec', `exec env -u CI ${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'bin', 'run.js'))} restore production`, '/dev/null'], {cwd: confirmApp.dir, env, stdio: ['pipe', 'pipe', 'pipe']})
        let screen = ''
        const pending = [...answers]
        const prompts = [/Type the app name \([^)]*\) to continue: /, /Type RESTORE PRODUCTION to continue: /]
        child.stdout.on('data', (d) => {
          screen += d
          // Answer each prompt only once it is shown: the terminal must not hold both lines for the first read.
          if (pending.length > 0 && prompts[answers.length - pending.length]?.test(screen)) child.stdin.write(pending.shift() + '\r')
        })
        child.stderr.on('data', (d) => (screen += d))
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
        child.on('close', (code) => {
          clearTimeout(timer)
          resolve({code, screen})
        })
      })
    try {
      const wrong = await inTty([confirmApp.app, 'restore production'])
      assert.ok(wrong.code !== 0 && wrong.code !== null, wrong.screen)
      // The run the accessory's dry run resolved, before the first question.
      const asked = wrong.screen.indexOf('Type the app name')
      assert.ok(asked > 0, wrong.screen)
      assert.match(wrong.screen.slice(0, asked), /This restores run 20261120T030000Z \(the latest complete backup run\) into PRODUCTION/)
      assert.match(wrong.screen.slice(0, asked), /taken 2026-11-20T03:00:04Z \(2 h 3 min ago\)/)
      assert.match(wrong.screen, /nothing was changed/)
      assert.deepEqual(commands(), [['restore', 'production', '--confirm', confirmApp.app, '--dry-run', '--json']], 'only the dry run ran in the accessory')

      const ok = await inTty([confirmApp.app, 'RESTORE PRODUCTION'])
      assert.equal(ok.code, 0, ok.screen)
      const report = JSON.parse(/\{"argv".*\}/.exec(ok.screen)![0])
      assert.deepEqual(report.argv, ['restore', 'production', '--confirm', confirmApp.app, '--expect-run', '20261120T030000Z'])
      assert.equal(commands().length, 3)
      assert.ok(l.ssh.port > 0)
    } finally {
      c.remove()
    }
  })

  test('schedule is refused from a workstation, pointing at the accessory\'s own scheduler log', async () => {
    const result = await cli(app, ['schedule', '-d', 'staging'])
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /schedule is what the backup accessory itself runs/)
    assert.match(result.stderr, /kamal accessory logs backup -f -d staging/)
  })

  test('version with the accessory out of reach: this machine\'s version, then the error, exit 3', async () => {
    const down = remoteApp()
    const deploy = join(down.dir, 'config', 'deploy.yml')
    writeFileSync(deploy, readFileSync(deploy, 'utf8').replace(`port: ${lab().ssh.port}`, 'port: 1'))
    const text = await cli(down, ['version'])
    assert.equal(text.code, 3, text.stderr)
    assert.equal(text.stdout, `${LOCAL_VERSION} (this machine)\n`)
    assert.match(text.stderr, /refused/)
    const json = await cli(down, ['version', '--json'])
    assert.equal(json.code, 3, json.stderr)
    const doc = JSON.parse(json.stdout)
    assert.equal(doc.version, LOCAL_VERSION)
    assert.equal(doc.accessory, null)
    assert.equal(doc.error.code, 'ssh/refused')
  })

  test('an accessory speaking another protocol number is refused before anything runs', async () => {
    box.recreate(fake({FAKE_VERSION: LOCAL_VERSION, FAKE_PROTOCOL: '2'}))
    try {
      const result = await cli(app, ['list'])
      assert.equal(result.code, 4, result.stderr)
      assert.match(result.stderr, /speaks remote protocol 2, this machine's .* speaks 1; nothing was run/)
      assert.equal(result.stdout, '')
    } finally {
      box.recreate(fake())
    }
  })

  test('refused, DNS failure and an unknown --host are told apart', async () => {
    const refused = remoteApp({ssh: [], host: '127.0.0.1'})
    writeFileSync(join(refused.dir, 'config', 'deploy.yml'), readFileSync(join(refused.dir, 'config', 'deploy.yml'), 'utf8').replace(`port: ${lab().ssh.port}`, 'port: 1'))
    const r1 = await cli(refused, ['list'])
    assert.equal(r1.code, 3, r1.stderr)
    assert.match(r1.stderr, /connection to kbdeploy@127\.0\.0\.1:1 refused/)

    const dns = remoteApp({host: 'no-such-host.invalid'})
    const r2 = await cli(dns, ['list'])
    assert.equal(r2.code, 3, r2.stderr)
    assert.match(r2.stderr, /cannot resolve the host name no-such-host\.invalid/)

    const two = remoteApp({hostLines: ['hosts:', '  - 127.0.0.1', '  - 127.0.0.2']})
    const r3 = await cli(two, ['list', '--host', 'db9.example.com'])
    assert.equal(r3.code, 2, r3.stderr)
    assert.match(r3.stderr, /127\.0\.0\.1, 127\.0\.0\.2/)
  })
})

describe('version handshake against a real CLI of another version', {concurrency: false}, () => {
  test('major.minor mismatch: refused before the command runs, with the reboot command; patch: a warning', async () => {
    const dir = tempDir('vm-data')
    const app = remoteApp({destinations: {staging: 'ssh:\n  user: kbdeploy\n'}, backupConfig: `restic:\n  repository: ${join(dir, 'repo')}\n  password: {secret: RESTIC_PASSWORD}\n  init_if_missing: true\nstate: {path: ${join(dir, 'state')}}\n`})
    // The image's own CLI, reporting 0.2.0; its scheduler idle, so that nothing but the test's commands could touch
    // the repository or the state directory.
    const options: AccessoryOptions = {config: app.config, env: {RESTIC_PASSWORD: lab().resticPassword}, command: ['sleep', 'infinity']}
    const c = accessory(app.containerName, {...options, version: '0.2.0'})
    try {
      const result = await cli(app, ['backup', '--force', '-d', 'staging'])
      assert.equal(result.code, 4, result.stderr)
      assert.match(result.stderr, /this kamal-backup is 0\.1\.\d+ but the accessory runs 0\.2\.0/)
      assert.match(result.stderr, /kamal accessory reboot backup -d staging/)
      assert.equal(existsSync(join(dir, 'state')), false, 'the accessory did nothing')
      assert.equal(existsSync(join(dir, 'repo')), false, 'the accessory did nothing')

      const version = await cli(app, ['version', '--json', '-d', 'staging'])
      assert.equal(version.code, 4, version.stderr)
      const doc = JSON.parse(version.stdout)
      assert.equal(doc.accessory.version, '0.2.0')
      assert.equal(doc.accessory.compatible, false)

      const local = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string
      const [major, minor, patch] = local.split('.').map(Number)
      c.recreate({...options, version: `${major}.${minor}.${patch! + 7}`})
      const patched = await cli(app, ['version', '-d', 'staging'])
      assert.equal(patched.code, 0, patched.stderr)
      assert.match(patched.stdout, new RegExp(`${major}\\.${minor}\\.${patch! + 7} \\(accessory backup.*compatible, patch releases differ`))
      const listed = await cli(app, ['list', '-d', 'staging'])
      assert.match(listed.stderr, /compatible; upgrading both/)
    } finally {
      c.remove()
    }
  })
})
