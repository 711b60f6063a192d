import { describe, expect, it } from 'vitest';
import { smartResize, targetSize } from './resize.js';

const MIN = 56 * 56;
const MAX = 28 * 28 * 1280;

describe('smartResize (Qwen2-VL processor)', () => {
  it('rounds to multiples of 28 with Python rounding', () => {
    expect(smartResize(1080, 1920, MIN, MAX)).toEqual([728, 1316]);
    expect(smartResize(500, 300, MIN, MAX)).toEqual([504, 308]);
    // 70 / 28 = 2.5 rounds to the even 2 (Python's round), not 3
    expect(smartResize(70, 70, MIN, MAX)).toEqual([56, 56]);
    expect(smartResize(98, 98, MIN, MAX)).toEqual([112, 112]);
  });

  it('scales into [minPixels, maxPixels] keeping the aspect ratio', () => {
    const [h, w] = smartResize(4000, 3000, MIN, 448 * 448);
    expect(h * w).toBeLessThanOrEqual(448 * 448);
    expect(h % 28).toBe(0);
    expect(w % 28).toBe(0);
    expect(Math.abs(h / w - 4 / 3)).toBeLessThan(0.1); // within one 28-px step
    const [sh, sw] = smartResize(20, 30, MIN, MAX);
    expect(sh * sw).toBeGreaterThanOrEqual(MIN);
    expect([sh % 28, sw % 28]).toEqual([0, 0]);
  });

  it('lets a side of 10-13 px round to 0 first, as transformers does, so the image is scaled up whole', () => {
    // round(13 / 28) = 0: the product is 0, under minPixels, so both sides scale by
    // sqrt(3136 / (13 * 300)) = 0.897 and round up: 28 x 280 (flooring 13 at 28 first kept 28 x 308)
    expect(smartResize(13, 300, MIN, MAX)).toEqual([28, 280]);
    expect(smartResize(300, 12, MIN, MAX)).toEqual([280, 28]);
    expect(smartResize(1, 1, MIN, MAX)).toEqual([56, 56]);
  });

  it('uses a fixed square size when asked', () => {
    expect(targetSize(123, 456, { imageSize: 224, minPixels: MIN, maxPixels: MAX })).toEqual([
      224, 224,
    ]);
    expect(targetSize(123, 456, { imageSize: 230, minPixels: MIN, maxPixels: MAX })).toEqual([
      224, 224,
    ]);
  });
});
