import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoConfig, env } from '@huggingface/transformers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TINY_MODEL_DIR } from '../../../test/fixtures/tiny-qwen2-vl/reference.js';
import { type FakeHub, startFakeHub } from '../../../test/support/fake-hub.js';
import { TEST_TLS, TestProxy } from '../../../test/support/http-proxy.js';
import { ConfigError } from '../../core/errors.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import { HUB_URL, hubEndpoint, routeHubDownloads } from './hub-fetch.js';

const PASSWORD = 'hub-pr0xy-SECRET';

describe('routeHubDownloads', () => {
  const { fetch: nodeFetch, remoteHost } = env;
  let root: string;
  let hub: FakeHub | undefined;
  let proxy: TestProxy | undefined;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'medcap-hub-fetch-'));
  });
  afterEach(async () => {
    env.fetch = nodeFetch;
    env.remoteHost = remoteHost;
    await proxy?.close();
    await hub?.close();
    hub = proxy = undefined;
    await rm(root, { recursive: true, force: true });
  });

  it('sends Transformers.js downloads from an https:// Hub through a CONNECT tunnel, and logs the proxy once', async () => {
    hub = await startFakeHub({ 'acme/tiny': TINY_MODEL_DIR }, { tls: TEST_TLS });
    proxy = await TestProxy.start({ credentials: `lab:${PASSWORD}` });
    // A name only the proxy can reach (the certificate is for it).
    const host = `api.medcap-test.invalid:${new URL(hub.url).port}`;
    env.remoteHost = `https://${host}/`;
    const lines: string[] = [];
    const logger: Logger = { ...silentLogger, info: (m) => lines.push(m) };
    routeHubDownloads(
      env,
      logger,
      { HTTPS_PROXY: proxy.url(`lab:${PASSWORD}`) },
      { ca: TEST_TLS.cert },
    );
    const config = await AutoConfig.from_pretrained('acme/tiny', { cache_dir: root });
    expect((config as unknown as { model_type: string }).model_type).toBe('qwen2_vl');
    expect(hub.requests).toContain('acme/tiny/resolve/main/config.json');
    expect(proxy.requests.length).toBeGreaterThan(0);
    expect(proxy.requests.every((r) => r.method === 'CONNECT' && r.target === host)).toBe(true);
    expect(lines).toEqual([
      `model downloads from https://${host} go through the proxy ${proxy.url()} (from HTTPS_PROXY)`,
    ]);
  });

  it('leaves Node fetch in place without a proxy variable, and takes its own back', () => {
    routeHubDownloads(env, silentLogger, { PATH: '/bin', NO_PROXY: 'example.org' });
    expect(env.fetch).toBe(nodeFetch);
    routeHubDownloads(env, silentLogger, { HTTPS_PROXY: 'http://proxy.example:3128' });
    expect(env.fetch).not.toBe(nodeFetch);
    routeHubDownloads(env, silentLogger, { HTTPS_PROXY: 'http://proxy.example:3128' });
    routeHubDownloads(env, silentLogger, {});
    expect(env.fetch).toBe(nodeFetch);
  });
});

describe('hubEndpoint', () => {
  it('is the Hub without HF_ENDPOINT, else the mirror without its trailing slashes', () => {
    expect(hubEndpoint({})).toBe(HUB_URL);
    expect(hubEndpoint({ HF_ENDPOINT: '  ' })).toBe(HUB_URL);
    expect(hubEndpoint({ HF_ENDPOINT: 'https://hf-mirror.example//' })).toBe(
      'https://hf-mirror.example',
    );
  });

  it('refuses a value that is not an http(s) URL, naming the variable', () => {
    expect(() => hubEndpoint({ HF_ENDPOINT: 'hf-mirror.example' })).toThrow(ConfigError);
    expect(() => hubEndpoint({ HF_ENDPOINT: 'ftp://hf-mirror.example' })).toThrow(
      /^HF_ENDPOINT ftp:\/\/hf-mirror\.example: not an http\(s\) URL/,
    );
  });

  it('routeHubDownloads leaves remoteHost alone without HF_ENDPOINT', () => {
    const hub = { fetch: env.fetch, remoteHost: 'http://127.0.0.1:1/' };
    routeHubDownloads(hub, silentLogger, {});
    expect(hub.remoteHost).toBe('http://127.0.0.1:1/');
    routeHubDownloads(hub, silentLogger, { HF_ENDPOINT: 'https://hf-mirror.example/' });
    expect(hub.remoteHost).toBe('https://hf-mirror.example/');
  });
});
