/**
 * Runs the built CLI (bin/run.js → dist/) as a subprocess, the way users run it. Builds once if dist is missing.
 *   kb(args, {cwd, env, input, timeoutMs}) → {code, stdout, stderr}
 *   kbJson(args, opts) → the parsed stdout of a --json run (asserts it is one JSON document)
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BIN = join(ROOT, 'bin', 'run.js')

export function ensureBuilt(): void {
  if (!existsSync(join(ROOT, 'dist', 'kamal-backup.cjs'))) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], {stdio: 'inherit'})
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  cwd?: string
  env?: Record<string, string | undefined>
  input?: string
  timeoutMs?: number
}

export function kb(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  ensureBuilt()
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', ...options.env}
    for (const [k, v] of Object.entries(options.env ?? {})) if (v === undefined) delete env[k]
    const child = spawn(process.execPath, [BIN, ...args], {cwd: options.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr})
    })
    child.stdin.end(options.input ?? '')
  })
}

export async function kbJson<T = any>(args: readonly string[], options: CliOptions = {}): Promise<{result: CliResult; json: T}> {
  const result = await kb([...args, '--json'], options)
  let json: T
  try {
    json = JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${result.code}):\n${result.stdout.slice(0, 2000)}\nstderr:\n${result.stderr.slice(-2000)}`)
  }
  return {result, json}
}

/** The built CLI as a long-running child (a scheduler): the caller reads its output and stops it. */
export function kbSpawn(args: readonly string[], options: Pick<CliOptions, 'cwd' | 'env'> = {}): ChildProcess {
  ensureBuilt()
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', ...options.env}
  for (const [k, v] of Object.entries(options.env ?? {})) if (v === undefined) delete env[k]
  return spawn(process.execPath, [BIN, ...args], {cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe']})
}
