// Transformers.js + medcap's engine reproduce PyTorch's greedy tokens for the tiny Qwen2-VL
// exactly (reference made by tools/make_tiny_qwen2vl.py with transformers' own generate).
import { describe, expect, it } from 'vitest';
import {
  loadReference,
  referenceImage,
  TINY_MODEL_SETTINGS,
} from '../fixtures/tiny-qwen2-vl/reference.js';
import { itMatchesReference, useReferenceModel } from '../support/pytorch-reference.js';

const ref = loadReference();
const settings = TINY_MODEL_SETTINGS;
const model = useReferenceModel(settings);

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

  itMatchesReference(ref, model, settings, (i) => referenceImage(ref.images[i]!));
});
