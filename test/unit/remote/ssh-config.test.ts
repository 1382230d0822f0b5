import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {
  expandGlob,
  expandTokens,
  matchPattern,
  matchPatternList,
  parseTime,
  readSshConfig,
  splitArgs,
  splitKeyword,
} from '../../../src/remote/ssh-config.js'

const home = mkdtempSync(join(tmpdir(), 'kb-sshcfg-'))
let counter = 0

/** Writes a config file (under home unless absolute) and returns its path. */
function cfg(text: string, name = `cfg-${++counter}`): string {
  const path = name.startsWith('/') ? name : join(home, name)
  mkdirSync(dirname(path), {recursive: true})
  writeFileSync(path, text)
  return path
}

const base = {homeDir: home, localUser: 'alice', env: {}}
const read = (text: string, host: string, extra: Record<string, unknown> = {}) =>
  readSshConfig([cfg(text)], host, {...base, ...extra})

test('missing files are skipped and give an empty result', () => {
  const r = readSshConfig([join(home, 'nope'), '/definitely/not/here'], 'web', base)
  assert.deepEqual(r.identityFiles, [])
  assert.equal(r.hostName, undefined)
  assert.equal(r.user, undefined)
  assert.deepEqual(r.filesRead, [])
})

test('a Host block applies only to its host', () => {
  const text = 'Host web\n  HostName 10.0.0.5\n  User deploy\n  Port 2222\nHost db\n  HostName 10.0.0.6\n'
  const r = read(text, 'web')
  assert.equal(r.hostName, '10.0.0.5')
  assert.equal(r.user, 'deploy')
  assert.equal(r.port, 2222)
  const other = read(text, 'other')
  assert.equal(other.hostName, undefined)
  assert.equal(other.port, undefined)
})

test('first obtained value wins, within a file and across files', () => {
  const a = cfg('Host web\n  User first\n  User second\nHost *\n  User star\n  Port 1000\n')
  const b = cfg('Host *\n  User fromb\n  Port 2000\n  HostName b.example\n')
  const r = readSshConfig([a, b], 'web', base)
  assert.equal(r.user, 'first')
  assert.equal(r.port, 1000)
  assert.equal(r.hostName, 'b.example')
  assert.deepEqual(r.filesRead, [a, b])
  // Host * first in the file beats a later specific block
  assert.equal(read('Host *\n  User star\nHost web\n  User specific\n', 'web').user, 'star')
})

test('IdentityFile accumulates across blocks and files without duplicates', () => {
  const a = cfg('Host web\n  IdentityFile ~/.ssh/a\nHost *\n  IdentityFile ~/.ssh/b\n  IdentityFile ~/.ssh/a\n')
  const b = cfg('IdentityFile /abs/c\n')
  const r = readSshConfig([a, b], 'web', base)
  assert.deepEqual(r.identityFiles, [join(home, '.ssh/a'), join(home, '.ssh/b'), '/abs/c'])
})

test('UserKnownHostsFile takes several files on one line; a later line does not add to it', () => {
  const r = read('Host *\n  UserKnownHostsFile ~/kh1 /etc/kh2\n  UserKnownHostsFile /kh3\n  GlobalKnownHostsFile /g1\n', 'x')
  assert.deepEqual(r.userKnownHostsFiles, [join(home, 'kh1'), '/etc/kh2'])
  assert.deepEqual(r.globalKnownHostsFiles, ['/g1'])
  assert.deepEqual(read('UserKnownHostsFile none\n', 'x').userKnownHostsFiles, [])
})

test('Host patterns: *, ?, negation, several per line, negation-only never matches', () => {
  const text = [
    'Host *.prod.example.com !bastion.prod.example.com',
    '  User prod',
    'Host web?',
    '  User webq',
    'Host !nothing',
    '  Port 9',
    'Host db1 db2',
    '  User dbs',
  ].join('\n')
  assert.equal(read(text, 'app.prod.example.com').user, 'prod')
  assert.equal(read(text, 'bastion.prod.example.com').user, undefined)
  assert.equal(read(text, 'web1').user, 'webq')
  assert.equal(read(text, 'web10').user, undefined)
  assert.equal(read(text, 'db2').user, 'dbs')
  assert.equal(read(text, 'anything').port, undefined)
  // Host patterns compare case-sensitively with the host as given (OpenSSH does the same)
  assert.equal(read('Host WEB\n  User upper\n', 'web').user, undefined)
  assert.equal(read('Host WEB\n  User upper\n', 'WEB').user, 'upper')
  // a comma is not a separator on Host lines
  assert.equal(read('Host a,b\n  User comma\n', 'a').user, undefined)
})

