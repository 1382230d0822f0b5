// dump-pg: `kamal-backup dump --database main -o FILE` from an app checkout (ssh2 to the lab's sshd, `docker exec`
// into an accessory of the lab image, which resolves the run and streams `restic dump`; the file written here,
// size-checked, renamed) against what a person types who knows the snapshot id: `ssh host docker exec <container>
// restic dump <snapshot> /bench.main.pgdump > file` through OpenSSH's client. The BENCH_PG_MB PostgreSQL database's
// dump (about 1 GiB), backed up once with restic 0.18 (set-up, not timed). Needs the lab's sshd and podman, and the
// accessory image (bash test/lab/image.sh; KB_IMAGE picks another tag).
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {join} from 'node:path'
import {fmtBytes, interleave, log, resultTable, sh, summarize, timed} from '../lib.mjs'
import {cliEnv, freshRepo, kb, postgresUrl} from '../support/app.mjs'
import {ensureBenchDatabase, lab} from '../support/pg.mjs'

export const description = '`kamal-backup dump --database main -o FILE` through the accessory vs `ssh host docker exec <container> restic dump <snapshot> <path> > file`, the BENCH_PG_MB (default 1300: a dump of about 1 GiB) PostgreSQL backup, restic 0.18'
export const defaultIterations = 3

