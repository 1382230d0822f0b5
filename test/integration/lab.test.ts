// Smoke test of the loopback lab (test/lab/up.sh): every component answers, with the credentials env.json names.
// If this file fails, look at the lab before looking at the CLI.  Run: node test/run.mjs test/integration/lab.test.ts
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {chmodSync, existsSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {
  BACKENDS, RESTIC_VERSIONS, createMariaDatabase, createPostgresDatabase, describeResult, freshRepo, lab, mariadb,
  prepareRepo, psql, restic, run, runOk, ssh, tempDir, uniqueName, type RepoTarget, type ResticVersion,
} from '../support/lab.js'

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')
/** ~200 KB of text (restic dump output is compared as a string). */
const payload = (): string => randomBytes(150_000).toString('base64').replace(/(.{76})/g, '$1\n') + '\n'

/** backup from stdin -> snapshots --json -> dump, on one repository. */
async function roundTrip(v: ResticVersion, repo: RepoTarget | string, extraEnv: Record<string, string> = {}): Promise<void> {
  const data = payload()
  const b = await restic(v, ['backup', '--json', '-q', '--stdin', '--stdin-filename', 'app.dump', '--host', 'kblab-test',
    '--tag', 'kamal-backup', '--tag', 'app:db'], {repo, input: data, env: extraEnv})
  assert.equal(b.code, 0, describeResult(b))
  const summary = JSON.parse(b.stdout.trim().split('\n').at(-1) ?? '') as {message_type: string; snapshot_id: string}
  assert.equal(summary.message_type, 'summary')

  const s = await restic(v, ['snapshots', '--json', '--tag', 'kamal-backup,app:db'], {repo, env: extraEnv})
  assert.equal(s.code, 0, describeResult(s))
  const snaps = JSON.parse(s.stdout) as {id: string; tags: string[]; paths: string[]}[]
  assert.equal(snaps.length, 1)
  assert.ok(snaps[0]?.id.startsWith(summary.snapshot_id), `${snaps[0]?.id} vs ${summary.snapshot_id}`)

  const d = await restic(v, ['dump', 'latest', '/app.dump', '--tag', 'kamal-backup,app:db'], {repo, env: extraEnv})
  assert.equal(d.code, 0, describeResult(d))
  assert.equal(sha256(d.stdout), sha256(data))
}

describe('lab: restic binaries', () => {
  for (const v of RESTIC_VERSIONS) {
    test(`restic ${v} runs and matches env.json`, async () => {
      const r = lab().restic.find((x) => x.version === v)
      assert.ok(r, `restic ${v} in env.json`)
      const out = await runOk(r.bin, ['version'], {timeoutMs: 10_000})
      assert.match(out.stdout, new RegExp(`^restic ${r.fullVersion.replaceAll('.', '\\.')} `))
      assert.ok(r.fullVersion.startsWith(`${v}.`))
      assert.ok(existsSync(join(r.template, 'config')), 'template repository exists')
    })
  }
})

describe('lab: restic round trips on every backend', {concurrency: 3}, () => {
  for (const v of RESTIC_VERSIONS) {
    for (const backend of BACKENDS) {
      test(`restic ${v} ${backend}: backup --stdin, snapshots, dump`, {timeout: 180_000}, async () => {
        const repo = await prepareRepo(backend, v)
        await roundTrip(v, repo)
      })
    }
  }

  for (const v of RESTIC_VERSIONS) {
    test(`restic ${v} rest-auth: rejected without credentials (401)`, {timeout: 60_000}, async () => {
      const repo = await prepareRepo('rest-auth', v)
      const r = await restic(v, ['cat', 'config'], {repo: repo.repositoryWithoutCredentials ?? '', timeoutMs: 30_000})
      assert.equal(r.timedOut, false, 'restic gave up within 30 s')
      assert.notEqual(r.code, 0)
      assert.match(r.stderr, /401/)
    })
  }

  test('restic 0.18 rest-auth: RESTIC_REST_USERNAME / RESTIC_REST_PASSWORD', {timeout: 120_000}, async () => {
    const repo = await prepareRepo('rest-auth', '0.18')
    const creds = repo.credentials
    assert.ok(creds)
    await roundTrip('0.18', repo.repositoryWithoutCredentials ?? '', {RESTIC_REST_USERNAME: creds.user, RESTIC_REST_PASSWORD: creds.password})
  })

  test('s3 is HTTPS with the lab CA (without --cacert, 0.14 refuses the certificate)', {timeout: 60_000}, async () => {
    const repo = await prepareRepo('s3', '0.14')
    assert.match(repo.repository, /^s3:https:\/\/127\.0\.0\.1:\d+\//)
    const r = await restic('0.14', ['cat', 'config'], {repo: {...repo, args: []}, timeoutMs: 30_000})
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /certificate/i)
  })

  for (const v of RESTIC_VERSIONS) {
    test(`restic ${v}: a repo root wrote to is usable by kbdeploy over ssh, and the other way round`, {timeout: 120_000}, async () => {
      const l = lab()
      const repo = freshRepo(v)
      await roundTrip(v, repo)
      const bin = l.restic.find((x) => x.version === v)?.bin ?? ''
      const remote = `RESTIC_PASSWORD='${l.resticPassword}' RESTIC_CACHE_DIR="$HOME/.cache/restic" ${bin} -r ${repo}`
      const list = await ssh(`${remote} snapshots --json`, {timeoutMs: 60_000})
      assert.equal(list.code, 0, describeResult(list))
      assert.equal((JSON.parse(list.stdout) as unknown[]).length, 1)
      const put = await ssh(`echo from-kbdeploy | ${remote} backup -q --stdin --stdin-filename remote.txt --host kblab-test --tag remote`, {timeoutMs: 60_000})
      assert.equal(put.code, 0, describeResult(put))
      const back = await restic(v, ['dump', 'latest', '/remote.txt', '--tag', 'remote'], {repo})
      assert.equal(back.code, 0, describeResult(back))
      assert.equal(back.stdout, 'from-kbdeploy\n')
      const check = await restic(v, ['check', '-q'], {repo})
      assert.equal(check.code, 0, describeResult(check))
    })
  }
})

describe('lab: PostgreSQL', () => {
  test('superuser and kbapp log in over TCP with their passwords; a wrong password is refused', async () => {
    const pg = lab().postgres
    assert.equal(await psql('postgres', 'select current_user'), 'postgres')
    assert.equal(await psql('postgres', 'select current_user', {as: 'app'}), pg.appUser)
    assert.match(await psql('postgres', 'show server_version'), /^15\./)
    assert.equal(await psql('postgres', `select rolcreatedb from pg_roles where rolname = '${pg.appUser}'`), 't')
    const bad = await run(join(pg.binDir, 'psql'), ['-X', '-h', pg.host, '-p', String(pg.port), '-U', pg.appUser, '-d', 'postgres', '-c', 'select 1'],
      {env: {PGPASSWORD: 'wrong-password'}, timeoutMs: 20_000})
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /password authentication failed/)
  })

  test('createPostgresDatabase: owned by kbapp, usable by kbapp', async () => {
    const db = await createPostgresDatabase()
    assert.equal(await psql('postgres', `select pg_get_userbyid(datdba) from pg_database where datname = '${db.name}'`), 'kbapp')
    await psql(db.name, 'create table t(id serial primary key, v text); insert into t(v) select g::text from generate_series(1, 1000) g;', {as: 'app'})
    assert.equal(await psql(db.name, 'select count(*) from t', {as: 'app'}), '1000')
    assert.ok(!db.url.includes(db.password), 'url carries no password')
    assert.ok(db.urlWithPassword.includes(db.password))
  })
})

