// A real HTTP server on 127.0.0.1 that records every request (for notification targets): it answers 200 by default,
// or what `answer` says for a path — a status, a redirect, or `hang` (accept, read, never answer); over TLS when given
// a key and certificate (`selfSignedCertificate()` makes one for 127.0.0.1 with openssl). `closedPort()` is a port
// nothing listens on.
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {createServer as createTlsServer} from 'node:https'
import {join} from 'node:path'
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

export type Answer = number | 'hang' | {status: number; location: string}

export async function httpRecorder(answer: (path: string) => Answer = () => 200, tls?: {key: string; cert: string}): Promise<Recorder> {
  const requests: RecordedRequest[] = []
  const hanging = new Set<ServerResponse>()
  const handle = (req: IncomingMessage, res: ServerResponse) => {
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
      if (typeof reply === 'object') res.writeHead(reply.status, {location: reply.location})
      else res.writeHead(reply, {'content-type': 'text/plain'})
      res.end('OK')
    })
  }
  const server: Server = tls ? createTlsServer(tls, handle) : createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
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

/** A self-signed certificate for 127.0.0.1, written to `dir` (cert.pem is also the CA a client must trust). */
export function selfSignedCertificate(dir: string): {key: string; cert: string; caFile: string} {
  const key = join(dir, 'key.pem')
  const caFile = join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', caFile], {stdio: 'ignore'})
  return {key: readFileSync(key, 'utf8'), cert: readFileSync(caFile, 'utf8'), caFile}
}
