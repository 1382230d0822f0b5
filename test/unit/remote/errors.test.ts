import {test} from 'node:test'
import assert from 'node:assert/strict'
import {ExitCode} from '../../../src/errors.js'
import {connectionError, connectionLostError, dockerExecError, hostKeyChangedError, versionMismatchError} from '../../../src/remote/errors.js'

const target = {user: 'deploy', host: 'db1.example.com', port: 2222}
const ctx = {container: 'app-backup', accessory: 'backup', host: 'db1.example.com', destination: 'production'}

function err(message: string, extra: Record<string, unknown>) {
  return Object.assign(new Error(message), extra)
}

test('network errors are told apart, with host and port', () => {
  const dns = connectionError(err('getaddrinfo ENOTFOUND db1.example.com', {code: 'ENOTFOUND', level: 'client-socket'}), target)
  assert.equal(dns.code, 'ssh/dns')
  assert.match(dns.message, /cannot resolve the host name db1\.example\.com/)
  const refused = connectionError(err('connect ECONNREFUSED', {code: 'ECONNREFUSED', level: 'client-socket'}), target)
  assert.equal(refused.code, 'ssh/refused')
  assert.match(refused.message, /deploy@db1\.example\.com:2222 refused/)
  const timeout = connectionError(err('Timed out while waiting for handshake', {level: 'client-timeout'}), target, {timeoutMs: 15000})
  assert.equal(timeout.code, 'ssh/timeout')
  assert.match(timeout.message, /timed out after 15 s/)
  for (const e of [dns, refused, timeout]) assert.equal(e.exitCode, ExitCode.unreachable)
})

test('authentication errors list what was tried and what was skipped', () => {
  const auth = connectionError(err('All configured authentication methods failed', {level: 'client-authentication'}), target, {auth: {tried: ['ssh-agent (/run/agent)', '~/.ssh/id_ed25519'], skipped: ['~/.ssh/id_rsa: encrypted; add it to ssh-agent']}})
  assert.equal(auth.code, 'ssh/auth')
  assert.match(auth.message, /as deploy on deploy@db1\.example\.com:2222 failed; tried: ssh-agent \(\/run\/agent\), ~\/\.ssh\/id_ed25519/)
  assert.ok(auth.suggestions.some((s) => /id_rsa: encrypted/.test(s)))
  const none = connectionError(err('All configured authentication methods failed', {level: 'client-authentication'}), target, {auth: {tried: [], skipped: []}})
  assert.match(none.message, /nothing \(no keys and no agent\)/)
})

test('jump host errors say it was the jump host', () => {
  const e = connectionError(err('connect ECONNREFUSED', {code: 'ECONNREFUSED'}), {user: 'root', host: 'bastion', port: 22}, {stage: 'jump'})
  assert.match(e.message, /the jump host root@bastion:22 \(ssh\.proxy\)/)
})

test('a changed host key shows both fingerprints and how to fix known_hosts', () => {
  const e = hostKeyChangedError({names: ['[db1]:2222'], keyType: 'ssh-ed25519', offered: 'SHA256:new', known: ['SHA256:old'], file: '/home/a/.ssh/known_hosts', displayFile: '~/.ssh/known_hosts', line: 3})
  assert.match(e.message, /CHANGED: it offered ssh-ed25519 SHA256:new, but ~\/\.ssh\/known_hosts:3 records SHA256:old/)
  assert.ok(e.suggestions.some((s) => s.includes("ssh-keygen -R '[db1]:2222' -f /home/a/.ssh/known_hosts")))
  assert.ok(e.suggestions.some((s) => s.includes('ssh_host_ed25519_key.pub')))
  assert.equal(e.exitCode, ExitCode.unreachable)
})

