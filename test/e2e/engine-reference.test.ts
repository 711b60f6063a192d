// Transformers.js + medcap's engine reproduce PyTorch's greedy tokens for the tiny Qwen2-VL
// exactly (reference made by tools/make_tiny_qwen2vl.py with transformers' own generate).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import {
  createEngineFromModel,
  generateTokens,
  type LoadedModel,
  loadTransformersModel,
  PromptIds,
} from '../../src/engines/transformers/index.js';
import {
  loadReference,
  referenceImage,
  TINY_MODEL_SETTINGS,
} from '../fixtures/tiny-qwen2-vl/reference.js';

const ref = loadReference();
const settings = TINY_MODEL_SETTINGS;

let loaded: LoadedModel;
let prompts: PromptIds;
beforeAll(async () => {
  loaded = await loadTransformersModel(settings, { logger: silentLogger });
  prompts = new PromptIds(loaded.processor, loaded.tokenizer, loaded.imageTokenId);
});
afterAll(async () => {
  await loaded?.model.dispose();
});

describe('tiny Qwen2-VL against the PyTorch reference', () => {
  it('the reference covers single images, batches and two grids', () => {
    expect(ref.cases.filter((c) => c.images.length === 1).length).toBeGreaterThanOrEqual(6);
    expect(ref.cases.some((c) => c.images.length >= 4)).toBe(true);
    expect(new Set(ref.cases.map((c) => JSON.stringify(c.gridThw[0]))).size).toBe(2);
    // Some caption ends on the end-of-sequence token before the token limit.
    const rows = ref.cases.flatMap((c) => c.newTokens);
    expect(
      rows.some((t) => t.length < ref.maxNewTokens && ref.eosTokenIds.includes(t.at(-1)!)),
    ).toBe(true);
  });

  it.each(ref.cases.map((c) => [c.name, c] as const))(
    '%s: greedy tokens equal PyTorch exactly',
    async (_name, c) => {
      const batch = c.images.map((i) => referenceImage(ref.images[i]!));
      const tokens = await generateTokens(loaded, prompts, batch, {
        prompt: ref.prompt,
        maxNewTokens: ref.maxNewTokens,
      });
      expect(tokens).toEqual(c.newTokens);
    },
  );

  it('captions are the decoded tokens, special tokens skipped, as Python decoded them', async () => {
    const engine = createEngineFromModel(loaded, settings, { logger: silentLogger });
    for (const c of ref.cases.filter((x) => x.images.length > 1)) {
      const batch = c.images.map((i) => referenceImage(ref.images[i]!));
      const outcomes = await engine.generate(batch, {
        prompt: ref.prompt,
        maxNewTokens: ref.maxNewTokens,
      });
      expect(outcomes).toEqual(c.captions.map((caption) => ({ ok: true, caption })));
    }
  });
});
