import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { env } from '@huggingface/transformers';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeHub, startFakeHub } from '../../../test/support/fake-hub.js';
import { TestProxy } from '../../../test/support/http-proxy.js';
import { ConfigError, MetricError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { DEFAULT_BATCH_SIZE, type Encoder, loadEncoder } from './encoder.js';
import { pythonStrip } from './sentence-ids.js';

const ROOT = resolve(import.meta.dirname, '../../..');

interface Reference {
  models: Record<
    string,
    { path: string; token_ids: Record<string, number[]>; model_max_length: number }
  >;
}

let reference: Reference;
let cacheDir: string;
const encoders: Encoder[] = [];

beforeAll(async () => {
  reference = JSON.parse(
    await readFile(join(ROOT, 'test/fixtures/bertscore/reference.json'), 'utf8'),
  ) as Reference;
  cacheDir = await mkdtemp(join(tmpdir(), 'medcap-encoder-'));
});
afterAll(async () => {
  await Promise.all(encoders.map((e) => e.dispose()));
  await rm(cacheDir, { recursive: true, force: true });
});

async function encoderFor(name: string): Promise<Encoder> {
  const e = await loadEncoder({
    model: join(ROOT, reference.models[name]!.path),
    device: 'cpu',
    offline: true,
    cacheDir,
    cwd: ROOT,
    batchSize: 8,
    maxBatchTokens: 4096,
    logger: silentLogger,
  });
  encoders.push(e);
  return e;
}

describe('Encoder.encode (bert_score sent_encode)', () => {
  it.each(['tiny-bert', 'tiny-roberta'])(
    '%s: token ids equal the transformers tokenizer, truncation and prefix space included',
    async (name) => {
      const encoder = await encoderFor(name);
      const expected = reference.models[name]!.token_ids;
      expect(Object.keys(expected).length).toBeGreaterThan(50);
      for (const [sentence, ids] of Object.entries(expected)) {
        expect(encoder.encode(sentence), JSON.stringify(sentence)).toEqual(ids);
      }
      expect(encoder.maxLength).toBe(reference.models[name]!.model_max_length);
      // some sentence was cut at the limit
      expect(Object.values(expected).some((ids) => ids.length === encoder.maxLength)).toBe(true);
    },
  );

  it('takes the last layer by default for an unknown model', async () => {
    const encoder = await encoderFor('tiny-bert');
    expect(encoder.layer).toBe(2);
    expect(encoder.numLayers).toBe(2);
  });
});

describe('Encoder.embed', () => {
  it('returns unit-length rows, one per token, in input order', async () => {
    const encoder = await encoderFor('tiny-roberta');
    const a = encoder.encode('Chest X-ray.');
    const b = encoder.encode('Renal cyst in the right kidney with calcifications.');
    const [ea, eb] = await encoder.embed([a, b]);
    // one pass of two, the shorter padded to the longer
    expect(encoder.passes).toEqual({ count: 1, tokens: a.length + b.length, padded: 2 * b.length });
    expect(ea!.ids).toEqual(a);
    expect(eb!.ids).toEqual(b);
    expect(eb!.vectors.length).toBe(b.length * eb!.dim);
    const row = eb!.vectors.subarray(0, eb!.dim);
    expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    // the same sentence alone gives the same embeddings (padding is masked)
    const before = { ...encoder.passes };
    const [alone] = await encoder.embed([a]);
    expect(encoder.passes.count - before.count).toBe(1);
    expect(encoder.passes.tokens - before.tokens).toBe(a.length);
    expect(encoder.passes.padded - before.padded).toBe(a.length);
    for (let k = 0; k < alone!.vectors.length; k++) {
      expect(alone!.vectors[k]).toBeCloseTo(ea!.vectors[k]!, 5);
    }
  });
});

describe('pythonStrip', () => {
  it("strips what Python's str.strip() strips", () => {
    expect(pythonStrip(' \t\n\u3000a b\u00a0\u001f')).toBe('a b');
    expect(pythonStrip('\ufeffa')).toBe('\ufeffa'); // not whitespace to Python
    expect(pythonStrip('   ')).toBe('');
  });
});

describe('Encoder batch size', () => {
  it("is bert_score's 64 on the CPU unless given, and says so", async () => {
    const lines: string[] = [];
    const e = await loadEncoder({
      model: join(ROOT, reference.models['tiny-bert']!.path),
      device: 'cpu',
      offline: true,
      cacheDir,
      cwd: ROOT,
      maxBatchTokens: 4096,
      logger: { ...silentLogger, info: (m) => lines.push(m) },
    });
    encoders.push(e);
    expect(e.batchSize).toBe(DEFAULT_BATCH_SIZE.cpu);
    expect(DEFAULT_BATCH_SIZE).toEqual({ cpu: 64, webgpu: 256, cuda: 256 });
    expect(lines.join('\n')).toMatch(/in batches of 64, on cpu/);
    expect((await encoderFor('tiny-bert')).batchSize).toBe(8);
  });
});

describe('downloading the BERTScore model through a proxy', () => {
  // hub.medcap-test.invalid resolves nowhere: only the test proxy reaches the fake Hub by it.
  const { fetch: nodeFetch, remoteHost } = env;
  let hub: FakeHub;
  let proxy: TestProxy | undefined;
  beforeAll(async () => {
    hub = await startFakeHub({ 'acme/tiny-bert': join(ROOT, 'models/tiny-bert') });
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    env.fetch = nodeFetch;
    env.remoteHost = remoteHost;
    await proxy?.close();
    proxy = undefined;
  });
  afterAll(async () => {
    await hub.close();
  });
  const load = (model: string, lines: string[] = []) =>
    loadEncoder({
      model,
      device: 'cpu',
      offline: false,
      cacheDir: join(cacheDir, 'proxied'),
      cwd: ROOT,
      maxBatchTokens: 4096,
      logger: { ...silentLogger, info: (m) => lines.push(m) },
    });

  it('downloads it through HTTP_PROXY, logging the proxy', async () => {
    proxy = await TestProxy.start({ credentials: 'lab:bert-SECRET' });
    vi.stubEnv('HTTP_PROXY', proxy.url('lab:bert-SECRET'));
    const base = `http://hub.medcap-test.invalid:${new URL(hub.url).port}/`;
    env.remoteHost = base;
    const lines: string[] = [];
    const encoder = await load('acme/tiny-bert', lines);
    encoders.push(encoder);
    expect(encoder.folder).toBe(join(cacheDir, 'proxied', 'acme', 'tiny-bert'));
    expect(proxy.requests.map((r) => r.target)).toContain(
      `${base}acme/tiny-bert/resolve/main/onnx/model.onnx`,
    );
    expect(lines).toContain(
      `model downloads from ${base.slice(0, -1)} go through the proxy ${proxy.url()} (from HTTP_PROXY)`,
    );
    expect(lines.join('\n')).not.toContain('bert-SECRET');
  });

  it('a proxy URL it cannot use is a ConfigError naming the variable', async () => {
    vi.stubEnv('ALL_PROXY', 'socks5://proxy.example:1080');
    env.remoteHost = `https://hub.medcap-test.invalid:${new URL(hub.url).port}/`;
    const error = await load('acme/socks').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /^ALL_PROXY=socks5:\/\/proxy\.example:1080: only HTTP proxies/,
    );
  });

  it('a proxy that refuses is one MetricError naming the proxy and its variable', async () => {
    proxy = await TestProxy.start({ connectStatus: 403 });
    vi.stubEnv('HTTPS_PROXY', proxy.url());
    env.remoteHost = `https://hub.medcap-test.invalid:${new URL(hub.url).port}/`;
    const error = await load('acme/refused').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetricError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^BERTScore model acme/refused could not be downloaded from the Hugging Face Hub into .*: the proxy ${proxy.url()} \\(from HTTPS_PROXY\\) refused to connect to hub\\.medcap-test\\.invalid:\\d+ \\(HTTP 403 Forbidden\\)`,
      ),
    );
  });
});
