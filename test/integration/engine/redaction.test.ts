// Secrets never appear anywhere: unique values are planted in every secret the config can hold (the restic
// password, credentials inside the repository URL, a backend secret in restic.env, a PostgreSQL password from
// {secret:}, a MariaDB password from {file:}), then every output of backup/list/evidence/check/status (text and --json),
// every file in the state directory, the argv of every child process, and a failing dump tool that prints its
// password to stderr are searched for them.
//
// Argv is observed two ways: recording wrappers for restic, pg_dump and mariadb-dump (they log their argv and exec
// the real tool), and a sampler reading /proc/<pid>/cmdline of every process while the CLI runs.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {dropMariaDatabase, dropPostgresDatabase, lab, mariadb, psql, RESTIC_VERSIONS, resticBin, run, tempDir, uniqueName} from '../../support/lab.ts'
import {BIN, type CliResult} from '../../support/cli.ts'
import {assertNoSecret, assertSchema, cli, cliJson, readState, script, writeApp, type App} from './support.ts'

function allFiles(dir: string, skip: (path: string) => boolean): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (skip(path)) continue
    if (statSync(path).isDirectory()) out.push(...allFiles(path, skip))
    else out.push(path)
  }
  return out
}

/** Samples the command line of every process until stopped; returns those of the CLI run on `marker` (its argv
 *  contains it) and of all its descendants. (The lab's own servers are not ours to judge: rclone's has a password.) */
function cmdlineSampler(marker: string): {stop(): string[]} {
  const seen = new Map<string, {ppid: string; cmdline: string}>()
  const timer = setInterval(() => {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]!
        seen.set(`${pid}:${cmdline}`, {ppid, cmdline})
      } catch {}
    }
  }, 25)
  return {
    stop() {
      clearInterval(timer)
      const ours = new Set<string>()
      for (const [key, p] of seen) if (p.cmdline.includes(marker) && p.cmdline.includes('run.js')) ours.add(key.split(':')[0]!)
      for (let changed = true; changed; ) {
        changed = false
        for (const [key, p] of seen) {
          const pid = key.split(':')[0]!
          if (!ours.has(pid) && ours.has(p.ppid)) {
            ours.add(pid)
            changed = true
          }
        }
      }
      return [...seen].filter(([key]) => ours.has(key.split(':')[0]!)).map(([, p]) => p.cmdline)
    },
  }
}