describe('lab: MariaDB', () => {
  test('kb logs in over TCP with its password and holds ALL ... WITH GRANT OPTION; a wrong password is refused', async () => {
    const my = lab().mariadb
    assert.equal(await mariadb('', 'select current_user()'), `${my.user}@127.0.0.1`)
    assert.match(await mariadb('', 'select version()'), /^10\.11\./)
    assert.match(await mariadb('', 'show grants'), /GRANT ALL PRIVILEGES ON \*\.\* TO .* WITH GRANT OPTION/)
    const bad = await run(lab().bins.mariadb, ['--no-defaults', '-h', my.host, '-P', String(my.port), '-u', my.user, '-e', 'select 1'],
      {env: {MYSQL_PWD: 'wrong-password'}, timeoutMs: 20_000})
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /Access denied/)
  })

  test('createMariaDatabase, and root over the socket', async () => {
    const db = await createMariaDatabase()
    await mariadb(db.name, 'create table t(id int auto_increment primary key, v varchar(10)); insert into t(v) values (\'a\'), (\'b\');')
    assert.equal(await mariadb(db.name, 'select count(*) from t'), '2')
    const root = await runOk(lab().bins.mariadb, ['--no-defaults', `--socket=${lab().mariadb.socket}`, '-uroot', '-N', '-e', `select count(*) from \`${db.name}\`.t`], {timeoutMs: 20_000})
    assert.equal(root.stdout.trim(), '2')
  })
})

