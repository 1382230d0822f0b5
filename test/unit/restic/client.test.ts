// The restic client's reading of restic (src/restic/client.ts): version parsing and what each version can do, and
// the error classifier (0.14 by message, 0.17+ by exit code) with redacted messages. Pure functions over stderr text.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import type {CommandSpec} from '../../../src/exec/spec.ts'
import type {ProcessResult} from '../../../src/exec/local.ts'
import {capabilities, parseResticVersion, resticError, resticStderr} from '../../../src/restic/client.ts'
import {Redactor} from '../../../src/redact.ts'

describe('what the config becomes for restic', () => {
  test('capabilities by version', () => {
    assert.deepEqual(capabilities(parseResticVersion('restic 0.14.0')!), {stdinFromCommand: false, restCredentialsInEnv: false, restoreSubfolder: false, retryLock: false, repair: false})
    assert.deepEqual(capabilities(parseResticVersion('restic 0.16.0')!), {stdinFromCommand: false, restCredentialsInEnv: false, restoreSubfolder: false, retryLock: true, repair: true})
    assert.deepEqual(capabilities(parseResticVersion('restic 0.17.3')!), {stdinFromCommand: true, restCredentialsInEnv: true, restoreSubfolder: true, retryLock: true, repair: true})
    assert.equal(parseResticVersion('something else'), undefined)
  })
})

