// The restic client's reading of restic (src/restic/client.ts): version parsing and what each version can do, and
// the error classifier (0.14 by message, 0.17+ by exit code) with redacted messages. Pure functions over stderr text.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import type {CommandSpec} from '../../../src/exec/spec.ts'
import type {ProcessResult} from '../../../src/exec/local.ts'
import {capabilities, parseResticVersion, resticError} from '../../../src/restic/client.ts'
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
  const classify = (code: number, stderr: string, producer?: CommandSpec) => resticError(spec, result(code, stderr), new Redactor().add('hunter2-secret'), producer).code
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
    const item = resticError(spec, result(1, '{"message_type":"error","error":{"message":"failed to save /x: command failed: exit status 1"},"during":"archival","item":"/x"}\nFatal: unable to save snapshot'), new Redactor(), {argv: ['pg_dump'], label: 'pg_dump main'})
    assert.match(item.message, /^pg_dump main failed; no snapshot was saved:\nerror: failed to save \/x: command failed: exit status 1\nFatal: unable to save snapshot$/)
  })
})
