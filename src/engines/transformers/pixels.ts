import { InternalError } from '../../core/errors.js';
import type { PreparedImage } from '../types.js';

/** The parts of a Qwen2-VL `preprocessor_config.json` that shape `pixel_values`. */
export interface PixelConfig {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  rescaleFactor: number;
  doRescale: boolean;
  doNormalize: boolean;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
}

/** Qwen2-VL's published values (CLIP mean/std, 14 px patches, 2×2 merge, 2 frames). */
export const QWEN2VL_PIXEL_CONFIG: PixelConfig = Object.freeze({
  mean: [0.48145466, 0.4578275, 0.40821073] as const,
  std: [0.26862954, 0.26130258, 0.27577711] as const,
  rescaleFactor: 1 / 255,
  doRescale: true,
  doNormalize: true,
  patchSize: 14,
  temporalPatchSize: 2,
  mergeSize: 2,
});

type Triple = readonly [number, number, number];

function triple(value: unknown, fallback: Triple): Triple {
  if (typeof value === 'number') return [value, value, value];
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number')) {
    const [a, b, c] = value as number[];
    return [a!, b!, c!];
  }
  return fallback;
}

/** Reads a preprocessor config object (snake_case, as in the model folder). */
export function pixelConfigFrom(raw: Record<string, unknown> | undefined): PixelConfig {
  const c = raw ?? {};
  const num = (key: string, fallback: number) =>
    typeof c[key] === 'number' ? (c[key] as number) : fallback;
  const flag = (key: string, fallback: boolean) =>
    typeof c[key] === 'boolean' ? (c[key] as boolean) : fallback;
  const d = QWEN2VL_PIXEL_CONFIG;
  return {
    mean: triple(c.image_mean, d.mean),
    std: triple(c.image_std, d.std),
    rescaleFactor: num('rescale_factor', d.rescaleFactor),
    doRescale: flag('do_rescale', d.doRescale),
    doNormalize: flag('do_normalize', d.doNormalize),
    patchSize: num('patch_size', d.patchSize),
    temporalPatchSize: num('temporal_patch_size', d.temporalPatchSize),
    mergeSize: num('merge_size', d.mergeSize),
  };
}

/** Floats one image contributes to `pixel_values`: patches × (3 · T · P · P). */
export function pixelValueCount(image: PreparedImage, config: PixelConfig): number {
  const { patchSize: p, temporalPatchSize: t } = config;
  return (image.height / p) * (image.width / p) * 3 * t * p * p;
}

/** Checks that an image fits the model's patch grid exactly (no second resize happens here). */
export function checkImageGrid(image: PreparedImage, config: PixelConfig): void {
  const unit = config.patchSize * config.mergeSize;
  const { width, height, gridThw } = image;
  if (
    width <= 0 ||
    height <= 0 ||
    width % unit !== 0 ||
    height % unit !== 0 ||
    gridThw[0] !== 1 ||
    gridThw[1] !== height / config.patchSize ||
    gridThw[2] !== width / config.patchSize
  ) {
    throw new InternalError(
      `image ${image.id}: ${width}x${height} with grid [${gridThw.join(', ')}] does not fit ` +
        `the model's ${unit} px grid`,
    );
  }
  if (image.pixels.length !== width * height * 3) {
    throw new InternalError(
      `image ${image.id}: expected ${width * height * 3} RGB bytes, got ${image.pixels.length}`,
    );
  }
}

/**
 * Writes one image's `pixel_values` rows into `out` at `offset`, exactly as Transformers.js'
 * Qwen2VLImageProcessor computes them for an image already at its target size: rescale
 * (rounded to float32), normalize per channel, repeat the frame `temporal_patch_size` times,
 * and order patches in 2×2 merge blocks, each patch flattened as [channel, frame, row, column].
 * Returns the offset after the image.
 */
export function writePixelValues(
  image: PreparedImage,
  config: PixelConfig,
  out: Float32Array,
  offset: number,
): number {
  checkImageGrid(image, config);
  const { patchSize: p, temporalPatchSize: frames, mergeSize: m } = config;
  const { width, pixels } = image;
  const gridH = image.height / p;
  const gridW = width / p;
  // Normalized value of each byte per channel: 3 × 256 lookups instead of math per pixel.
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) {
      let x = config.doRescale ? Math.fround(v * config.rescaleFactor) : v;
      if (config.doNormalize) x = (x - config.mean[c]!) / config.std[c]!;
      table[c * 256 + v] = x;
    }
  }
  let o = offset;
  for (let bh = 0; bh < gridH / m; bh++) {
    for (let bw = 0; bw < gridW / m; bw++) {
      for (let mh = 0; mh < m; mh++) {
        for (let mw = 0; mw < m; mw++) {
          const top = (bh * m + mh) * p;
          const left = (bw * m + mw) * p;
          for (let c = 0; c < 3; c++) {
            const base = c * 256;
            for (let f = 0; f < frames; f++) {
              for (let y = 0; y < p; y++) {
                let src = ((top + y) * width + left) * 3 + c;
                for (let x = 0; x < p; x++) {
                  out[o++] = table[base + pixels[src]!]!;
                  src += 3;
                }
              }
            }
          }
        }
      }
    }
  }
  return o;
}