describe('restic errors', () => {
  const result = (exitCode: number, stderr: string): ProcessResult => ({exitCode, signal: null, stdout: '', stderr, durationMs: 1, timedOut: false, interrupted: false})
  const spec: CommandSpec = {argv: ['restic', 'backup'], label: 'restic backup files'}
  const classify = (code: number, stderr: string, producer?: CommandSpec) => resticError(spec, result(code, stderr), new Redactor().add('hunter2-secret'), {producer}).code
  const cases: [string, number, string, string][] = [
    ['0.14 no repository', 1, 'Fatal: unable to open config file: stat /repo/config: no such file or directory\nIs there a repository at the following location?', 'restic/no-repository'],
    ['0.14 no repository on S3', 1, 'Fatal: unable to open config file: Stat: The specified key does not exist.', 'restic/no-repository'],
    ['0.18 no repository', 10, '{"message_type":"exit_error","code":10,"message":"Fatal: repository does not exist: unable to open config file"}', 'restic/no-repository'],
    ['0.14 wrong password', 1, 'Fatal: wrong password or no key found', 'restic/wrong-password'],
    ['0.18 wrong password', 12, 'Fatal: wrong password or no key found', 'restic/wrong-password'],
    ['0.14 locked', 1, 'unable to create lock in backend: repository is already locked exclusively by PID 1', 'restic/locked'],
    ['0.18 locked', 11, 'repo already locked', 'restic/locked'],
    ['disk full', 1, 'Fatal: unable to save snapshot: write /repo/data/ab: no space left on device', 'restic/disk-full'],
    ['REST 401', 1, 'Fatal: unable to open config file: unexpected HTTP response (401): 401 Unauthorized', 'restic/access-denied'],
    ['unreachable', 1, 'Fatal: unable to open repository: dial tcp 10.0.0.1:8000: connect: connection refused', 'restic/unreachable'],
    ['a server that hung up (EOF)', 1, 'Fatal: unable to open config file: Get "http://127.0.0.1:8000/repo/config": EOF', 'restic/unreachable'],
    // The texts below are restic's own, measured on 0.14.0 and 0.18.0 (a pack truncated or deleted, a full tmpfs).
    ['0.18 disk full while writing its lock (not "locked")', 1, 'Save(<lock/8df5108322>) failed: write /r/locks/8df5-tmp-41: no space left on device\nunable to create lock in backend: write /r/locks/8df5-tmp-41: no space left on device', 'restic/disk-full'],
    ['0.14 check: a pack cut short', 1, 'pack 942802edaf6a4cfdd36cbcb9991da5bc15f83666fc6034c8fbe5f948dad4c70f: unexpected file size: got 1000, expected 3000274\nFatal: repository contains errors', 'restic/damaged'],
    ['0.18 check: a pack deleted', 1, 'pack d2d429371af52e772490d086861977b54ad599ae2c366c3f94f3c8eca9cbcd71: does not exist\n\nThe repository is damaged and must be repaired.\n\nFatal: repository contains errors', 'restic/damaged'],
    ['0.14 dump of a truncated pack (not "unreachable": unexpected EOF)', 2, 'Load(<data/942802edaf>, 815589, 0) returned error, retrying after 15.39s: unexpected EOF\ncannot dump file: ReadFull(<data/942802edaf>): unexpected EOF', 'restic/damaged'],
    ['0.18 dump of a truncated pack', 1, 'Load(<data/e5e6cfa988>, 714122, 2286121) failed: file is too short\nFatal: cannot dump file: ReadFull(<data/e5e6cfa988>): file is too short', 'restic/damaged'],
    ['0.18 dump of a deleted pack', 1, 'Fatal: cannot dump file: ReadFull(<data/d2d429371a>): open /r/data/d2/d2d4: no such file or directory', 'restic/damaged'],
    ['0.18 prune: a pack cut short', 1, "pack 9cd71495: calculated size 6292058 does not match real size 1000\nRun 'restic repair index'.\nFatal: pack size does not match calculated size from index", 'restic/damaged'],
    ['0.14 prune: a pack deleted', 1, 'The index references 1 needed pack files which are missing from the repository:\n  9b53ad4f79c39f938d05c88c08033dbd6ea33851518c63dd5a088d49129f5be4\nFatal: packs from index missing in repo', 'restic/damaged'],
    ['0.14 restore of a truncated pack', 1, 'ignoring error for /x.dat: StreamPack: ReadFull: unexpected EOF\nFatal: There were 2 errors', 'restic/damaged'],
  ]
  for (const [name, code, stderr, expected] of cases) test(name, () => assert.equal(classify(code, stderr), expected))

  test('a failed --stdin-from-command producer is a dump failure; an empty one is an empty dump', () => {
    const producer: CommandSpec = {argv: ['pg_dump'], label: 'pg_dump main'}
    assert.equal(classify(1, 'Fatal: unable to save snapshot: failed to save /x: Fatal: command failed: exit status 1', producer), 'dump/failed')
    assert.equal(classify(3, '{"message_type":"error","error":{"message":"failed to save /x.sql: read /x.sql: no data read"}}', producer), 'dump/empty')
  })

  test('messages are redacted and restic\'s JSON error lines become their message', () => {
    const error = resticError(spec, result(1, '{"message_type":"exit_error","code":1,"message":"Fatal: boom with hunter2-secret"}'), new Redactor().add('hunter2-secret'))
    assert.match(error.message, /Fatal: boom with \[REDACTED\]/)
    assert.doesNotMatch(error.message, /message_type/)
    const item = resticError(spec, result(1, '{"message_type":"error","error":{"message":"failed to save /x: command failed: exit status 1"},"during":"archival","item":"/x"}\nFatal: unable to save snapshot'), new Redactor(), {producer: {argv: ['pg_dump'], label: 'pg_dump main'}})
    assert.match(item.message, /^pg_dump main failed; no snapshot was saved:\nerror: failed to save \/x: command failed: exit status 1\nFatal: unable to save snapshot$/)
  })

  test('restic 0.14\'s Go stack trace is left out; the fatal line is kept, and a full disk is not a lock', () => {
    const stderr = [
      'write /r/locks/6f57-tmp-42: no space left on device',
      'github.com/restic/restic/internal/backend/local.(*Local).Save',
      '\tgithub.com/restic/restic/internal/backend/local/local.go:170',
      'runtime.goexit',
      '\truntime/asm_amd64.s:1594',
      'unable to create lock in backend',
    ].join('\n')
    assert.equal(resticStderr(stderr), 'write /r/locks/6f57-tmp-42: no space left on device\nunable to create lock in backend')
    const error = resticError(spec, result(1, stderr), new Redactor())
    assert.equal(error.code, 'restic/disk-full')
    assert.doesNotMatch(error.message, /local\.go|goexit/)
    assert.equal(resticStderr(stderr, {keepStackTrace: true}), stderr, 'under DEBUG the trace is kept')
  })

  test('a goroutine dump (SIGQUIT) is left out too, registers included', () => {
    const stderr = ['SIGQUIT: quit', 'PC=0x480901 m=0 sigcode=0', '', 'goroutine 1 gp=0xc000002380 m=nil [sync.WaitGroup.Wait]:', 'runtime.gopark(0xc00024ef78?)', '\truntime/proc.go:435 +0xce', 'rip    0x40f16e', 'rflags 0x246', 'cs     0x33', 'r15    0x1'].join('\n')
    assert.equal(resticStderr(stderr).trim(), 'SIGQUIT: quit')
  })

  test('a full disk in restic\'s cache is the state directory\'s, said so', () => {
    const stderr = 'Fatal: unable to save snapshot: Copy: write /state/cache/6607/data/5f/tmp-19: no space left on device'
    const error = resticError(spec, result(1, stderr), new Redactor(), {cacheDir: '/state/cache'})
    assert.equal(error.code, 'restic/disk-full')
    assert.match(error.message, /^no space left on device in the state directory: restic could not write its cache \(\/state\/cache\)/)
    assert.match(resticError(spec, result(1, stderr), new Redactor(), {cacheDir: '/elsewhere'}).message, /^no space left on device:/)
  })

  test('damage: what to do depends on the restic version, and names the packs check reported', () => {
    const check = 'pack e5e6: unexpected file size\nrestic repair packs e5e6cfa988 0a1b2c3d4e\nrestic repair snapshots --forget\nFatal: repository contains errors'
    const v18 = resticError({argv: ['restic', 'check'], label: 'restic check'}, result(1, check), new Redactor(), {version: parseResticVersion('restic 0.18.0')!})
    assert.equal(v18.code, 'restic/damaged')
    assert.match(v18.message, /^restic check found errors: the repository is damaged/)
    assert.match(v18.suggestions.join('\n'), /`restic repair packs e5e6cfa988 0a1b2c3d4e`, then `restic repair snapshots --forget`/)
    assert.match(v18.suggestions.join('\n'), /kamal-backup backup.*kamal-backup check --read-data-subset 100%/)
    const v14 = resticError({argv: ['restic', 'check'], label: 'restic check'}, result(1, 'Fatal: repository contains errors'), new Redactor(), {version: parseResticVersion('restic 0.14.0')!})
    assert.match(v14.suggestions.join('\n'), /restic rebuild-index/)
    assert.match(v14.suggestions[1]!, /^in the accessory[^`]*: `restic rebuild-index`/)
    const unnamed = resticError(spec, result(1, 'Fatal: cannot dump file: ReadFull(<data/d2d4>): file is too short'), new Redactor(), {version: parseResticVersion('restic 0.17.3')!})
    assert.match(unnamed.message, /could not read data back/)
    assert.match(unnamed.suggestions.join('\n'), /restic repair index.*restic check --read-data/)
  })
})
