#!/usr/bin/env node
// Remote `kamal-backup list --json` from an app checkout (our CLI: ssh2, version handshake, output passed through)
// against the baseline a human would type: `ssh -p 2222 -i key kbdeploy@127.0.0.1 docker exec <container>
// kamal-backup list --json` through OpenSSH's client. Both reach the lab's sshd (bash test/lab/up.sh) and the same
// "container" (the lab's stand-in docker, test/lab/fake-docker) running a snapshot of the built CLI against a
// local restic 0.18 repository holding a few backup runs. Interleaved rounds, medians, ratio. Target: <= 1.3x.
//
//   node bench/remote-list.mjs [--n=30] [--json]
import {chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, NODE, ROOT, interleave, log, machine, machineMarkdown, resultTable, sh, summarize, timed} from './lib.mjs'

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
const image = join(dir, 'image')
mkdirSync(image)
sh('flock', ['/tmp/kb-build.lock', 'cp', '-r', join(ROOT, 'bin'), join(ROOT, 'dist'), join(ROOT, 'schemas'), join(ROOT, 'package.json'), join(ROOT, 'oclif.manifest.json'), image])
symlinkSync(join(ROOT, 'node_modules'), join(image, 'node_modules'))
mkdirSync(join(image, 'image-bin'))
writeFileSync(join(image, 'image-bin', 'kamal-backup'), `#!/bin/sh\nexec ${NODE} ${join(image, 'bin', 'run.js')} "$@"\n`, {mode: 0o755})
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
`)
const containerFile = join(lab.shared, 'containers', `${containerName}.env`)
writeFileSync(containerFile, [
  `PATH=${join(image, 'image-bin')}:/usr/local/bin:/usr/bin:/bin`,
  `KAMAL_BACKUP_CONFIG=${join(app, 'config', 'kamal-backup.yml')}`,
  `RESTIC_PASSWORD=${lab.resticPassword}`,
  `KAMAL_BACKUP_RESTIC=${restic.bin}`,
  `HOME=${join(data, 'home')}`,
  `RESTIC_CACHE_DIR=${join(data, 'cache')}`,
  `KB_FAKE_WORKDIR=${data}`,
].join('\n') + '\n', {mode: 0o644})
const cleanup = () => {
  rmSync(containerFile, {force: true})
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
