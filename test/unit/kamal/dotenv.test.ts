import {test, describe} from 'node:test'
import assert from 'node:assert/strict'
import {chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ConfigError} from '../../../src/errors.js'
import {parseDotenv, shellRunner, shellSplit} from '../../../src/kamal/dotenv.js'
import type {CommandRunner, DotenvResult} from '../../../src/kamal/dotenv.js'

const FILE = '.kamal/secrets'
const ENV = {HOME: '/home/deploy', FROM_ENV: 'env-value', PATH: '/usr/bin:/bin'}

interface Call {
  command: string
  env: Readonly<Record<string, string | undefined>>
}

/** A runner that answers from a table and records what it was asked. */
function fakeRunner(answers: Record<string, {status?: number | null; stdout?: string; stderr?: string}>): CommandRunner & {calls: Call[]} {
  const calls: Call[] = []
  const run = ((command, env) => {
    calls.push({command, env})
    const answer = answers[command]
    if (!answer) return {status: 127, stdout: '', stderr: `sh: 1: ${command.split(' ')[0]}: not found\n`}
    return {status: answer.status === undefined ? 0 : answer.status, stdout: answer.stdout ?? '', stderr: answer.stderr ?? ''}
  }) as CommandRunner & {calls: Call[]}
  run.calls = calls
  return run
}

function parse(text: string, options: {env?: Record<string, string | undefined>; run?: CommandRunner} = {}): DotenvResult {
  return parseDotenv(text, {file: FILE, env: options.env ?? ENV, run: options.run ?? fakeRunner({})})
}

function values(text: string, options?: {env?: Record<string, string | undefined>; run?: CommandRunner}): Record<string, string> {
  return Object.fromEntries(parse(text, options).entries.map((entry) => [entry.name, entry.value]))
}

/** The error of a file that cannot be parsed, or else the failure recorded on its first failed key (whose value is
 *  then empty, as in Kamal). */
function failure(text: string, options?: {env?: Record<string, string | undefined>; run?: CommandRunner}): ConfigError {
  let result
  try {
    result = parse(text, options)
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
    return error
  }
  const failed = result.entries.find((e) => e.failure)
  if (!failed) assert.fail(`expected ${JSON.stringify(text)} to fail`)
  assert.equal(failed.value, '', 'a failed key is empty, as in Kamal')
  return failed.failure!
}

describe('parseDotenv: lines and keys', () => {
  test('KEY=value, export, KEY: value, spaces around =, dotted keys; entries carry their line', () => {
    const result = parse('A=1\nexport B=2\nC: 3\n  D = 4\nE.F=5\n')
    assert.deepEqual(result.entries, [
      {name: 'A', value: '1', line: 1},
      {name: 'B', value: '2', line: 2},
      {name: 'C', value: '3', line: 3},
      {name: 'D', value: '4', line: 4},
      {name: 'E.F', value: '5', line: 5},
    ])
    assert.deepEqual(result.warnings, [])
  })

  test('keys with -, lines that do not match, and C:value without a space are ignored', () => {
    assert.deepEqual(values('BAD-KEY=1\nnot a line\n= nothing\nC:x\nOK=yes\n'), {OK: 'yes'})
  })

  test('a bare KEY and KEY= are empty strings', () => {
    assert.deepEqual(values('BARE\nEMPTY=\nSPACES=   \n'), {BARE: '', EMPTY: '', SPACES: ''})
  })

  test('export KEY re-exports a key defined above, and is an error otherwise', () => {
    assert.deepEqual(values('A=1\nexport A\n'), {A: '1'})
    const error = failure('B=1\nexport A\n')
    assert.equal(error.code, 'secrets/format')
    assert.equal(error.message, 'Line 2 of .kamal/secrets exports A, which has no value: "export A"')
    assert.deepEqual(error.location, {file: FILE, line: 2, key: 'A'})
  })

  test('duplicate keys: the last wins, first position kept in the order, last line reported', () => {
    assert.deepEqual(parse('A=1\nB=2\nA=3\n').entries, [
      {name: 'A', value: '3', line: 3},
      {name: 'B', value: '2', line: 2},
    ])
  })

  test('CRLF line endings and a UTF-8 BOM', () => {
    assert.deepEqual(parse('\uFEFFA=1\r\nB="x"\r\n').entries, [
      {name: 'A', value: '1', line: 1},
      {name: 'B', value: 'x', line: 2},
    ])
  })

  test('lines after a multi-line value keep their numbers', () => {
    const result = parse('# header\nCERT="-----BEGIN-----\nabc\n-----END-----"\n\nNEXT=1\n')
    assert.deepEqual(result.entries, [
      {name: 'CERT', value: '-----BEGIN-----\nabc\n-----END-----', line: 2},
      {name: 'NEXT', value: '1', line: 6},
    ])
  })
})

