// The fault suite's tools: an app whose every run leaves a marker (a row in the database, a marker file and a new
// blob in the files path), the process tree of a running CLI (from /proc), and points of a run recognised by what
// is running and what the repository holds, not by sleeps: the restic command of a step, its lock in the
// repository, new data written.
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {connect, createServer} from 'node:net'
import {join} from 'node:path'
import {BIN, ROOT} from '../../support/cli.ts'
import {lab, psql, run, tempDir, type ResticVersion, type TestDatabase} from '../../support/lab.ts'
import {cli, localRestic, pgDatabaseLine, writeApp, type App} from '../engine/support.ts'

export type DatabaseKind = 'sqlite' | 'postgres'

export interface MarkedApp extends App {
  kind: DatabaseKind
  files: string
  sqlitePath?: string
  pg?: TestDatabase
  /** The repository directory (local, or the directory a REST server serves). */
  repoDir: string
}

export interface MarkedAppOptions {
  version: ResticVersion
  kind: DatabaseKind
  pg?: TestDatabase
  /** restic.repository when it is not the local directory (a REST server's URL). */
  repository?: string
  repoDir: string
  stateDir?: string
  env?: Record<string, string | undefined>
}

export function markedApp(options: MarkedAppOptions): MarkedApp {
  const dir = tempDir(`fault-${options.kind}`)
  const files = join(dir, 'files')
  mkdirSync(files)
  const sqlitePath = options.kind === 'sqlite' ? join(dir, 'production.sqlite3') : undefined
  const database = options.kind === 'sqlite' ? `  - {name: main, adapter: sqlite, path: ${sqlitePath}}` : pgDatabaseLine('main', options.pg!)
  const app = writeApp({
    version: options.version,
    repo: options.repoDir,
    databases: [database],
    paths: [`  - ${files}`],
    restic: localRestic(options.repository ?? options.repoDir, ['retention: {keep_last: 2}', 'check_after_backup: true']),
    env: {...(options.stateDir && {KAMAL_BACKUP_STATE_DIR: options.stateDir}), ...options.env},
    prefix: 'fault',
  })
  return {...app, kind: options.kind, files, repoDir: options.repoDir, ...(sqlitePath && {sqlitePath}), ...(options.pg && {pg: options.pg})}
}

/** Marker n: a row n in the database, marker.txt = n, and a new blob of `blobMiB` random MiB (each run then has
 *  data of its own to write, so its files step takes a while). */
export async function mark(app: MarkedApp, n: number, blobMiB = 6): Promise<void> {
  const sql = `CREATE TABLE IF NOT EXISTS marks (n integer); INSERT INTO marks VALUES (${n});`
  if (app.kind === 'sqlite') await sqlite(app, sql)
  else await psql(app.pg!.name, sql, {as: 'app'})
  writeFileSync(join(app.files, 'marker.txt'), `${n}\n`)
  writeFileSync(join(app.files, `blob-${n}.bin`), randomBytes(blobMiB * 1024 * 1024))
}

/** What the live data holds: the database's markers, marker.txt and the blobs. */
export async function liveState(app: MarkedApp): Promise<{rows: string; marker: string; blobs: string[]}> {
  const query = 'SELECT n FROM marks ORDER BY n'
  const rows = app.kind === 'sqlite' ? await sqlite(app, query) : await psql(app.pg!.name, query, {as: 'app'})
  return {
    rows: rows.trim().split('\n').filter(Boolean).join(','),
    marker: readFileSync(join(app.files, 'marker.txt'), 'utf8').trim(),
    blobs: readdirSync(app.files).filter((f) => f.startsWith('blob-')).sort(),
  }
}

/** The live data of marks 1..n. */
export function expectedState(n: number): {rows: string; marker: string; blobs: string[]} {
  const marks = Array.from({length: n}, (_, i) => i + 1)
  return {rows: marks.join(','), marker: String(n), blobs: marks.map((m) => `blob-${m}.bin`).sort()}
}

async function sqlite(app: MarkedApp, sql: string): Promise<string> {
  const r = await run(lab().bins.sqlite3, [app.sqlitePath!, sql])
  assert.equal(r.code, 0, r.stderr)
  return r.stdout
}

// ---- a CLI run in the background and its process tree -------------------------------------------------------------

export interface RunningCli {
  /** The CLI's own pid. */
  pid: number
  done: Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}>
}

/** In the accessory the CLI runs under tini, which reaps every process of the container. Here a killed CLI's
 *  children would be handed to this machine's init, which reaps them late: a dead restic would stay a zombie (and
 *  its pid "alive" to restic's stale-lock test) for minutes. This stand-in for tini is the thinnest there is: perl
 *  (always on Debian) makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), runs the CLI and reaps every
 *  process below it until none is left, then exits with the CLI's status. */
