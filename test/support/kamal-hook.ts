// Runs a Kamal hook the way Kamal does: the executable file itself (its #! line decides the shell), from the app
// checkout, with the environment given and nothing else.
import {spawn} from 'node:child_process'
import {join} from 'node:path'

export interface HookRun {
  code: number | null
  stdout: string
  stderr: string
}

/** `.kamal/hooks/<name>` of `checkout`. `env` is the whole environment (PATH included). */
export function runKamalHook(checkout: string, env: Record<string, string>, name = 'pre-deploy'): Promise<HookRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(checkout, '.kamal', 'hooks', name), [], {cwd: checkout, env})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}