describe('parseDotenv: comments and quotes', () => {
  test('# starts a comment in unquoted values (even glued), after closing quotes, and on whole lines', () => {
    assert.deepEqual(values('# whole line\nA=x#y\nB=x # y\nC="v" # c\nD=\'w\'#c\n  # indented comment\n'), {A: 'x', B: 'x', C: 'v', D: 'w'})
  })

  test('# inside quotes is kept', () => {
    assert.deepEqual(values('A="a#b"\nB=\'c # d\'\n'), {A: 'a#b', B: 'c # d'})
  })

  test('single quotes are literal: no escapes, no variables, no commands', () => {
    const run = fakeRunner({})
    assert.deepEqual(values("X=1\nA='$X ${X} $(echo hi) \\n \\' '\n", {run}), {X: '1', A: "$X ${X} $(echo hi) \\n \\' "})
    assert.equal(run.calls.length, 0)
  })

  test('double quotes: multi-line, \\" and \\$, other \\c is c, \\n stays two characters', () => {
    assert.deepEqual(values('X=1\nA="line1\nline2"\nB="q\\"uote \\$X \\t \\n \\\\"\n'), {X: '1', A: 'line1\nline2', B: 'q"uote $X t \\n \\'})
  })

  test('DOTENV_LINEBREAK_MODE=legacy turns \\n into a newline in double quotes', () => {
    assert.deepEqual(values('DOTENV_LINEBREAK_MODE=legacy\nA="a\\nb"\n'), {DOTENV_LINEBREAK_MODE: 'legacy', A: 'a\nb'})
    assert.deepEqual(values('A="a\\nb"\n', {env: {DOTENV_LINEBREAK_MODE: 'legacy'}}), {A: 'a\nb'})
  })

  test('unquoted values are trimmed and \\c becomes c', () => {
    assert.deepEqual(values('A=   spaced out   \nB=a\\nb\n'), {A: 'spaced out', B: 'anb'})
  })

  test('the corpus secrets-common shape: single quotes with double quotes and UTF-8 inside', () => {
    assert.deepEqual(values(`SECRET_TOKEN='1234 with "中文"'\nSECRET_TAG='TAGME'\n`), {SECRET_TOKEN: '1234 with "中文"', SECRET_TAG: 'TAGME'})
  })
})

describe('parseDotenv: variables', () => {
  test('$NAME and ${NAME}: earlier keys in the file first, then env, else empty', () => {
    assert.deepEqual(values('FROM_ENV=file\nA=$FROM_ENV-${HOME}-$NOPE-${NOPE}|\n'), {FROM_ENV: 'file', A: 'file-/home/deploy--|'})
    assert.deepEqual(values('A=$FROM_ENV\n'), {A: 'env-value'})
  })

  test('a key defined later is not visible to an earlier line', () => {
    assert.deepEqual(values('A=$LATER\nLATER=x\n'), {A: '', LATER: 'x'})
  })

  test('names are matched exactly (case matters for the lookup)', () => {
    assert.deepEqual(values('abc=lower\nA=$abc/$ABC\n'), {abc: 'lower', A: 'lower/'})
  })

  test('\\$NAME and a lone $ stay literal', () => {
    assert.deepEqual(values('A=\\$HOME\nB=cost: 5$\nC="${}"\n'), {A: '$HOME', B: 'cost: 5$', C: '${}'})
  })

  test('${X:-default} is not supported: value followed by the literal rest, with a warning', () => {
    const result = parse('DB_HOST=${DATABASE_HOST:-localhost}\n', {env: {DATABASE_HOST: 'db1'}})
    assert.deepEqual(result.entries, [{name: 'DB_HOST', value: 'db1:-localhost}', line: 1}])
    assert.deepEqual(result.warnings, [
      {
        line: 1,
        message:
          '${DATABASE_HOST:-localhost} on line 1 (DB_HOST): shell-style defaults are not supported by Kamal\'s dotenv; DB_HOST gets the value of DATABASE_HOST followed by the literal text ":-localhost}". Set DATABASE_HOST in the environment or earlier in the file instead',
      },
    ])
    assert.deepEqual(values('A=${NOPE:-x}\n', {env: {}}), {A: ':-x}'})
  })
})