test('docker exec failures map to what to do (container missing, stopped, wrong image, docker missing)', () => {
  const missing = dockerExecError(1, 'Error response from daemon: No such container: app-backup\n', ctx)!
  assert.equal(missing.code, 'accessory/missing')
  assert.deepEqual(missing.suggestions, ['boot it: kamal accessory boot backup -d production'])
  const stopped = dockerExecError(1, 'Error response from daemon: container 4f2a is not running\n', ctx)!
  assert.equal(stopped.code, 'accessory/not-running')
  assert.ok(stopped.suggestions.some((s) => s.includes('kamal accessory boot backup -d production')))
  const wrong = dockerExecError(127, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "kamal-backup": executable file not found in $PATH: unknown\n', ctx)!
  assert.equal(wrong.code, 'accessory/wrong-image')
  // Podman's words for the same (podman-docker on the host; recorded from podman 4.3 with runc in the lab).
  assert.equal(dockerExecError(125, 'Error: no container with name or ID "app-backup" found: no such container\n', ctx)!.code, 'accessory/missing')
  assert.equal(dockerExecError(255, 'Error: can only create exec sessions on running containers: container state improper\n', ctx)!.code, 'accessory/not-running')
  assert.equal(dockerExecError(127, 'Error: runc: exec failed: unable to start container process: exec: "kamal-backup": executable file not found in $PATH: OCI runtime attempted to invoke a command that was not found\n', ctx)!.code, 'accessory/wrong-image')
  const noDocker = dockerExecError(127, 'bash: line 1: docker: command not found\n', ctx)!
  assert.equal(noDocker.code, 'accessory/docker-missing')
  const perm = dockerExecError(1, 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock\n', ctx)!
  assert.equal(perm.code, 'accessory/docker-permission')
  assert.equal(dockerExecError(1, 'something else entirely\n', ctx), undefined)
})

test('a version mismatch names both versions and the exact reboot command', () => {
  const e = versionMismatchError({local: '0.1.0', remote: '0.2.3', accessory: 'backup', image: 'ghcr.io/kamal-backup/kamal-backup:0.2', destination: 'production'})
  assert.equal(e.exitCode, ExitCode.versionMismatch)
  assert.match(e.message, /this kamal-backup is 0\.1\.0 but the accessory runs 0\.2\.3/)
  assert.ok(e.suggestions[0]!.endsWith('kamal accessory reboot backup -d production'))
  assert.match(e.suggestions[1]!, /kamal-backup@0\.2/)
})

test('a lost connection during a restore: it goes on in the accessory; how to check it; the safety backup only when known', () => {
  const base = {command: ['restore', 'production'], target, afterGo: true, accessory: 'backup', destination: 'production', continues: true, stateDir: '/data/state'}
  const restore = connectionLostError(base)
  assert.equal(restore.code, 'ssh/connection-lost')
  assert.match(restore.message, /lost while `kamal-backup restore production` was running/)
  const text = restore.suggestions.join('\n')
  assert.match(text, /goes on in the accessory/)
  assert.match(text, /may still be running, or have finished/)
  assert.ok(text.includes(`kamal accessory exec backup --reuse -d production 'cat /data/state/last_restore.json'`), text)
  assert.match(text, /restores\.jsonl/)
  assert.match(text, /kamal-backup evidence -d production/)
  assert.doesNotMatch(text, /accessory logs/, 'docker exec output never reaches docker logs')
  assert.match(text, /if the restore got as far as its safety backup/, 'phrased conditionally when the accessory did not say')
  const announced = connectionLostError({...base, safetyBackup: {runId: '20261120T030000Z', undo: 'kamal-backup restore production 20261120T030000Z --confirm app -d production'}}).suggestions.join('\n')
  assert.match(announced, /the safety backup taken before it is run 20261120T030000Z; to undo the restore: kamal-backup restore production 20261120T030000Z --confirm app -d production/)
  const none = connectionLostError({...base, noSafetyBackup: true}).suggestions.join('\n')
  assert.match(none, /no safety backup was taken/)
  assert.doesNotMatch(none, /pre-restore/)
  const old = connectionLostError({...base, continues: false}).suggestions.join('\n')
  assert.match(old, /half done/)
  const early = connectionLostError({command: ['restore', 'production'], target, afterGo: false, accessory: 'backup'})
  assert.match(early.suggestions[0]!, /nothing was run/)
  const list = connectionLostError({command: ['list'], target, afterGo: true, accessory: 'backup'})
  assert.match(list.suggestions[0]!, /run it again/)
  const drill = connectionLostError({command: ['drill', 'production'], target, afterGo: true, accessory: 'backup', continues: true}).suggestions.join('\n')
  assert.match(drill, /the drill goes on in the accessory/)
  assert.match(drill, /last_restore_drill\.json/)
  const json = connectionLostError({command: ['list'], target, afterGo: true, accessory: 'backup', discardedStdout: 120})
  assert.match(json.suggestions.at(-1)!, /120 bytes of output .* dropped/)
})

test('authentication advice depends on keys_only and on whether an agent exists', () => {
  const error = Object.assign(new Error('All configured authentication methods failed'), {level: 'client-authentication'})
  const plain = connectionError(error, target, {auth: {tried: ['~/.ssh/id_ed25519'], skipped: [], agent: true}})
  assert.match(plain.suggestions.join('\n'), /load the key into ssh-agent \(ssh-add\)/)
  const only = connectionError(error, target, {auth: {tried: [], skipped: [], agent: true, keysOnly: true}})
  assert.match(only.suggestions.join('\n'), /with keys_only the agent is used only for the keys listed in ssh\.keys/)
  const noAgent = connectionError(error, target, {auth: {tried: [], skipped: [], agent: false, keysOnly: true}})
  assert.match(noAgent.suggestions.join('\n'), /start an ssh-agent/)
})
