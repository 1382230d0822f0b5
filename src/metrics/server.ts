// `schedule --metrics-port`: /metrics (the text exposition format, read from the state directory on every scrape)
// and /healthz (200 while the scheduler runs) over plain HTTP. Anything else is 404; only GET and HEAD.
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {errorMessage} from '../errors.js'

export interface MetricsServer {
  /** The port it listens on (the one asked for, or the one the system picked for 0). */
  port: number
  close(): Promise<void>
}

export function startMetricsServer(options: {port: number; address: string; metrics: () => string}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, {allow: 'GET, HEAD'}).end()
      return
    }
    if (path === '/metrics') {
      try {
        const body = options.metrics()
        res.writeHead(200, {'content-type': 'text/plain; version=0.0.4; charset=utf-8'}).end(req.method === 'HEAD' ? undefined : body)
      } catch (error) {
        res.writeHead(500, {'content-type': 'text/plain'}).end(`metrics unavailable: ${errorMessage(error)}\n`)
      }
      return
    }
    if (path === '/healthz') {
      res.writeHead(200, {'content-type': 'text/plain'}).end('ok\n')
      return
    }
    res.writeHead(404, {'content-type': 'text/plain'}).end('not found: /metrics and /healthz are served here\n')
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.address, () => {
      server.off('error', reject)
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          }),
      })
    })
  })
}
