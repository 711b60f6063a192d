// The trained demo captioner run by Transformers.js + medcap's engine on the CPU gives exactly
// the greedy tokens PyTorch gave at training time (reference made by tools/train_tiny_captioner.py).
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_CAPTION_MODEL } from '../../src/cli/commands/demo.js';
import { loadDemoReference, referenceStudy, sha256 } from '../fixtures/demo-captioner/reference.js';
import { TINY_MODEL_SETTINGS } from '../fixtures/tiny-qwen2-vl/reference.js';
import { itMatchesReference, useReferenceModel } from '../support/pytorch-reference.js';

const ref = loadDemoReference();
const settings = { ...TINY_MODEL_SETTINGS, model: DEMO_CAPTION_MODEL };
const model = useReferenceModel(settings);

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
      expect([...model.prompts.ids(ref.prompt, (h! * w!) / 4)], c.name).toEqual(c.inputIds[0]);
    }
  });

  it('the reference holds finished captions, batches and clear-cut greedy choices', () => {
    expect(ref.cases.some((c) => c.images.length > 1)).toBe(true);
    for (const c of ref.cases) {
      expect(c.onnxGreedyMatches, c.name).toBe(true);
      for (const tokens of c.newTokens) expect(ref.eosTokenIds).toContain(tokens.at(-1));
    }
  });

  itMatchesReference(ref, model, settings, (i) => referenceStudy(ref.images[i]!));
});