export async function run({iterations}) {
  const mb = Number(process.env.BENCH_PG_MB ?? 1300)
  const db = await ensureBenchDatabase(mb)
  const l = lab()
  const restic = l.restic.find((r) => r.version === '0.18')
  const image = process.env.KB_IMAGE ?? 'localhost/kamal-backup:lab'
  // Under the lab's shared scratch space: the accessory sees it at the same path (the repository, its state).
  const dir = mkdtempSync(join(l.tmp, 'bench-dump-'))
  chmodSync(dir, 0o777)
  const service = `benchdump${process.pid}`
  const container = `${service}-backup`
  const app = join(dir, 'app')
  const home = join(dir, 'home')
  const out = join(dir, 'out')
  mkdirSync(join(app, 'config'), {recursive: true})
  mkdirSync(join(home, '.ssh'), {recursive: true})
  mkdirSync(out)
  const knownHosts = join(home, '.ssh', 'known_hosts')
  writeFileSync(knownHosts, `[127.0.0.1]:${l.ssh.port} ${l.ssh.hostPublicKey}\n`)
  writeFileSync(join(app, 'config', 'deploy.yml'), [
    `service: ${service}`, 'image: example/app', 'servers: [127.0.0.1]',
    'ssh:', `  user: ${l.ssh.user}`, `  port: ${l.ssh.port}`, `  keys: [${l.ssh.privateKey}]`, '  keys_only: true', '  config: false',
    'accessories:', '  backup:', '    image: ghcr.io/kamal-backup/kamal-backup:0.1', '    host: 127.0.0.1', '    env:', '      secret: [BENCH_RESTIC_PASSWORD]', '',
  ].join('\n'))
  const repo = freshRepo(restic, join(dir, 'repo'))
  const config = join(app, 'config', 'kamal-backup.yml')
  writeFileSync(config, [
    `app: bench`, 'databases:', `  - {name: main, adapter: postgres, url: "${postgresUrl(db.name)}", password: {secret: BENCH_PG_PASSWORD}}`,
    'restic:', `  repository: ${repo}`, '  password: {secret: BENCH_RESTIC_PASSWORD}', '  forget_after_backup: false', '  check_after_backup: false',
    `state: {path: ${join(dir, 'state')}}`, 'backup: {enabled: false}', '',
  ].join('\n'))
  const cleanup = () => {
    try {
      sh('podman', ['rm', '--force', '--time', '0', container])
    } catch {}
    rmSync(dir, {recursive: true, force: true})
  }
  try {
    // The run to dump, made here with the lab's pg_dump and restic 0.18 (not timed), into the repository the
    // accessory reads.
    log(`dump-pg: backing up ${db.name} with restic 0.18 (set-up)`)
    await kb(['backup', '--force', '--local', '--backup-config', config], {cwd: app, env: cliEnv(restic)})
    sh('chmod', ['-R', 'a+rwX', dir])
    const snapshot = JSON.parse(sh(restic.bin, ['-r', repo, 'snapshots', '--json', '--no-lock'], {env: {...process.env, RESTIC_PASSWORD: l.resticPassword}}))[0]
    // The accessory as Kamal runs it (test/integration/remote/fixture.ts), idle: backup.enabled is false.
    const envFile = join(dir, 'accessory.env')
    writeFileSync(envFile, `BENCH_RESTIC_PASSWORD=${l.resticPassword}\nBENCH_PG_PASSWORD=${l.postgres.appPassword}\nRESTIC_PASSWORD=${l.resticPassword}\n`, {mode: 0o600})
    sh('podman', ['run', '--detach', '--name', container, '--network', 'host', '--label', 'kamal-backup.lab=1', '--env-file', envFile,
      '--volume', `${l.tmp}:${l.tmp}`, '--volume', `${config}:/app/config/kamal-backup.yml:ro`, image])

    const workstationEnv = {...process.env, HOME: home, NO_COLOR: '1', SSH_AUTH_SOCK: ''}
    for (const k of ['KAMAL_BACKUP_CONFIG', 'KAMAL_BACKUP_IN_ACCESSORY', 'KAMAL_BACKUP_REMOTE_CLIENT', 'RESTIC_PASSWORD', 'CI']) delete workstationEnv[k]
    const ours = join(out, 'ours.pgdump')
    const theirs = join(out, 'baseline.pgdump')
    // The container's restic finds the repository in RESTIC_REPOSITORY (its password is in the accessory's env).
    const baseline = `${JSON.stringify(l.bins.ssh)} -p ${l.ssh.port} -i ${JSON.stringify(l.ssh.privateKey)} -o BatchMode=yes -o IdentitiesOnly=yes -o UserKnownHostsFile=${JSON.stringify(knownHosts)} -F none ` +
      `${l.ssh.user}@127.0.0.1 docker exec -e RESTIC_REPOSITORY=${repo} ${container} restic dump ${snapshot.id} /bench.main.pgdump > ${JSON.stringify(theirs)}`
    // What a person types who does not know the snapshot id, as the CLI does not: the listing first, in the
    // container (one more repository open), then the dump.
    const handDump = join(out, 'hand.pgdump')
    const handScript = join(dir, 'by-hand.sh')
    writeFileSync(handScript, `id=$(restic snapshots --json --no-lock --latest 1 --tag kamal-backup,app:bench,database:main | sed -n 's/.*"id":"\\([0-9a-f]*\\)".*/\\1/p')\nexec restic dump "$id" /bench.main.pgdump\n`, {mode: 0o755})
    const hand = `${JSON.stringify(l.bins.ssh)} -p ${l.ssh.port} -i ${JSON.stringify(l.ssh.privateKey)} -o BatchMode=yes -o IdentitiesOnly=yes -o UserKnownHostsFile=${JSON.stringify(knownHosts)} -F none ` +
      `${l.ssh.user}@127.0.0.1 docker exec -e RESTIC_REPOSITORY=${repo} ${container} sh ${handScript} > ${JSON.stringify(handDump)}`
    const fresh = (file) => {
      rmSync(file, {force: true})
      execFileSync('sync')
    }
    const cases = [
      {
        name: 'ssh … docker exec … restic dump <snapshot> > file (OpenSSH client)',
        baseline: true,
        run: async () => {
          fresh(theirs)
          return timed('bash', ['--norc', '--noprofile', '-o', 'pipefail', '-c', baseline], {env: workstationEnv, cpu: true})
        },
      },
      {
        name: 'by hand: ssh … docker exec … sh -c \'restic snapshots …, then restic dump <id>\' > file',
        run: async () => {
          fresh(handDump)
          return timed('bash', ['--norc', '--noprofile', '-o', 'pipefail', '-c', hand], {env: workstationEnv, cpu: true})
        },
      },
      {
        name: 'kamal-backup dump --database main -o FILE (from the checkout, ssh2)',
        run: async () => {
          fresh(ours)
          return kb(['dump', '--database', 'main', '-o', ours], {cwd: app, env: workstationEnv})
        },
      },
    ]
    log(`dump-pg: ${iterations} rounds after one warm-up round (the caches of both restic runs)`)
    const results = await interleave(cases, {iterations, warmup: 1, label: 'dump-pg'})
    // Both wrote the same bytes (checked after the timed rounds, untimed).
    const digest = (file) => createHash('sha256').update(readFileSync(file)).digest('hex')
    const size = statSync(ours).size
    if (digest(ours) !== digest(theirs) || digest(handDump) !== digest(theirs)) throw new Error('the files differ')
    const summary = summarize(results)
    const mbps = (r) => `${(size / (1 << 20) / (r.median / 1000)).toFixed(0)} MiB/s`
    const ratio = summary.find((r) => r.name.startsWith('kamal-backup')).ratio
    const markdown = [
      `Dumps the ${fmtBytes(size)} snapshot of ${db.name} (restic 0.18, snapshot ${snapshot.short_id}) from an accessory container of ${image} over the lab's sshd to a file on local disk (removed, then \`sync\`, before each run; untimed). All three files are checked equal (sha256) after the rounds. The by-hand case resolves the snapshot as the CLI must (a listing: one more repository open) but without the run's completeness or size.`,
      '',
      resultTable(summary, [{title: 'throughput', value: mbps}]),
      '',
      `Ratio of medians ${ratio.toFixed(2)}× (target ≤ 1.10×).`,
    ].join('\n')
    return {database: db, bytes: size, summary, markdown}
  } finally {
    if (existsSync(dir)) cleanup()
  }
}
