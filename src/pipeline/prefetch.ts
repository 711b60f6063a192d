import { describeError } from '../core/errors.js';
import type { Sample } from '../datasets/types.js';
import type { PreparedImage } from '../engines/types.js';

/** A sample after preprocessing: its image, or the reason it has none. */
export type PreparedItem =
  | { sample: Sample; image: PreparedImage; error?: undefined; prepareTimeS: number }
  | { sample: Sample; image?: undefined; error: string; prepareTimeS: number };

/**
 * Preprocesses up to `ahead` samples in the background, in dataset order. The work runs in
 * sharp's thread pool, so decoding and resizing overlap the engine's inference; the window
 * bounds how many prepared images wait in memory.
 */
export async function* prefetch(
  samples: AsyncIterable<Sample>,
  prepare: (sample: Sample) => Promise<PreparedImage>,
  ahead: number,
): AsyncGenerator<PreparedItem> {
  const window: Promise<PreparedItem>[] = [];
  for await (const sample of samples) {
    window.push(prepareSafely(sample, prepare));
    while (window.length >= ahead) yield await window.shift()!;
  }
  while (window.length > 0) yield await window.shift()!;
}

/** Preprocesses one sample; a failure becomes the item's error. */
export async function prepareSafely(
  sample: Sample,
  prepare: (sample: Sample) => Promise<PreparedImage>,
): Promise<PreparedItem> {
  const started = performance.now();
  if (sample.problem?.fatal) {
    return { sample, error: sample.problem.message, prepareTimeS: 0 };
  }
  try {
    const image = await prepare(sample);
    return { sample, image, prepareTimeS: (performance.now() - started) / 1000 };
  } catch (error) {
    return {
      sample,
      error: describeError(error),
      prepareTimeS: (performance.now() - started) / 1000,
    };
  }
}
