// What a terminal shows once a backup has ended: the final screen of a real terminal emulator (tmux, 160x50,
// read with capture-pane), for a first run into a new repository (restic.init_if_missing says it creates it while
// the task list renders), a failed run and an interrupted run (Ctrl-C sent as a key). A task list that has ended
// leaves no spinner behind, and a message said during a task is on the screen once.
import {after, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN} from '../../support/cli.ts'
import {freshRepo, lab, run, tempDir} from '../../support/lab.ts'
import {localRestic, script, writeApp, type App} from './support.ts'

const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/
const sessions: string[] = []
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function sqliteApp(prefix: string, extraRestic: string[] = []): Promise<{app: App; dir: string}> {
  const dir = tempDir(prefix)
  mkdirSync(join(dir, 'files'))
  writeFileSync(join(dir, 'files', 'a.txt'), 'a\n')
  const db = join(dir, 'primary.sqlite3')
  assert.equal((await run(lab().bins.sqlite3, [db, 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'])).code, 0)
  const repo = join(freshRepo('0.18'), 'new') // not there yet: the first run creates it
  const app = writeApp({version: '0.18', repo, databases: [`  - {name: primary, adapter: sqlite, path: ${db}}`], paths: [`  - ${join(dir, 'files')}`], restic: localRestic(repo, ['init_if_missing: true', ...extraRestic])})
  return {app, dir}
}

/** Starts the CLI in a detached tmux session; returns its name and where its exit code lands. */
async function inTmux(app: App, dir: string, args: string, env: Record<string, string> = {}): Promise<{session: string; done: string}> {
  const session = `kb-screen-${process.pid}-${sessions.length}`
  sessions.push(session)
  const done = join(dir, `${session}.exit`)
  const exports = Object.entries({...app.env, ...env}).filter(([k, v]) => v !== undefined && k !== 'CI').map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')
  // The trap keeps sh alive through Ctrl-C (a trapped signal is reset to its default in the CLI) to write the exit code.
  const command = `trap true INT; cd ${JSON.stringify(app.dir)} && env -u CI -u NO_COLOR TERM=xterm-256color ${exports} ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ${args} --local --backup-config ${JSON.stringify(app.config)}; echo $? > ${JSON.stringify(done)}; sleep 600`
  const started = await run('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '50', 'sh', '-c', command])
  assert.equal(started.code, 0, started.stderr)
  return {session, done}
}

async function finalScreen(t: {session: string; done: string}): Promise<{code: number; screen: string}> {
  for (let i = 0; i < 600 && !existsSync(t.done); i++) await sleep(100)
  assert.ok(existsSync(t.done), 'the command ended within a minute')
  await sleep(300)
  const captured = await run('tmux', ['capture-pane', '-p', '-t', t.session])
  assert.equal(captured.code, 0, captured.stderr)
  return {code: Number((await run('cat', [t.done])).stdout.trim()), screen: captured.stdout}
}

describe('the final screen of a backup on a terminal', {concurrency: true}, () => {
  after(async () => {
    for (const session of sessions) await run('tmux', ['kill-session', '-t', session])
  })

  test('a first run into a new repository: every task finished, no spinner, the creation said once', async () => {
    const {app, dir} = await sqliteApp('screen-first')
    const {code, screen} = await finalScreen(await inTmux(app, dir, 'backup --force'))
    assert.equal(code, 0, screen)
    assert.doesNotMatch(screen, SPINNER, `a spinner is left on the screen:\n${screen}`)
    assert.match(screen, /✔ database primary \(sqlite\): /)
    assert.match(screen, /✔ backup run \d{8}T\d{6}Z ok/)
    assert.equal(screen.split('does not exist yet: creating it').length - 1, 1, screen)
  })

  test('a failed run: the failed task is marked, no spinner', async () => {
    const {app, dir} = await sqliteApp('screen-failed')
    // sqlite3 on PATH fails the copy: the database task fails, the run goes on to the files and fails.
    script(join(dir, 'bin'), 'sqlite3', 'echo "Error: disk I/O error" >&2\nexit 1')
    const {code, screen} = await finalScreen(await inTmux(app, dir, 'backup --force', {PATH: `${join(dir, 'bin')}:${process.env.PATH}`}))
    assert.equal(code, 1, screen)
    assert.doesNotMatch(screen, SPINNER, `a spinner is left on the screen:\n${screen}`)
    assert.match(screen, /✖ database primary \(sqlite\): failed/)
  })

  test('an interrupted run (Ctrl-C): no spinner, said interrupted', async () => {
    const {app, dir} = await sqliteApp('screen-interrupted')
    // A copy that takes long enough to be interrupted during it.
    script(join(dir, 'bin'), 'sqlite3', `sleep 30\nexec ${lab().bins.sqlite3} "$@"`)
    const t = await inTmux(app, dir, 'backup --force', {PATH: `${join(dir, 'bin')}:${process.env.PATH}`})
    for (let i = 0; i < 100; i++) {
      const pane = await run('tmux', ['capture-pane', '-p', '-t', t.session])
      if (/database primary/.test(pane.stdout)) break
      await sleep(100)
    }
    await sleep(500)
    assert.equal((await run('tmux', ['send-keys', '-t', t.session, 'C-c'])).code, 0)
    const {code, screen} = await finalScreen(t)
    assert.equal(code, 130, screen)
    assert.doesNotMatch(screen, SPINNER, `a spinner is left on the screen:\n${screen}`)
    assert.match(screen, /interrupted/i)
  })
})
