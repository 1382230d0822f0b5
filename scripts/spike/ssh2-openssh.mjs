#!/usr/bin/env node
// SPIKE, not product code: proves the src/remote building blocks and ssh2 1.17 against a real OpenSSH sshd that this
// script starts on 127.0.0.1:2299 (temp dir, key-only) and stops at the end.
//   node --import tsx scripts/spike/ssh2-openssh.mjs          (as root: needs /run/sshd and /usr/sbin/sshd)
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Duplex} from 'node:stream'
import ssh2 from 'ssh2'
import {appendKnownHost, checkHostKey, fingerprint, knownHostKeyTypes, knownHostsNames, serverHostKeyAlgorithmsOption} from '../../src/remote/known-hosts.ts'
import {effectiveSsh, proxyArgv} from '../../src/remote/ssh-settings.ts'

const PORT = 2299
const T = mkdtempSync(join(tmpdir(), 'kb-spike-'))
chmodSync(T, 0o755)
const USER = spawnSync('getent', ['passwd', 'kbdeploy']).status === 0 ? 'kbdeploy' : 'root' // root's .bashrc is slow here
const now = () => performance.now()
const ms = (t0) => `${(now() - t0).toFixed(0)} ms`
const sleep = (n) => new Promise((r) => setTimeout(r, n))
const log = (...a) => console.log(...a)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

// ---- sshd -------------------------------------------------------------------------------------------------------
const keygen = (name, type) => execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', join(T, name)])
keygen('host_ed25519', 'ed25519')
keygen('host_ecdsa', 'ecdsa')
keygen('id_ed25519', 'ed25519')
writeFileSync(join(T, 'authorized_keys'), readFileSync(join(T, 'id_ed25519.pub')), {mode: 0o644})
const pub = (name) => readFileSync(join(T, name + '.pub'), 'utf8').trim().split(/\s+/)
const [edType, edB64] = pub('host_ed25519')
const [ecType, ecB64] = pub('host_ecdsa')
writeFileSync(join(T, 'sshd_config'), [
  `Port ${PORT}`, 'ListenAddress 127.0.0.1', `HostKey ${T}/host_ed25519`, `HostKey ${T}/host_ecdsa`, `PidFile ${T}/sshd.pid`,
  `AuthorizedKeysFile ${T}/authorized_keys`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
  'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'AllowTcpForwarding yes', 'MaxSessions 50', '',
].join('\n'))
mkdirSync('/run/sshd', {recursive: true})
execFileSync('/usr/sbin/sshd', ['-t', '-f', join(T, 'sshd_config')])
const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(T, 'sshd_config')], {stdio: ['ignore', 'ignore', 'pipe']})
let sshdLog = ''
sshd.stderr.on('data', (d) => (sshdLog += d))
for (let i = 0; ; i++) {
  const ok = await new Promise((r) => net.connect(PORT, '127.0.0.1').on('connect', function () { this.destroy(); r(true) }).on('error', () => r(false)))
  if (ok) break
  if (i > 100) throw new Error('sshd did not start:\n' + sshdLog)
  await sleep(50)
}
log(`sshd pid ${sshd.pid} on 127.0.0.1:${PORT}, user ${USER}, host keys ${edType} + ${ecType}`)

// ---- helpers --------------------------------------------------------------------------------------------------
const privateKey = readFileSync(join(T, 'id_ed25519'))
const blobType = (blob) => blob.subarray(4, 4 + blob.readUInt32BE(0)).toString()

/** Connects with our known-hosts module in hostVerifier (accept-new). Resolves {conn, verdict, ms}. */
function connect({khFile, sock, host = '127.0.0.1', algorithms} = {}) {
  return new Promise((resolve, reject) => {
    const t0 = now()
    const conn = new ssh2.Client()
    let verdict
    conn.on('ready', () => resolve({conn, verdict, ms: now() - t0}))
    conn.on('error', (err) => reject(Object.assign(err, {verdict})))
    conn.connect({
      host, port: PORT, username: USER, privateKey, readyTimeout: 15000, keepaliveInterval: 30000, keepaliveCountMax: 3,
      ...(sock ? {sock} : {}),
      ...(algorithms ? {algorithms} : {}),
      hostVerifier: (key) => {
        const names = knownHostsNames(host, PORT)
        verdict = {...checkHostKey([khFile], names, blobType(key), key), type: blobType(key), fp: fingerprint(key)}
        if (verdict.status === 'unknown') appendKnownHost(khFile, names, blobType(key), key)
        return verdict.status !== 'changed'
      },
    })
  })
}

