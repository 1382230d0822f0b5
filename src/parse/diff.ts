// A unified diff of two small texts (config files): the longest common subsequence of their lines, then hunks with
// `context` lines around each change, in the format `diff -u` and `git diff` print.

export function unifiedDiff(before: string, after: string, names: {from: string; to: string}, context = 3): string {
  if (before === after) return ''
  const a = lines(before)
  const b = lines(after)
  // lcs[i][j]: the length of the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({length: a.length + 1}, () => new Array<number>(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
  const ops: {kind: ' ' | '-' | '+'; text: string; a: number; b: number}[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({kind: ' ', text: a[i]!, a: i++, b: j++})
    // Removals before additions, as diff -u prints them.
    else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({kind: '-', text: a[i]!, a: i++, b: j})
    else ops.push({kind: '+', text: b[j]!, a: i, b: j++})
  }
  const out = [`--- ${names.from}`, `+++ ${names.to}`]
  let k = 0
  while (k < ops.length) {
    if (ops[k]!.kind === ' ') {
      k++
      continue
    }
    // A hunk: from `context` lines before this change to `context` lines after the last change within reach.
    const start = Math.max(0, k - context)
    let end = k
    while (end < ops.length) {
      let next = end
      while (next < ops.length && ops[next]!.kind !== ' ') next++
      let gap = next
      while (gap < ops.length && ops[gap]!.kind === ' ') gap++
      end = next
      if (gap >= ops.length || gap - next > 2 * context) break
      end = gap
    }
    const stop = Math.min(ops.length, end + context)
    const hunk = ops.slice(start, stop)
    const aCount = hunk.filter((o) => o.kind !== '+').length
    const bCount = hunk.filter((o) => o.kind !== '-').length
    const aStart = aCount === 0 ? hunk[0]!.a : hunk[0]!.a + 1
    const bStart = bCount === 0 ? hunk[0]!.b : hunk[0]!.b + 1
    out.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`, ...hunk.map((o) => `${o.kind}${o.text}`))
    k = stop
  }
  return out.join('\n') + '\n'
}

function lines(text: string): string[] {
  const all = text.split('\n')
  if (all.at(-1) === '') all.pop()
  return all
}
