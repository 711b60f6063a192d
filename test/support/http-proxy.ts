import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';

/** A self-signed certificate for api.medcap-test.invalid and other.medcap-test.invalid. */
export const TEST_TLS = {
  cert: readFileSync(new URL('./tls/cert.pem', import.meta.url)),
  key: readFileSync(new URL('./tls/key.pem', import.meta.url)),
};

/** What the proxy was asked. */
export interface ProxiedRequest {
  /** `CONNECT` for a tunnel, else the forwarded method. */
  method: string;
  /** `host:port` for CONNECT, the absolute URI otherwise. */
  target: string;
  proxyAuthorization?: string;
}

export interface TestProxyOptions {
  /** `user:password` the proxy wants (407 otherwise). */
  credentials?: string;
  /** Status answered to every CONNECT instead of opening the tunnel (e.g. 403). */
  connectStatus?: number;
}

/**
 * A small forward proxy on 127.0.0.1, as institutional proxies work: CONNECT opens a
 * tunnel to the target, a request with an absolute URI is forwarded. Every host name ends
 * up at 127.0.0.1 (test servers listen there), so a test can use names such as
 * api.medcap-test.invalid that only the proxy can reach: a request that did not go
 * through the proxy fails to resolve.
 */
export class TestProxy {
  readonly requests: ProxiedRequest[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private port = 0;

  private constructor(private readonly options: TestProxyOptions) {
    this.server = createServer((req, res) => {
      const proxyAuthorization = req.headers['proxy-authorization'];
      this.requests.push({
        method: req.method ?? 'GET',
        target: req.url ?? '',
        ...(proxyAuthorization ? { proxyAuthorization } : {}),
      });
      if (!this.authorized(proxyAuthorization)) {
        res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' });
        res.end('<html><body>407 Proxy Authentication Required</body></html>');
        return;
      }
      const target = new URL(req.url ?? '');
      const headers = { ...req.headers };
      delete headers['proxy-authorization'];
      const upstream = request(
        {
          host: '127.0.0.1',
          port: Number(target.port || 80),
          path: `${target.pathname}${target.search}`,
          method: req.method,
          headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          // A body cut off upstream is cut off for the client too, as real proxies do.
          answer.on('error', () => res.destroy());
        },
      );
      upstream.on('error', () => {
        if (res.headersSent) return;
        res.writeHead(502);
        res.end('bad gateway');
      });
      // A client that goes away closes the upstream connection.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    });
    this.server.on('connection', (socket: Socket) => this.track(socket));
    this.server.on('connect', (req, client: Socket, head: Buffer) => {
      const proxyAuthorization = req.headers['proxy-authorization'];
      this.requests.push({
        method: 'CONNECT',
        target: req.url ?? '',
        ...(proxyAuthorization ? { proxyAuthorization } : {}),
      });
      if (!this.authorized(proxyAuthorization)) {
        client.end(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n',
        );
        return;
      }
      if (this.options.connectStatus) {
        client.end(`HTTP/1.1 ${this.options.connectStatus} Forbidden\r\n\r\n`);
        return;
      }
      const port = Number((req.url ?? '').split(':').pop());
      const upstream = connect({ host: '127.0.0.1', port }, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      this.track(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  }

  static async start(options: TestProxyOptions = {}): Promise<TestProxy> {
    const proxy = new TestProxy(options);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  /** http://127.0.0.1:port, with `user:password@` when given. */
  url(credentials?: string): string {
    return `http://${credentials ? `${credentials}@` : ''}127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private authorized(header: string | undefined): boolean {
    if (!this.options.credentials) return true;
    return header === `Basic ${Buffer.from(this.options.credentials).toString('base64')}`;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}
