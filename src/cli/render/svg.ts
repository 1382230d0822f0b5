// The charts of the HTML report (report-html.ts), as inline SVG written by hand: a timeline of marks, a line under a
// band, bar charts. No chart library: these few charts do not justify a dependency in the CLI's one bundle, and the
// libraries that fit the job (Chart.js, ECharts, uPlot, Plotly, Vega-Lite) draw in the browser with JavaScript when
// the page is opened, while the report must work with scripts off, offline and on paper; the ones that render on
// the server (D3, Vega's node renderer) bring a DOM implementation or a canvas with them. Every text that reaches
// the markup goes through esc().

/** Text and attribute values, HTML/SVG-escaped: everything shown comes from documents treated as untrusted. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)
}

/** A linear map from `domain` onto `range` (a degenerate domain maps to the middle of the range). */
export function scale([d0, d1]: readonly [number, number], [r0, r1]: readonly [number, number]): (v: number) => number {
  if (d1 === d0) return () => (r0 + r1) / 2
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0)
}

/** Coordinates with one decimal: smaller markup, no visible difference. */
export const n = (v: number): string => (Math.round(v * 10) / 10).toString()

/** An accessible chart: role img with a label, a <title>, and a fixed aspect ratio (the size printed too). */
export function svgChart(options: {width: number; height: number; label: string; className: string; body: string}): string {
  const {width, height, label, className, body} = options
  return `<svg class="chart ${esc(className)}" role="img" aria-label="${esc(label)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><title>${esc(label)}</title>${body}</svg>`
}

export type MarkStatus = 'ok' | 'failed' | 'warning' | 'skipped'

/** Words for the marks, so that colour is never the only signal (a shape and a label too). */
export const MARK_LABEL: Record<MarkStatus, string> = {ok: 'ok', failed: 'failed', warning: 'warning', skipped: 'skipped'}

/** The shape of a mark centred on (x, y): ok a filled circle, failed a cross, warning a triangle, skipped a hollow
 *  diamond. */
export function markShape(status: MarkStatus, x: number, y: number, r = 6): string {
  switch (status) {
    case 'ok':
      return `<circle class="shape" cx="${n(x)}" cy="${n(y)}" r="${n(r)}"/>`
    case 'failed':
      return `<path class="shape" d="M${n(x - r)} ${n(y - r)}L${n(x + r)} ${n(y + r)}M${n(x - r)} ${n(y + r)}L${n(x + r)} ${n(y - r)}"/>`
    case 'warning':
      return `<path class="shape" d="M${n(x)} ${n(y - r - 1)}L${n(x + r + 1)} ${n(y + r)}L${n(x - r - 1)} ${n(y + r)}Z"/>`
    case 'skipped':
      return `<path class="shape" d="M${n(x)} ${n(y - r)}L${n(x + r)} ${n(y)}L${n(x)} ${n(y + r)}L${n(x - r)} ${n(y)}Z"/>`
  }
}

/** One mark: an element of its own with data-status and a tooltip. */
export function mark(status: MarkStatus, x: number, y: number, tooltip: string, className = 'mark'): string {
  return `<g class="${esc(className)} ${status}" data-status="${status}"><title>${esc(tooltip)}</title>${markShape(status, x, y)}</g>`
}

/** A legend of the marks that occur, shape and word, from (x, y) rightwards. */
export function legend(statuses: readonly MarkStatus[], x: number, y: number): string {
  return statuses.map((s, i) => `<g class="legend ${s}">${markShape(s, x + i * 90, y, 5)}<text x="${n(x + i * 90 + 10)}" y="${n(y + 4)}">${esc(MARK_LABEL[s])}</text></g>`).join('')
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const TIME_STEPS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY]

/** Ticks for a time axis (UTC), at most about `most` of them, on round minutes, hours or days. */
export function timeTicks(from: number, to: number, most = 6): {at: number; label: string}[] {
  const span = Math.max(to - from, 1)
  const step = TIME_STEPS.find((s) => span / s <= most) ?? Math.ceil(span / most / DAY) * DAY
  const ticks: {at: number; label: string}[] = []
  for (let at = Math.ceil(from / step) * step; at <= to; at += step) {
    const iso = new Date(at).toISOString()
    ticks.push({at, label: step >= DAY ? iso.slice(5, 10) : span > DAY ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16)})
  }
  return ticks
}

export interface Bar {
  value: number
  /** Under the bar (shown for some bars when there are many). */
  label: string
  tooltip: string
  status: MarkStatus
}

/** Vertical bars with a value axis (0 to the largest value), each bar its status's class and a tooltip. */
export function barChart(options: {bars: readonly Bar[]; label: string; className: string; format: (v: number) => string; width?: number; height?: number}): string {
  const {bars, format} = options
  const width = options.width ?? 880
  const height = options.height ?? 220
  const left = 80
  const right = 12
  const top = 14
  const bottom = 40
  const max = Math.max(...bars.map((b) => b.value), 1)
  const y = scale([0, max], [height - bottom, top])
  const slot = (width - left - right) / Math.max(bars.length, 1)
  const barWidth = Math.max(Math.min(slot * 0.7, 40), 1)
  const every = Math.ceil(bars.length / 8)
  const parts: string[] = []
  for (const value of [0, max / 2, max]) {
    parts.push(`<line class="grid" x1="${left}" x2="${width - right}" y1="${n(y(value))}" y2="${n(y(value))}"/><text class="axis" x="${left - 6}" y="${n(y(value) + 4)}" text-anchor="end">${esc(format(value))}</text>`)
  }
  bars.forEach((bar, i) => {
    const x = left + slot * i + (slot - barWidth) / 2
    const h = Math.max(height - bottom - y(bar.value), bar.value > 0 ? 1 : 0)
    parts.push(`<g class="bar ${bar.status}" data-status="${bar.status}"><title>${esc(bar.tooltip)}</title><rect x="${n(x)}" y="${n(height - bottom - h)}" width="${n(barWidth)}" height="${n(h)}"/>${bar.status === 'ok' ? '' : markShape(bar.status, x + barWidth / 2, height - bottom - h - 8, 4)}</g>`)
    if (i % every === 0) parts.push(`<text class="axis" x="${n(x + barWidth / 2)}" y="${height - bottom + 16}" text-anchor="middle">${esc(bar.label)}</text>`)
  })
  return svgChart({width, height, label: options.label, className: options.className, body: parts.join('')})
}
