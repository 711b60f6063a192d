import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpFetch } from './http-fetch.js';

let server: Server | undefined;
const fetchImpl = createHttpFetch();

async function serve(handler: RequestListener): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/x`;
}

afterEach(async () => {
  fetchImpl.close();
  const closing = server;
  server = undefined;
  if (!closing) return;
  closing.closeAllConnections();
  await new Promise((resolve) => closing.close(resolve));
});

describe('createHttpFetch', () => {
  it('sends the method, headers and body, and returns status, headers and the whole body', async () => {
    const seen: { method?: string; auth?: string; length?: string; body?: string } = {};
    const url = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        Object.assign(seen, {
          method: req.method,
          auth: req.headers.authorization,
          length: req.headers['content-length'],
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(429, 'Too Many Requests', { 'retry-after': '7' });
        res.end('{"error":"slow down"}');
      });
    });
    const body = JSON.stringify({ text: 'héllo' });
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: new Headers({ Authorization: 'Bearer k' }),
      body,
    });
    expect(seen).toEqual({
      method: 'POST',
      auth: 'Bearer k',
      length: String(Buffer.byteLength(body)),
      body,
    });
    expect([response.status, response.statusText]).toEqual([429, 'Too Many Requests']);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(await response.json()).toEqual({ error: 'slow down' });
  });

  it('decodes a gzip-compressed body', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
      res.end(gzipSync('{"ok":true}'));
    });
    const response = await fetchImpl(url);
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(await response.json()).toEqual({ ok: true });
  });

  it('fails as a network error when the connection is reset part way through the body', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"choices":[');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const failure = await fetchImpl(url).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TypeError);
    expect((failure as TypeError).message).toBe('fetch failed');
    expect((failure as TypeError).cause).toBeInstanceOf(Error);
  });

  it('sends a request again on a new connection when a kept-alive one was closed under it', async () => {
    // The server answers the first request on each connection and drops the second before
    // answering it, as a server does whose idle timeout closes a connection as it is reused.
    const served = new WeakMap<object, number>();
    let requests = 0;
    const url = await serve((req, res) => {
      requests += 1;
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      req.resume();
      if (n > 1) req.socket.destroy();
      else req.on('end', () => res.end('{"ok":true}'));
    });
    const post = () => fetchImpl(url, { method: 'POST', body: '{"n":1}' });
    expect((await post()).status).toBe(200);
    const second = await post();
    expect(second.status).toBe(200);
    expect(await second.text()).toBe('{"ok":true}');
    expect(requests).toBe(3);
  });

  it('fails as a network error when a new connection is dropped before any answer', async () => {
    const url = await serve((req) => req.socket.destroy());
    await expect(fetchImpl(url, { method: 'POST', body: '{}' })).rejects.toThrow('fetch failed');
  });

  it('stops waiting for a body that never ends when the signal aborts', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"choices":[');
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const failure = await fetchImpl(url, { signal: controller.signal }).catch((e: unknown) => e);
    expect((failure as Error).name).toBe('AbortError');
  });

  it('refuses a signal that is already aborted without connecting', async () => {
    let connections = 0;
    const url = await serve((_req, res) => {
      connections += 1;
      res.end();
    });
    const failure = await fetchImpl(url, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect((failure as Error).name).toBe('AbortError');
    expect(connections).toBe(0);
  });
});

describe('createHttpFetch redirects', () => {
  const others: Server[] = [];
  afterEach(async () => {
    for (const other of others.splice(0)) {
      other.closeAllConnections();
      await new Promise((resolve) => other.close(resolve));
    }
  });

  /** A second server on another port: another origin. */
  async function serveOther(handler: RequestListener): Promise<string> {
    const other = createServer(handler);
    others.push(other);
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  }

  /** Records method, path, Authorization and body of each request, then calls `answer`. */
  function recording(
    seen: { method?: string; path?: string; auth?: string; body: string }[],
    answer: (req: IncomingMessage, res: ServerResponse) => void,
  ): RequestListener {
    return (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          method: req.method,
          path: req.url,
          auth: req.headers.authorization,
          body: Buffer.concat(chunks).toString(),
        });
        answer(req, res);
      });
    };
  }

  it('follows 307 and 308 with the method, the body and (same origin) the Authorization', async () => {
    const seen: { method?: string; path?: string; auth?: string; body: string }[] = [];
    const url = await serve(
      recording(seen, (req, res) => {
        if (req.url === '/v1/x') res.writeHead(307, { location: '/v2/x' }).end();
        else if (req.url === '/v2/x') res.writeHead(308, { location: '/v3/x' }).end('moved');
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      }),
    );
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: { authorization: 'Bearer k' },
      body: '{"image":1}',
    });
    expect(await response.json()).toEqual({ ok: true });
    expect(seen).toEqual(
      ['/v1/x', '/v2/x', '/v3/x'].map((path) => ({
        method: 'POST',
        path,
        auth: 'Bearer k',
        body: '{"image":1}',
      })),
    );
  });

  it('follows 301/302/303 for GET, and answers a POST moved that way with an error naming the new address', async () => {
    const seen: { method?: string; path?: string; auth?: string; body: string }[] = [];
    const url = await serve(
      recording(seen, (req, res) => {
        if (req.url === '/v1/x') res.writeHead(301, { location: '/v1/y' }).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      }),
    );
    expect(await (await fetchImpl(url)).json()).toEqual({ ok: true });
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(['GET /v1/x', 'GET /v1/y']);

    const moved = await fetchImpl(url, { method: 'POST', body: '{}' });
    expect(moved.status).toBe(301);
    expect(((await moved.json()) as { error: { message: string } }).error.message).toBe(
      `the server moved POST ${url} to ${new URL('/v1/y', url).href} (HTTP 301), which would ` +
        'turn the request into a GET without its body; set --endpoint to the new address',
    );
    expect(seen).toHaveLength(3);
  });

  it('gives up after 5 redirects in a row', async () => {
    let hops = 0;
    const url = await serve((req, res) => {
      hops += 1;
      res.writeHead(307, { location: `/v1/x${hops}` }).end();
      req.resume();
    });
    const response = await fetchImpl(url, { method: 'POST', body: '{}' });
    expect(response.status).toBe(307);
    expect(hops).toBe(6);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
      /^more than 5 redirects in a row \(the last from .*\/v1\/x5 to .*\/v1\/x6\); set --endpoint/,
    );
  });

  it('never sends the Authorization header to another origin', async () => {
    const seen: { method?: string; path?: string; auth?: string; body: string }[] = [];
    const other = await serveOther(
      recording(seen, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      }),
    );
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(307, { location: `${other}/v1/x` }).end();
    });
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: '{"image":1}',
    });
    expect(await response.json()).toEqual({ ok: true });
    expect(seen).toEqual([{ method: 'POST', path: '/v1/x', auth: undefined, body: '{"image":1}' }]);
  });
});
