/** Qwen2-VL sees images in 14 px patches merged 2×2, so sizes are multiples of 28. */
export const QWEN2VL_FACTOR = 28;
export const QWEN2VL_PATCH = 14;

export interface ResizePolicy {
  /** Fixed square size (rounded to a multiple of 28); overrides min/max pixels. */
  imageSize?: number;
  minPixels: number;
  maxPixels: number;
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Target [height, width] as Qwen2-VL's processor computes it (`smart_resize`): the nearest
 * multiples of 28, then scaled down or up, keeping the aspect ratio, into
 * [minPixels, maxPixels].
 */
export function smartResize(
  height: number,
  width: number,
  minPixels: number,
  maxPixels: number,
  factor = QWEN2VL_FACTOR,
): [number, number] {
  // No floor at `factor` here: transformers' rounds a side of 10-13 px to 0, which sends the
  // image through the minPixels branch below (minPixels is at least 1).
  let h = roundHalfEven(height / factor) * factor;
  let w = roundHalfEven(width / factor) * factor;
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return [h, w];
}

/**
 * Qwen2-VL's processor refuses an image whose long side is over 200 times its short side
 * (`smart_resize`: "absolute aspect ratio must be smaller than 200"): kept, the short side
 * would stay at 28 px and the long one take the pixels far past maxPixels (a 1,000,000 x 4
 * strip becomes 224,000 x 28, 32,000 patches).
 */
export const MAX_ASPECT_RATIO = 200;

/** The side a fixed `--image-size` becomes: the nearest multiple of 28 px, at least 28. */
export function fixedSide(imageSize: number): number {
  return Math.max(QWEN2VL_FACTOR, Math.round(imageSize / QWEN2VL_FACTOR) * QWEN2VL_FACTOR);
}

export function targetSize(height: number, width: number, policy: ResizePolicy): [number, number] {
  if (policy.imageSize !== undefined) {
    const side = fixedSide(policy.imageSize);
    return [side, side];
  }
  return smartResize(height, width, policy.minPixels, policy.maxPixels);
}
