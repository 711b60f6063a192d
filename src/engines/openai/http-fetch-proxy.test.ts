import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeOpenAIServer } from '../../../test/support/fake-openai-server.js';
import { TEST_TLS, TestProxy } from '../../../test/support/http-proxy.js';
import { createHttpFetch } from './http-fetch.js';

describe('createHttpFetch through a proxy', () => {
  let proxy: TestProxy | undefined;
  let fake: FakeOpenAIServer | undefined;
  let tlsServer: Server | undefined;
  let fetchImpl: ReturnType<typeof createHttpFetch> | undefined;

  afterEach(async () => {
    fetchImpl?.close();
    await proxy?.close();
    await fake?.close();
    tlsServer?.closeAllConnections();
    await new Promise((resolve) => (tlsServer ? tlsServer.close(resolve) : resolve(undefined)));
    proxy = fake = tlsServer = fetchImpl = undefined;
  });

  /** An https server for api.medcap-test.invalid (self-signed) that echoes what it got. */
  async function tlsEcho(): Promise<number> {
    tlsServer = createHttpsServer(TEST_TLS, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            method: req.method,
            path: req.url,
            host: req.headers.host,
            authorization: req.headers.authorization ?? null,
            proxyAuthorization: req.headers['proxy-authorization'] ?? null,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
    });
    await new Promise<void>((resolve) => tlsServer!.listen(0, '127.0.0.1', resolve));
    return (tlsServer.address() as AddressInfo).port;
  }

  it('sends http:// requests to the proxy with the absolute URI and Proxy-Authorization', async () => {
    proxy = await TestProxy.start({ credentials: 'alice:s3cret' });
    fake = await FakeOpenAIServer.start();
    const port = new URL(fake.url).port;
    fetchImpl = createHttpFetch({ env: { HTTP_PROXY: proxy.url('alice:s3cret') } });
    const response = await fetchImpl(`http://api.medcap-test.invalid:${port}/v1/models`, {
      headers: { authorization: 'Bearer k' },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: { id: string }[] }).data[0]!.id).toBe('fake-vlm');
    expect(proxy.requests).toEqual([
      {
        method: 'GET',
        target: `http://api.medcap-test.invalid:${port}/v1/models`,
        proxyAuthorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
      },
    ]);
    expect(fake.requests[0]!.headers.host).toBe(`api.medcap-test.invalid:${port}`);
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer k');
    expect(fake.requests[0]!.headers['proxy-authorization']).toBeUndefined();
  });

  it('runs TLS to an https:// server inside one CONNECT tunnel, kept alive for later requests', async () => {
    proxy = await TestProxy.start({ credentials: 'alice:s3cret' });
    const port = await tlsEcho();
    fetchImpl = createHttpFetch({
      env: { HTTPS_PROXY: proxy.url('alice:s3cret') },
      ca: TEST_TLS.cert,
    });
    const url = `https://api.medcap-test.invalid:${port}/v1/chat/completions`;
    const first = await fetchImpl(url, {
      method: 'POST',
      headers: { authorization: 'Bearer k' },
      body: '{"a":1}',
    });
    expect(await first.json()).toEqual({
      method: 'POST',
      path: '/v1/chat/completions',
      host: `api.medcap-test.invalid:${port}`,
      authorization: 'Bearer k',
      proxyAuthorization: null,
      body: '{"a":1}',
    });
    await nextTurn(); // the socket goes back to the agent's pool
    const second = await fetchImpl(url, { method: 'POST', body: '{"a":2}' });
    expect(((await second.json()) as { body: string }).body).toBe('{"a":2}');
    expect(proxy.requests).toEqual([
      {
        method: 'CONNECT',
        target: `api.medcap-test.invalid:${port}`,
        proxyAuthorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
      },
    ]);
  });

  it('checks the server certificate against the target host name inside the tunnel', async () => {
    proxy = await TestProxy.start();
    const port = await tlsEcho();
    fetchImpl = createHttpFetch({ env: { HTTPS_PROXY: proxy.url() }, ca: TEST_TLS.cert });
    const failure = await fetchImpl(`https://wrong.medcap-test.invalid:${port}/v1/models`).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TypeError);
    expect(String(((failure as TypeError).cause as Error).message)).toMatch(
      /wrong\.medcap-test\.invalid/,
    );
  });

  it('answers a 407 to CONNECT with an error naming the proxy, without its password', async () => {
    proxy = await TestProxy.start({ credentials: 'alice:s3cret' });
    const port = await tlsEcho();
    fetchImpl = createHttpFetch({
      env: { https_proxy: proxy.url('alice:wrong-pw') },
      ca: TEST_TLS.cert,
    });
    const response = await fetchImpl(`https://api.medcap-test.invalid:${port}/v1/models`);
    expect(response.status).toBe(407);
    expect(response.headers.get('x-medcap-proxy')).toBe(proxy.url());
    const text = await response.text();
    expect(JSON.parse(text).error.message).toBe(
      `the proxy ${proxy.url()} (from https_proxy) did not accept the user and password in ` +
        'https_proxy (HTTP 407 Proxy Authentication Required)',
    );
    expect(text).not.toContain('wrong-pw');
  });

  it('says how to give credentials when the proxy wants some (plain http, 407 from the proxy)', async () => {
    proxy = await TestProxy.start({ credentials: 'alice:s3cret' });
    fetchImpl = createHttpFetch({ env: { HTTP_PROXY: proxy.url() } });
    const response = await fetchImpl('http://api.medcap-test.invalid:9/v1/models');
    expect(response.status).toBe(407);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      `the proxy ${proxy.url()} (from HTTP_PROXY) asks for credentials (HTTP 407 Proxy ` +
        `Authentication Required): set HTTP_PROXY=http://user:password@127.0.0.1:${new URL(proxy.url()).port}`,
    );
  });

  it('answers a CONNECT refused with 403 by that status, naming the proxy and the target', async () => {
    proxy = await TestProxy.start({ connectStatus: 403 });
    fetchImpl = createHttpFetch({ env: { HTTPS_PROXY: proxy.url() }, ca: TEST_TLS.cert });
    const response = await fetchImpl('https://api.medcap-test.invalid:8443/v1/models');
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
      /^the proxy http:\/\/127\.0\.0\.1:\d+ \(from HTTPS_PROXY\) refused to connect to api\.medcap-test\.invalid:8443 \(HTTP 403 Forbidden\)/,
    );
  });

  it('names the proxy when it cannot be reached', async () => {
    proxy = await TestProxy.start();
    const url = proxy.url();
    await proxy.close();
    proxy = undefined;
    fetchImpl = createHttpFetch({ env: { HTTPS_PROXY: url, HTTP_PROXY: url } });
    for (const target of [
      'https://api.medcap-test.invalid/v1',
      'http://api.medcap-test.invalid/v1',
    ]) {
      const failure = await fetchImpl(target).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(TypeError);
      expect(((failure as TypeError).cause as Error).message).toContain(`the proxy ${url}`);
    }
  });

  it('goes directly to loopback and NO_PROXY hosts even with a proxy set', async () => {
    proxy = await TestProxy.start();
    fake = await FakeOpenAIServer.start();
    fetchImpl = createHttpFetch({
      env: { HTTP_PROXY: proxy.url(), NO_PROXY: 'api.medcap-test.invalid' },
    });
    expect((await fetchImpl(`${fake.url}/models`)).status).toBe(200);
    expect(proxy.requests).toEqual([]);
  });
});
