#!/usr/bin/env node
// Remote `kamal-backup list --json` from an app checkout (our CLI: ssh2, version handshake, output passed through)
// against the baseline a human would type: `ssh -p 2222 -i key kbdeploy@127.0.0.1 docker exec <container>
// kamal-backup list --json` through OpenSSH's client. Both reach the lab's sshd (bash test/lab/up.sh), whose
// `docker` is the real engine (podman), and the same accessory container of the lab image (bash test/lab/image.sh)
// listing the runs of a restic repository holding a few backup runs. Interleaved rounds, medians, ratio. Target:
// <= 1.3x.
//
//   node bench/remote-list.mjs [--n=30] [--json]
import {chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, NODE, interleave, log, machine, machineMarkdown, resultTable, sh, summarize, timed} from './lib.mjs'

const args = process.argv.slice(2)
const iterations = Number(args.find((a) => a.startsWith('--n='))?.slice(4) ?? process.env.BENCH_N ?? 30)
const asJson = args.includes('--json')

const envFile = join(process.env.KB_LAB || '/tmp/kb-lab', 'env.json')
if (!existsSync(envFile)) {
  process.stderr.write('the test lab is not running: bash test/lab/up.sh\n')
  process.exit(2)
}
const lab = JSON.parse(readFileSync(envFile, 'utf8'))
const restic = lab.restic.find((r) => r.version === '0.18')

// ---- set-up (untimed) ----------------------------------------------------------------------------------------------
const dir = mkdtempSync(join(lab.tmp, 'bench-remote-list-'))
chmodSync(dir, 0o777)
const IMAGE = process.env.KB_IMAGE ?? 'localhost/kamal-backup:lab'
const app = join(dir, 'app')
const home = join(dir, 'home')
mkdirSync(join(app, 'config'), {recursive: true})
mkdirSync(join(home, '.ssh'), {recursive: true})
writeFileSync(join(home, '.ssh', 'known_hosts'), `[127.0.0.1]:${lab.ssh.port} ${lab.ssh.hostPublicKey}\n`)
const service = `bench${process.pid}`
const containerName = `${service}-backup`
writeFileSync(join(app, 'config', 'deploy.yml'), `service: ${service}
image: example/app
servers: [127.0.0.1]
ssh:
  user: ${lab.ssh.user}
  port: ${lab.ssh.port}
  keys: [${lab.ssh.privateKey}]
  keys_only: true
  config: false
accessories:
  backup:
    image: ghcr.io/kamal-backup/kamal-backup:0.1
    host: 127.0.0.1
    env:
      secret: [RESTIC_PASSWORD]
`)
const data = join(dir, 'data')
mkdirSync(join(data, 'storage'), {recursive: true})
writeFileSync(join(data, 'storage', 'a.txt'), 'hello\n')
sh(lab.bins.sqlite3, [join(data, 'storage', 'db.sqlite3'), 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'])
cpSync(restic.template, join(dir, 'repo'), {recursive: true})
sh('chmod', ['-R', 'a+rwX', dir])
writeFileSync(join(app, 'config', 'kamal-backup.yml'), `app: ${service}
databases:
  - {name: primary, adapter: sqlite, path: ${join(data, 'storage', 'db.sqlite3')}}
paths:
  - ${join(data, 'storage')}
restic:
  repository: ${join(dir, 'repo')}
  password: {secret: RESTIC_PASSWORD}
state: {path: ${join(data, 'state')}}
backup: {enabled: false}
`)
// The accessory as Kamal runs it (see test/integration/remote/fixture.ts): its scheduler idles (backup.enabled:
// false), so only the benchmark's own backups touch the repository.
const accessoryEnv = join(dir, 'accessory.env')
writeFileSync(accessoryEnv, `RESTIC_PASSWORD=${lab.resticPassword}\n`, {mode: 0o600})
sh('podman', ['run', '--detach', '--name', containerName, '--network', 'host', '--label', 'kamal-backup.lab=1', '--env-file', accessoryEnv,
  '--volume', `${lab.tmp}:${lab.tmp}`, '--volume', `${join(app, 'config', 'kamal-backup.yml')}:/app/config/kamal-backup.yml:ro`, IMAGE])
const cleanup = () => {
  try {
    sh('podman', ['rm', '--force', '--time', '0', containerName])
  } catch {}
  rmSync(dir, {recursive: true, force: true})
}
process.on('exit', cleanup)

const workstationEnv = {...process.env, HOME: home, NO_COLOR: '1', SSH_AUTH_SOCK: ''}
for (const k of ['KAMAL_BACKUP_CONFIG', 'KAMAL_BACKUP_IN_ACCESSORY', 'KAMAL_BACKUP_REMOTE_CLIENT', 'RESTIC_PASSWORD']) delete workstationEnv[k]
log('set-up: three backup runs in the repository')
for (let i = 0; i < 3; i++) await timed(NODE, [BIN, 'backup', '--force'], {cwd: app, env: workstationEnv})

const ours = [NODE, BIN, 'list', '--json']
const baseline = [lab.bins.ssh, '-p', String(lab.ssh.port), '-i', lab.ssh.privateKey, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${join(home, '.ssh', 'known_hosts')}`, '-F', 'none',
  `${lab.ssh.user}@127.0.0.1`, 'docker', 'exec', containerName, 'kamal-backup', 'list', '--json']

// Both must print the same runs.
const a = JSON.parse((await timed(ours[0], ours.slice(1), {cwd: app, env: workstationEnv})).stdout)
const b = JSON.parse((await timed(baseline[0], baseline.slice(1), {env: workstationEnv})).stdout)
if (JSON.stringify(a) !== JSON.stringify(b) || a.length !== 3) throw new Error('the two commands disagree on the list of runs')

// ---- measured ------------------------------------------------------------------------------------------------------
const results = await interleave([
  {name: 'ssh … docker exec … kamal-backup list --json (OpenSSH client)', baseline: true, run: async () => (await timed(baseline[0], baseline.slice(1), {env: workstationEnv})).ms},
  {name: 'kamal-backup list --json (from the checkout, ssh2)', run: async () => (await timed(ours[0], ours.slice(1), {cwd: app, env: workstationEnv})).ms},
], {iterations, warmup: 2, label: 'remote-list'})
const summary = summarize(results)
const info = machine()
if (asJson) {
  process.stdout.write(JSON.stringify({machine: info, iterations, summary}, null, 2) + '\n')
} else {
  const ratio = summary.find((r) => !r.baseline).ratio
  process.stdout.write(`${machineMarkdown(info)}\n\n${resultTable(summary)}\n\nRatio of medians ${ratio.toFixed(2)}× (target ≤ 1.30×), ${iterations} interleaved rounds after 2 warm-up rounds.\n`)
}
