import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {ConfigError} from '../../../src/errors.js'
import {
  configFileCandidates,
  effectiveSsh,
  parseHostSpec,
  proxyArgv,
  type EffectiveSshOptions,
  type KamalSshSection,
} from '../../../src/remote/ssh-settings.js'

function sandbox() {
  const root = mkdtempSync(join(tmpdir(), 'kb-sshset-'))
  const homeDir = join(root, 'home')
  const cwd = join(root, 'app')
  mkdirSync(join(homeDir, '.ssh'), {recursive: true})
  mkdirSync(cwd, {recursive: true})
  const write = (path: string, text = '') => {
    mkdirSync(dirname(path), {recursive: true})
    writeFileSync(path, text)
    return path
  }
  const options: EffectiveSshOptions = {cwd, homeDir, env: {USER: 'alice', SSH_AUTH_SOCK: '/tmp/agent.sock'}}
  return {root, homeDir, cwd, write, options}
}

/** effectiveSsh with only the given config text (ssh.config pointing at one file). */
function withConfig(text: string, host: string, section: KamalSshSection = {}, extra: Partial<EffectiveSshOptions> = {}) {
  const s = sandbox()
  const file = s.write(join(s.root, 'ssh_config'), text)
  return {s, file, e: effectiveSsh(host, {config: file, ...section}, {...s.options, ...extra})}
}

test('defaults: root@host:22, accept-new, 15 s timeout, 30 s keepalive, agent from SSH_AUTH_SOCK, no keys', () => {
  const {e, file} = withConfig('', '10.0.0.5')
  assert.equal(e.host, '10.0.0.5')
  assert.equal(e.hostName, '10.0.0.5')
  assert.equal(e.user, 'root')
  assert.equal(e.port, 22)
  assert.deepEqual(e.identityFiles, [])
  assert.deepEqual(e.missingIdentityFiles, [])
  assert.deepEqual(e.keyData, [])
  assert.equal(e.keysOnly, false)
  assert.equal(e.useAgent, true)
  assert.equal(e.agentSocket, '/tmp/agent.sock')
  assert.equal(e.forwardAgent, true)
  assert.equal(e.proxy, undefined)
  assert.equal(e.strictHostKey, 'accept-new')
  assert.equal(e.connectTimeoutMs, 15_000)
  assert.equal(e.keepaliveIntervalMs, 30_000)
  assert.equal(e.keepaliveCountMax, 3)
  assert.equal(e.hashKnownHosts, false)
  assert.deepEqual(e.configFiles, [file])
  assert.equal(e.sshConfigArg, file)
})

test('Kamal user/port override ssh_config User/Port; HostName still applies', () => {
  const text = 'Host web\n  HostName 10.0.0.7\n  User fromconfig\n  Port 2200\n'
  const a = withConfig(text, 'web').e
  assert.equal(a.hostName, '10.0.0.7')
  assert.equal(a.user, 'root')
  assert.equal(a.port, 22)
  const b = withConfig(text, 'web', {user: 'deploy', port: '2222'}).e
  assert.equal(b.user, 'deploy')
  assert.equal(b.port, 2222)
  assert.equal(withConfig('', 'h', {port: 2022}).e.port, 2022)
})

test('user@ and :port inside the host string win over ssh.user/ssh.port', () => {
  const e = withConfig('', 'ops@10.0.0.8:2201', {user: 'deploy', port: 22}).e
  assert.equal(e.host, '10.0.0.8')
  assert.equal(e.user, 'ops')
  assert.equal(e.port, 2201)
  assert.deepEqual(parseHostSpec('[::1]:2200'), {host: '::1', port: 2200})
  assert.deepEqual(parseHostSpec('u@[fe80::1]'), {user: 'u', host: 'fe80::1'})
  assert.deepEqual(parseHostSpec('fe80::1'), {host: 'fe80::1'})
  assert.deepEqual(parseHostSpec('a@b@c:1'), {user: 'a@b', host: 'c', port: 1})
})

test('invalid ports and empty hosts are ConfigErrors', () => {
  const s = sandbox()
  assert.throws(() => effectiveSsh('h', {config: false, port: 'ssh'}, s.options), ConfigError)
  assert.throws(() => effectiveSsh('h', {config: false, port: 70000}, s.options), ConfigError)
  assert.throws(() => effectiveSsh('h:0', {config: false}, s.options), ConfigError)
  assert.throws(() => effectiveSsh('root@', {config: false}, s.options), ConfigError)
})

