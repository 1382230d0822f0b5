#!/usr/bin/env node
// scripts/json-outputs.mjs — every command's --json document (and exit code) on the bundled sample app, with what
// changes from run to run (times, run and snapshot ids, durations, sizes, the scratch directory) normalised, one
// file per command in --out. Two builds compared this way show whether a change altered any output:
//
//   node scripts/json-outputs.mjs --bin /path/to/old/bin/run.js --out /tmp/outputs-old
//   node scripts/json-outputs.mjs --out /tmp/outputs-new          (this checkout's bin/run.js)
//   diff -r /tmp/outputs-old /tmp/outputs-new
//
// Needs restic and sqlite3 (bash scripts/setup.sh installs both). Uses a fresh directory under /tmp, removed after.
import {spawn, spawnSync} from 'node:child_process'
import {cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const {values} = parseArgs({options: {bin: {type: 'string'}, out: {type: 'string'}}})
if (!values.out) {
  process.stderr.write('usage: node scripts/json-outputs.mjs [--bin bin/run.js] --out DIR\n')
  process.exit(2)
}
const bin = values.bin ?? join(root, 'bin/run.js')
const out = values.out
rmSync(out, {recursive: true, force: true})
mkdirSync(out, {recursive: true})

const demo = mkdtempSync(join(tmpdir(), 'kb-json-outputs-'))
const app = join(demo, 'app')
const server = join(demo, 'server')
cpSync(join(root, 'examples/sample-app'), app, {recursive: true})
mkdirSync(join(server, 'storage/blobs/ab/cd'), {recursive: true})
mkdirSync(join(server, 'state'))
const sqlite = (file, sql) => spawnSync('sqlite3', [file, sql], {stdio: ['ignore', 'ignore', 'inherit']})
sqlite(join(server, 'storage/production.sqlite3'), "PRAGMA journal_mode=wal; CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users(email) VALUES ('a@example.com'), ('b@example.com');")
sqlite(join(server, 'storage/production_queue.sqlite3'), "CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO jobs(name) VALUES ('x');")
writeFileSync(join(server, 'storage/blobs/ab/cd/abcd1234'), 'a blob of the sample app\n')
const config = join(server, 'kamal-backup.yml')
const {readFileSync} = await import('node:fs')
writeFileSync(config, readFileSync(join(app, 'config/kamal-backup.yml'), 'utf8').replaceAll('/rails/storage', join(server, 'storage')) + `state:\n  path: ${join(server, 'state')}\n`)
writeFileSync(join(app, 'config/kamal-backup.local.yml'), `databases:\n  - name: primary\n    path: tmp/dev/primary.sqlite3\n  - name: queue\n    path: tmp/dev/queue.sqlite3\npaths:\n  - from: ${join(server, 'storage')}\n    to: tmp/dev/storage\n`)
mkdirSync(join(app, 'tmp/dev/storage'), {recursive: true})

const env = {...process.env, RESTIC_REPOSITORY: join(demo, 'repo'), RESTIC_PASSWORD: 'json-outputs-password', CI: '1', NO_COLOR: '1'}
for (const name of ['RAILS_ENV', 'RACK_ENV', 'APP_ENV', 'DEBUG', 'KAMAL_BACKUP_IN_ACCESSORY']) delete env[name]
const accessory = ['--local', '--backup-config', config]

function run(args, cwd, extra = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {cwd, env: {...env, ...extra.env}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    child.stdout.on('data', (c) => (stdout += c))
    child.stderr.resume()
    if (extra.stopAfterMs) setTimeout(() => child.kill('SIGTERM'), extra.stopAfterMs)
    child.on('close', (code) => resolve({code, stdout}))
  })
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/
const RUN = /\b\d{8}T\d{6}Z\b/g
const HEX = /\b[0-9a-f]{64}\b|\b[0-9a-f]{8}\b/g
const VARYING_NUMBER = /(_ms|seconds|bytes|data_added|size|^files$|^expected_files$|^removed$|^kept$)/

function normalise(value, key = '') {
  if (Array.isArray(value)) return value.map((v) => normalise(v, key))
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'digest' ? '<digest>' : normalise(v, k)]))
  if (typeof value === 'number' && VARYING_NUMBER.test(key)) return '<n>'
  if (typeof value === 'string') {
    if (ISO.test(value)) return '<time>'
    return value.replaceAll(demo, '<demo>').replace(RUN, '<run>').replace(HEX, '<id>').replace(/\b\d+(\.\d+)? (B|KiB|MiB)\b/g, '<size>').replace(/pid \d+/g, 'pid <pid>').replace(/in \d+(\.\d+)? s\b/g, 'in <s> s')
  }
  return value
}

async function record(name, args, cwd, extra) {
  const {code, stdout} = await run(args, cwd, extra)
  let doc
  try {
    doc = normalise(JSON.parse(stdout))
  } catch {
    doc = {not_json: normalise(stdout)}
  }
  writeFileSync(join(out, `${name}.json`), JSON.stringify({exit: code, stdout: doc}, null, 2) + '\n')
  process.stderr.write(`${name}: exit ${code}\n`)
}

try {
  await record('01-validate', ['validate', '--json'], app)
  await record('02-version', ['version', '--json', ...accessory], server)
  await record('03-list-no-repository', ['list', '--json', ...accessory], server)
  await record('04-backup', ['backup', '--json', '--force', ...accessory], server)
  await record('05-backup-not-due', ['backup', '--json', ...accessory], server)
  await record('06-backup-again', ['backup', '--json', '--force', ...accessory], server)
  await record('07-list', ['list', '--json', ...accessory], server)
  await record('08-check', ['check', '--json', ...accessory], server)
  await record('09-prune', ['prune', '--json', ...accessory], server)
  await record('10-unlock', ['unlock', '--json', ...accessory], server)
  await record('11-restore-production-dry-run', ['restore', 'production', '--dry-run', '--json', ...accessory], server)
  await record('12-restore-production-unconfirmed', ['restore', 'production', '--json', ...accessory], server)
  await record('13-restore-production', ['restore', 'production', '--confirm', 'sample', '--json', ...accessory], server)
  const drill = ['--sqlite-path', join(demo, 'drill/db'), '--files', join(demo, 'drill/files')]
  mkdirSync(join(demo, 'drill/db'), {recursive: true})
  await record('14-drill-production-dry-run', ['drill', 'production', '--dry-run', '--json', ...drill, ...accessory], server)
  await record('15-drill-production', ['drill', 'production', '--yes', '--json', ...drill, '--check', 'test -s "${KAMAL_BACKUP_DRILL_PRIMARY_URL#sqlite3:}"', ...accessory], server)
  await record('16-restore-local-dry-run', ['restore', 'local', '--dry-run', '--json'], app)
  await record('17-restore-local', ['restore', 'local', '--yes', '--json'], app)
  await record('18-drill-local', ['drill', 'local', '--yes', '--json'], app)
  await record('19-evidence', ['evidence', '--json', ...accessory], server)
  await record('20-usage-error', ['restore', 'production', 'a', '--at', '2026-01-01T00:00:00Z', '--json', ...accessory], server)
  await record('21-schedule-stopped', ['schedule', '--json', ...accessory], server, {stopAfterMs: 4000})
  await record('22-init', ['init', '--json', '--force'], app)
} finally {
  rmSync(demo, {recursive: true, force: true})
}