describe('parseDotenv: commands', () => {
  test('$(…) output replaces the command, minus one trailing newline', () => {
    const run = fakeRunner({'echo hi': {stdout: 'hi\n'}, 'printf two': {stdout: 'a\n\n'}})
    assert.deepEqual(values('A=$(echo hi)\nB="x $(printf two) y"\n', {run}), {A: 'hi', B: 'x a\n y'})
    assert.deepEqual(run.calls.map((c) => c.command), ['echo hi', 'printf two'])
    assert.equal(run.calls[0]!.env, ENV)
  })

  test('variables are substituted into the command text first, even inside single quotes', () => {
    const run = fakeRunner({"op read 'op://vault/item-prod/password'": {stdout: 'pw\n'}})
    assert.deepEqual(values("STAGE=prod\nDB=$(op read 'op://vault/item-$STAGE/password')\n", {run}), {STAGE: 'prod', DB: 'pw'})
  })

  test('nested parentheses stay part of one command', () => {
    const run = fakeRunner({'echo $(echo nested) (x)': {stdout: 'nested (x)\n'}})
    assert.deepEqual(values('A=$(echo $(echo nested) (x))\n', {run}), {A: 'nested (x)'})
  })

  test('output is inserted literally (dotenv 3.1), with a warning when it contains $', () => {
    const run = fakeRunner({'fetch-password': {stdout: 'pa$1wor$D\n'}})
    const result = parse('PW=$(fetch-password)\nOTHER=$PW\n', {run})
    assert.deepEqual(result.entries.map((e) => e.value), ['pa$1wor$D', 'pa$1wor$D'])
    assert.equal(result.warnings.length, 1)
    assert.equal(result.warnings[0]!.line, 1)
    assert.equal(
      result.warnings[0]!.message,
      'The output of the command on line 1 (PW) contains "$". kamal-backup keeps it as is (dotenv 3.1), but Kamal with dotenv 3.2 would expand it as a variable and may get a different value',
    )
    assert.equal(result.warnings[0]!.message.includes('pa$1'), false)
  })

  test('\\$(…) stays literal and is not run; $() with nothing inside is text', () => {
    const run = fakeRunner({})
    assert.deepEqual(values('A=\\$(echo no)\nB="$()"\nC=$(unclosed\n', {run}), {A: '$(echo no)', B: '$()', C: '$(unclosed'})
    assert.equal(run.calls.length, 0)
  })

  test('a failing command is an error naming the command as written, never its output or the secrets it used', () => {
    const run = fakeRunner({
      'op read op://vault/s3cr3t-password-value/x': {status: 1, stdout: 'partial-output', stderr: 'line 1\n[ERROR] not signed in: s3cr3t-password-value\n'},
    })
    const error = failure('TOKEN=s3cr3t-password-value\nDB_PASSWORD=$(op read op://vault/$TOKEN/x)\n', {run})
    assert.equal(error.code, 'secrets/command-failed')
    assert.deepEqual(error.location, {file: FILE, line: 2, key: 'DB_PASSWORD'})
    assert.equal(
      error.message,
      'The command $(op read op://vault/$TOKEN/x) on line 2 of .kamal/secrets (for DB_PASSWORD) failed with exit status 1\nstderr:\n  line 1\n  [ERROR] not signed in: [REDACTED]',
    )
    assert.deepEqual(error.suggestions, [
      'op may need a sign-in first (op signin); then run kamal-backup again',
      'Run it in a shell to see the full error: op read op://vault/$TOKEN/x',
      'Or set DB_PASSWORD in the environment and make that line read it from there ($DB_PASSWORD)',
    ])
    assert.equal(JSON.stringify(error.toJSON()).includes('s3cr3t-password-value'), false)
    assert.equal(JSON.stringify(error.toJSON()).includes('partial-output'), false)
  })

  test('a failure spoils only its key and the keys built from it; the rest of the file still reads', () => {
    const run = fakeRunner({'cat config/master.key': {status: 1, stderr: 'cat: config/master.key: No such file or directory\n'}, 'echo ok': {stdout: 'ok\n'}})
    const result = parse('RAILS_MASTER_KEY=$(cat config/master.key)\nCOPY=$RAILS_MASTER_KEY\nOK=$(echo ok)\nPLAIN=x\n', {run})
    const byName = Object.fromEntries(result.entries.map((e) => [e.name, e]))
    assert.equal(byName.RAILS_MASTER_KEY!.failure?.code, 'secrets/command-failed')
    assert.equal(byName.COPY!.failure, byName.RAILS_MASTER_KEY!.failure, 'COPY fails with the first cause')
    assert.equal(byName.COPY!.value, '')
    assert.deepEqual([byName.OK!.value, byName.OK!.failure, byName.PLAIN!.value], ['ok', undefined, 'x'])
    assert.ok(byName.RAILS_MASTER_KEY!.failure!.suggestions.some((t) => /gitignored file, such as config\/master\.key/.test(t)), 'plain cat gets file advice, not password-manager advice')
    assert.ok(!byName.RAILS_MASTER_KEY!.failure!.suggestions.some((t) => /password manager|sign-in/.test(t)))
  })

  test('a later definition that succeeds clears the failure', () => {
    const run = fakeRunner({boom: {status: 1}})
    const result = parse('A=$(boom)\nA=fine\n', {run})
    assert.deepEqual(result.entries, [{name: 'A', value: 'fine', line: 2}])
  })

  test('an empty variable is named once, however often the command uses it', () => {
    const error = failure('A=$(op read $KAMAL_DESTINATION/$KAMAL_DESTINATION)\n', {run: fakeRunner({'op read /': {status: 1}}), env: {}})
    assert.equal(error.suggestions.filter((t) => /KAMAL_DESTINATION was empty/.test(t)).length, 1)
  })

  test('only the last five lines of stderr are shown', () => {
    const stderr = Array.from({length: 9}, (_, i) => `err ${i + 1}`).join('\n')
    const error = failure('A=$(boom)\n', {run: fakeRunner({boom: {status: 2, stderr}})})
    assert.equal(error.message, 'The command $(boom) on line 1 of .kamal/secrets (for A) failed with exit status 2\nstderr:\n  err 5\n  err 6\n  err 7\n  err 8\n  err 9')
  })

  test('a missing program (exit 127) suggests installing it; an empty variable is pointed out', () => {
    const error = failure('A=$(bw get password $ITEM)\n', {env: {}})
    assert.match(error.message, /failed with exit status 127\nstderr:\n {2}sh: 1: bw: not found$/)
    assert.deepEqual(error.suggestions.slice(0, 2), [
      'Install bw and make sure it is on PATH (the command runs with /bin/sh -c)',
      'ITEM was empty when the command ran: set it in the environment or earlier in .kamal/secrets',
    ])
  })

  test('a command that cannot start is an error too', () => {
    const error = failure('A=$(anything)\n', {run: () => ({status: null, stdout: '', stderr: 'spawnSync /bin/sh ENOENT'})})
    assert.equal(error.message, 'The command $(anything) on line 1 of .kamal/secrets (for A) could not be run\nstderr:\n  spawnSync /bin/sh ENOENT')
  })

  test('the default runner uses /bin/sh -c with the given env and cwd', () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'kb-dotenv-')))
    try {
      writeFileSync(join(dir, 'cert.pem'), '-----BEGIN-----\nabc\n-----END-----\n')
      const result = parseDotenv(
        "A=$(printf %s 'a$b')\nB=$(printenv ONLY_IN_ENV)\nC=$(pwd)\nD=$(cat cert.pem)\nE=$(echo $(echo nested))\n",
        {file: FILE, env: {PATH: process.env.PATH, ONLY_IN_ENV: 'from-env'}, cwd: dir},
      )
      assert.deepEqual(Object.fromEntries(result.entries.map((e) => [e.name, e.value])), {
        A: 'a',
        B: 'from-env',
        C: dir,
        D: '-----BEGIN-----\nabc\n-----END-----',
        E: 'nested',
      })
      const run = shellRunner(dir)
      assert.deepEqual(run('echo out; echo err >&2; exit 3', {PATH: process.env.PATH}), {status: 3, stdout: 'out\n', stderr: 'err\n'})
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('parseDotenv: kamal secrets', () => {
  const JSON_SECRETS = '{"vault/item/DB_PASSWORD":"dbpw","API_KEY":"api","vault/item/API_KEY":"other"}'

  test('kamal secrets extract runs in-process: exact key first, then a key ending in /NAME', () => {
    const run = fakeRunner({})
    const text = `SECRETS='${JSON_SECRETS}'\nDB=$(kamal secrets extract DB_PASSWORD '$SECRETS')\nAPI=$(kamal secrets extract API_KEY '$SECRETS')\n`
    assert.deepEqual(values(text, {run}), {SECRETS: JSON_SECRETS, DB: 'dbpw', API: 'api'})
    assert.equal(run.calls.length, 0)
  })

  test('extract reads the shell-escaped JSON that kamal secrets fetch prints', () => {
    const escaped = '\\{\\"MY_SECRET\\":\\"v\\ with\\ space\\"\\}'
    const run = fakeRunner({'kamal secrets fetch --adapter x A': {stdout: `${escaped}\n`}})
    const kamalDir = fakeKamalDir()
    try {
      const result = values('SECRETS=$(kamal secrets fetch --adapter x A)\nMY_SECRET=$(kamal secrets extract MY_SECRET ${SECRETS})\n', {
        run,
        env: {PATH: kamalDir},
      })
      assert.deepEqual(result, {SECRETS: escaped, MY_SECRET: 'v with space'})
      assert.deepEqual(run.calls.map((c) => c.command), ['kamal secrets fetch --adapter x A'])
    } finally {
      rmSync(kamalDir, {recursive: true, force: true})
    }
  })

  test('extract of a name that is not there: "Could not find secret NAME"', () => {
    const error = failure(`S='${JSON_SECRETS}'\nX=$(kamal secrets extract NOPE '$S')\n`)
    assert.equal(error.code, 'secrets/command-failed')
    assert.equal(error.message, 'Could not find secret NOPE (kamal secrets extract on line 2 of .kamal/secrets)')
    assert.deepEqual(error.location, {file: FILE, line: 2, key: 'X'})
    assert.equal(error.message.includes('dbpw'), false)
  })

  test('extract with something that is not JSON does not echo it', () => {
    const error = failure("S=not-json-secret-value\nX=$(kamal secrets extract A '$S')\n")
    assert.equal(error.message, 'kamal secrets extract A on line 2 of .kamal/secrets: its secrets argument is not a JSON object')
  })

  test('kamal secrets fetch without kamal on PATH is a clear error', () => {
    const run = fakeRunner({})
    const error = failure('SECRETS=$(kamal secrets fetch --adapter 1password --account acme DB)\n', {run, env: {PATH: '/nonexistent'}})
    assert.equal(error.code, 'secrets/needs-kamal')
    assert.equal(error.message, 'Line 1 of .kamal/secrets (SECRETS) runs "kamal secrets fetch", which needs the kamal CLI, and kamal is not on PATH')
    assert.deepEqual(error.location, {file: FILE, line: 1, key: 'SECRETS'})
    assert.deepEqual(error.suggestions, [
      'Install Kamal (gem install kamal) so that kamal-backup can run it, then run kamal-backup again',
      'Or set SECRETS in the environment and make that line read it from there ($SECRETS)',
    ])
    assert.equal(run.calls.length, 0)
  })

  test('bin/kamal secrets … is an ordinary command', () => {
    const run = fakeRunner({'bin/kamal secrets print': {stdout: 'x\n'}})
    assert.deepEqual(values('A=$(bin/kamal secrets print)\n', {run, env: {PATH: '/nonexistent'}}), {A: 'x'})
  })
})

describe('shellSplit', () => {
  test('quotes and escapes like a POSIX shell', () => {
    assert.deepEqual(shellSplit(`a 'b c' "d \\" \\$e \\x" f\\ g  h""`), ['a', 'b c', 'd " $e \\x', 'f g', 'h'])
    assert.deepEqual(shellSplit('  '), [])
    assert.deepEqual(shellSplit("''"), [''])
    assert.throws(() => shellSplit("a 'b"), /unmatched single quote/)
    assert.throws(() => shellSplit('a "b'), /unmatched double quote/)
  })
})

/** A directory with an executable named kamal, so the PATH check passes (the fake runner answers the call). */
function fakeKamalDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kb-kamal-'))
  writeFileSync(join(dir, 'kamal'), '#!/bin/sh\nexit 0\n')
  chmodSync(join(dir, 'kamal'), 0o755)
  return dir
}

