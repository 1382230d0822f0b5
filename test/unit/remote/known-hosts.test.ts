import {ed25519KeyPair} from '../../support/ssh-keys.ts'
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  hashHostName,
  hostsFieldMatches,
  knownHostKeyTypes,
  knownHostsNames,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  serverHostKeyAlgorithmsOption,
} from '../../../src/remote/known-hosts.js'

const dir = mkdtempSync(join(tmpdir(), 'kb-kh-'))
const hasKeygen = spawnSync('ssh-keygen', ['-?']).error === undefined

interface Key {
  type: string
  blob: Buffer
  b64: string
  pubFile: string
}

function keygen(type: 'ed25519' | 'ecdsa' | 'rsa', name: string): Key {
  const file = join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', file])
  return fromPub(readFileSync(file + '.pub', 'utf8'), file + '.pub')
}

function fromPub(line: string, pubFile: string): Key {
  const [type = '', b64 = ''] = line.trim().split(/\s+/)
  return {type, b64, blob: Buffer.from(b64, 'base64'), pubFile}
}

function ssh2Key(name: string): Key {
  const pub = ed25519KeyPair().public
  const pubFile = join(dir, name + '.pub')
  writeFileSync(pubFile, pub + ' ' + name + '\n')
  return fromPub(pub, pubFile)
}

let n = 0
function kh(lines: string[]): string {
  const file = join(dir, `known_hosts_${++n}`)
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}

const ed = hasKeygen ? keygen('ed25519', 'ed') : ssh2Key('ed')
const ed2 = ssh2Key('ed2')
const ecdsa = hasKeygen ? keygen('ecdsa', 'ecdsa') : ssh2Key('ecdsa-fallback')
const line = (names: string, k: Key) => `${names} ${k.type} ${k.b64}`

test('fingerprint matches ssh-keygen -lf (ssh-keygen and ssh2 keys)', {skip: !hasKeygen && 'no ssh-keygen'}, () => {
  const rsa = keygen('rsa', 'rsa')
  for (const k of [ed, ed2, ecdsa, rsa]) {
    const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', k.pubFile], {encoding: 'utf8'})
    assert.equal(fingerprint(k.blob), out.split(' ')[1])
  }
  assert.match(fingerprint(ed.blob), /^SHA256:[A-Za-z0-9+/]{43}$/)
})

test('plain entry: known, unknown, changed (same type)', () => {
  const file = kh([line('example.com', ed)])
  assert.deepEqual(checkHostKey([file], ['example.com'], ed.type, ed.blob), {status: 'known'})
  assert.deepEqual(checkHostKey([file], ['other.com'], ed.type, ed.blob), {status: 'unknown'})
  assert.deepEqual(checkHostKey([file], ['example.com'], ed2.type, ed2.blob), {
    status: 'changed',
    knownFingerprints: [fingerprint(ed.blob)],
    file,
    line: 1,
  })
})

test('a key of another type for a known host is "changed" (Kamal/net-ssh rule, not OpenSSH)', () => {
  const file = kh([line('example.com', ecdsa)])
  const v = checkHostKey([file], ['example.com'], ed.type, ed.blob)
  assert.equal(v.status, 'changed')
  // once both types are recorded, either is known
  const both = kh([line('example.com', ecdsa), line('example.com', ed)])
  assert.equal(checkHostKey([both], ['example.com'], ed.type, ed.blob).status, 'known')
  assert.equal(checkHostKey([both], ['example.com'], ecdsa.type, ecdsa.blob).status, 'known')
})

test('comma-separated names, [host]:port, wildcards, negation, case-insensitive', () => {
  const file = kh([
    line('web.example.com,10.0.0.5', ed),
    line('[10.0.0.5]:2222', ed2),
    line('*.wild.test,!evil.wild.test', ed),
    line('[*.portwild.test]:2200', ed),
  ])
  assert.equal(checkHostKey([file], ['10.0.0.5'], ed.type, ed.blob).status, 'known')
  assert.equal(checkHostKey([file], ['WEB.Example.com'], ed.type, ed.blob).status, 'known')
  assert.equal(checkHostKey([file], ['[10.0.0.5]:2222'], ed2.type, ed2.blob).status, 'known')
  // port 22 entry does not cover port 2222 and vice versa
  assert.equal(checkHostKey([file], ['[web.example.com]:2222'], ed.type, ed.blob).status, 'unknown')
  assert.equal(checkHostKey([file], ['[10.0.0.5]:2222'], ed.type, ed.blob).status, 'changed')
  assert.equal(checkHostKey([file], ['a.wild.test'], ed.type, ed.blob).status, 'known')
  assert.equal(checkHostKey([file], ['evil.wild.test'], ed.type, ed.blob).status, 'unknown')
  assert.equal(checkHostKey([file], ['[x.portwild.test]:2200'], ed.type, ed.blob).status, 'known')
  assert.equal(checkHostKey([file], ['[x.portwild.test]:2201'], ed.type, ed.blob).status, 'unknown')
})

