// One way to replace a file whole: written beside it under a hidden temporary name, then renamed over it, so a
// reader (a deploy running the hook, node_exporter, an editor) sees the old file or the new one, never half of one;
// on failure the temporary file is removed and the target is untouched.
import {chmodSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

export function replaceFile(path: string, content: string, options: {mode?: number} = {}): void {
  const temporary = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`)
  try {
    writeFileSync(temporary, content, options.mode === undefined ? {} : {mode: options.mode})
    // writeFileSync's mode is filtered by the umask; an executable hook must stay executable.
    if (options.mode !== undefined) chmodSync(temporary, options.mode)
    renameSync(temporary, path)
  } finally {
    rmSync(temporary, {force: true})
  }
}