// The versions run side by side (each has its own repository, databases and state).
describe('redaction, on each restic version', {concurrency: true}, () => {
  for (const version of RESTIC_VERSIONS) {
    describe(`no secret leaks (restic ${version})`, {concurrency: false}, () => {
      const secret = (label: string) => `${label}-${randomBytes(9).toString('hex')}`
      const secrets = {restic: secret('resticpw'), pg: secret('pgpw'), my: secret('mypw'), aws: secret('awssecret')}
      const restCredentials = lab().rest.auth.password
      const all = () => [...Object.values(secrets), restCredentials]
      let app: App
      let argvLog: string
      let pgRole: string
      let pgDb: string
      let myUser: string
      let myDb: string
      const outputs: {what: string; text: string}[] = []
      const record = (what: string, r: CliResult) => outputs.push({what: `${what} stdout`, text: r.stdout}, {what: `${what} stderr`, text: r.stderr})

      before(async () => {
        const dir = tempDir(`redact-${version}`)
        argvLog = join(dir, 'argv.log')
        // Recording wrappers (argv only, never the environment), exec'ing the real tools.
        const bin = join(dir, 'bin')
        const log = (real: string) => `printf '%s\\n' "$0 $*" >> '${argvLog}'\nexec '${real}' "$@"`
        const restic = script(bin, 'restic', log(resticBin(version)))
        script(bin, 'pg_dump', log(join(lab().postgres.binDir, 'pg_dump')))
        const myDump = script(join(dir, 'mybin'), 'mariadb-dump', log(lab().bins.mariadbDump))

        // A PostgreSQL role and a MariaDB user with unique passwords.
        pgRole = uniqueName('kbr')
        pgDb = uniqueName('kbs')
        await psql('postgres', `CREATE ROLE "${pgRole}" LOGIN PASSWORD '${secrets.pg}'; CREATE DATABASE "${pgDb}" OWNER "${pgRole}";`)
        myUser = uniqueName('kbu')
        myDb = uniqueName('kbs')
        await mariadb('', `CREATE DATABASE \`${myDb}\`; CREATE USER '${myUser}'@'%' IDENTIFIED BY '${secrets.my}'; GRANT ALL ON \`${myDb}\`.* TO '${myUser}'@'%';`)
        await mariadb(myDb, 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2);')
        const myPasswordFile = join(dir, 'my-password')
        writeFileSync(myPasswordFile, secrets.my + '\n')

        // A REST repository behind credentials (in the URL), with its own unique password.
        const repository = `${lab().rest.auth.urlWithCredentials}/${uniqueName('repo')}`
        const init = await run(resticBin(version), ['init'], {env: {RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: secrets.restic, RESTIC_CACHE_DIR: lab().resticCacheDir}})
        assert.equal(init.code, 0, init.stderr)

        const files = join(dir, 'files')
        script(files, 'run.sh', 'echo not a secret')
        app = writeApp({
          version,
          repo: {backend: 'rest-auth', version, repository, args: [], env: {RESTIC_PASSWORD: secrets.restic}},
          databases: [
            `  - {name: main, adapter: postgres, url: "postgres://${pgRole}@${lab().postgres.host}:${lab().postgres.port}/${pgDb}", password: {secret: APP_PG_PASSWORD}}`,
            `  - {name: shop, adapter: mysql, url: "mysql://${myUser}@${lab().mariadb.host}:${lab().mariadb.port}/${myDb}", password: {file: ${myPasswordFile}}}`,
          ],
          paths: [`  - ${files}`],
          restic: ['repository: {secret: BACKUP_REPOSITORY}', 'password: {secret: BACKUP_RESTIC_PASSWORD}', 'env: {AWS_SECRET_ACCESS_KEY: {secret: BACKUP_AWS}}', 'check_after_backup: true', 'retention: {keep_last: 5}'],
          env: {
            BACKUP_REPOSITORY: repository,
            BACKUP_RESTIC_PASSWORD: secrets.restic,
            BACKUP_AWS: secrets.aws,
            APP_PG_PASSWORD: secrets.pg,
            RESTIC_PASSWORD: undefined,
            KAMAL_BACKUP_RESTIC: restic,
            KAMAL_BACKUP_MYSQL_DUMP: myDump,
            PATH: `${bin}:${process.env.PATH}`,
          },
        })
      })

      after(async () => {
        await dropPostgresDatabase(pgDb).catch(() => {})
        await psql('postgres', `DROP ROLE IF EXISTS "${pgRole}";`).catch(() => {})
        await dropMariaDatabase(myDb).catch(() => {})
        await mariadb('', `DROP USER IF EXISTS '${myUser}'@'%';`).catch(() => {})
      })

      test('a successful run, list, check and evidence: no secret in any output or on any argv', async () => {
        const sampler = cmdlineSampler(app.config)
        const backup = await cli(app, ['backup', '--force'])
        const commandLines = sampler.stop()
        record('backup', backup)
        assert.equal(backup.code, 0, backup.stderr)
        assert.ok(commandLines.some((c) => c.includes('restic') && c.includes('backup')), `the sampler saw the children: ${commandLines.join('\\n')}`)
        assertNoSecret('a child command line (/proc/<pid>/cmdline)', commandLines.join('\n'), all())
        const {result: list, json} = await cliJson(app, ['list'])
        record('list --json', list)
        assert.equal(json[0].complete, true)
        record('list', await cli(app, ['list']))
        record('check', await cli(app, ['check', '--read-data-subset', '10%']))
        const evidence = await cli(app, ['evidence'])
        record('evidence', evidence)
        assert.equal(evidence.code, 0, evidence.stderr)
        const status = await cli(app, ['status', '--json'])
        record('status --json', status)
        assert.equal(status.code, 0, status.stderr)
        record('status', await cli(app, ['status']))
        const doc = JSON.parse(evidence.stdout)
        assertSchema('evidence', doc)
        assert.match(doc.repository, /^rest:http:\/\/\[REDACTED\]@127\.0\.0\.1:\d+\//, 'the repository is shown, its credentials are not')
        for (const {what, text} of outputs) assertNoSecret(what, text, all())
      })

      test('a failing dump tool that prints its password: redacted everywhere', async () => {
        // Fault injector: a pg_dump that echoes its password (as some tools do in verbose errors) and fails. It reads
        // it where pg_dump does: the password file PGPASSFILE names ("*:*:*:*:<password>").
        const bin = join(tempDir('leaky'), 'bin')
        script(bin, 'pg_dump', `printf '%s\\n' "$0 $*" >> '${argvLog}'\npw=$(cut -d: -f5- "$PGPASSFILE")\necho "pg_dump: error: connection to server failed for password $pw (PGPASSWORD=$pw)" >&2\nexit 1`)
        const r = await cli(app, ['backup', '--force'], {env: {PATH: `${bin}:${app.env.PATH}`}})
        record('failing backup', r)
        assert.equal(r.code, 1)
        // restic >= 0.17 runs the dump and relays its stderr, but now and then (under load) drops the last lines of a
        // subprocess that exits at once (seen in CI simulations); our own pipe (0.14) always has them. Either way no
        // output may hold the password (checked below for every output).
        if (version === '0.14' || /connection to server failed/.test(r.stderr)) assert.match(r.stderr, /connection to server failed for password \[REDACTED\]/)
        const {result} = await cliJson(app, ['backup', '--force'], {env: {PATH: `${bin}:${app.env.PATH}`}})
        record('failing backup --json', result)
        assert.equal(readState(app, 'last_backup.json').status, 'failed')
        for (const {what, text} of outputs) assertNoSecret(what, text, all())
      })

      test('on a terminal (listr2): a failing psql and pg_dump that print the password are redacted', async () => {
        // Fault injectors under a client root, the way the image lays out its clients: psql (the server-version
        // probe) prints the password and fails; so does pg_dump when reached through PATH.
        const root = join(tempDir('leaky-tty'), 'clients')
        script(join(root, '15', 'bin'), 'psql', 'echo "psql: error: password was $PGPASSWORD" >&2\nexit 2')
        script(join(root, '15', 'bin'), 'pg_dump', 'echo "pg_dump: password was $PGPASSWORD" >&2\nexit 1')
        const env = Object.fromEntries(
          Object.entries({...process.env, ...app.env, KAMAL_BACKUP_POSTGRES_CLIENT_ROOT: root, CI: undefined, NO_COLOR: undefined, BASH_ENV: undefined, ENV: undefined, TERM: 'xterm', SHELL: '/bin/sh'}).filter(([, v]) => v !== undefined),
        ) as Record<string, string>
        const tty = await run('script', ['-qec', `stty cols 160 rows 50; exec env -u CI -u NO_COLOR TERM=xterm ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} backup --force --local --backup-config ${JSON.stringify(app.config)}`, '/dev/null'], {cwd: app.dir, env, timeoutMs: 120_000})
        const screen = tty.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
        outputs.push({what: 'backup on a terminal', text: tty.stdout})
        assert.equal(tty.code, 1, screen)
        assert.match(screen, /✖ database main \(postgres\): failed/, 'the task list ran')
        assert.match(screen, /password was \[REDACTED\]/)
        assert.equal(screen.split('password was [REDACTED]').length - 1, 1, `the error is printed once:\n${screen}`)
        for (const {what, text} of outputs) assertNoSecret(what, text, all())
      })

      test('the state directory and the recorded argv hold no secret', () => {
        const files = allFiles(app.state, (p) => p === join(app.state, 'cache'))
        assert.ok(files.some((f) => f.endsWith('runs.jsonl')))
        assert.ok(files.some((f) => f.endsWith('metrics.prom')), 'the metrics textfile is searched too')
        for (const file of files) assertNoSecret(file, readFileSync(file, 'utf8'), all())
        const argv = readFileSync(argvLog, 'utf8')
        assert.match(argv, /restic.* backup /)
        assert.match(argv, /pg_dump --format=custom/)
        assert.match(argv, /mariadb-dump --defaults-file=\S+\/my\.cnf /, "the password comes from an option file only it reads")
        assertNoSecret('the argv of restic, pg_dump or mariadb-dump', argv, all())
      })
    })
  }
})

// The usual setup reads the repository from RESTIC_REPOSITORY, a name that looks secret: only the credentials in it
// may be hidden, the location itself is what evidence and run records are for.
test('repository: {secret: RESTIC_REPOSITORY}: evidence and run records show the location, credentials redacted', async () => {
  const repository = `${lab().rest.auth.urlWithCredentials}/${uniqueName('repo')}`
  const init = await run(resticBin('0.18'), ['init'], {env: {RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: lab().resticPassword, RESTIC_CACHE_DIR: lab().resticCacheDir}})
  assert.equal(init.code, 0, init.stderr)
  const files = join(tempDir('repo-var'), 'files')
  script(files, 'a.sh', 'echo a')
  const app = writeApp({version: '0.18', repo: {backend: 'rest-auth', version: '0.18', repository, args: [], env: {}}, paths: [`  - ${files}`], restic: ['repository: {secret: RESTIC_REPOSITORY}', 'password: {secret: RESTIC_PASSWORD}'], env: {RESTIC_REPOSITORY: repository}})
  const backup = await cli(app, ['backup', '--force'])
  assert.equal(backup.code, 0, backup.stderr)
  const shown = new RegExp(`^rest:http://\\[REDACTED\\]@127\\.0\\.0\\.1:${lab().rest.auth.port}/repo_`)
  assert.match(readState(app, 'last_backup.json').repository, shown)
  const evidence = await cli(app, ['evidence'])
  assert.equal(evidence.code, 0, evidence.stderr)
  assert.match(JSON.parse(evidence.stdout).repository, shown)
  for (const text of [backup.stdout, backup.stderr, evidence.stdout, evidence.stderr]) assertNoSecret('output', text, [lab().rest.auth.password])
})
