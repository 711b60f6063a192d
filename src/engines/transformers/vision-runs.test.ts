import { Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadReference,
  referenceImage,
  TINY_MODEL_SETTINGS,
} from '../../../test/fixtures/tiny-qwen2-vl/reference.js';
import { silentLogger } from '../../core/logger.js';
import { generateTokens } from './engine.js';
import { type LoadedModel, loadTransformersModel } from './load.js';
import { PromptIds } from './prompt.js';
import {
  concatRows,
  imageRowRanges,
  type RowTensor,
  runVisionPerImage,
  type VisionSession,
} from './vision-runs.js';

const grid = (rows: number[][]) =>
  new Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, 3]);

describe('one vision run per image', () => {
  it("finds each image's patch rows from grid_thw", () => {
    expect(
      imageRowRanges(
        grid([
          [1, 4, 4],
          [1, 2, 6],
          [2, 2, 2],
        ]) as RowTensor,
      ),
    ).toEqual([
      [0, 16],
      [16, 28],
      [28, 36],
    ]);
  });

  it('runs each image alone and stacks the outputs in image order', async () => {
    const calls: { rows: number; grid: bigint[] }[] = [];
    const session = {
      async run(feeds: Record<string, unknown>) {
        const pixels = feeds.pixel_values as Tensor;
        const g = feeds.grid_thw as Tensor;
        calls.push({ rows: pixels.dims[0]!, grid: [...(g.data as BigInt64Array)] });
        // one output row per 4 patches: the first value of each group of 4 rows
        const data = pixels.data as Float32Array;
        const out = new Float32Array(pixels.dims[0]! / 4);
        for (let r = 0; r < out.length; r++) out[r] = data[4 * r * 2]!;
        return { image_features: new Tensor('float32', out, [out.length, 1]) };
      },
    };
    runVisionPerImage(session);
    const rows = 16 + 8;
    const pixels = new Tensor(
      'float32',
      Float32Array.from({ length: rows * 2 }, (_, i) => i),
      [rows, 2],
    );
    const out = await session.run({
      pixel_values: pixels,
      grid_thw: grid([
        [1, 4, 4],
        [1, 2, 4],
      ]),
    });
    expect(calls).toEqual([
      { rows: 16, grid: [1n, 4n, 4n] },
      { rows: 8, grid: [1n, 2n, 4n] },
    ]);
    const features = out.image_features as Tensor;
    expect(features.dims).toEqual([6, 1]);
    expect([...(features.data as Float32Array)]).toEqual([0, 8, 16, 24, 32, 40]);
  });

  it('passes a single image through untouched', async () => {
    let seen: unknown;
    const session = {
      async run(feeds: Record<string, unknown>) {
        seen = feeds.pixel_values;
        return {};
      },
    };
    runVisionPerImage(session);
    const pixels = new Tensor('float32', new Float32Array(32), [16, 2]);
    await session.run({ pixel_values: pixels, grid_thw: grid([[1, 4, 4]]) });
    expect(seen).toBe(pixels);
  });

  it('stacks fp16 (Uint16Array) outputs', () => {
    const a = new Tensor('float16', Uint16Array.from([1, 2, 3, 4]), [2, 2]);
    const b = new Tensor('float16', Uint16Array.from([5, 6]), [1, 2]);
    const both = concatRows([a as RowTensor, b as RowTensor]) as unknown as Tensor;
    expect(both.type).toBe('float16');
    expect(both.dims).toEqual([3, 2]);
    expect([...(both.data as Uint16Array)]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('the tiny model, vision per image against one run per batch', () => {
  const ref = loadReference();
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadTransformersModel(
      TINY_MODEL_SETTINGS,
      { logger: silentLogger },
      { visionPerImage: false },
    );
  });
  afterAll(async () => {
    await loaded?.model.dispose();
  });

  const tokens = (images: number[]) =>
    generateTokens(
      loaded,
      new PromptIds(loaded.processor, loaded.tokenizer, loaded.imageTokenId),
      images.map((i) => referenceImage(ref.images[i]!, `img-${i}`)),
      { prompt: ref.prompt, maxNewTokens: ref.maxNewTokens },
    );

  it('gives every reference case the same greedy tokens (equal to PyTorch), one run per image', async () => {
    const perBatch = new Map<string, number[][]>();
    for (const c of ref.cases) perBatch.set(c.name, await tokens(c.images));
    const session = (loaded.model as unknown as { sessions: Record<string, VisionSession> })
      .sessions.vision_encoder!;
    let runs = 0;
    const run = session.run.bind(session);
    session.run = (feeds, ...rest) => {
      runs += 1;
      return run(feeds, ...rest);
    };
    runVisionPerImage(session);
    for (const c of ref.cases) {
      runs = 0;
      const one = await tokens(c.images);
      expect(runs).toBe(c.images.length);
      expect(one).toEqual(perBatch.get(c.name));
      expect(one).toEqual(c.newTokens);
    }
  });
});
