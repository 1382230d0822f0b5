// Preloaded into the CLI by the benchmarks (NODE_OPTIONS=--require): at exit, writes the Node process's own peak
// resident set (getrusage RUSAGE_SELF, KiB) to $KB_BENCH_NODE_RSS_FILE. Children (restic, pg_dump) are not in it,
// which is the point: it shows whether data passes through Node's buffers.
'use strict'
const file = process.env.KB_BENCH_NODE_RSS_FILE
if (file) process.on('exit', () => require('node:fs').writeFileSync(file, String(process.resourceUsage().maxRSS)))
