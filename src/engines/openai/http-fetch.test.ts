import { createServer, type RequestListener, type Server } from 'node:http';
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