test('syntax: key=value, key = value, case-insensitive keywords, quotes, comments, CRLF', () => {
  const text = [
    '# a comment',
    '',
    '   # indented comment',
    'HOST web',
    '  hostname=10.1.1.1',
    '  USER = deploy   # trailing comment',
    '  Port\t2201\r',
    '  IdentityFile "~/my keys/id one"',
    "  IdentityFile '/x/quoted # not a comment'",
    '  IdentityFile /y/back\\ slash',
  ].join('\n')
  const r = read(text, 'web')
  assert.equal(r.hostName, '10.1.1.1')
  assert.equal(r.user, 'deploy')
  assert.equal(r.port, 2201)
  assert.deepEqual(r.identityFiles, [join(home, 'my keys/id one'), '/x/quoted # not a comment', '/y/back slash'])
})

test('splitKeyword and splitArgs', () => {
  assert.deepEqual(splitKeyword('  Key=value'), {keyword: 'key', rest: 'value'})
  assert.deepEqual(splitKeyword('Key = a b '), {keyword: 'key', rest: 'a b'})
  assert.deepEqual(splitKeyword('Key\tvalue'), {keyword: 'key', rest: 'value'})
  assert.equal(splitKeyword('# comment'), undefined)
  assert.equal(splitKeyword('   '), undefined)
  assert.deepEqual(splitArgs('a "b c" \'d e\' f\\ g # h i'), ['a', 'b c', 'd e', 'f g'])
  assert.deepEqual(splitArgs('"say \\"hi\\"" x#y'), ['say "hi"', 'x#y'])
  assert.deepEqual(splitArgs(''), [])
})

test('Match all / host / originalhost / negation / pattern lists', () => {
  const text = [
    'Host alias',
    '  HostName Real.Example.COM',
    'Match host real.example.com',
    '  User matched-hostname',
    'Match originalhost alias',
    '  Port 3333',
    'Match !host *.example.com',
    '  IdentityFile /not-example',
    'Match host "*.org,!bad.org"',
    '  IdentityFile /org',
    'Match all',
    '  ConnectTimeout 5',
  ].join('\n')
  const r = read(text, 'alias')
  assert.equal(r.hostName, 'real.example.com')
  assert.equal(r.user, 'matched-hostname')
  assert.equal(r.port, 3333)
  assert.deepEqual(r.identityFiles, [])
  assert.equal(r.connectTimeout, 5)
  const other = read(text, 'good.org')
  assert.equal(other.user, undefined)
  assert.deepEqual(other.identityFiles, ['/not-example', '/org'])
  assert.deepEqual(read(text, 'bad.org').identityFiles, ['/not-example'])
})

test('Match user uses the known remote user; Match localuser the local one', () => {
  const text = 'Match user deploy\n  Port 2022\nMatch localuser alice\n  IdentityFile /alice\n'
  assert.equal(read(text, 'h', {user: 'deploy'}).port, 2022)
  assert.equal(read(text, 'h', {user: 'root'}).port, undefined)
  // without a known user: config User, else the local user
  assert.equal(read('User deploy\n' + text, 'h').port, 2022)
  assert.deepEqual(read(text, 'h').identityFiles, ['/alice'])
  assert.deepEqual(read(text, 'h', {localUser: 'bob'}).identityFiles, [])
})

test('unsupported Match criteria ignore the block and leave a note', () => {
  const path = cfg('Match exec "true"\n  User fromexec\nMatch localnetwork 10.0.0.0/8\n  Port 1\nHost *\n  User after\n')
  const r = readSshConfig([path], 'h', base)
  assert.equal(r.user, 'after')
  assert.equal(r.port, undefined)
  assert.equal(r.notes?.length, 2)
  assert.match(r.notes?.[0] ?? '', new RegExp(`${path}:1: Match exec is not supported`))
  assert.match(r.notes?.[1] ?? '', /:3: Match localnetwork/)
})

