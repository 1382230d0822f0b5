// On a terminal, `backup` shows a listr2 task list (each database, the files, forget, check) and `list` a table;
// elsewhere the same steps are plain timestamped lines. The terminal is a real pseudo-terminal from `script`
// (util-linux), sized with stty so the task list has room to render.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN} from '../../support/cli.ts'
import {freshRepo, lab, run, tempDir} from '../../support/lab.ts'
import {cli, localRestic, writeApp} from './support.ts'

test('backup on a TTY: a task list with every step; not on a TTY: timestamped lines', async () => {
  const dir = tempDir('tty')
  mkdirSync(join(dir, 'files'))
  writeFileSync(join(dir, 'files', 'a.txt'), 'a\n')
  const db = join(dir, 'app.sqlite3')
  assert.equal((await run(lab().bins.sqlite3, [db, 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'])).code, 0)
  const repo = freshRepo('0.18')
  const app = writeApp({version: '0.18', repo, databases: [`  - {name: lite, adapter: sqlite, path: ${db}}`], paths: [`  - ${join(dir, 'files')}`], restic: localRestic(repo, ['retention: {keep_last: 5}', 'check_after_backup: true'])})
  // `script` runs the command through $SHELL, whose start-up files (BASH_ENV, a CI machine's profile) may export
  // CI again: so /bin/sh, and `env -u` right before the CLI, which chooses plain lines whenever CI is set.
  const env = Object.fromEntries(Object.entries({...process.env, ...app.env, CI: undefined, NO_COLOR: undefined, BASH_ENV: undefined, ENV: undefined, TERM: 'xterm', SHELL: '/bin/sh'}).filter(([, v]) => v !== undefined)) as Record<string, string>
  const inTty = (args: string) => run('script', ['-qec', `stty cols 160 rows 50; exec env -u CI -u NO_COLOR TERM=xterm ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ${args} --local --backup-config ${JSON.stringify(app.config)}`, '/dev/null'], {cwd: app.dir, env, timeoutMs: 120_000})

  const tty = await inTty('backup --force')
  assert.equal(tty.code, 0, tty.stdout)
  const screen = tty.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
  for (const step of [/✔ database lite \(sqlite\): .* read, .* new, snapshot [0-9a-f]{8}/, /✔ files \(.*\): .* snapshot [0-9a-f]{8}/, /✔ retention \(restic forget --prune\): done/, /✔ restic check: done/, /✔ backup run \d{8}T\d{6}Z ok/]) {
    assert.match(screen, step)
  }
  assert.doesNotMatch(screen, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO/, 'no log lines on a terminal')

  const table = await inTty('list')
  assert.equal(table.code, 0, table.stdout)
  assert.match(table.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''), /RUN\s+TIME\s+STATUS\s+SIZE\s+SNAPSHOTS[\s\S]*\d{8}T\d{6}Z .* complete .* database:lite=[0-9a-f]{8} \(.*\)\s+files=[0-9a-f]{8}/)

  const plain = await cli(app, ['backup', '--force'])
  assert.equal(plain.code, 0, plain.stderr)
  for (const step of ['database lite (sqlite)...', 'files (', 'retention (restic forget --prune): done', 'restic check: done']) {
    assert.match(plain.stderr, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO  ${step.replace(/[()]/g, '\\$&')}`, 'm'))
  }
})
