// The real embedded engine (tiny Qwen2-VL) through the whole caption run: batching equals
// one-at-a-time, mixed sizes are bucketed, out-of-memory halves the batch, offline errors.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { silentLogger } from '../../src/core/logger.js';
import {
  createEngineFromModel,
  type LoadedModel,
  loadTransformersModel,
} from '../../src/engines/transformers/index.js';
import type { CaptionEngine, PreparedImage } from '../../src/engines/types.js';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { caption } from '../../src/pipeline/run.js';
import { TINY_MODEL_DIR, TINY_MODEL_SETTINGS } from '../fixtures/tiny-qwen2-vl/reference.js';
import { captionConfig } from '../support/config.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';

/** Sizes that resize to four different grids under the default min/max pixels. */
const MIXED: [number, number][] = [
  [64, 48],
  [120, 40],
  [200, 200],
  [64, 48],
  [300, 90],
  [200, 200],
];
const N = 14;
const MAX_NEW_TOKENS = 16;

const settings = TINY_MODEL_SETTINGS;

let root: string;
let data: string;
let loaded: LoadedModel;
let sequential: string[];

/** Records the sizes of every generate call the run makes. */
function recording(engine: CaptionEngine, calls: string[][]): CaptionEngine {
  return {
    id: engine.id,
    model: engine.model,
    device: engine.device,
    generate(batch: readonly PreparedImage[], options, signal) {
      calls.push(batch.map((image) => `${image.width}x${image.height}`));
      return engine.generate(batch, options, signal);
    },
    dispose: () => engine.dispose(),
  };
}

function config(out: string, batchSize: number) {
  return captionConfig({
    data,
    out: join(root, out),
    batchSize,
    maxNewTokens: MAX_NEW_TOKENS,
    model: TINY_MODEL_DIR,
    offline: true,
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-engine-run-'));
  data = await writeRocov2(join(root, 'data'), imageSpecs(N, MIXED));
  loaded = await loadTransformersModel(settings, { logger: silentLogger });
  const engine = createEngineFromModel(loaded, settings, { logger: silentLogger });
  const result = await caption(config('seq', 1), { engine });
  sequential = result.rows.map((r) => r.generatedCaption);
});
afterAll(async () => {
  await loaded?.model.dispose();
  await rm(root, { recursive: true, force: true });
});

describe('transformers engine in a caption run', () => {
  it('batch size 1 captions every image, and the captions depend on the image', () => {
    expect(sequential).toHaveLength(N);
    expect(sequential.every((c) => c.length > 0)).toBe(true);
    expect(new Set(sequential).size).toBeGreaterThan(3);
  });

  it('batch size 8 gives exactly the captions of batch size 1, bucketed by size, in dataset order', async () => {
    const calls: string[][] = [];
    const engine = recording(
      createEngineFromModel(loaded, settings, { logger: silentLogger }),
      calls,
    );
    const result = await caption(config('batched', 8), { engine });
    const rows = await readCaptionsCsv(result.captionsPath);
    expect(rows.map((r) => r.imageId)).toEqual(imageSpecs(N).map((s) => s.id));
    expect(rows.every((r) => r.status === 'ok' && r.batchSize === 8)).toBe(true);
    expect(rows.map((r) => r.generatedCaption)).toEqual(sequential);
    // Every generate call held one size; some held several images; all images were sent once.
    expect(calls.every((sizes) => new Set(sizes).size === 1)).toBe(true);
    expect(Math.max(...calls.map((sizes) => sizes.length))).toBeGreaterThan(1);
    expect(new Set(calls.map((sizes) => sizes[0])).size).toBeGreaterThanOrEqual(3);
    expect(calls.flat()).toHaveLength(N);
    expect(calls.length).toBeLessThan(N);
  });

  it('an out-of-memory error from ONNX Runtime at batch size 8 halves the batch and loses nothing', async () => {
    const real = loaded.model;
    const batches: number[] = [];
    const oomAbove4: LoadedModel = {
      ...loaded,
      model: {
        config: real.config,
        generation_config: real.generation_config ?? null,
        dispose: async () => undefined,
        generate: async (options) => {
          const rows = (options.input_ids as { dims: number[] }).dims[0]!;
          batches.push(rows);
          if (rows > 4) {
            throw new Error('Failed to allocate memory for requested buffer of size 805306368');
          }
          return real.generate(options);
        },
      },
    };
    const engine = createEngineFromModel(oomAbove4, settings, { logger: silentLogger });
    // Enough images of one size that the first batch is a full 8.
    const same = await writeRocov2(join(root, 'same'), imageSpecs(10, [[64, 48]]));
    const run = (out: string, batchSize: number, e: CaptionEngine) =>
      caption({ ...config(out, batchSize), data: same }, { engine: e });
    const oneByOne = await run(
      'oom-seq',
      1,
      createEngineFromModel(loaded, settings, { logger: silentLogger }),
    );
    const result = await run('oom', 8, engine);
    expect(batches[0]).toBe(8);
    expect(batches.filter((b) => b > 4)).toHaveLength(1);
    expect(batches.reduce((a, b) => a + b, 0) - 8).toBe(10);
    const rows = await readCaptionsCsv(result.captionsPath);
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
    expect(rows.every((r) => r.batchSize <= 4)).toBe(true);
    expect(rows.map((r) => r.generatedCaption)).toEqual(
      oneByOne.rows.map((r) => r.generatedCaption),
    );
    expect(result.batchSize).toBe(4);
  });

  it('medcap caption --model <folder> --offline runs the engine from the registry', async () => {
    const out = join(root, 'cli');
    const errors: string[] = [];
    const code = await main(
      [
        'caption',
        '--data',
        data,
        '--out',
        out,
        '--model',
        TINY_MODEL_DIR,
        '--offline',
        '--limit',
        '4',
        '--max-new-tokens',
        String(MAX_NEW_TOKENS),
      ],
      { env: {}, writeErr: (t) => errors.push(t) },
    );
    expect(code, errors.join('')).toBe(0);
    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows.map((r) => r.generatedCaption)).toEqual(sequential.slice(0, 4));
    expect(rows.every((r) => r.engine === 'transformers' && r.model === TINY_MODEL_DIR)).toBe(true);
  });

  it('offline with no model present: exit 1, and the message names the model and the path', async () => {
    const cache = join(root, 'empty-cache');
    vi.stubEnv('MEDCAP_MODEL_CACHE', cache);
    try {
      for (const offline of [['--offline'], []]) {
        const errors: string[] = [];
        const code = await main(
          ['caption', '--data', data, '--out', join(root, 'offline-out'), ...offline],
          { env: offline.length ? {} : { HF_HUB_OFFLINE: '1' }, writeErr: (t) => errors.push(t) },
        );
        const text = errors.join('');
        expect(code, text).toBe(1);
        expect(text).toContain('onnx-community/Qwen2-VL-2B-Instruct');
        expect(text).toContain(join(cache, 'onnx-community', 'Qwen2-VL-2B-Instruct'));
      }
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('a --model folder that does not exist: exit 1 naming the folder', async () => {
    const errors: string[] = [];
    const missing = join(root, 'no-such-model');
    const code = await main(
      ['caption', '--data', data, '--out', join(root, 'missing-out'), '--model', missing],
      { env: {}, writeErr: (t) => errors.push(t) },
    );
    expect(code).toBe(1);
    expect(errors.join('')).toContain(missing);
  });
});