describe('lab: SSH', () => {
  test('sshd #1: key login as kbdeploy, remote-bin first on PATH, host key matches env.json', async () => {
    const l = lab()
    const r = await ssh('id -un; echo "$PATH"')
    assert.equal(r.code, 0, describeResult(r))
    assert.deepEqual(r.stdout.trim().split('\n'), [l.ssh.user, l.ssh.remotePath])
    assert.ok(l.ssh.remotePath.startsWith(`${l.remoteBin}:`))

    // An executable dropped into remote-bin wins over everything else on the remote PATH.
    const probe = join(l.remoteBin, uniqueName('kb-lab-probe'))
    writeFileSync(probe, '#!/bin/sh\necho probe-ran\n')
    chmodSync(probe, 0o755)
    try {
      const p = await ssh(`command -v ${probe.split('/').at(-1)} && ${probe.split('/').at(-1)}`)
      assert.equal(p.stdout, `${probe}\nprobe-ran\n`)
    } finally {
      rmSync(probe, {force: true})
    }

    // The accessory host's docker is the real engine (podman, through sudo): it answers, and lists containers.
    const docker = await ssh('docker --version && docker ps --format "{{.Names}}" >/dev/null && echo listed')
    assert.equal(docker.code, 0, describeResult(docker))
    assert.match(docker.stdout, /^podman version \d+\.\d+.*\nlisted\n$/)

    for (const [port, fp] of [[l.ssh.port, l.ssh.hostKeyFingerprint], [l.jump.port, l.jump.hostKeyFingerprint]] as const) {
      const scan = await runOk('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1'], {timeoutMs: 10_000})
      const blob = scan.stdout.trim().split(/\s+/)[2] ?? ''
      const got = 'SHA256:' + createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')
      assert.equal(got, fp, `host key on port ${port}`)
    }
  })

  test('password login is refused (key-only)', async () => {
    const l = lab()
    const r = await run(l.bins.ssh, ['-F', l.ssh.config, '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive', l.ssh.alias, 'true'], {timeoutMs: 20_000})
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /Permission denied/)
  })

  test('through the jump host with OpenSSH (ssh -J), and sshd #1 itself forwards nothing', async () => {
    const l = lab()
    const j = await run(l.bins.ssh, ['-F', l.ssh.config, '-J', l.jump.alias, l.ssh.alias, 'id -un'], {timeoutMs: 30_000})
    assert.equal(j.code, 0, describeResult(j))
    assert.equal(j.stdout, `${l.ssh.user}\n`)
    const alias = await ssh('id -un', {via: 'jump'})
    assert.equal(alias.stdout, `${l.ssh.user}\n`, describeResult(alias))
    // Jumping through sshd #1 fails (AllowTcpForwarding no), so the success above really went through sshd #2.
    const no = await run(l.bins.ssh, ['-F', l.ssh.config, '-J', l.ssh.alias, l.ssh.alias, 'true'], {timeoutMs: 30_000})
    assert.notEqual(no.code, 0)
  })
})

describe('lab: files', () => {
  test('the tmpfs is a mount point that kbdeploy can write to', async () => {
    const l = lab()
    const m = await runOk('findmnt', ['-n', '-o', 'FSTYPE', '--mountpoint', l.mountPoint], {timeoutMs: 10_000})
    assert.equal(m.stdout.trim(), 'tmpfs')
    assert.notEqual(statSync(l.mountPoint).dev, statSync(l.root).dev)
    const f = join(l.mountPoint, uniqueName('from-kbdeploy'))
    const r = await ssh(`echo hi > ${f}`)
    assert.equal(r.code, 0, describeResult(r))
    assert.equal(statSync(f).uid, l.ssh.uid)
    rmSync(f)
  })

  test('tempDir() is world-writable and shared with kbdeploy; sqlite3 works', async () => {
    const dir = tempDir('smoke')
    assert.equal(statSync(dir).mode & 0o777, 0o777)
    const r = await ssh(`sqlite3 ${dir}/app.sqlite3 "pragma journal_mode=wal; create table t(v); insert into t values (42);"`)
    assert.equal(r.code, 0, describeResult(r))
    const q = await runOk(lab().bins.sqlite3, [join(dir, 'app.sqlite3'), 'select v from t'], {timeoutMs: 10_000})
    assert.equal(q.stdout, '42\n')
  })
})