const REAPER = `
use POSIX ();
my %prctl = (x86_64 => 157, aarch64 => 167);
my $nr = $prctl{(POSIX::uname())[4]} or die "no prctl number for this machine";
syscall($nr, 36, 1, 0, 0, 0) == 0 or die "prctl(PR_SET_CHILD_SUBREAPER): $!";
my $cli = fork() // die "fork: $!";
if ($cli == 0) { exec(@ARGV) or die "exec: $!" }
my $status = 0;
while ((my $pid = waitpid(-1, 0)) > 0) { $status = $? if $pid == $cli }
exit(($status & 127) ? 128 + ($status & 127) : $status >> 8);
`

/** \`backup --force\` in the background, under the reaper (the same argv and environment as cli()). */
export async function startBackup(app: App, env: Record<string, string | undefined> = {}): Promise<RunningCli> {
  const merged: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', ...app.env, ...env}
  for (const [k, v] of Object.entries({...app.env, ...env})) if (v === undefined) delete merged[k]
  const reaper = spawn('perl', ['-e', REAPER, process.execPath, BIN, 'backup', '--force', '--local', '--backup-config', app.config], {cwd: app.dir ?? ROOT, env: merged, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  reaper.stdout!.on('data', (d) => (stdout += d))
  reaper.stderr!.on('data', (d) => (stderr += d))
  const done = new Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}>((resolve) => reaper.on('close', (code, signal) => resolve({code, signal, stdout, stderr})))
  const deadline = Date.now() + 10_000
  let pid: number | undefined
  while (!(pid = descendants(reaper.pid!).find((p) => commandLine(p)[1] === BIN))) {
    if (Date.now() > deadline) throw new Error(`the CLI did not start under the reaper: ${stderr}`)
    await new Promise((r) => setTimeout(r, 5))
  }
  return {pid, done}
}

/** Every process below `pid` (children, grandchildren, …), from /proc. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses; the ppid follows the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)])
    } catch {}
  }
  const out: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      out.push(child)
      queue.push(child)
    }
  }
  return out
}

export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return []
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

/** The restic below the CLI running `subcommand` (for backup: of the files, or of a database). */
export function resticProcess(cliPid: number, resticBin: string, subcommand: 'backup-files' | 'backup-database' | 'forget' | 'check'): number | undefined {
  return descendants(cliPid).find((pid) => {
    const argv = commandLine(pid)
    if (argv[0] !== resticBin) return false
    if (subcommand === 'backup-files') return argv.includes('backup') && argv.some((a) => a.includes('type:files'))
    if (subcommand === 'backup-database') return argv.includes('backup') && argv.some((a) => a.includes('type:database'))
    return argv.includes(subcommand)
  })
}

/** Polls `probe` every 10 ms until it returns a value; fails when the run ends first or after `ms`. */
export async function until<T>(what: string, running: RunningCli, probe: () => T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms
  let ended = false
  void running.done.then(() => (ended = true))
  for (;;) {
    const value = probe()
    if (value !== undefined && value !== false) return value
    if (ended) throw new Error(`the run ended before ${what}:\n${(await running.done).stderr.slice(-3000)}`)
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Files in a local repository's directory (data packs, locks). */
export function repoFiles(repoDir: string, kind: 'data' | 'locks'): string[] {
  const dir = join(repoDir, kind)
  if (!existsSync(dir)) return []
  if (kind === 'locks') return readdirSync(dir)
  return readdirSync(dir).flatMap((sub) => readdirSync(join(dir, sub)).map((f) => join(dir, sub, f)))
}

/** Kills a set of processes with SIGKILL and waits until they are gone. */
export async function killAll(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  const deadline = Date.now() + 15_000
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as {port: number}).port
      server.close(() => resolve(port))
    })
    server.once('error', reject)
  })
}

/** A private REST server (rclone serve restic, as the lab's) that a test can stop and start again on its port. */
export class RestServer {
  #child: ChildProcess | undefined
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `rest:http://127.0.0.1:${this.port}/`
  }

  async start(): Promise<void> {
    this.#child = spawn(lab().bins.rclone, ['serve', 'restic', '--config', join(lab().root, 'rest', 'rclone.conf'), '--addr', `127.0.0.1:${this.port}`, this.dir], {stdio: 'ignore'})
    const deadline = Date.now() + 15_000
    while (!(await listening(this.port))) {
      if (Date.now() > deadline) throw new Error(`rclone serve restic did not listen on ${this.port}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  async stop(): Promise<void> {
    if (this.#child?.pid) await killAll([this.#child.pid])
    this.#child = undefined
  }
}

/** A tmpfs of `size` mounted on a new directory (root only). */
export async function tmpfs(prefix: string, size: string): Promise<string> {
  const mnt = join(tempDir(prefix), 'mnt')
  mkdirSync(mnt)
  const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0777`, 'tmpfs', mnt])
  if (r.code !== 0) throw new Error(`cannot mount a tmpfs: ${r.stderr}`)
  return mnt
}

export async function unmount(mnt: string): Promise<void> {
  await run('umount', ['-l', mnt])
  rmSync(mnt, {recursive: true, force: true})
}

/** Fills a file system up to its last byte. */
export async function fill(dir: string): Promise<void> {
  await run('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=64k'])
}

export function unfill(dir: string): void {
  rmSync(join(dir, 'filler'), {force: true})
}

export {cli}