test('ssh.config true reads ~/.ssh/config, /etc files and ./.ssh/config (in that order); false reads none', () => {
  const s = sandbox()
  const homeCfg = s.write(join(s.homeDir, '.ssh/config'), 'Host web\n  HostName from-home\n')
  const cwdCfg = s.write(join(s.cwd, '.ssh/config'), 'Host web\n  HostName from-cwd\n  ConnectTimeout 4\n')
  assert.deepEqual(configFileCandidates(true, s.cwd, s.homeDir), [homeCfg, '/etc/ssh_config', '/etc/ssh/ssh_config', cwdCfg])
  assert.deepEqual(configFileCandidates(undefined, s.cwd, s.homeDir), configFileCandidates(true, s.cwd, s.homeDir))
  const e = effectiveSsh('web', {}, s.options)
  assert.equal(e.hostName, 'from-home')
  assert.equal(e.connectTimeoutMs, 4000)
  assert.equal(e.configFiles[0], homeCfg)
  assert.equal(e.configFiles[e.configFiles.length - 1], cwdCfg)
  assert.equal(e.sshConfigArg, undefined)
  const off = effectiveSsh('web', {config: false}, s.options)
  assert.equal(off.hostName, 'web')
  assert.deepEqual(off.configFiles, [])
  assert.equal(off.sshConfigArg, 'none')
  // the same directory for home and cwd is read once
  assert.equal(configFileCandidates(true, s.homeDir, s.homeDir).length, 3)
})

test('ssh.config as a string or list: ~ expanded, relative to the cwd, first file wins', () => {
  const s = sandbox()
  const a = s.write(join(s.cwd, 'config/ssh_a'), 'Host *\n  HostName from-a\n')
  const b = s.write(join(s.homeDir, 'ssh_b'), 'Host *\n  HostName from-b\n  ConnectTimeout 8\n')
  assert.deepEqual(configFileCandidates(['config/ssh_a', '~/ssh_b'], s.cwd, s.homeDir), [a, b])
  const e = effectiveSsh('h', {config: ['config/ssh_a', '~/ssh_b']}, s.options)
  assert.equal(e.hostName, 'from-a')
  assert.equal(e.connectTimeoutMs, 8000)
  assert.equal(e.sshConfigArg, undefined)
  assert.ok(e.notes.some((n) => /several files/.test(n)))
  assert.equal(effectiveSsh('h', {config: '~/ssh_b'}, s.options).hostName, 'from-b')
})

test('keys: ssh.keys (~ expanded, missing reported) beat IdentityFile; IdentityFile beats defaults', () => {
  const s = sandbox()
  const k1 = s.write(join(s.homeDir, '.ssh/deploy_key'))
  const cfgKey = s.write(join(s.root, 'cfg_key'))
  const file = s.write(join(s.root, 'ssh_config'), `IdentityFile ${cfgKey}\nIdentityFile /nonexistent/cfg\n`)
  const e = effectiveSsh('h', {config: file, keys: ['~/.ssh/deploy_key', '~/.ssh/missing', 'rel_key']}, s.options)
  assert.deepEqual(e.identityFiles, [k1])
  assert.deepEqual(e.missingIdentityFiles, [join(s.homeDir, '.ssh/missing'), join(s.cwd, 'rel_key')])
  const c = effectiveSsh('h', {config: file}, s.options)
  assert.deepEqual(c.identityFiles, [cfgKey])
  assert.deepEqual(c.missingIdentityFiles, ['/nonexistent/cfg'])
  // empty keys list counts as not set
  assert.deepEqual(effectiveSsh('h', {config: file, keys: []}, s.options).identityFiles, [cfgKey])
})

test('default identity files: id_ed25519, id_ecdsa, id_rsa that exist; none when key_data is given', () => {
  const s = sandbox()
  const rsa = s.write(join(s.homeDir, '.ssh/id_rsa'))
  const ed = s.write(join(s.homeDir, '.ssh/id_ed25519'))
  s.write(join(s.homeDir, '.ssh/id_dsa'))
  const e = effectiveSsh('h', {config: false}, s.options)
  assert.deepEqual(e.identityFiles, [ed, rsa])
  assert.deepEqual(e.missingIdentityFiles, [])
  const kd = effectiveSsh('h', {config: false, key_data: ['-----BEGIN OPENSSH PRIVATE KEY-----']}, s.options)
  assert.deepEqual(kd.identityFiles, [])
  assert.deepEqual(kd.keyData, ['-----BEGIN OPENSSH PRIVATE KEY-----'])
})

