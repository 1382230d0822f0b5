// connect() (src/remote/session.ts) against an in-process ssh2 server: the client logic of choosing an address
// and authenticating. The end-to-end proof with OpenSSH's sshd is in test/integration/remote. At the end,
// keyTypeOf, a pure function.
import {ed25519KeyPair} from '../../support/ssh-keys.ts'
import {after, before, test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {chmodSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PassThrough} from 'node:stream'
import ssh2 from 'ssh2'
import {Ui} from '../../../src/cli/ui.js'
import {connect, keyTypeOf, opensshPublicKey} from '../../../src/remote/session.js'
import {effectiveSsh, type KamalSshSection} from '../../../src/remote/ssh-settings.js'

const dir = mkdtempSync(join(tmpdir(), 'kb-session-'))
const hostKey = ed25519KeyPair()
/** Public keys (base64 blobs) the client offered, in order. */
let offered: string[] = []
/** The one public key the server accepts. */
let accepted = ''
let server: ssh2.Server
let port = 0

before(async () => {
  server = new ssh2.Server({hostKeys: [hostKey.private]}, (connection) => {
    connection.on('error', () => {})
    connection.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey'])
      const blob = ctx.key.data.toString('base64')
      if (!ctx.signature) offered.push(blob)
      if (blob !== accepted) return ctx.reject(['publickey'])
      ctx.accept()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
after(() => server.close())

function keyPair(name: string, passphrase = ''): {file: string; blob: string} {
  const file = join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', file])
  chmodSync(file, 0o600)
  return {file, blob: readFileSync(`${file}.pub`, 'utf8').split(' ')[1]!}
}

function ui(): {ui: Ui; text: () => string} {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (d) => (text += d))
  return {ui: new Ui({stream}), text: () => text}
}

function settings(host: string, section: KamalSshSection, env: Record<string, string | undefined> = {}) {
  const home = mkdtempSync(join(dir, 'home-'))
  return {home, e: effectiveSsh(host, {config: false, port, user: 'deploy', ...section}, {cwd: dir, homeDir: home, env: {USER: 'tester', ...env}})}
}

test('several addresses: each is tried in turn; known_hosts records the name and the address that answered', async () => {
  const key = keyPair('multi')
  accepted = key.blob
  const {home, e} = settings('multi.test', {keys: [key.file], keys_only: true})
  const tried: string[] = []
  const u = ui()
  // 127.0.0.2 refuses (nothing listens there); 127.0.0.1 is the server.
  const connection = await connect(e, {log: u.ui, lookup: async (name) => (tried.push(name), ['127.0.0.2', '127.0.0.1'])})
  connection.close()
  assert.deepEqual(tried, ['multi.test'])
  const known = readFileSync(join(home, '.ssh', 'known_hosts'), 'utf8')
  assert.equal(known.split(' ')[0], `[multi.test]:${port},[127.0.0.1]:${port}`, 'the address connected to, not the first one resolved')

  const none = settings('multi.test', {keys: [key.file]}).e
  await assert.rejects(connect({...none, port: 1}, {log: u.ui, lookup: async () => ['127.0.0.2', '127.0.0.3']}), (error: Error & {suggestions: string[]}) => {
    assert.match(error.message, /refused/)
    assert.match(error.suggestions[0]!, /multi\.test has 2 addresses, all tried: 127\.0\.0\.2: ECONNREFUSED, 127\.0\.0\.3: ECONNREFUSED/)
    return true
  })
})

test('keys_only: the agent signs for a listed (encrypted) key, and is never asked to offer any other identity', async () => {
  const listed = keyPair('listed', 'correct horse')
  const other = keyPair('other')
  accepted = listed.blob
  const sock = join(mkdtempSync(join(dir, 'agent-')), 'agent.sock')
  const out = execFileSync('ssh-agent', ['-s', '-a', sock], {encoding: 'utf8'})
  const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1])
  try {
    // The unrelated key first in the agent: without the filter it would be offered first.
    execFileSync('ssh-add', ['-q', other.file], {env: {...process.env, SSH_AUTH_SOCK: sock}, stdio: 'ignore'})
    const askpass = join(dir, 'askpass')
    writeFileSync(askpass, '#!/bin/sh\necho "correct horse"\n', {mode: 0o755})
    execFileSync('ssh-add', ['-q', listed.file], {env: {...process.env, SSH_AUTH_SOCK: sock, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0'}, stdio: 'ignore'})

    offered = []
    const {e} = settings('127.0.0.1', {keys: [listed.file], keys_only: true}, {SSH_AUTH_SOCK: sock})
    const connection = await connect(e, {log: ui().ui})
    connection.close()
    assert.ok(offered.includes(listed.blob), 'the listed key was offered (signed by the agent)')
    assert.ok(!offered.includes(other.blob), 'the unlisted agent identity was never offered')

    // No .pub and an OpenSSH-format key: the public half comes from the key file's unencrypted header.
    assert.equal(opensshPublicKey(readFileSync(listed.file, 'utf8'))?.toString('base64'), listed.blob)

    // Without the key in the agent: the error says to ssh-add it, and that the agent is limited to the listed keys.
    execFileSync('ssh-add', ['-q', '-D'], {env: {...process.env, SSH_AUTH_SOCK: sock}, stdio: 'ignore'})
    await assert.rejects(connect(e, {log: ui().ui}), (error: Error & {suggestions: string[]}) => {
      const text = error.suggestions.join('\n')
      assert.match(text, /listed: encrypted and not in ssh-agent .*ssh-add .*listed/)
      assert.match(text, /with keys_only the agent is used only for the keys listed in ssh\.keys/)
      return true
    })
  } finally {
    if (agentPid > 1) process.kill(agentPid)
  }
})

test('an encrypted key with no agent at all: the advice is to start one, not to ssh-add into nothing', async () => {
  const listed = keyPair('lonely', 'pw')
  accepted = listed.blob
  const {e} = settings('127.0.0.1', {keys: [listed.file], keys_only: true})
  await assert.rejects(connect(e, {log: ui().ui}), (error: Error & {suggestions: string[]}) => {
    assert.match(error.suggestions.join('\n'), /encrypted, and no ssh-agent is available .*start one/)
    return true
  })
})

test('keyTypeOf reads the key type from an SSH public key blob', () => {
  const blob = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIMVrGItAmR8053uxF9EyY7k0boodgOSS+PixBoPVMHFK', 'base64')
  assert.equal(keyTypeOf(blob), 'ssh-ed25519')
  assert.equal(keyTypeOf(Buffer.alloc(2)), 'unknown')
})
