import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeOpenAIServer } from '../../../test/support/fake-openai-server.js';
import { TEST_TLS, TestProxy } from '../../../test/support/http-proxy.js';
import { ConfigError } from '../../core/errors.js';
import { createHttpFetch } from './http-fetch.js';
import { hasProxyVariable, matchesNoProxy, openTunnel, parseProxyUrl, proxyFor } from './proxy.js';

const u = (text: string) => new URL(text);

describe('matchesNoProxy', () => {
  const cases: [string, string, boolean][] = [
    ['https://api.example.org/v1', 'example.org', true],
    ['https://example.org/v1', 'example.org', true],
    ['https://api.example.org/v1', '.example.org', true],
    ['https://example.org/v1', '.example.org', true],
    ['https://api.example.org/v1', '*.example.org', true],
    ['https://notexample.org/v1', 'example.org', false],
    ['https://example.org.evil.net/v1', 'example.org', false],
    ['https://API.Example.ORG./v1', 'example.org', true],
    ['https://api.example.org/v1', 'other.org, example.org', true],
    ['https://api.example.org/v1', 'other.org example.org', true],
    ['https://anything.net/v1', '*', true],
    ['http://gpu7:8000/v1', 'gpu7:8000', true],
    ['http://gpu7:8001/v1', 'gpu7:8000', false],
    ['https://gpu7/v1', 'gpu7:443', true],
    ['http://10.1.2.3:8000/v1', '10.1.2.3', true],
    ['http://10.1.2.4:8000/v1', '10.1.2.3', false],
    ['http://10.1.2.3:8000/v1', '10.0.0.0/8', true],
    ['http://11.1.2.3:8000/v1', '10.0.0.0/8', false],
    ['http://[fd00::5]:8000/v1', 'fd00::/8', true],
    ['http://[fd00::5]:8000/v1', 'fd00:0::5', true],
    ['http://[fd00::5]:8000/v1', '[fd00::5]:8000', true],
    ['http://[fd00::5]:9000/v1', '[fd00::5]:8000', false],
    ['http://gpu7:8000/v1', '', false],
    ['http://gpu7:8000/v1', ' , ', false],
  ];
  it.each(cases)('%s with NO_PROXY=%j: %s', (target, noProxy, expected) => {
    expect(matchesNoProxy(u(target), noProxy)).toBe(expected);
  });
});

describe('proxyFor', () => {
  const env = { HTTPS_PROXY: 'http://proxy.example:3128', HTTP_PROXY: 'proxy.example:8080' };

  it('picks the variable for the scheme, lower case first, then ALL_PROXY', () => {
    expect(proxyFor(u('https://api.example.org/v1'), env)).toMatchObject({
      host: 'proxy.example',
      port: 3128,
      variable: 'HTTPS_PROXY',
      label: 'http://proxy.example:3128',
    });
    expect(proxyFor(u('http://gpu7:8000/v1'), env)).toMatchObject({ port: 8080 });
    expect(
      proxyFor(u('https://a.org/v1'), { https_proxy: 'http://low:1', HTTPS_PROXY: 'http://up:2' }),
    ).toMatchObject({ variable: 'https_proxy', host: 'low' });
    expect(proxyFor(u('https://a.org/v1'), { ALL_PROXY: 'http://all:3' })).toMatchObject({
      variable: 'ALL_PROXY',
    });
    expect(proxyFor(u('https://a.org/v1'), { HTTP_PROXY: 'http://p:1' })).toBeUndefined();
    expect(proxyFor(u('https://a.org/v1'), { HTTPS_PROXY: '  ' })).toBeUndefined();
  });

  it('never proxies loopback hosts, and respects NO_PROXY', () => {
    for (const target of [
      'http://localhost:8000/v1',
      'http://gpu.localhost:8000/v1',
      'http://127.0.0.1:8000/v1',
      'http://127.3.2.1:8000/v1',
      'http://[::1]:8000/v1',
    ]) {
      expect(proxyFor(u(target), env), target).toBeUndefined();
    }
    expect(proxyFor(u('https://api.example.org/v1'), { ...env, NO_PROXY: 'example.org' })).toBe(
      undefined,
    );
    expect(proxyFor(u('https://api.example.org/v1'), { ...env, no_proxy: '.example.org' })).toBe(
      undefined,
    );
  });

  it('reads user and password (percent-decoded) into Basic credentials, never into the label', () => {
    const route = parseProxyUrl('http://me%40lab:p%3Ass@proxy.example:3128', 'HTTPS_PROXY');
    expect(route.label).toBe('http://proxy.example:3128');
    expect(route.authorization).toBe(`Basic ${Buffer.from('me@lab:p:ss').toString('base64')}`);
    expect(parseProxyUrl('http://proxy.example', 'HTTP_PROXY').port).toBe(80);
  });

  it('refuses https:// and socks proxies with an error naming the variable', () => {
    const https = () => parseProxyUrl('https://u:secret@proxy.example:8443', 'HTTPS_PROXY');
    expect(https).toThrow(ConfigError);
    expect(https).toThrow(/^HTTPS_PROXY=https:\/\/proxy\.example:8443: .*not supported/);
    expect(https).not.toThrow(/secret/);
    expect(() => parseProxyUrl('socks5://proxy:1080', 'ALL_PROXY')).toThrow(
      /^ALL_PROXY=socks5:\/\/proxy:1080: only HTTP proxies/,
    );
  });

  it('hasProxyVariable is false for an environment without any', () => {
    expect(hasProxyVariable({ PATH: '/bin', NO_PROXY: 'x' })).toBe(false);
    expect(hasProxyVariable({ http_proxy: 'http://p:1' })).toBe(true);
  });
});

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

describe('openTunnel', () => {
  it('gives up on a proxy that accepts the connection and never answers CONNECT', async () => {
    const silent = createNetServer(() => {
      // accepts, reads, says nothing
    });
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    try {
      const { port } = silent.address() as AddressInfo;
      const route = parseProxyUrl(`http://127.0.0.1:${port}`, 'HTTPS_PROXY');
      const error = await new Promise<Error | null>((done) =>
        openTunnel(route, 'api.example.org', 443, (e) => done(e), 200),
      );
      expect(error?.message).toBe(
        `the proxy http://127.0.0.1:${port} (from HTTPS_PROXY) did not answer CONNECT api.example.org:443 within 0.2 s`,
      );
    } finally {
      silent.close();
    }
  });
});
