import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
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