test('Match final runs a second pass that only fills unset options; canonical alone never matches', () => {
  const text = 'Match final\n  ConnectTimeout 7\n  User finaluser\nHost *\n  ConnectTimeout 9\n'
  const r = read(text, 'h')
  assert.equal(r.connectTimeout, 9)
  assert.equal(r.user, 'finaluser')
  assert.equal(read('Match canonical\n  User canon\n', 'h').user, undefined)
  assert.equal(read('Match !final\n  User notfinal\n', 'h').user, 'notfinal')
})

test('Include: relative to ~/.ssh, globs in lexical order, only inside active blocks, state restored', () => {
  cfg('Host web\n  User from-b\n', '.ssh/conf.d/b.conf')
  cfg('Host web\n  Port 1111\nHost other\n  User other\n', '.ssh/conf.d/a.conf')
  cfg('User from-hidden\n', '.ssh/conf.d/.hidden.conf')
  cfg('IdentityFile /inactive\n', '.ssh/inactive.conf')
  const main = cfg([
    'Host nomatch',
    '  Include inactive.conf',
    'Host web',
    '  Include conf.d/*.conf',
    '  HostName after-include', // still in "Host web", even though the included file ended in "Host other"
    'Host *',
    '  ConnectTimeout 3',
  ].join('\n'))
  const r = readSshConfig([main], 'web', base)
  assert.equal(r.port, 1111)
  assert.equal(r.user, 'from-b')
  assert.equal(r.hostName, 'after-include')
  assert.deepEqual(r.identityFiles, [])
  assert.equal(r.connectTimeout, 3)
  assert.deepEqual(r.filesRead, [main, join(home, '.ssh/conf.d/a.conf'), join(home, '.ssh/conf.d/b.conf')])
  assert.equal(readSshConfig([main], 'other', base).user, undefined)
})

test('Include: ~ and absolute paths, missing files skipped, recursion bounded', () => {
  const inc = cfg('Port 4444\n', '.ssh/abs-inc.conf')
  const r = read(`Include ~/.ssh/abs-inc.conf /missing/file.conf\n`, 'h')
  assert.equal(r.port, 4444)
  assert.ok(r.filesRead?.includes(inc))
  const loop = join(home, '.ssh/loop.conf')
  cfg('IdentityFile /loop\nInclude loop.conf\n', loop)
  const l = readSshConfig([loop], 'h', base)
  assert.deepEqual(l.identityFiles, ['/loop'])
  assert.ok(l.notes?.some((n) => /nested too deeply/.test(n)))
})

test('expandGlob: *, ?, [...], no match, plain path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kb-glob-'))
  for (const name of ['b.conf', 'a.conf', 'c.txt', 'x1.conf', '.h.conf']) writeFileSync(join(dir, name), '')
  assert.deepEqual(expandGlob(join(dir, '*.conf')), ['a.conf', 'b.conf', 'x1.conf'].map((n) => join(dir, n)))
  assert.deepEqual(expandGlob(join(dir, '?.conf')), ['a.conf', 'b.conf'].map((n) => join(dir, n)))
  assert.deepEqual(expandGlob(join(dir, '[ab].conf')), ['a.conf', 'b.conf'].map((n) => join(dir, n)))
  assert.deepEqual(expandGlob(join(dir, '[!ab]*.conf')), [join(dir, 'x1.conf')])
  assert.deepEqual(expandGlob(join(dir, '*.none')), [])
  assert.deepEqual(expandGlob('/no/such/dir/*'), [])
  assert.deepEqual(expandGlob(join(dir, 'plain')), [join(dir, 'plain')])
})

