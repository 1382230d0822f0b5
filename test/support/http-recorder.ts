// A real HTTP server on 127.0.0.1 that records every request (for notification targets): it answers 200 by default,
// or what `answer` says for a path — a status, or `hang` (accept, read, never answer). `closedPort()` is a port
// nothing listens on.
import {createServer, type IncomingHttpHeaders, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  at: number
}

export interface Recorder {
  url: string
  requests: RecordedRequest[]
  /** Resolves once `count` requests to paths starting with `prefix` arrived (or rejects after `timeoutMs`). */
  waitFor(prefix: string, count: number, timeoutMs?: number): Promise<RecordedRequest[]>
  close(): Promise<void>
}

export async function httpRecorder(answer: (path: string) => number | 'hang' = () => 200): Promise<Recorder> {
  const requests: RecordedRequest[] = []
  const hanging = new Set<import('node:http').ServerResponse>()
  const server: Server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      const path = req.url ?? '/'
      requests.push({method: req.method ?? '', path, headers: req.headers, body, at: Date.now()})
      const reply = answer(path)
      if (reply === 'hang') {
        hanging.add(res)
        return
      }
      res.writeHead(reply, {'content-type': 'text/plain'})
      res.end('OK')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async waitFor(prefix, count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = requests.filter((r) => r.path.startsWith(prefix))
        if (found.length >= count) return found
        if (Date.now() > deadline) throw new Error(`expected ${count} request(s) to ${prefix}, got ${found.length}: ${JSON.stringify(requests.map((r) => r.path))}`)
        await new Promise((r) => setTimeout(r, 25))
      }
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A port on 127.0.0.1 that was free a moment ago and now has nothing listening: connections are refused. */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
