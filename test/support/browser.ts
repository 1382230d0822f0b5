/**
 * A real browser for the HTML report's tests: Debian's Chromium (/usr/bin/chromium, scripts/setup.sh --test installs
 * it) driven headless through playwright-core, which never downloads a browser of its own.
 *   openReport(browser, file)  the page, every request other than the file, every console error
 *   darkBackgrounds(page)      elements with a dark background (the print check)
 *   artefactDir(name)          where screenshots and PDFs go (outside the repository)
 */
import assert from 'node:assert/strict'
import {existsSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {chromium, type Browser, type Page} from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/** Where the screenshots and PDFs go: not in the repository. */
export function artefactDir(name: string): string {
  const dir = join(process.env.KB_TEST_ARTEFACTS ?? join(tmpdir(), 'kamal-backup-test-artefacts'), name)
  mkdirSync(dir, {recursive: true})
  return dir
}

export interface OpenedReport {
  /** Requests for anything but the file itself. */
  requests: string[]
  /** Console errors and warnings, uncaught page errors. */
  errors: string[]
  page: Page
}

/** Opens an HTML file in Chromium, counting every request other than the file and every console error. */
export async function openReport(browser: Browser, file: string): Promise<OpenedReport> {
  const url = pathToFileURL(file).href
  const page = await browser.newPage({viewport: {width: 1000, height: 900}})
  const requests: string[] = []
  const errors: string[] = []
  page.on('request', (request) => {
    if (request.url() !== url) requests.push(request.url())
  })
  await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()))
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(`console ${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`))
  const response = await page.goto(url, {waitUntil: 'load'})
  assert.ok(response === null || response.ok(), `${url} opened`)
  return {requests, errors, page}
}

/** Elements whose own background is dark (relative luminance under 0.5), by tag and class. */
export async function darkBackgrounds(page: Page): Promise<string[]> {
  return page.$$eval('*', (elements) => {
    // In the page (the tests' tsconfig has no DOM library).
    const {getComputedStyle} = globalThis as unknown as {getComputedStyle(el: unknown): {backgroundColor: string}}
    const out: string[] = []
    for (const el of elements) {
      const m = /rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)/.exec(getComputedStyle(el).backgroundColor)
      if (!m || (m[4] !== undefined && Number(m[4]) === 0)) continue
      const [r, g, b] = [m[1], m[2], m[3]].map((v) => Number(v) / 255)
      if (0.2126 * r! + 0.7152 * g! + 0.0722 * b! < 0.5) out.push(`${el.tagName.toLowerCase()}.${el.getAttribute('class') ?? ''} ${getComputedStyle(el).backgroundColor}`)
    }
    return out
  })
}


/** Why a browser test cannot run here (no Chromium, outside CI), or false: in CI it must run, so it fails there. */
export const noBrowser: string | false = !existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is not installed (apt-get install chromium; scripts/setup.sh --test installs it)` : false

export function launchChromium(): Promise<Browser> {
  return chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox']})
}
