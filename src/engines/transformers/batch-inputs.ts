import { Tensor } from '@huggingface/transformers';
import { InternalError } from '../../core/errors.js';
import type { PreparedImage } from '../types.js';
import { checkImageGrid, type PixelConfig, pixelValueCount, writePixelValues } from './pixels.js';

export interface BatchInputs {
  /** Model inputs for one `generate` call. */
  feeds: {
    input_ids: Tensor;
    attention_mask: Tensor;
    pixel_values: Tensor;
    image_grid_thw: Tensor;
  };
  /** Length of every prompt row; generated tokens start here. */
  promptLength: number;
}

/** Visual tokens one image of this size becomes after the 2×2 merge. */
export function imageTokenCount(image: PreparedImage, config: PixelConfig): number {
  const [t, h, w] = image.gridThw;
  return (t * h * w) / (config.mergeSize * config.mergeSize);
}

/**
 * Builds the inputs of one batched `generate` call. The images share one size, so their
 * prompt rows are the same ids and the same length: no padding, an all-ones attention mask,
 * `pixel_values` of all images concatenated in batch order and one `image_grid_thw` row each.
 */
export function assembleBatch(
  batch: readonly PreparedImage[],
  promptIds: readonly number[],
  config: PixelConfig,
): BatchInputs {
  const first = batch[0];
  if (!first) throw new InternalError('assembleBatch: empty batch');
  for (const image of batch) {
    checkImageGrid(image, config);
    if (image.width !== first.width || image.height !== first.height) {
      throw new InternalError(
        `a batch must hold images of one size: ${first.id} is ${first.width}x${first.height}, ` +
          `${image.id} is ${image.width}x${image.height}`,
      );
    }
  }
  const rows = batch.length;
  const length = promptIds.length;
  const ids = new BigInt64Array(rows * length);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < length; j++) ids[r * length + j] = BigInt(promptIds[j]!);
  }
  const perImage = pixelValueCount(first, config);
  const pixels = new Float32Array(perImage * rows);
  let offset = 0;
  for (const image of batch) offset = writePixelValues(image, config, pixels, offset);
  const rowWidth = 3 * config.temporalPatchSize * config.patchSize * config.patchSize;
  const grid = new BigInt64Array(rows * 3);
  for (let r = 0; r < rows; r++) {
    grid[r * 3] = BigInt(first.gridThw[0]);
    grid[r * 3 + 1] = BigInt(first.gridThw[1]);
    grid[r * 3 + 2] = BigInt(first.gridThw[2]);
  }
  return {
    feeds: {
      input_ids: new Tensor('int64', ids, [rows, length]),
      attention_mask: new Tensor('int64', new BigInt64Array(rows * length).fill(1n), [
        rows,
        length,
      ]),
      pixel_values: new Tensor('float32', pixels, [pixels.length / rowWidth, rowWidth]),
      image_grid_thw: new Tensor('int64', grid, [rows, 3]),
    },
    promptLength: length,
  };
}

/**
 * The new tokens of each row of a `generate` result: after the prompt, up to and including
 * the first end-of-sequence token (what follows it in a batch is filler).
 */
export function newTokens(
  sequences: readonly (readonly (bigint | number)[])[],
  promptLength: number,
  eosTokenIds: ReadonlySet<number>,
): number[][] {
  return sequences.map((row) => {
    const out: number[] = [];
    for (let j = promptLength; j < row.length; j++) {
      const id = Number(row[j]);
      out.push(id);
      if (eosTokenIds.has(id)) break;
    }
    return out;
  });
}