test('keys_only with listed keys keeps the agent (the session limits it to those keys, as net-ssh does)', () => {
  const s = sandbox()
  const key = s.write(join(s.root, 'keys', 'deploy_ed25519'), 'x')
  const e = effectiveSsh('h', {config: false, keys: [key], keys_only: true}, s.options)
  assert.equal(e.keysOnly, true)
  assert.equal(e.useAgent, true)
  assert.equal(e.agentSocket, '/tmp/agent.sock')
  assert.deepEqual(e.identityFiles, [key])
})

test('agent: keys_only or IdentitiesOnly without any key turn it off; IdentityAgent none/path/SSH_AUTH_SOCK; no socket, no agent', () => {
  assert.equal(withConfig('', 'h', {keys_only: true}).e.useAgent, false)
  const io = withConfig('IdentitiesOnly yes\n', 'h').e
  assert.equal(io.keysOnly, true)
  assert.equal(io.useAgent, false)
  assert.equal(withConfig('IdentitiesOnly yes\n', 'h', {keys_only: false}).e.useAgent, true)
  const none = withConfig('IdentityAgent none\n', 'h').e
  assert.equal(none.useAgent, false)
  assert.equal(none.agentSocket, undefined)
  assert.equal(none.forwardAgent, false)
  const path = withConfig('IdentityAgent ~/agent.sock\n', 'h').e
  assert.ok(path.agentSocket?.endsWith('/home/agent.sock'))
  assert.equal(withConfig('IdentityAgent SSH_AUTH_SOCK\n', 'h').e.agentSocket, '/tmp/agent.sock')
  const noSock = withConfig('', 'h', {}, {env: {USER: 'alice'}}).e
  assert.equal(noSock.useAgent, false)
  assert.equal(noSock.agentSocket, undefined)
  const unresolved = withConfig('IdentityAgent ${NOPE_SOCK}\n', 'h').e
  assert.equal(unresolved.agentSocket, undefined)
  assert.ok(unresolved.notes.some((n) => n.includes('NOPE_SOCK')))
})

test('forward_agent: on by default, off with false', () => {
  assert.equal(withConfig('', 'h').e.forwardAgent, true)
  assert.equal(withConfig('', 'h', {forward_agent: false}).e.forwardAgent, false)
})

test('ssh.proxy: a bare host gets root@ (not ssh.user); user@host:port; several hops', () => {
  const bare = withConfig('', 'h', {proxy: 'bastion.example', user: 'deploy'}).e
  assert.deepEqual(bare.proxy, {kind: 'jump', user: 'root', host: 'bastion.example', port: 22, next: []})
  const full = withConfig('', 'h', {proxy: 'jumper@bastion.example:2222'}).e
  assert.deepEqual(full.proxy, {kind: 'jump', user: 'jumper', host: 'bastion.example', port: 2222, next: []})
  const hops = withConfig('', 'h', {proxy: 'j1.example, u@j2.example:2200'}).e
  // no root@ when some hop names a user (Kamal checks for "@" in the whole string): ssh's own rules apply
  assert.deepEqual(hops.proxy, {kind: 'jump', user: 'alice', host: 'j1.example', port: 22, next: ['u@j2.example:2200']})
  const bareHops = withConfig('', 'h', {proxy: 'j1.example,j2.example'}).e
  assert.deepEqual(bareHops.proxy, {kind: 'jump', user: 'root', host: 'j1.example', port: 22, next: ['j2.example']})
  const later = withConfig('Host j1.example\n  User cfguser\n', 'h', {proxy: 'j1.example,u@j2'}).e
  assert.equal(later.proxy?.kind === 'jump' && later.proxy.user, 'cfguser')
})

test('jump hop port comes from the hop\'s own ssh_config Port when not given', () => {
  const e = withConfig('Host bastion\n  Port 2022\n  User bastionuser\n', 'h', {proxy: 'bastion'}).e
  assert.deepEqual(e.proxy, {kind: 'jump', user: 'root', host: 'bastion', port: 2022, next: []})
})

