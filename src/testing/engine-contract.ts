import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptionEngine, GenerateOptions, PreparedImage } from '../engines/types.js';

export interface EngineContractOptions {
  /** Shown in the suite's name. */
  name: string;
  /** Makes a fresh engine; called once for the suite and once more for the dispose test. */
  create: () => Promise<CaptionEngine>;
  /** At least three images of one size that the engine should caption differently. */
  images: () => PreparedImage[] | Promise<PreparedImage[]>;
  options: GenerateOptions;
}

/**
 * The contract every CaptionEngine keeps (STYLE.md: one suite, each engine's test calls it):
 * identity fields, one outcome per image in the given order, batches equal to single calls,
 * determinism, empty batches, aborted signals, and an idempotent dispose.
 */
export function runEngineContract(options: EngineContractOptions): void {
  describe(`${options.name}: engine contract`, () => {
    let engine: CaptionEngine;
    let images: PreparedImage[];

    beforeAll(async () => {
      engine = await options.create();
      images = await options.images();
      if (images.length < 3) throw new Error('the engine contract needs at least 3 images');
    });
    afterAll(async () => {
      await engine?.dispose();
    });

    const captions = async (batch: readonly PreparedImage[]) => {
      const outcomes = await engine.generate(batch, options.options);
      return outcomes.map((o) => (o.ok ? o.caption : `error: ${o.error}`));
    };

    it('names itself, its model and the device in use', () => {
      expect(engine.id).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(engine.model.length).toBeGreaterThan(0);
      expect(engine.device).not.toBe('auto');
      expect(engine.device.length).toBeGreaterThan(0);
    });

    it('returns one successful outcome per image, in the order given', async () => {
      const outcomes = await engine.generate(images, options.options);
      expect(outcomes).toHaveLength(images.length);
      for (const outcome of outcomes) {
        expect(outcome.ok).toBe(true);
        if (outcome.ok) expect(typeof outcome.caption).toBe('string');
      }
      const forward = await captions(images);
      const backward = await captions([...images].reverse());
      expect(backward).toEqual([...forward].reverse());
    });

    it('gives a batch the captions of one-at-a-time calls', async () => {
      const batched = await captions(images);
      const single: string[] = [];
      for (const image of images) single.push(...(await captions([image])));
      expect(batched).toEqual(single);
      // The images differ, so a correct engine does not caption them all alike.
      expect(new Set(single).size).toBeGreaterThan(1);
    });

    it('is deterministic', async () => {
      expect(await captions(images)).toEqual(await captions(images));
    });

    it('answers an empty batch with no outcomes', async () => {
      expect(await engine.generate([], options.options)).toEqual([]);
    });

    it('rejects when the signal is already aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('stop now'));
      await expect(engine.generate(images, options.options, controller.signal)).rejects.toThrow(
        'stop now',
      );
    });

    it('can be disposed twice', async () => {
      const other = await options.create();
      await other.dispose();
      await expect(other.dispose()).resolves.toBeUndefined();
    });
  });
}
