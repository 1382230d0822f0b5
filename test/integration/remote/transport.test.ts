// The SSH transport and the protocol through the lab's real OpenSSH sshd: argument fidelity, exit codes, large
// output in constant memory, host keys, jump host and proxy command, dropped connections, the version handshake,
// and the errors for a missing/stopped container, a wrong image, bad keys and unreachable hosts. The accessory's
// `docker` is the lab's stand-in (test/lab/fake-docker, no Docker engine here); most tests run the argv-echoing
// fake-kamal-backup.mjs in the "container", the version tests a real CLI snapshot with another version number.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import ssh2 from 'ssh2'
import {lab, tempDir} from '../../support/lab.ts'
import {cli, container, fakeImage, makeImage, remoteApp, ROOT, type Container, type RemoteApp} from './fixture.ts'

function fakeEnv(image: string, extra: Record<string, string> = {}): Record<string, string> {
  return {PATH: `${image}:/usr/local/bin:/usr/bin:/bin`, ...extra}
}

function parseReport(stdout: string): {argv: string[]; operator: string | null; client: string | null; inAccessory: string | null} {
  const line = stdout.trim().split('\n').at(-1) ?? ''
  return JSON.parse(line)
}

describe('remote transport over OpenSSH', {concurrency: false}, () => {
  let image: string
  let app: RemoteApp
  let box: Container

  before(() => {
    image = fakeImage()
    app = remoteApp({destinations: {staging: 'ssh:\n  user: kbdeploy\n'}, backupConfig: 'paths:\n  - /srv/storage\nrestic:\n  repository: /srv/repo\n  password: {secret: RESTIC_PASSWORD}\n'})
    box = container(app.containerName, fakeEnv(image))
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
    assert.equal(existsSync(marker), false, 'nothing was executed by a shell')
  })

  test('stderr is redacted line by line and the handshake line never shows', async () => {
    const result = await cli(app, ['list'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /PGPASSWORD=\[REDACTED\]/)
    assert.doesNotMatch(result.stderr, /hunter2|@kamal-backup-handshake/)
  })

  for (const code of [0, 1, 2]) {
    test(`remote exit code ${code} becomes the local exit code`, async () => {
      box.write(fakeEnv(image, {FAKE_EXIT: String(code)}))
      try {
        const result = await cli(app, ['list'])
        assert.equal(result.code, code, result.stderr)
      } finally {
        box.write(fakeEnv(image))
      }
    })
  }

  test('SIGINT while the remote command runs: the accessory is interrupted through stdin, exit 130', async () => {
    box.write(fakeEnv(image, {FAKE_SLEEP_S: '30'}))
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
      box.write(fakeEnv(image))
    }
  })

  test('50 MB of output streams through without the local process growing', async () => {
    const measure = async (megabytes: number) => {
      box.write(fakeEnv(image, {FAKE_MEGABYTES: String(megabytes)}))
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), 'list'], {cwd: app.dir, env: {...process.env, HOME: app.home, NO_COLOR: '1', SSH_AUTH_SOCK: ''}, stdio: ['ignore', 'pipe', 'pipe']})
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
      const small = await measure(1)
      const big = await measure(50)
      assert.equal(big.bytes, 50_000_000)
      assert.equal(big.lines, 500_000)
      assert.ok(big.ordered, 'every line arrived, in order')
      const growth = big.peakRss - small.peakRss
      assert.ok(growth < 40 * 1024 * 1024, `peak RSS grew by ${(growth / 1048576).toFixed(1)} MB (1 MB run ${(small.peakRss / 1048576).toFixed(0)} MB, 50 MB run ${(big.peakRss / 1048576).toFixed(0)} MB)`)
    } finally {
      box.write(fakeEnv(image))
    }
  })

  test('the reader of stdout going away (| head) stops the remote command instead of hanging', async () => {
    box.write(fakeEnv(image, {FAKE_MEGABYTES: '50'}))
    try {
      const started = Date.now()
      const r = spawnSync('bash', ['-c', `${process.execPath} ${join(ROOT, 'bin', 'run.js')} list | head -2; echo "rc=\${PIPESTATUS[0]}"`], {cwd: app.dir, env: {...process.env, HOME: app.home, SSH_AUTH_SOCK: '', NO_COLOR: '1'}, encoding: 'utf8', timeout: 60_000})
      assert.equal(r.stdout.split('\n').length, 4, r.stdout)
      assert.match(r.stdout, /^line 0000000000 x+\nline 0000000001 x+\nrc=141\n$/)
      assert.ok(Date.now() - started < 20_000, 'it did not stream all 50 MB first')
    } finally {
      box.write(fakeEnv(image))
    }
  })

  test('a changed host key is refused, showing both fingerprints, and nothing runs', async () => {
    const other = ssh2.utils.generateKeyPairSync('ed25519').public
    const otherBlob = other.split(' ')[1]!
    const bad = remoteApp({knownHosts: `[127.0.0.1]:${lab().ssh.port} ssh-ed25519 ${otherBlob}\n`})
    const c = container(bad.containerName, fakeEnv(image, {KB_FAKE_PPID_FILE: join(bad.dir, 'ran')}))
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
    const c = container(fresh.containerName, fakeEnv(image))
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
    const c = container(jumped.containerName, fakeEnv(image))
    try {
      const log = join(l.logs, 'sshd-jump.log')
      const logBefore = readFileSync(log, 'utf8').length
      const result = await cli(jumped, ['check', '--read-data-subset', 'x y'])
      assert.equal(result.code, 0, result.stderr)
      assert.deepEqual(parseReport(result.stdout).argv, ['check', '--read-data-subset', 'x y'])
      // The connection really came through the jump host: it logged a login during this run.
      assert.match(readFileSync(log, 'utf8').slice(logBefore), /Accepted publickey for kbdeploy/)
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
    const c = container(aliased.containerName, fakeEnv(image))
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
    const c = container(proxied.containerName, fakeEnv(image))
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

  test('the connection dropping mid-command gives the clear error (restore: what state it may have left)', async () => {
    const pidFile = join(tempDir('drop'), 'sshd.pid')
    box.write(fakeEnv(image, {FAKE_SLEEP_S: '60', KB_FAKE_PPID_FILE: pidFile}))
    try {
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), 'restore', 'production', '--confirm', app.app], {cwd: app.dir, env: {...process.env, HOME: app.home, NO_COLOR: '1', SSH_AUTH_SOCK: ''}, stdio: ['ignore', 'pipe', 'pipe']})
      let stderr = ''
      child.stdout.resume()
      child.stderr.on('data', (d) => {
        stderr += d
        if (/sleeping/.test(stderr) && existsSync(pidFile)) {
          // Kill the sshd process serving this session: the TCP connection goes away under the client.
          const pid = Number(readFileSync(pidFile, 'utf8').trim())
          if (pid > 1) execFileSync('kill', ['-KILL', String(pid)])
        }
      })
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      assert.equal(code, 3, stderr)
      assert.match(stderr, /connection to kbdeploy@127\.0\.0\.1:2222 was lost while `kamal-backup restore production` was running/)
      assert.match(stderr, /half done/)
      assert.match(stderr, /pre-restore/)
    } finally {
      box.write(fakeEnv(image))
    }
  })

  test('the container does not exist, is stopped, or runs the wrong image: each says what to do', async () => {
    const missing = remoteApp({destinations: {production: 'ssh:\n  user: kbdeploy\n'}})
    const none = await cli(missing, ['list', '-d', 'production'])
    assert.equal(none.code, 3, none.stderr)
    assert.match(none.stderr, /does not exist/)
    assert.match(none.stderr, /kamal accessory boot backup -d production/)

    box.write({...fakeEnv(image), KB_FAKE_STATUS: 'exited'})
    const stopped = await cli(app, ['list'])
    assert.equal(stopped.code, 3, stopped.stderr)
    assert.match(stopped.stderr, /is not running/)
    assert.match(stopped.stderr, /kamal accessory boot backup/)

    box.write({PATH: '/usr/local/bin:/usr/bin:/bin'})
    const wrong = await cli(app, ['list'])
    assert.equal(wrong.code, 3, wrong.stderr)
    assert.match(wrong.stderr, /kamal-backup is not installed in the container .*wrong image/)
    box.write(fakeEnv(image))
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
      const c = container(viaAgent.containerName, fakeEnv(image))
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
    const c = container(stale.containerName, fakeEnv(image))
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
    const c = container(inline.containerName, fakeEnv(image))
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
    const newer = makeImage({version: '0.2.0'})
    const env = {KAMAL_BACKUP_CONFIG: app.config, RESTIC_PASSWORD: lab().resticPassword, HOME: dir, RESTIC_CACHE_DIR: join(dir, 'cache'), KB_FAKE_WORKDIR: dir}
    const c = container(app.containerName, {PATH: `${newer}:/tmp/kb-lab/bin:/usr/local/bin:/usr/bin:/bin`, ...env})
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
      const sibling = makeImage({version: `${major}.${minor}.${patch! + 7}`})
      c.write({PATH: `${sibling}:/usr/local/bin:/usr/bin:/bin`, ...env})
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
