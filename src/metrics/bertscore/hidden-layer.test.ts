import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOnnxGraph } from '../../formats/onnx/graph.js';
import { baseModelName, defaultLayerFor, locateHiddenState } from './hidden-layer.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const BERT = join(ROOT, 'models/tiny-bert/onnx/model.onnx');
const ROBERTA = join(ROOT, 'test/fixtures/bertscore/tiny-roberta/onnx/model.onnx');

describe('locateHiddenState', () => {
  it('uses last_hidden_state for the last layer when the graph outputs it', () => {
    expect(locateHiddenState(readOnnxGraph(BERT), 2, 2)).toEqual({
      tensor: 'last_hidden_state',
      isGraphOutput: true,
    });
  });

  it('finds inner hidden states by the LayerNorm that closes each layer', () => {
    const g = readOnnxGraph(BERT);
    expect(locateHiddenState(g, 0, 2).tensor).toBe('/embeddings/LayerNorm/Add_1_output_0');
    expect(locateHiddenState(g, 1, 2)).toEqual({
      tensor: '/encoder/layer.0/output/LayerNorm/Add_1_output_0',
      isGraphOutput: false,
    });
    const r = readOnnxGraph(ROBERTA);
    expect(locateHiddenState(r, 2, 2).tensor).toBe(
      '/roberta/encoder/layer.1/output/LayerNorm/Add_1_output_0',
    );
  });

  it('refuses a layer out of range', () => {
    expect(() => locateHiddenState(readOnnxGraph(BERT), 3, 2)).toThrow(/layers 0\.\.2/);
  });

  it('explains when node names do not show the layers', () => {
    const g = readOnnxGraph(ROBERTA);
    const renamed = { ...g, nodes: g.nodes.map((n, i) => ({ ...n, name: `node_${i}` })) };
    expect(() => locateHiddenState(renamed, 1, 2)).toThrow(
      /\/encoder\/layer\.N\/output\/LayerNorm/,
    );
  });

  it('falls back to counting fused LayerNormalization nodes', () => {
    const g = readOnnxGraph(BERT);
    const ln = (i: number) => ({
      name: `n${i}`,
      opType: 'LayerNormalization',
      inputs: [],
      outputs: [`ln${i}`],
    });
    const fused = { ...g, outputs: [], nodes: [0, 1, 2, 3, 4].map(ln) };
    expect(locateHiddenState(fused, 1, 2).tensor).toBe('ln2');
    expect(locateHiddenState(fused, 2, 2).tensor).toBe('ln4');
  });
});

describe('default layer', () => {
  it("is bert_score's tuned layer for known models, by id, folder or exported name", () => {
    expect(baseModelName('Xenova/roberta-large')).toBe('roberta-large');
    expect(defaultLayerFor(['Xenova/roberta-large'])).toBe(17);
    expect(defaultLayerFor(['FacebookAI/roberta-large'])).toBe(17);
    expect(defaultLayerFor(['/models/my-copy', 'roberta-base'])).toBe(10);
    expect(defaultLayerFor(['onnx-community/bert-base-uncased-ONNX'])).toBe(9);
    expect(defaultLayerFor(['models/tiny-bert', undefined])).toBeUndefined();
  });

  it('covers the whole of model2layers, owner prefixes (old or new Hub names) dropped', () => {
    expect(defaultLayerFor(['google-bert/bert-base-uncased'])).toBe(9);
    expect(defaultLayerFor(['FacebookAI/roberta-large-mnli'])).toBe(19);
    expect(defaultLayerFor(['microsoft/deberta-xlarge-mnli'])).toBe(40);
    expect(defaultLayerFor(['microsoft/deberta-large-mnli'])).toBe(18);
    expect(defaultLayerFor(['microsoft/deberta-v3-large'])).toBe(12);
    expect(defaultLayerFor(['allenai/scibert_scivocab_uncased'])).toBe(8);
    expect(defaultLayerFor(['google/bert_uncased_L-4_H-256_A-4'])).toBe(3);
    expect(defaultLayerFor(['YituTech/conv-bert-base'])).toBe(10);
    expect(defaultLayerFor(['amazon/bort'])).toBe(0);
  });
});