/** exec; resolves {code, signal, stdout, stderr, ms, tEnd}. `during(stream)` can act on the open channel. */
function run(conn, cmd, {stdin, during} = {}) {
  return new Promise((resolve, reject) => {
    const t0 = now()
    conn.exec(cmd, (err, stream) => {
      if (err) return reject(err)
      let stdout = ''
      let stderr = ''
      const r = {code: null, signal: null}
      stream.on('data', (d) => (stdout += d))
      stream.stderr.on('data', (d) => (stderr += d))
      stream.on('exit', (code, signal) => Object.assign(r, {code, signal, tExit: now()}))
      stream.on('close', () => resolve({...r, stdout, stderr, ms: now() - t0, tClose: now()}))
      if (stdin !== undefined) stream.end(stdin)
      if (during) during(stream)
    })
  })
}

const procs = (marker) => spawnSync('pgrep', ['-f', '-a', marker], {encoding: 'utf8'}).stdout.trim().split('\n').filter(Boolean)
const killMarker = (marker) => { for (const p of procs(marker)) process.kill(Number(p.split(' ')[0]), 'SIGKILL') }

try {
  // ---- 1. host keys through hostVerifier + known_hosts module -------------------------------------------------
  const kh = join(T, 'home/.ssh/known_hosts')
  let c = await connect({khFile: kh})
  log(`1a first connect: ${c.verdict.status} ${c.verdict.type} ${c.verdict.fp} -> appended; ready in ${c.ms.toFixed(0)} ms`)
  log(`   known_hosts now: ${readFileSync(kh, 'utf8').trim().slice(0, 60)}...`)
  c.conn.end()
  c = await connect({khFile: kh})
  log(`1b second connect: ${c.verdict.status}; ready in ${c.ms.toFixed(0)} ms`)
  c.conn.end()

  const khEc = join(T, 'kh_ecdsa_only')
  writeFileSync(khEc, `[127.0.0.1]:${PORT} ${ecType} ${ecB64}\n`)
  for (const [label, algorithms] of [
    ['default algorithms', undefined],
    ['prepend only', {serverHostKey: {prepend: [ecType]}}],
    ['serverHostKeyAlgorithmsOption', {serverHostKey: serverHostKeyAlgorithmsOption(knownHostKeyTypes([khEc], knownHostsNames('127.0.0.1', PORT)))}],
  ]) {
    try {
      const r = await connect({khFile: khEc, algorithms})
      log(`1c known_hosts has only ${ecType}, ${label}: server offered ${r.verdict.type} -> ${r.verdict.status}, connected`)
      r.conn.end()
    } catch (e) {
      log(`1c known_hosts has only ${ecType}, ${label}: server offered ${e.verdict?.type} -> ${e.verdict?.status}, refused: level=${e.level} "${e.message}"`)
    }
  }
  const khWrong = join(T, 'kh_wrong')
  writeFileSync(khWrong, `[127.0.0.1]:${PORT} ${edType} ${pub('id_ed25519')[1]}\n`)
  await connect({khFile: khWrong}).then(
    (r) => log('1d WRONG: connected despite a changed key', r.verdict),
    (e) => log(`1d changed key: ${e.verdict.status} (line ${e.verdict.line}) -> refused: level=${e.level} "${e.message}"`),
  )

  // ---- 2. exec -------------------------------------------------------------------------------------------------
  c = await connect({khFile: kh})
  const conn = c.conn
  let r = await run(conn, 'echo out; echo err >&2; exit 42')
  log(`2a exec: stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr)} code=${r.code} signal=${r.signal}`)
  const lat = []
  for (let i = 0; i < 10; i++) lat.push((await run(conn, 'true')).ms)
  log(`2b exec "true" x10 on one connection: median ${median(lat).toFixed(0)} ms`)

  // ---- 3. stdin EOF -----------------------------------------------------------------------------------------------
  let tEnd
  r = await run(conn, 'cat >/dev/null; echo saw-eof', {during: (s) => setTimeout(() => { tEnd = now(); s.end() }, 300)})
  log(`3a "cat >/dev/null; echo saw-eof", stream.end() after 300 ms: stdout=${JSON.stringify(r.stdout.trim())} code=${r.code}, exit ${(r.tExit - tEnd).toFixed(1)} ms after end()`)
  r = await run(conn, 'IFS= read -r x; echo "read rc=$? x=[$x]"', {during: (s) => setTimeout(() => s.end('partial-no-newline'), 200)})
  log(`3b read with partial line then EOF: ${JSON.stringify(r.stdout.trim())}`)
  r = await run(conn, 'sleep 0.6; echo still-ran', {during: (s) => s.end()})
  log(`3c command that ignores stdin, end() at once: ${JSON.stringify(r.stdout.trim())} code=${r.code} (${r.ms.toFixed(0)} ms)`)

  // ---- 4. closing the channel / connection while the remote command runs -------------------------------------
  for (const [label, act] of [
    ['stream.close()', (s) => s.close()],
    ['stream.destroy()', (s) => s.destroy()],
  ]) {
    const marker = `sleep 31.${label.length}7`
    const p = run(conn, `${marker}; echo done`, {during: (s) => setTimeout(() => act(s), 300)})
    const res = await Promise.race([p, sleep(3000).then(() => 'timeout')])
    await sleep(500)
    log(`4 ${label} on "${marker}; echo done": channel ${res === 'timeout' ? 'did NOT close in 3 s' : `closed (code=${res.code} signal=${res.signal})`}; remote processes after 0.8 s: ${procs(marker).length}`)
    killMarker(marker)
  }
  {
    const c2 = await connect({khFile: kh})
    const marker = 'sleep 31.999'
    c2.conn.exec(`${marker}; echo done`, () => setTimeout(() => c2.conn.end(), 300))
    await sleep(1200)
    log(`4 conn.end() while "${marker}" runs: remote processes after 0.9 s: ${procs(marker).length} ${procs(marker).join(' | ')}`)
    killMarker(marker)
    const marker2 = 'sleep 31.888'
    const c3 = await connect({khFile: kh})
    c3.conn.exec(`while :; do echo tick; ${marker2}.$$ 2>/dev/null || sleep 0.2; done`, () => {})
    c3.conn.exec(`${marker2}; echo x`, () => setTimeout(() => c3.conn.end(), 300))
    await sleep(1500)
    log(`4 conn.end(): a remote loop that keeps WRITING to stdout -> processes left after 1.2 s: ${procs('while :; do echo tick').length}; a sleeping one: ${procs(marker2).length}`)
    killMarker(marker2)
    killMarker('while :; do echo tick')
  }

  // ---- 5. signals (no PTY) ---------------------------------------------------------------------------------------
  const sig = async (label, cmd, name, {endFirst = false, raw = false, marker} = {}) => {
    let tSig
    const send = (s) => (raw ? s._client._protocol.signal(s.outgoing.id, name) : s.signal(name)) // raw: bypass ssh2's writable check
    const p = run(conn, cmd, {during: (s) => setTimeout(() => { if (endFirst) s.end(); tSig = now(); send(s) }, 400)})
    const res = await Promise.race([p, sleep(2500).then(() => 'timeout')])
    if (res === 'timeout') {
      log(`5 ${label}: signal(${name}) -> nothing within 2.1 s; remote processes: ${marker ? procs(marker).length : '?'}`)
      if (marker) killMarker(marker)
      await p
    } else {
      await sleep(300)
      log(`5 ${label}: signal(${name}) -> exit code=${res.code} signal=${res.signal} after ${(res.tExit - tSig).toFixed(1)} ms; stderr=${JSON.stringify(res.stderr.replace(/Could not chdir[^\n]*\n/, '').trim())}; remote processes left: ${marker ? procs(marker).length : '?'}`)
      if (marker) killMarker(marker)
    }
  }
  await sig('"sleep 31.41" (login shell execs it)', 'sleep 31.41', 'INT', {marker: 'sleep 31.41'})
  await sig('trap script', "trap 'echo got-INT >&2; exit 130' INT; while :; do sleep 0.05; done", 'INT', {marker: 'got-INT'})
  await sig('"sleep 31.42; echo after" (shell waits on child)', 'sleep 31.42; echo after', 'INT', {marker: 'sleep 31.42'})
  await sig('"sleep 31.43; echo after"', 'sleep 31.43; echo after', 'TERM', {marker: 'sleep 31.43'})
  await sig('signal after stream.end() (ssh2 drops it: channel no longer writable)', 'sleep 31.44', 'INT', {endFirst: true, marker: 'sleep 31.44'})
  await sig('signal after stream.end() sent through the protocol directly', 'sleep 31.45', 'INT', {endFirst: true, raw: true, marker: 'sleep 31.45'})
  await sig('"exec sleep 31.46" in a script (exec replaces the shell)', 'echo start; exec sleep 31.46', 'INT', {marker: 'sleep 31.46'})
  conn.end()

  // ---- 6. jump host, both ways -------------------------------------------------------------------------------------
  // (a) spawn `ssh -W` (what net-ssh does), command built by our ssh-settings module; its stdio is ssh2's sock.
  const sshCfg = join(T, 'ssh_config')
  writeFileSync(sshCfg, `Host 127.0.0.1\n  IdentityFile ${T}/id_ed25519\n  IdentitiesOnly yes\n  UserKnownHostsFile ${kh}\n  StrictHostKeyChecking yes\n  BatchMode yes\n`)
  const eff = effectiveSsh('127.0.0.1', {user: USER, port: PORT, proxy: `${USER}@127.0.0.1:${PORT}`, config: sshCfg}, {cwd: T, homeDir: join(T, 'home'), env: {}})
  const argv = proxyArgv(eff)
  log(`6a proxy argv: ${argv.join(' ')}`)
  const viaW = async () => {
    const t0 = now()
    const child = spawn(argv[0], argv.slice(1), {stdio: ['pipe', 'pipe', 'pipe']})
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    const exited = new Promise((res) => child.on('exit', (code, s) => res({code, s, t: now()})))
    const sock = Duplex.from({readable: child.stdout, writable: child.stdin})
    const {conn: cw, verdict} = await connect({khFile: kh, sock})
    const ready = now() - t0
    const e1 = await run(cw, 'echo via-W')
    const t1 = now()
    cw.end()
    const ex = await exited
    return {ready, first: e1.ms, out: e1.stdout.trim(), verdict: verdict.status, exit: ex.code, exitAfterEnd: ex.t - t1, err: err.trim()}
  }
  // (b) ssh2 forwardOut on a first ssh2 connection.
  const viaForward = async () => {
    const t0 = now()
    const {conn: jump} = await connect({khFile: kh})
    const tJump = now() - t0
    const stream = await new Promise((res, rej) => jump.forwardOut('127.0.0.1', 0, '127.0.0.1', PORT, (e, s) => (e ? rej(e) : res(s))))
    const {conn: cf, verdict} = await connect({khFile: kh, sock: stream})
    const ready = now() - t0
    const e1 = await run(cf, 'echo via-forwardOut')
    cf.end()
    jump.end()
    return {ready, jump: tJump, first: e1.ms, out: e1.stdout.trim(), verdict: verdict.status}
  }
  const W = []
  const F = []
  for (let i = 0; i < 5; i++) {
    W.push(await viaW())
    F.push(await viaForward())
  }
  log(`6a ssh -W: ${W[0].out} (${W[0].verdict}); ready median ${median(W.map((x) => x.ready)).toFixed(0)} ms [${W.map((x) => x.ready.toFixed(0)).join(', ')}], first exec ${median(W.map((x) => x.first)).toFixed(0)} ms; ssh exits ${median(W.map((x) => x.exitAfterEnd)).toFixed(0)} ms after conn.end() with code ${W[0].exit}; stderr ${JSON.stringify(W[0].err)}`)
  log(`6b forwardOut: ${F[0].out} (${F[0].verdict}); ready median ${median(F.map((x) => x.ready)).toFixed(0)} ms [${F.map((x) => x.ready.toFixed(0)).join(', ')}] (jump leg ${median(F.map((x) => x.jump)).toFixed(0)} ms), first exec ${median(F.map((x) => x.first)).toFixed(0)} ms`)
  // direct baseline
  const D = []
  for (let i = 0; i < 5; i++) {
    const d = await connect({khFile: kh})
    D.push(d.ms)
    d.conn.end()
  }
  log(`6c direct connect baseline: median ${median(D).toFixed(0)} ms`)

  // (a') failure modes of ssh -W: jump host key unknown under StrictHostKeyChecking yes, and a dead jump port
  {
    writeFileSync(sshCfg + '.strict', `Host *\n  IdentityFile ${T}/id_ed25519\n  UserKnownHostsFile ${T}/empty_kh\n  StrictHostKeyChecking yes\n  BatchMode yes\n`)
    for (const [label, args] of [
      ['unknown jump host key', ['-F', sshCfg + '.strict', '-l', USER, '-p', String(PORT), '-W', `127.0.0.1:${PORT}`, '127.0.0.1']],
      ['jump port closed', ['-F', sshCfg, '-l', USER, '-p', '2298', '-W', `127.0.0.1:${PORT}`, '127.0.0.1']],
    ]) {
      const t0 = now()
      const child = spawn('ssh', args, {stdio: ['pipe', 'pipe', 'pipe']})
      let err = ''
      child.stderr.on('data', (d) => (err += d))
      const sock = Duplex.from({readable: child.stdout, writable: child.stdin})
      await connect({khFile: kh, sock}).then(
        (x) => { log(`6d ${label}: unexpectedly connected`); x.conn.end() },
        (e) => log(`6d ${label}: ssh2 error after ${ms(t0)}: level=${e.level} "${e.message}"; ssh stderr ${JSON.stringify(err.trim())}`),
      )
      child.kill()
    }
  }
} finally {
  sshd.kill('SIGTERM')
  await new Promise((r) => (sshd.exitCode !== null ? r() : sshd.on('exit', r)))
  log(`sshd ${sshd.pid} stopped`)
  rmSync(T, {recursive: true, force: true})
}
