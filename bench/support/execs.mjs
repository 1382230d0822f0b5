// Counts the programs a command starts, with strace (execve only; seccomp-bpf keeps the overhead small).
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {execFileSync} from 'node:child_process'
import {timed} from '../lib.mjs'

let available
export function straceAvailable() {
  if (available === undefined) {
    try {
      execFileSync('strace', ['-V'], {stdio: 'ignore'})
      available = true
    } catch {
      available = false
    }
  }
  return available
}

/** Runs the command under strace; returns the successful execve calls [{pid, program, argv}] (null without strace). */
export async function countExecs(cmd, args, {cwd, env}) {
  if (!straceAvailable()) return null
  const dir = mkdtempSync(join(tmpdir(), 'kb-bench-strace-'))
  const out = join(dir, 'trace')
  try {
    await timed('strace', ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=execve', '-e', 'signal=none', '-s', '200', '-o', out, cmd, ...args], {cwd, env})
    return parseExecs(readFileSync(out, 'utf8'))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/** Joins "<unfinished ...>" / "<... execve resumed>" halves, keeps calls that returned 0 (not PATH misses). */
export function parseExecs(trace) {
  const pending = new Map()
  const calls = []
  for (const raw of trace.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(raw)
    if (!m) continue
    const [, pid, rest] = m
    let line = rest
    if (line.endsWith('<unfinished ...>')) {
      pending.set(pid, line.slice(0, -'<unfinished ...>'.length))
      continue
    }
    const resumed = /^<\.\.\. execve resumed>(.*)$/.exec(line)
    if (resumed) {
      line = (pending.get(pid) ?? 'execve(?') + resumed[1]
      pending.delete(pid)
    }
    const call = /^execve\("((?:[^"\\]|\\.)*)", \[(.*)\](?:, .*)?\)\s+=\s+(-?\d+)/.exec(line)
    if (!call || call[3] !== '0') continue
    const argv = [...call[2].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1])
    calls.push({pid: Number(pid), program: call[1], argv})
  }
  return calls
}

/** Markdown rows: the run, the count, and each program with its first argument ("restic backup", "pg_dump --format=custom"). */
export function execTable(label, calls) {
  const names = calls.map((c) => {
    const name = basename(c.program)
    const first = c.argv.slice(1).find((a) => !a.startsWith('-') || a.startsWith('--format')) ?? ''
    if (name === 'node') return 'node'
    if (name === 'psql') return c.argv.includes('-c') ? `psql -c "${c.argv[c.argv.indexOf('-c') + 1]}"` : 'psql (SQL on stdin)'
    if (name === 'bash') return name
    if (name === 'sh' || name === 'dash') return c.argv[1] === '-c' ? `${name} -c "${c.argv[2].slice(0, 40)}"` : name
    return `${name}${first && !first.includes('/') ? ' ' + first : ''}`
  })
  return [[label, String(calls.length), names.join(', ')]]
}

export const EXEC_HEADER = ['run', 'processes', 'programs (with their first argument)']
export const EXEC_ALIGN = ['l', 'r', 'l']
