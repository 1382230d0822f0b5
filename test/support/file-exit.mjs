// Loaded into every test file's process (test/run.mjs): once the file's tests are done, something it started
// and lost track of (a child still holding a pipe) must not keep the process, and so the whole suite, running
// for ever. The results are reported by then; the process is given 30 s to end by itself (its own after() hooks
// included), then it exits, which the runner reports as that file's failure.
import {after} from 'node:test'

after(() => {
  setTimeout(() => {
    process.stderr.write(`test file still running 30 s after its last test: something it started is still alive; exiting\n`)
    process.exit(process.exitCode ?? 1)
  }, 30_000).unref()
})
