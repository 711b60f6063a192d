import { Qwen2VLImageProcessor, RawImage } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import {
  loadReference,
  referenceImage,
  referencePixels,
} from '../../../test/fixtures/tiny-qwen2-vl/reference.js';
import type { PreparedImage } from '../types.js';
import {
  checkImageGrid,
  pixelConfigFrom,
  pixelValueCount,
  QWEN2VL_PIXEL_CONFIG,
  writePixelValues,
} from './pixels.js';

const PREPROCESSOR = {
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  do_resize: true,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  min_pixels: 28 * 28,
  max_pixels: 4096 * 4096,
  patch_size: 14,
  temporal_patch_size: 2,
  merge_size: 2,
  resample: 3,
  do_convert_rgb: true,
};

function pixelValues(image: PreparedImage): Float32Array {
  const config = pixelConfigFrom(PREPROCESSOR);
  const out = new Float32Array(pixelValueCount(image, config));
  expect(writePixelValues(image, config, out, 0)).toBe(out.length);
  return out;
}

describe('Qwen2-VL pixel values', () => {
  it.each([
    [84, 56, 0],
    [56, 112, 4],
    [140, 84, 7],
    [28, 28, 9],
  ])('equal Transformers.js Qwen2VLImageProcessor exactly (%ix%i)', async (width, height, k) => {
    const spec = { k, width, height };
    const processor = new Qwen2VLImageProcessor(PREPROCESSOR);
    const raw = new RawImage(new Uint8ClampedArray(referencePixels(spec)), width, height, 3);
    const expected = await processor(raw);
    // The image is already on the 28 px grid: the processor keeps its size.
    expect(expected.image_grid_thw.tolist()).toEqual([
      [1n, BigInt(height / 14), BigInt(width / 14)],
    ]);
    const mine = pixelValues(referenceImage(spec));
    expect(expected.pixel_values.dims).toEqual([mine.length / 1176, 1176]);
    expect(Array.from(mine)).toEqual(Array.from(expected.pixel_values.data as Float32Array));
  });

  it("match the Python processor's pixel values recorded in the reference", () => {
    const ref = loadReference();
    for (const c of ref.cases) {
      const parts = c.images.map((i) => pixelValues(referenceImage(ref.images[i]!)));
      const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        all.set(p, o);
        o += p.length;
      }
      expect([all.length / 1176, 1176]).toEqual(c.pixelStats.shape);
      let sum = 0;
      let sumAbs = 0;
      for (const v of all) {
        sum += v;
        sumAbs += Math.abs(v);
      }
      expect(Math.abs(sum - c.pixelStats.sum)).toBeLessThan(1e-5 * c.pixelStats.sumAbs);
      expect(Math.abs(sumAbs - c.pixelStats.sumAbs)).toBeLessThan(1e-5 * c.pixelStats.sumAbs);
      for (const [i, v] of c.pixelStats.first.entries()) expect(all[i]).toBeCloseTo(v, 5);
      for (const [at, v] of Object.entries(c.pixelStats.at))
        expect(all[Number(at)]).toBeCloseTo(v, 5);
    }
  });

  it('reads the preprocessor config, with Qwen2-VL defaults for missing keys', () => {
    expect(pixelConfigFrom({})).toEqual(QWEN2VL_PIXEL_CONFIG);
    const c = pixelConfigFrom({ image_mean: 0.5, image_std: [1, 2, 3], do_normalize: false });
    expect(c.mean).toEqual([0.5, 0.5, 0.5]);
    expect(c.std).toEqual([1, 2, 3]);
    expect(c.doNormalize).toBe(false);
  });

  it('refuses images off the 28 px grid or with the wrong byte count', () => {
    const good = referenceImage({ k: 0, width: 56, height: 28 });
    expect(() => checkImageGrid(good, QWEN2VL_PIXEL_CONFIG)).not.toThrow();
    expect(() =>
      checkImageGrid({ ...good, width: 42, gridThw: [1, 2, 3] }, QWEN2VL_PIXEL_CONFIG),
    ).toThrow(/28 px grid/);
    expect(() => checkImageGrid({ ...good, gridThw: [1, 2, 2] }, QWEN2VL_PIXEL_CONFIG)).toThrow(
      /does not fit/,
    );
    expect(() =>
      checkImageGrid({ ...good, pixels: good.pixels.subarray(1) }, QWEN2VL_PIXEL_CONFIG),
    ).toThrow(/RGB bytes/);
  });
});
