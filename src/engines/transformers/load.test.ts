import { access, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env } from '@huggingface/transformers';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  TINY_MODEL_DIR,
  TINY_MODEL_SETTINGS,
} from '../../../test/fixtures/tiny-qwen2-vl/reference.js';
import { writeWithExternalData } from '../../../test/support/external-data.js';
import { type FakeHub, startFakeHub } from '../../../test/support/fake-hub.js';
import { TestProxy } from '../../../test/support/http-proxy.js';
import { ConfigError, EngineError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { cudaProviderPath, hasVulkanLoader } from './devices.js';
import { loadTransformersModel } from './load.js';

const settings = TINY_MODEL_SETTINGS;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-load-'));
  // A Hub model already in the download cache: <cache>/<owner>/<name>/...
  await cp(TINY_MODEL_DIR, join(root, 'cache', 'acme', 'tiny-vl'), { recursive: true });
  await cp(TINY_MODEL_DIR, join(root, 'cache', 'acme', 'partial'), { recursive: true });
  await rm(join(root, 'cache', 'acme', 'partial', 'onnx', 'decoder_model_merged.onnx'));
  // The Hub's fp32 and fp16 Qwen2-VL decoders keep their weights in `<graph>.onnx_data`, which
  // config.json names in transformers.js_config.use_external_data_format.
  const ext = join(root, 'external-data');
  await cp(TINY_MODEL_DIR, ext, { recursive: true });
  const decoder = 'decoder_model_merged.onnx';
  await writeWithExternalData(
    join(TINY_MODEL_DIR, 'onnx', decoder),
    join(ext, 'onnx'),
    decoder,
    `${decoder}_data`,
  );
  const config = JSON.parse(await readFile(join(ext, 'config.json'), 'utf8'));
  config['transformers.js_config'] = { use_external_data_format: { [decoder]: true } };
  await writeFile(join(ext, 'config.json'), JSON.stringify(config));
  await cp(ext, join(root, 'no-data'), { recursive: true });
  await rm(join(root, 'no-data', 'onnx', `${decoder}_data`));
  // The same, with a config.json that does not name the file (ONNX Runtime finds it missing).
  await cp(join(root, 'no-data'), join(root, 'no-data-unlisted'), { recursive: true });
  await cp(join(TINY_MODEL_DIR, 'config.json'), join(root, 'no-data-unlisted', 'config.json'));
  await mkdir(join(root, 'bert'));
  await writeFile(join(root, 'bert', 'config.json'), JSON.stringify({ model_type: 'bert' }));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loading the model', () => {
  it('loads a Hub id from the download cache offline, and logs where from', async () => {
    const lines: string[] = [];
    const logger: Logger = { ...silentLogger, info: (m) => lines.push(m) };
    const loaded = await loadTransformersModel(
      { ...settings, model: 'acme/tiny-vl' },
      { logger },
      { cacheDir: join(root, 'cache') },
    );
    expect(loaded.source.kind).toBe('hub');
    expect(loaded.device).toBe('cpu');
    expect(loaded.modelType).toBe('qwen2_vl');
    expect(loaded.imageTokenId).toBe(6);
    expect([...loaded.eosTokenIds].sort()).toEqual([0, 2]);
    expect(lines.join('\n')).toContain(join(root, 'cache', 'acme', 'tiny-vl'));
    await loaded.model.dispose();
  });

  it('offline, an incomplete cached copy is one error naming the missing file', async () => {
    const error = await loadTransformersModel(
      { ...settings, model: 'acme/partial' },
      { logger: silentLogger },
      { cacheDir: join(root, 'cache') },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('acme/partial');
    expect(error.message).toContain(
      join(root, 'cache', 'acme', 'partial', 'onnx', 'decoder_model_merged.onnx'),
    );
    expect(error.message).toMatch(/run once without --offline and HF_HUB_OFFLINE to download it/);
  });

  it('names the missing file when the folder has no weights for the --dtype asked', async () => {
    const error = await loadTransformersModel(
      { ...settings, dtype: 'vision=fp16' },
      { logger: silentLogger },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(join(TINY_MODEL_DIR, 'onnx', 'vision_encoder_fp16.onnx'));
    expect(error.message).toMatch(
      /the weights of the --dtype asked; put that file into the folder/,
    );
  });

  it("names a graph's missing external weights file, not the device", async () => {
    for (const folder of ['no-data', 'no-data-unlisted']) {
      const error = await loadTransformersModel(
        { ...settings, model: join(root, folder) },
        { logger: silentLogger },
        { cacheDir: join(root, 'cache') },
      ).catch((e) => e);
      expect(error, folder).toBeInstanceOf(ConfigError);
      expect(error.message, folder).toContain(
        `missing file ${join(root, folder, 'onnx', 'decoder_model_merged.onnx_data')}, ` +
          'the weights file of decoder_model_merged.onnx; put that file into the folder',
      );
      expect(error.message, folder).not.toMatch(/--device/);
    }
  });

  it('refuses a model that is not Qwen2-VL-shaped, listing what is supported', async () => {
    await expect(
      loadTransformersModel({ ...settings, model: join(root, 'bert') }, { logger: silentLogger }),
    ).rejects.toThrow(/model type 'bert' is not supported .*qwen2_vl, qwen2_5_vl/);
  });

  it('explains a device that cannot be used here', async () => {
    if (!cudaProviderPath()) {
      await expect(
        loadTransformersModel({ ...settings, device: 'cuda' }, { logger: silentLogger }),
      ).rejects.toThrow(/--device cuda: .*CUDA provider is not installed/);
    }
    if (!hasVulkanLoader()) {
      await expect(
        loadTransformersModel({ ...settings, device: 'webgpu' }, { logger: silentLogger }),
      ).rejects.toThrow(/--device webgpu: .*docs\/GPU\.md/);
    }
    const auto = await loadTransformersModel(
      { ...settings, device: 'auto' },
      { logger: silentLogger },
    );
    expect(['cpu', 'webgpu', 'cuda']).toContain(auto.device);
    await auto.model.dispose();
  });
});

describe('loading from the Hub (a fake one on 127.0.0.1)', () => {
  let hub: FakeHub;
  const remoteHost = env.remoteHost;
  const online = { ...settings, offline: false };
  const load = (model: string, extra: Partial<typeof settings> = {}) =>
    loadTransformersModel(
      { ...online, model, ...extra },
      { logger: silentLogger },
      { cacheDir: join(root, 'hub-cache') },
    );

  beforeAll(async () => {
    hub = await startFakeHub({
      'acme/fresh': TINY_MODEL_DIR,
      'acme/half-cached': TINY_MODEL_DIR,
      'acme/no-fp16': TINY_MODEL_DIR,
      'acme/ext-data': join(root, 'external-data'),
    });
    // A cached copy without the decoder's weights file (fetched, say, before config.json named it).
    await cp(join(root, 'no-data'), join(root, 'hub-cache', 'acme', 'ext-data'), {
      recursive: true,
    });
    env.remoteHost = hub.url;
    // A first run that stopped before the decoder arrived.
    const partial = join(root, 'hub-cache', 'acme', 'half-cached');
    await cp(TINY_MODEL_DIR, partial, { recursive: true });
    await rm(join(partial, 'onnx', 'decoder_model_merged.onnx'));
  });
  afterEach(() => {
    hub.requests.length = 0;
  });
  afterAll(async () => {
    env.remoteHost = remoteHost;
    await hub.close();
  });

  it('downloads a model into <cache>/<owner>/<name> on first use', async () => {
    const loaded = await load('acme/fresh');
    await loaded.model.dispose();
    await access(join(root, 'hub-cache', 'acme', 'fresh', 'onnx', 'decoder_model_merged.onnx'));
    expect(hub.requests).toContain('acme/fresh/resolve/main/onnx/decoder_model_merged.onnx');
  });

  it('completes an incomplete cached copy from the Hub, fetching only what is missing', async () => {
    const lines: string[] = [];
    const loaded = await loadTransformersModel(
      { ...online, model: 'acme/half-cached' },
      { logger: { ...silentLogger, info: (m) => lines.push(m) } },
      { cacheDir: join(root, 'hub-cache') },
    );
    await loaded.model.dispose();
    expect(lines.join('\n')).toMatch(/cached copy of acme\/half-cached is incomplete/);
    const fetched = hub.requests.map((r) => r.replace('acme/half-cached/resolve/main/', ''));
    expect(fetched).toContain('onnx/decoder_model_merged.onnx');
    for (const kept of ['config.json', 'onnx/vision_encoder.onnx', 'onnx/embed_tokens.onnx']) {
      expect(fetched).not.toContain(kept);
    }
    await access(
      join(root, 'hub-cache', 'acme', 'half-cached', 'onnx', 'decoder_model_merged.onnx'),
    );
  });

  it("fetches a graph's external weights file that the cached copy lacks", async () => {
    const loaded = await load('acme/ext-data');
    await loaded.model.dispose();
    expect(hub.requests).toContain(
      'acme/ext-data/resolve/main/onnx/decoder_model_merged.onnx_data',
    );
    expect(loaded.files).toContain('onnx/decoder_model_merged.onnx_data');
  });

  it('names the file when the Hub has no weights for the --dtype asked', async () => {
    const error = await load('acme/no-fp16', { dtype: 'fp16' }).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(`${hub.url}acme/no-fp16/resolve/main/onnx/`);
    expect(error.message).toMatch(/_fp16\.onnx\)?; this --dtype is not published for it/);
  });

  it('says a model the Hub refuses may not exist or be gated, and how to pass a token', async () => {
    const error = await load('acme/no-such-model').catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(
      /--model acme\/no-such-model: the Hugging Face Hub refused .*acme\/no-such-model\/resolve\/main\/config\.json: there is no such model, or it is gated or private .*HF_TOKEN/,
    );
  });

  it("downloads from the mirror HF_ENDPOINT names (huggingface_hub's variable), and says so", async () => {
    const mirror = await startFakeHub({ 'acme/mirrored': TINY_MODEL_DIR });
    env.remoteHost = remoteHost;
    process.env.HF_ENDPOINT = `${mirror.url}/`;
    const lines: string[] = [];
    try {
      const loaded = await loadTransformersModel(
        { ...online, model: 'acme/mirrored' },
        { logger: { ...silentLogger, info: (m) => lines.push(m) } },
        { cacheDir: join(root, 'hub-cache') },
      );
      await loaded.model.dispose();
      expect(mirror.requests).toContain('acme/mirrored/resolve/main/config.json');
      expect(hub.requests).toEqual([]);
      expect(lines).toContain(
        `model downloads from ${mirror.url.replace(/\/+$/, '')} (HF_ENDPOINT) instead of the Hugging Face Hub`,
      );
    } finally {
      delete process.env.HF_ENDPOINT;
      env.remoteHost = hub.url;
      await mirror.close();
    }
  });

  it('says the Hub cannot be reached, and the offline way round it', async () => {
    const closed = await startFakeHub({});
    await closed.close();
    env.remoteHost = closed.url;
    try {
      const error = await load('acme/unreachable').catch((e) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect(error.message).toMatch(
        /cannot download model acme\/unreachable from the Hugging Face Hub \(fetch failed: .*ECONNREFUSED.*\): check the network connection, or copy the model folder into .*acme\/unreachable and run with --offline/,
      );
    } finally {
      env.remoteHost = hub.url;
    }
  });
});

describe('loading from the Hub through a proxy', () => {
  // hub.medcap-test.invalid resolves nowhere: only the test proxy, which sends every name to
  // 127.0.0.1, reaches the fake Hub by that name. 0.0.0.0 reaches this machine without being a
  // loopback name, so only NO_PROXY keeps it from the proxy.
  const PASSWORD = 'hub-pr0xy-SECRET-9';
  const { fetch: nodeFetch, remoteHost } = env;
  let hub: FakeHub;
  let proxy: TestProxy | undefined;
  let lines: string[];
  const load = (model: string) =>
    loadTransformersModel(
      { ...settings, offline: false, model },
      { logger: { ...silentLogger, info: (m) => lines.push(m) } },
      { cacheDir: join(root, 'proxy-cache') },
    );

  beforeAll(async () => {
    hub = await startFakeHub({ 'acme/proxied': TINY_MODEL_DIR, 'acme/direct': TINY_MODEL_DIR });
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    env.fetch = nodeFetch;
    env.remoteHost = remoteHost;
    hub.requests.length = 0;
    await proxy?.close();
    proxy = undefined;
  });
  afterAll(async () => {
    await hub.close();
  });
  const hubAt = (host: string, scheme = 'http') => {
    env.remoteHost = `${scheme}://${host}:${new URL(hub.url).port}/`;
    lines = [];
    return env.remoteHost;
  };

  it('downloads the model through HTTP_PROXY with its credentials, and says so once', async () => {
    proxy = await TestProxy.start({ credentials: `lab:${PASSWORD}` });
    vi.stubEnv('HTTP_PROXY', proxy.url(`lab:${PASSWORD}`));
    const base = hubAt('hub.medcap-test.invalid');
    const loaded = await load('acme/proxied');
    await loaded.model.dispose();
    expect(hub.requests).toContain('acme/proxied/resolve/main/onnx/decoder_model_merged.onnx');
    const targets = proxy.requests.map((r) => r.target);
    expect(targets).toContain(`${base}acme/proxied/resolve/main/config.json`);
    expect(targets).toContain(`${base}acme/proxied/resolve/main/onnx/decoder_model_merged.onnx`);
    expect(proxy.requests.length).toBe(hub.requests.length);
    expect(new Set(proxy.requests.map((r) => r.proxyAuthorization)).size).toBe(1);
    const said = lines.filter((l) => l.startsWith('model downloads'));
    expect(said).toEqual([
      `model downloads from ${base.slice(0, -1)} go through the proxy ${proxy.url()} (from HTTP_PROXY)`,
    ]);
    expect(lines.join('\n')).not.toContain(PASSWORD);
  });

  it('goes to a host in NO_PROXY directly', async () => {
    proxy = await TestProxy.start();
    vi.stubEnv('HTTP_PROXY', proxy.url());
    vi.stubEnv('NO_PROXY', 'intranet.example,0.0.0.0');
    const base = hubAt('0.0.0.0');
    const loaded = await load('acme/direct');
    await loaded.model.dispose();
    expect(hub.requests).toContain('acme/direct/resolve/main/onnx/decoder_model_merged.onnx');
    expect(proxy.requests).toEqual([]);
    expect(lines).toContain(
      `model downloads from ${base.slice(0, -1)} go directly (NO_PROXY intranet.example,0.0.0.0)`,
    );
  });

  it('a proxy that refuses the CONNECT is one error naming the proxy and its variable', async () => {
    proxy = await TestProxy.start({ connectStatus: 403 });
    vi.stubEnv('HTTPS_PROXY', proxy.url());
    hubAt('hub.medcap-test.invalid', 'https');
    const error = await load('acme/refused').catch((e) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error.message).toBe(
      `cannot download model acme/refused from the Hugging Face Hub: the proxy ${proxy.url()} ` +
        `(from HTTPS_PROXY) refused to connect to hub.medcap-test.invalid:${new URL(hub.url).port} ` +
        '(HTTP 403 Forbidden); if the server should be reached directly, add it to NO_PROXY',
    );
    expect(hub.requests).toEqual([]);
  });

  it('a proxy URL it cannot use is a ConfigError naming the variable', async () => {
    vi.stubEnv('HTTPS_PROXY', 'https://lab:pw-secret@proxy.example:8443');
    hubAt('hub.medcap-test.invalid', 'https');
    const error = await load('acme/tls-proxy').catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(
      /^HTTPS_PROXY=https:\/\/proxy\.example:8443: proxies reached over TLS \(https:\/\/\) are not supported/,
    );
    expect(error.message).not.toContain('pw-secret');
  });

  it('a proxy that wants credentials says how to give them', async () => {
    proxy = await TestProxy.start({ credentials: `lab:${PASSWORD}` });
    vi.stubEnv('http_proxy', proxy.url());
    hubAt('hub.medcap-test.invalid');
    const error = await load('acme/no-credentials').catch((e) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error.message).toBe(
      `cannot download model acme/no-credentials from the Hugging Face Hub: the proxy ${proxy.url()} ` +
        '(from http_proxy) asks for credentials (HTTP 407 Proxy Authentication Required): set ' +
        `http_proxy=http://user:password@${new URL(proxy.url()).host}`,
    );
  });
});