test('a jump host alias (ssh.proxy or ProxyJump) is resolved through its own ssh_config: HostName, IdentityFile, IdentitiesOnly, known hosts', () => {
  const s = sandbox()
  const hopKey = s.write(join(s.root, 'keys', 'bastion_key'), 'x')
  const known = join(s.root, 'bastion_known_hosts')
  const file = s.write(
    join(s.root, 'ssh_config'),
    `Host web\n  HostName 10.0.0.9\n  ProxyJump bastion\nHost bastion\n  HostName 192.0.2.10\n  Port 2022\n  User jumper\n  IdentityFile ${hopKey}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${known}\n  StrictHostKeyChecking yes\n  ConnectTimeout 7\n`,
  )
  const e = effectiveSsh('web', {config: file}, s.options)
  assert.deepEqual(e.proxy, {kind: 'jump', user: 'jumper', host: 'bastion', port: 2022, next: []}, 'the alias stays the proxy host (ssh -J resolves it itself)')
  assert.equal(e.jump?.hostName, '192.0.2.10', 'where to connect, and the known_hosts name')
  assert.equal(e.jump?.port, 2022)
  assert.equal(e.jump?.user, 'jumper')
  assert.deepEqual(e.jump?.identityFiles, [hopKey])
  assert.equal(e.jump?.keysOnly, true)
  assert.equal(e.jump?.useAgent, true, 'the agent, limited to the hop key')
  assert.deepEqual(e.jump?.knownHostsFiles.slice(0, 1), [known])
  assert.equal(e.jump?.knownHostsAppendFile, known)
  assert.equal(e.jump?.strictHostKey, 'yes')
  assert.equal(e.jump?.connectTimeoutMs, 7000)
  assert.equal(e.strictHostKey, 'accept-new', 'the target keeps its own host key policy')

  const viaProxy = effectiveSsh('web', {config: file, proxy: 'ops@bastion'}, s.options)
  assert.equal(viaProxy.jump?.hostName, '192.0.2.10')
  assert.equal(viaProxy.jump?.user, 'ops', 'user@ in ssh.proxy wins over the hop\'s User')
  assert.equal(viaProxy.jump?.port, 2022)
  const bare = effectiveSsh('h', {config: false, proxy: 'jump.example'}, s.options)
  assert.equal(bare.jump?.hostName, 'jump.example', 'no config: the host as written')
  assert.equal(withConfig('', 'h', {proxy_command: 'nc %h %p'}).e.jump, undefined)
})

test('ssh.proxy_command: %h (HostName) %p %r %% expanded; ssh.proxy wins over it', () => {
  const e = withConfig('Host web\n  HostName 10.0.0.3\n', 'web', {proxy_command: 'ssh -W %h:%p jump # %r 100%% %x', user: 'deploy', port: 2222}).e
  assert.deepEqual(e.proxy, {kind: 'command', command: 'ssh -W 10.0.0.3:2222 jump # deploy 100% %x'})
  assert.equal(withConfig('', 'h', {proxy: 'j', proxy_command: 'nc %h %p'}).e.proxy?.kind, 'jump')
})

test('ssh_config ProxyCommand / ProxyJump apply unless ssh.proxy / proxy_command is set', () => {
  const pc = withConfig('Host web\n  HostName 10.0.0.3\n  ProxyCommand nc -x proxy %h %p\n', 'web', {port: 2200}).e
  assert.deepEqual(pc.proxy, {kind: 'command', command: 'nc -x proxy 10.0.0.3 2200'})
  const pj = withConfig('Host web\n  ProxyJump jump.example\nHost jump.example\n  User jumpuser\n  Port 2022\n', 'web').e
  assert.deepEqual(pj.proxy, {kind: 'jump', user: 'jumpuser', host: 'jump.example', port: 2022, next: []})
  const local = withConfig('ProxyJump ssh://jump.example:2200,other\n', 'web').e
  assert.deepEqual(local.proxy, {kind: 'jump', user: 'alice', host: 'jump.example', port: 2200, next: ['other']})
  assert.equal(withConfig('ProxyJump none\n', 'web').e.proxy, undefined)
  assert.equal(withConfig('ProxyCommand none\n', 'web').e.proxy, undefined)
  assert.deepEqual(withConfig('ProxyJump jump.example\n', 'web', {proxy: 'k@kamal'}).e.proxy, {kind: 'jump', user: 'k', host: 'kamal', port: 22, next: []})
  assert.equal(withConfig('ProxyJump jump.example\n', 'web', {proxy_command: 'nc %h %p'}).e.proxy?.kind, 'command')
})

