import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