test('tokens: IdentityFile and UserKnownHostsFile get ~ %h %p %r %u %d %n %%', () => {
  const text = [
    'Host alias',
    '  HostName %h.example.com',
    '  IdentityFile ~/.ssh/id_%h_%p_%r_%u_%n_%%',
    '  IdentityFile %d/k',
    '  UserKnownHostsFile ~/.ssh/kh_%h_%p',
  ].join('\n')
  const r = read(text, 'alias', {user: 'deploy', port: 2200})
  assert.equal(r.hostName, 'alias.example.com')
  assert.deepEqual(r.identityFiles, [join(home, '.ssh/id_alias.example.com_2200_deploy_alice_alias_%'), `${home}/k`])
  assert.deepEqual(r.userKnownHostsFiles, [join(home, '.ssh/kh_alias.example.com_2200')])
  // without options: config Port/User, else 22 / local user
  const d = read('Port 2300\nIdentityFile /k_%p_%r\n', 'h')
  assert.deepEqual(d.identityFiles, ['/k_2300_alice'])
  assert.deepEqual(read('IdentityFile /k_%p_%r\n', 'h').identityFiles, ['/k_22_alice'])
})

test('tokens: ${ENV} in IdentityFile; unknown tokens are kept and noted', () => {
  const r = read('IdentityFile ${KEYDIR}/id\nIdentityFile /a/%Z\nIdentityFile ${UNSET_X}/k\n', 'h', {env: {KEYDIR: '/keys'}})
  assert.deepEqual(r.identityFiles, ['/keys/id', '/a/%Z', '${UNSET_X}/k'])
  assert.ok(r.notes?.some((n) => n.includes('%Z')))
  assert.ok(r.notes?.some((n) => n.includes('UNSET_X')))
})

test('ProxyCommand: raw rest of line, %h %p %r %n %% expanded, other tokens and ~ left alone', () => {
  const r = read('Host alias\n  HostName 10.9.9.9\n  ProxyCommand ssh -W %h:%p "jump host" %r %n 100%% %d ~ # kept\n', 'alias', {user: 'u', port: 2222})
  assert.equal(r.proxyCommand, 'ssh -W 10.9.9.9:2222 "jump host" u alias 100% %d ~ # kept')
  assert.equal(read('ProxyCommand=nc %h 22\n', 'h').proxyCommand, 'nc h 22')
})

test('ProxyJump and ProxyCommand compete: whichever comes first wins', () => {
  const a = read('ProxyJump j1\nProxyCommand nc x\nProxyJump j2\n', 'h')
  assert.equal(a.proxyJump, 'j1')
  assert.equal(a.proxyCommand, undefined)
  const b = read('ProxyCommand nc x\nProxyJump j1\n', 'h')
  assert.equal(b.proxyJump, undefined)
  assert.equal(b.proxyCommand, 'nc x')
  assert.equal(read('ProxyJump none\nProxyJump j\n', 'h').proxyJump, 'none')
})

test('value parsing: StrictHostKeyChecking, IdentitiesOnly, times, IdentityAgent, HashKnownHosts, bad Port', () => {
  const s = (v: string) => read(`StrictHostKeyChecking ${v}\n`, 'h').strictHostKeyChecking
  assert.equal(s('yes'), 'yes')
  assert.equal(s('True'), 'yes')
  assert.equal(s('no'), 'no')
  assert.equal(s('off'), 'no')
  assert.equal(s('accept-new'), 'accept-new')
  assert.equal(s('ask'), 'ask')
  assert.equal(s('maybe'), undefined)
  assert.equal(read('IdentitiesOnly yes\n', 'h').identitiesOnly, true)
  assert.equal(read('IdentitiesOnly no\nIdentitiesOnly yes\n', 'h').identitiesOnly, false)
  assert.equal(read('ConnectTimeout 1m30s\n', 'h').connectTimeout, 90)
  assert.equal(read('ServerAliveInterval 15\n', 'h').serverAliveInterval, 15)
  assert.equal(read('HashKnownHosts yes\n', 'h').hashKnownHosts, true)
  assert.equal(read('IdentityAgent SSH_AUTH_SOCK\n', 'h').identityAgent, 'SSH_AUTH_SOCK')
  assert.equal(read('IdentityAgent none\n', 'h').identityAgent, 'none')
  assert.equal(read('IdentityAgent ~/.agent/%h.sock\n', 'h').identityAgent, join(home, '.agent/h.sock'))
  assert.equal(read('IdentityAgent $MY_SOCK\n', 'h', {env: {MY_SOCK: '/run/a.sock'}}).identityAgent, '/run/a.sock')
  const bad = read('Port 99999\nPort abc\nPort 2022\n', 'h')
  assert.equal(bad.port, 2022)
  assert.equal(bad.notes?.length, 2)
})

