// The trained demo captioner run by Transformers.js + medcap's engine on the CPU gives exactly
// the greedy tokens PyTorch gave at training time (reference made by tools/train_tiny_captioner.py).
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CAPTION_MODEL } from '../../src/cli/commands/demo.js';
import { silentLogger } from '../../src/core/logger.js';
import {
  createEngineFromModel,
  generateTokens,
  type LoadedModel,
  loadTransformersModel,
  PromptIds,
} from '../../src/engines/transformers/index.js';
import { loadDemoReference, referenceStudy, sha256 } from '../fixtures/demo-captioner/reference.js';
import { TINY_MODEL_SETTINGS } from '../fixtures/tiny-qwen2-vl/reference.js';

const ref = loadDemoReference();
const settings = { ...TINY_MODEL_SETTINGS, model: DEMO_CAPTION_MODEL };

let loaded: LoadedModel;
let prompts: PromptIds;
beforeAll(async () => {
  loaded = await loadTransformersModel(settings, { logger: silentLogger });
  prompts = new PromptIds(loaded.processor, loaded.tokenizer, loaded.imageTokenId);
});
afterAll(async () => {
  await loaded?.model.dispose();
});

describe('demo captioner against the PyTorch reference', () => {
  it('is the committed model folder', () => {
    expect(basename(DEMO_CAPTION_MODEL)).toBe('demo-captioner');
  });

  it('draws the same pixels PyTorch was given, for every reference study', () => {
    expect(new Set(ref.images.map((i) => i.kind)).size).toBe(3);
    for (const spec of ref.images) {
      expect(sha256(referenceStudy(spec).pixels), `${spec.kind} ${spec.seed}`).toBe(spec.sha256);
    }
  });

  it('builds the same prompt tokens as the training script', () => {
    for (const c of ref.cases) {
      const [, h, w] = c.gridThw[0]!;
      expect([...prompts.ids(ref.prompt, (h! * w!) / 4)], c.name).toEqual(c.inputIds[0]);
    }
  });

  it('the reference holds finished captions, batches and clear-cut greedy choices', () => {
    expect(ref.cases.some((c) => c.images.length > 1)).toBe(true);
    for (const c of ref.cases) {
      expect(c.onnxGreedyMatches, c.name).toBe(true);
      for (const tokens of c.newTokens) expect(ref.eosTokenIds).toContain(tokens.at(-1));
    }
  });

  it.each(ref.cases.map((c) => [c.name, c] as const))(
    '%s: greedy tokens equal PyTorch exactly',
    async (_name, c) => {
      const batch = c.images.map((i) => referenceStudy(ref.images[i]!));
      const tokens = await generateTokens(loaded, prompts, batch, {
        prompt: ref.prompt,
        maxNewTokens: ref.maxNewTokens,
      });
      expect(tokens).toEqual(c.newTokens);
    },
  );

  it('captions are the decoded tokens, as Python decoded them', async () => {
    const engine = createEngineFromModel(loaded, settings, { logger: silentLogger });
    for (const c of ref.cases.filter((x) => x.images.length > 1)) {
      const batch = c.images.map((i) => referenceStudy(ref.images[i]!));
      const outcomes = await engine.generate(batch, {
        prompt: ref.prompt,
        maxNewTokens: ref.maxNewTokens,
      });
      expect(outcomes).toEqual(c.captions.map((caption) => ({ ok: true, caption })));
    }
  });
});