test('hashed entries written by ssh-keygen -H, several key types per host (kamal#1814)', {skip: !hasKeygen && 'no ssh-keygen'}, () => {
  const file = kh([line('hashed.example.com', ed), line('hashed.example.com', ecdsa), line('[127.0.0.1]:2299', ed2)])
  execFileSync('ssh-keygen', ['-H', '-f', file], {stdio: 'ignore'})
  const text = readFileSync(file, 'utf8')
  assert.ok(!text.includes('hashed.example.com') && text.includes('|1|'), 'file was hashed')
  assert.equal(checkHostKey([file], ['hashed.example.com'], ed.type, ed.blob).status, 'known')
  assert.equal(checkHostKey([file], ['hashed.example.com'], ecdsa.type, ecdsa.blob).status, 'known')
  assert.equal(checkHostKey([file], ['[127.0.0.1]:2299'], ed2.type, ed2.blob).status, 'known')
  const changed = checkHostKey([file], ['hashed.example.com'], ed2.type, ed2.blob)
  assert.equal(changed.status, 'changed')
  assert.deepEqual(changed.status === 'changed' && [...changed.knownFingerprints].sort(), [fingerprint(ed.blob), fingerprint(ecdsa.blob)].sort())
  assert.equal(checkHostKey([file], ['127.0.0.1'], ed2.type, ed2.blob).status, 'unknown')
})

test('hashHostName and hostsFieldMatches', () => {
  const salt = Buffer.alloc(20, 7)
  const h = hashHostName('host.test', salt)
  assert.match(h, /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+$/)
  assert.ok(hostsFieldMatches(h, 'host.test'))
  assert.ok(!hostsFieldMatches(h, 'host.tes'))
  assert.ok(!hostsFieldMatches('|1|garbage', 'host.test'))
  assert.notEqual(hashHostName('host.test'), hashHostName('host.test')) // random salt
})

test('@revoked refuses the key; @cert-authority lines are ignored', () => {
  const file = kh([line('example.com', ed), '@revoked * ' + `${ed.type} ${ed.b64}`, '@cert-authority *.example.com ' + `${ed2.type} ${ed2.b64}`])
  assert.deepEqual(checkHostKey([file], ['example.com'], ed.type, ed.blob), {
    status: 'changed',
    knownFingerprints: [],
    file,
    line: 2,
    revoked: true,
  })
  assert.equal(checkHostKey([file], ['a.example.com'], ed2.type, ed2.blob).status, 'unknown')
  assert.equal(checkHostKey([file], ['b.example.com'], ecdsa.type, ecdsa.blob).status, 'unknown')
  // a revoked entry for a different key does not matter
  const other = kh([line('example.com', ed), `@revoked * ${ed2.type} ${ed2.b64}`])
  assert.equal(checkHostKey([other], ['example.com'], ed.type, ed.blob).status, 'known')
})

test('comments, blank and malformed lines are skipped; missing files too; file and line are reported', () => {
  const a = kh(['# comment', '', 'example.com ssh-ed25519', 'example.com ssh-ed25519 not*base64', '@unknown x ssh-ed25519 AAAA'])
  const b = kh(['', '   # x', line('example.com', ed2), line('example.com', ecdsa)])
  const v = checkHostKey([join(dir, 'missing'), a, b], ['example.com'], ed.type, ed.blob)
  assert.deepEqual(v, {status: 'changed', knownFingerprints: [fingerprint(ed2.blob), fingerprint(ecdsa.blob)], file: b, line: 3})
  assert.deepEqual(checkHostKey([a], ['example.com'], ed.type, ed.blob), {status: 'unknown'})
  assert.equal(parseKnownHosts(readFileSync(a, 'utf8')).length, 0)
  const parsed = parseKnownHosts(`@revoked h ${ed.type} ${ed.b64} a comment\n`, 'f')
  assert.deepEqual(parsed.map((e) => [e.file, e.line, e.marker, e.hosts, e.keyType, e.key.equals(ed.blob)]), [['f', 1, 'revoked', 'h', ed.type, true]])
})

test('the first name is authoritative; the IP can only make a key known', () => {
  const file = kh([line('10.0.0.9', ed), line('app.example.com', ecdsa)])
  // key recorded under the IP only
  assert.equal(checkHostKey([file], ['new.example.com', '10.0.0.9'], ed.type, ed.blob).status, 'known')
  // IP has another key (reused address), host name never seen: unknown
  assert.equal(checkHostKey([file], ['new.example.com', '10.0.0.9'], ed2.type, ed2.blob).status, 'unknown')
  // host name recorded with another key: changed, even if the IP has no entry
  const v = checkHostKey([file], ['app.example.com', '10.9.9.9'], ed2.type, ed2.blob)
  assert.equal(v.status, 'changed')
  assert.equal(v.status === 'changed' && v.line, 2)
  // host name has another key but the IP entry matches: known
  assert.equal(checkHostKey([file], ['app.example.com', '10.0.0.9'], ed.type, ed.blob).status, 'known')
})