test('parseTime, matchPattern, matchPatternList, expandTokens', () => {
  assert.equal(parseTime('45'), 45)
  assert.equal(parseTime('2m'), 120)
  assert.equal(parseTime('1h1s'), 3601)
  assert.equal(parseTime('1x'), undefined)
  assert.equal(parseTime(''), undefined)
  assert.ok(matchPattern('a.b.c', '*.c'))
  assert.ok(!matchPattern('abc', 'a.c'))
  assert.ok(matchPattern('[1.2.3.4]:22', '[1.2.3.?]:22'))
  assert.ok(!matchPattern('ABC', 'abc'))
  assert.ok(matchPattern('ABC', 'abc', true))
  assert.ok(matchPatternList('x.org', '*.com,*.org'))
  assert.ok(!matchPatternList('bad.org', '*.org,!bad.org'))
  assert.ok(!matchPatternList('y', '!x'))
  assert.equal(expandTokens('%a-%b-%%-%c', {a: '1', b: '2', '%': '%'}), '1-2-%-%c')
})

// Differential check against the real OpenSSH client: `ssh -G -F file host` prints the resolved options.
const sshAvailable = spawnSync('ssh', ['-V']).status === 0

test('agrees with `ssh -G` on a mixed config', {skip: !sshAvailable && 'ssh not installed'}, () => {
  cfg('Host inc-*\n  Port 6000\n  User incuser\n', '.ssh/diff-inc.conf')
  const file = cfg([
    'Host web*  !web-skip',
    '  HostName %h.internal',
    '  Port 2201',
    '  IdentityFile /keys/web',
    'Host web-skip',
    '  User skipper',
    'Match host *.internal',
    '  User internal',
    '  ConnectTimeout 12',
    'Match originalhost db,inc-*',
    '  Include diff-inc.conf',
    '  HostName db.local',
    'Host *',
    '  User everyone',
    '  Port 22',
    '  IdentityFile /keys/default',
    '  UserKnownHostsFile /kh/one /kh/two',
    '  StrictHostKeyChecking accept-new',
    '  ProxyJump bastion.example:2222',
  ].join('\n'))
  for (const host of ['web1', 'web-skip', 'db', 'inc-7', 'zzz']) {
    const out = spawnSync('ssh', ['-G', '-F', file, host], {encoding: 'utf8', env: {...process.env, HOME: home}})
    assert.equal(out.status, 0, out.stderr)
    const g = new Map<string, string[]>()
    for (const line of out.stdout.split('\n')) {
      const [k, ...v] = line.split(' ')
      if (k) g.set(k, [...(g.get(k) ?? []), v.join(' ')])
    }
    const r = readSshConfig([file], host, {homeDir: home, env: {}})
    assert.equal(r.hostName ?? host, g.get('hostname')?.[0], `${host} hostname`)
    assert.equal(String(r.port ?? 22), g.get('port')?.[0], `${host} port`)
    assert.equal(r.user, g.get('user')?.[0], `${host} user`)
    assert.deepEqual(r.identityFiles, g.get('identityfile'), `${host} identityfile`)
    assert.equal(String(r.connectTimeout ?? 'none'), g.get('connecttimeout')?.[0], `${host} connecttimeout`)
    assert.equal((r.userKnownHostsFiles ?? []).join(' '), g.get('userknownhostsfile')?.[0], `${host} userknownhostsfile`)
    assert.equal(r.strictHostKeyChecking === 'accept-new' ? 'accept-new' : r.strictHostKeyChecking, g.get('stricthostkeychecking')?.[0])
    assert.equal(r.proxyJump, g.get('proxyjump')?.[0], `${host} proxyjump`)
  }
})