test('known hosts: defaults, UserKnownHostsFile, none; append target is the first user file', () => {
  const d = withConfig('', 'h').e
  assert.equal(d.knownHostsFiles.length, 4)
  assert.ok(d.knownHostsFiles[0]?.endsWith('/home/.ssh/known_hosts'))
  assert.ok(d.knownHostsFiles[1]?.endsWith('/home/.ssh/known_hosts2'))
  assert.deepEqual(d.knownHostsFiles.slice(2), ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'])
  assert.equal(d.knownHostsAppendFile, d.knownHostsFiles[0])
  const c = withConfig('UserKnownHostsFile ~/kh/a /abs/b\nGlobalKnownHostsFile /g\n', 'h').e
  assert.ok(c.knownHostsFiles[0]?.endsWith('/home/kh/a'))
  assert.deepEqual(c.knownHostsFiles.slice(1), ['/abs/b', '/g'])
  assert.equal(c.knownHostsAppendFile, c.knownHostsFiles[0])
  const none = withConfig('UserKnownHostsFile none\n', 'h').e
  assert.equal(none.knownHostsAppendFile, undefined)
  assert.deepEqual(none.knownHostsFiles, ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'])
  assert.equal(withConfig('HashKnownHosts yes\n', 'h').e.hashKnownHosts, true)
})

test('strict host key: flag, StrictHostKeyChecking yes/ask/no/accept-new', () => {
  assert.equal(withConfig('', 'h', {}, {strictHostKey: true}).e.strictHostKey, 'yes')
  assert.equal(withConfig('StrictHostKeyChecking no\n', 'h', {}, {strictHostKey: true}).e.strictHostKey, 'yes')
  assert.equal(withConfig('StrictHostKeyChecking yes\n', 'h').e.strictHostKey, 'yes')
  const ask = withConfig('StrictHostKeyChecking ask\n', 'h').e
  assert.equal(ask.strictHostKey, 'yes')
  assert.ok(ask.notes.some((n) => /cannot ask/.test(n)))
  assert.equal(withConfig('StrictHostKeyChecking no\n', 'h').e.strictHostKey, 'no')
  assert.equal(withConfig('StrictHostKeyChecking accept-new\n', 'h').e.strictHostKey, 'accept-new')
})

test('timeouts: ConnectTimeout seconds; ServerAliveInterval is overridden by Kamal\'s 30 s', () => {
  const e = withConfig('ConnectTimeout 5\nServerAliveInterval 5\n', 'h').e
  assert.equal(e.connectTimeoutMs, 5000)
  assert.equal(e.keepaliveIntervalMs, 30_000)
  assert.equal(withConfig('ConnectTimeout 0\n', 'h').e.connectTimeoutMs, 15_000)
})

test('tokens in IdentityFile use the Kamal user and port', () => {
  const s = sandbox()
  const key = s.write(join(s.homeDir, '.ssh/key_web_2222_deploy'))
  const file = s.write(join(s.root, 'ssh_config'), 'IdentityFile ~/.ssh/key_%n_%p_%r\n')
  const e = effectiveSsh('web', {config: file, user: 'deploy', port: 2222}, s.options)
  assert.deepEqual(e.identityFiles, [key])
})

test('notes from the config reader are passed through', () => {
  const e = withConfig('Match exec "true"\n  User x\n', 'h').e
  assert.ok(e.notes.some((n) => /Match exec/.test(n)))
})

test('proxyArgv builds net-ssh\'s `ssh -W` command, or sh -c for a command', () => {
  assert.equal(proxyArgv(withConfig('', 'h').e), undefined)
  const {e, file} = withConfig('Host web\n  HostName 10.0.0.3\n', 'web', {proxy: 'j1,u@j2:2', port: 2222})
  assert.deepEqual(proxyArgv(e), ['ssh', '-l', 'alice', '-p', '22', '-J', 'u@j2:2', '-F', file, '-W', '10.0.0.3:2222', 'j1'])
  const s = sandbox()
  const off = effectiveSsh('::1', {config: false, proxy: 'u@j:2200'}, s.options)
  assert.deepEqual(proxyArgv(off), ['ssh', '-l', 'u', '-p', '2200', '-F', 'none', '-W', '[::1]:22', 'j'])
  const cmd = withConfig('', 'h', {proxy_command: 'nc %h %p'}).e
  assert.deepEqual(proxyArgv(cmd), ['sh', '-c', 'nc h 22'])
})
