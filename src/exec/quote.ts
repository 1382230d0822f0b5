// POSIX shell quoting. The SSH boundary is the only place that builds a shell string (the remote sshd hands the
// command to the login shell); everything else runs argv arrays. Also used to *display* commands in logs.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/

/** Quotes one word so any POSIX sh (dash, busybox, bash) reads it back byte for byte. */
export function shellQuote(word: string): string {
  if (word.length > 0 && SAFE.test(word)) return word
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/** Joins argv into one command line for a POSIX shell. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((word) => shellQuote(word)).join(' ')
}
