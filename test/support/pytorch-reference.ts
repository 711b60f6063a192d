// The checks every PyTorch-reference test makes of a model: its greedy tokens, alone and in
// batches, equal the ones transformers' generate gave, and its captions are those tokens
// decoded as Python decoded them.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import {
  createEngineFromModel,
  generateTokens,
  type LoadedModel,
  loadTransformersModel,
  PromptIds,
} from '../../src/engines/transformers/index.js';
import type { EngineSettings, PreparedImage } from '../../src/engines/types.js';

export interface TokenReference {
  prompt: string;
  maxNewTokens: number;
  cases: { name: string; images: number[]; newTokens: number[][]; captions: string[] }[];
}

export interface ReferenceModel {
  loaded: LoadedModel;
  prompts: PromptIds;
}

/** Loads the model once for the calling test file (before its tests, disposed after). */
export function useReferenceModel(settings: EngineSettings): ReferenceModel {
  const model = {} as ReferenceModel;
  beforeAll(async () => {
    model.loaded = await loadTransformersModel(settings, { logger: silentLogger });
    model.prompts = new PromptIds(
      model.loaded.processor,
      model.loaded.tokenizer,
      model.loaded.imageTokenId,
    );
  });
  afterAll(async () => {
    await model.loaded?.model.dispose();
  });
  return model;
}

/** Registers one token test per reference case and one caption test over its batches. */
export function itMatchesReference(
  ref: TokenReference,
  model: ReferenceModel,
  settings: EngineSettings,
  imageAt: (index: number) => PreparedImage,
): void {
  const options = { prompt: ref.prompt, maxNewTokens: ref.maxNewTokens };
  it.each(ref.cases.map((c) => [c.name, c] as const))(
    '%s: greedy tokens equal PyTorch exactly',
    async (_name, c) => {
      const tokens = await generateTokens(
        model.loaded,
        model.prompts,
        c.images.map(imageAt),
        options,
      );
      expect(tokens).toEqual(c.newTokens);
    },
  );

  it('captions are the decoded tokens, special tokens skipped, as Python decoded them', async () => {
    const engine = createEngineFromModel(model.loaded, settings, { logger: silentLogger });
    for (const c of ref.cases.filter((x) => x.images.length > 1)) {
      const outcomes = await engine.generate(c.images.map(imageAt), options);
      expect(outcomes).toEqual(c.captions.map((caption) => ({ ok: true, caption })));
    }
  });
}