test('knownHostsNames', () => {
  assert.deepEqual(knownHostsNames('Example.com', 22), ['example.com'])
  assert.deepEqual(knownHostsNames('example.com', 22, '1.2.3.4'), ['example.com', '1.2.3.4'])
  assert.deepEqual(knownHostsNames('127.0.0.1', 2222, '127.0.0.1'), ['[127.0.0.1]:2222'])
  assert.deepEqual(knownHostsNames('h', 2222, '10.0.0.1'), ['[h]:2222', '[10.0.0.1]:2222'])
  assert.deepEqual(knownHostsNames('::1', 22), ['::1'])
  assert.deepEqual(knownHostsNames('[::1]', 2200, ''), ['[::1]:2200'])
})

test('appendKnownHost creates ~/.ssh 0700 and the file 0600, then the key is known (and ssh-keygen -F finds it)', () => {
  const home = mkdtempSync(join(tmpdir(), 'kb-kh-home-'))
  const file = join(home, '.ssh', 'known_hosts')
  const oldMask = process.umask(0o022)
  try {
    appendKnownHost(file, ['[127.0.0.1]:2299', '[10.0.0.1]:2299'], ed.type, ed.blob)
  } finally {
    process.umask(oldMask)
  }
  assert.equal(statSync(join(home, '.ssh')).mode & 0o777, 0o700)
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.equal(readFileSync(file, 'utf8'), `[127.0.0.1]:2299,[10.0.0.1]:2299 ${ed.type} ${ed.b64}\n`)
  assert.equal(checkHostKey([file], ['[127.0.0.1]:2299'], ed.type, ed.blob).status, 'known')
  assert.equal(checkHostKey([file], ['[10.0.0.1]:2299'], ed.type, ed.blob).status, 'known')
  if (hasKeygen) {
    const out = spawnSync('ssh-keygen', ['-F', '[127.0.0.1]:2299', '-f', file], {encoding: 'utf8'})
    assert.equal(out.status, 0)
    assert.ok(out.stdout.includes(ed.b64))
  }
})

test('appendKnownHost adds a newline when the file lacks one, and can write hashed lines', () => {
  const file = join(dir, 'append_nl')
  writeFileSync(file, line('a.test', ed2))
  appendKnownHost(file, ['b.test', '10.1.1.1'], ed.type, ed.blob, {hash: true})
  const lines = readFileSync(file, 'utf8').split('\n')
  assert.equal(lines.length, 4)
  assert.equal(lines[0], line('a.test', ed2))
  assert.match(lines[1] ?? '', /^\|1\|/)
  assert.equal(lines[3], '')
  assert.equal(checkHostKey([file], ['a.test'], ed2.type, ed2.blob).status, 'known')
  assert.equal(checkHostKey([file], ['b.test'], ed.type, ed.blob).status, 'known')
  assert.equal(checkHostKey([file], ['10.1.1.1'], ed.type, ed.blob).status, 'known')
  if (hasKeygen) assert.equal(spawnSync('ssh-keygen', ['-F', 'b.test', '-f', file]).status, 0)
  assert.throws(() => appendKnownHost(file, [], ed.type, ed.blob))
  assert.throws(() => appendKnownHost(file, ['a b'], ed.type, ed.blob))
})

test('knownHostKeyTypes, preferredHostKeyAlgorithms, serverHostKeyAlgorithmsOption', () => {
  const file = kh([line('h.test', ecdsa), `h.test ssh-rsa ${ed.b64}`, line('h.test', ed), line('x.test', ed2), `@revoked h.test ssh-dss ${ed.b64}`])
  assert.deepEqual(knownHostKeyTypes([file], ['h.test']), [ecdsa.type, 'ssh-rsa', ed.type])
  assert.deepEqual(knownHostKeyTypes([file], ['nope']), [])
  assert.deepEqual(preferredHostKeyAlgorithms(['ssh-rsa', 'ssh-ed25519', 'ssh-rsa']), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519'])
  assert.deepEqual(preferredHostKeyAlgorithms([]), [])
  // types ssh2 cannot negotiate are dropped (ssh2 throws on unknown names)
  assert.deepEqual(preferredHostKeyAlgorithms(['sk-ssh-ed25519@openssh.com', 'ecdsa-sha2-nistp256']), ['ecdsa-sha2-nistp256'])
  assert.deepEqual(serverHostKeyAlgorithmsOption(['ecdsa-sha2-nistp256']), {remove: ['ecdsa-sha2-nistp256'], prepend: ['ecdsa-sha2-nistp256']})
  assert.deepEqual(Object.keys(serverHostKeyAlgorithmsOption(['ssh-ed25519']) ?? {}), ['remove', 'prepend'])
  assert.equal(serverHostKeyAlgorithmsOption(['x-unknown']), undefined)
})
