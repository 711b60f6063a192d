import { describe, expect, it } from 'vitest';
import { loadReference, referenceImage } from '../../../test/fixtures/tiny-qwen2-vl/reference.js';
import { assembleBatch, imageTokenCount, newTokens } from './batch-inputs.js';
import { QWEN2VL_PIXEL_CONFIG } from './pixels.js';

const ref = loadReference();

describe('batch inputs', () => {
  it('stacks identical prompt rows, concatenates pixel values and grids, needs no padding', () => {
    const batch = [0, 1, 2].map((i) => referenceImage(ref.images[i]!));
    const prompt = [5, 6, 6, 6, 6, 6, 6, 7];
    const { feeds, promptLength } = assembleBatch(batch, prompt, QWEN2VL_PIXEL_CONFIG);
    expect(promptLength).toBe(prompt.length);
    expect(feeds.input_ids.dims).toEqual([3, 8]);
    expect(feeds.input_ids.tolist()).toEqual(Array(3).fill(prompt.map(BigInt)));
    expect(feeds.attention_mask.tolist()).toEqual(Array(3).fill(Array(8).fill(1n)));
    expect(feeds.image_grid_thw.tolist()).toEqual(Array(3).fill([1n, 4n, 6n]));
    // 84x56 → 4x6 patches each.
    expect(feeds.pixel_values.dims).toEqual([3 * 24, 1176]);
    const single = assembleBatch([batch[1]!], prompt, QWEN2VL_PIXEL_CONFIG);
    const all = feeds.pixel_values.data as Float32Array;
    expect(Array.from(all.subarray(24 * 1176, 48 * 1176))).toEqual(
      Array.from(single.feeds.pixel_values.data as Float32Array),
    );
  });

  it('counts visual tokens after the 2x2 merge', () => {
    expect(imageTokenCount(referenceImage(ref.images[0]!), QWEN2VL_PIXEL_CONFIG)).toBe(6);
    expect(imageTokenCount(referenceImage(ref.images[4]!), QWEN2VL_PIXEL_CONFIG)).toBe(8);
  });

  it('refuses a batch of mixed sizes and an empty batch', () => {
    const mixed = [referenceImage(ref.images[0]!), referenceImage(ref.images[4]!)];
    expect(() => assembleBatch(mixed, [1], QWEN2VL_PIXEL_CONFIG)).toThrow(/one size/);
    expect(() => assembleBatch([], [1], QWEN2VL_PIXEL_CONFIG)).toThrow(/empty/);
  });

  it('keeps the new tokens of each row up to the first end-of-sequence token', () => {
    const eos = new Set([2, 0]);
    const rows = [
      [9n, 9n, 30n, 31n, 2n, 40n, 41n],
      [9n, 9n, 32n, 33n, 34n, 35n, 36n],
      [9n, 9n, 0n, 2n, 2n, 2n, 2n],
    ];
    expect(newTokens(rows, 2, eos)).toEqual([[30, 31, 2], [32, 33, 34, 35, 36], [0]]);
  });
});
