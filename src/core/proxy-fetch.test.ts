import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_TLS, TestProxy } from '../../test/support/http-proxy.js';
import { ProxyRefusedError, type ProxyRoute } from './proxy.js';
import { createProxyFetch } from './proxy-fetch.js';

/**
 * Servers answer on 127.0.0.1 under names that resolve nowhere (api.medcap-test.invalid,
 * hub.medcap-test.invalid): only the test proxy, which sends every name to 127.0.0.1, reaches
 * them. 0.0.0.0 reaches this machine without being a loopback name, so only NO_PROXY keeps it
 * from the proxy.
 */
const PASSWORD = 'pr0xy-SECRET-42';
const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

/** Deterministic bytes, large enough to arrive in many chunks. */
const BIG = Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i * 7919) % 251));

const servers: Server[] = [];
let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});

async function serve(handler: RequestListener, tls = false): Promise<number> {
  const server = tls ? createHttpsServer(TEST_TLS, handler) : createServer(handler);
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

describe('createProxyFetch', () => {
  it('streams an https:// file through a CONNECT tunnel, with the credentials in the proxy URL', async () => {
    proxy = await TestProxy.start({ credentials: `lab:${PASSWORD}` });
    const seen: Record<string, string | undefined>[] = [];
    const port = await serve((req, res) => {
      seen.push({ host: req.headers.host, proxyAuthorization: req.headers['proxy-authorization'] });
      res.writeHead(200, { 'content-length': BIG.length }).end(BIG);
    }, true);
    const routes: [string, ProxyRoute | undefined][] = [];
    const fetch = createProxyFetch({
      env: { HTTPS_PROXY: proxy.url(`lab:${PASSWORD}`) },
      ca: TEST_TLS.cert,
      onRoute: (origin, route) => routes.push([origin, route]),
    });
    const response = await fetch(`https://api.medcap-test.invalid:${port}/acme/m/model.onnx`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(BIG.length));
    expect(Buffer.from(await response.arrayBuffer()).equals(BIG)).toBe(true);
    expect(proxy.requests).toEqual([
      {
        method: 'CONNECT',
        target: `api.medcap-test.invalid:${port}`,
        proxyAuthorization: basic(`lab:${PASSWORD}`),
      },
    ]);
    // TLS end to end: the server sees its own name, and never the proxy's credentials.
    expect(seen).toEqual([
      { host: `api.medcap-test.invalid:${port}`, proxyAuthorization: undefined },
    ]);
    expect(routes).toEqual([
      [
        `https://api.medcap-test.invalid:${port}`,
        expect.objectContaining({ variable: 'HTTPS_PROXY' }),
      ],
    ]);
    expect(routes[0]![1]!.label).not.toContain(PASSWORD);
  });

  it('asks for an http:// file with the absolute URI, and hands the body over as it arrives', async () => {
    proxy = await TestProxy.start({ credentials: `lab:${PASSWORD}` });
    let release: () => void = () => {};
    const released = new Promise<void>((done) => {
      release = done;
    });
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '6' });
      res.write('first');
      void released.then(() => res.end('!'));
    });
    const fetch = createProxyFetch({ env: { http_proxy: proxy.url(`lab:${PASSWORD}`) } });
    const url = `http://hub.medcap-test.invalid:${port}/acme/m/resolve/main/config.json`;
    const response = await fetch(url, { headers: { 'user-agent': 'test' } });
    // Resolved while the server still holds back the end of the body: nothing is buffered.
    const reader = response.body!.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe('first');
    release();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe('!');
    expect((await reader.read()).done).toBe(true);
    expect(proxy.requests).toEqual([
      { method: 'GET', target: url, proxyAuthorization: basic(`lab:${PASSWORD}`) },
    ]);
  });

  it('follows a redirect to another origin, routing it for itself and without Authorization', async () => {
    proxy = await TestProxy.start();
    const cdnSaw: (string | undefined)[] = [];
    const cdn = await serve((req, res) => {
      cdnSaw.push(req.headers.authorization);
      res.writeHead(200).end('weights');
    });
    const hub = await serve((_req, res) => {
      res.writeHead(302, { location: `http://0.0.0.0:${cdn}/blob/abc` }).end();
    });
    const routes: [string, string | undefined][] = [];
    const fetch = createProxyFetch({
      env: { HTTP_PROXY: proxy.url(), NO_PROXY: '0.0.0.0' },
      onRoute: (origin, route) => routes.push([origin, route?.variable]),
    });
    const url = `http://hub.medcap-test.invalid:${hub}/acme/m/resolve/main/model.onnx`;
    const response = await fetch(url, { headers: { authorization: 'Bearer hf_token' } });
    expect(await response.text()).toBe('weights');
    expect(proxy.requests.map((r) => r.target)).toEqual([url]);
    expect(cdnSaw).toEqual([undefined]);
    expect(routes).toEqual([
      [`http://hub.medcap-test.invalid:${hub}`, 'HTTP_PROXY'],
      [`http://0.0.0.0:${cdn}`, undefined],
    ]);
  });

  it('rejects a 407 with an error naming the proxy and its variable, never the password', async () => {
    proxy = await TestProxy.start({ credentials: 'lab:right' });
    const fetch = createProxyFetch({ env: { HTTP_PROXY: proxy.url(`lab:${PASSWORD}`) } });
    const error = await fetch('http://hub.medcap-test.invalid:9/acme/m/resolve/main/config.json')
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProxyRefusedError);
    expect((error as Error).message).toBe(
      `the proxy ${proxy.url()} (from HTTP_PROXY) did not accept the user and password in ` +
        'HTTP_PROXY (HTTP 407 Proxy Authentication Required)',
    );
    expect((error as Error).message).not.toContain(PASSWORD);
  });

  it('rejects a CONNECT refused with 403 with an error naming the proxy and the target', async () => {
    proxy = await TestProxy.start({ connectStatus: 403 });
    const fetch = createProxyFetch({ env: { ALL_PROXY: proxy.url() }, ca: TEST_TLS.cert });
    const error = await fetch(
      'https://hub.medcap-test.invalid:8443/acme/m/resolve/main/config.json',
    )
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProxyRefusedError);
    expect((error as Error).message).toBe(
      `the proxy ${proxy.url()} (from ALL_PROXY) refused to connect to hub.medcap-test.invalid:8443 ` +
        '(HTTP 403 Forbidden); if the server should be reached directly, add it to NO_PROXY',
    );
  });

  it('names the proxy when it cannot be reached', async () => {
    proxy = await TestProxy.start();
    const url = proxy.url();
    await proxy.close();
    proxy = undefined;
    const fetch = createProxyFetch({ env: { HTTPS_PROXY: url, HTTP_PROXY: url } });
    for (const target of [
      'https://hub.medcap-test.invalid/x',
      'http://hub.medcap-test.invalid/x',
    ]) {
      const failure = await fetch(target).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(TypeError);
      expect((failure as TypeError).message).toBe('fetch failed');
      expect(((failure as TypeError).cause as Error).message).toContain(`the proxy ${url}`);
    }
  });

  it('errors the body when the connection is cut part way', async () => {
    proxy = await TestProxy.start();
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(100), () => res.socket?.destroy());
    });
    const fetch = createProxyFetch({ env: { HTTP_PROXY: proxy.url() } });
    const response = await fetch(`http://hub.medcap-test.invalid:${port}/f`);
    await expect(response.arrayBuffer()).rejects.toThrow();
  });

  it('closes the connection when the body is cancelled (a Range request answered in full)', async () => {
    proxy = await TestProxy.start();
    let closed: () => void = () => {};
    const serverClosed = new Promise<void>((done) => {
      closed = done;
    });
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(BIG.length * 100) });
      const more = () => {
        while (res.write(BIG)) {
          if (res.destroyed) return;
        }
      };
      res.on('drain', more);
      res.on('close', closed);
      more();
    });
    const fetch = createProxyFetch({ env: { HTTP_PROXY: proxy.url() } });
    const response = await fetch(`http://hub.medcap-test.invalid:${port}/big`, {
      headers: { range: 'bytes=0-0' },
    });
    await response.body!.cancel();
    await serverClosed;
  });

  it('fails a request whose server stays silent', async () => {
    const port = await serve(() => {
      // reads the request, never answers
    });
    const fetch = createProxyFetch({
      env: { HTTP_PROXY: 'http://127.0.0.1:9' },
      idleTimeoutMs: 200,
    });
    const failure = await fetch(`http://127.0.0.1:${port}/x`).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TypeError);
    expect(((failure as TypeError).cause as Error).message).toBe(
      `http://127.0.0.1:${port} sent nothing for 0.2 s`,
    );
  });

  it('decodes a compressed body, and gives HEAD no body', async () => {
    const port = await serve((req, res) => {
      const body = gzipSync('{"model_type":"bert"}');
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    const fetch = createProxyFetch({ env: { HTTP_PROXY: 'http://127.0.0.1:9' } });
    const response = await fetch(`http://127.0.0.1:${port}/config.json`);
    expect(await response.json()).toEqual({ model_type: 'bert' });
    expect(response.headers.get('content-length')).toBeNull();
    const head = await fetch(`http://127.0.0.1:${port}/config.json`, { method: 'HEAD' });
    expect(head.body).toBeNull();
  });

  it('stops when aborted, before the answer and while the body streams', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write('12345');
    });
    const fetch = createProxyFetch({ env: { HTTP_PROXY: 'http://127.0.0.1:9' } });
    const before = new AbortController();
    before.abort();
    await expect(fetch(`http://127.0.0.1:${port}/f`, { signal: before.signal })).rejects.toThrow(
      /aborted/,
    );
    const during = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/f`, { signal: during.signal });
    const reader = response.body!.getReader();
    await reader.read();
    during.abort();
    await expect(reader.read()).rejects.toThrow(/aborted/);
  });
});
