import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseModelName, defaultLayerFor, locateHiddenState } from './hidden-layer.js';
import { nodesNeededFor, OnnxFormatError, readOnnxGraph, writePrunedModel } from './onnx-graph.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const BERT = join(ROOT, 'models/tiny-bert/onnx/model.onnx');
const ROBERTA = join(ROOT, 'test/fixtures/bertscore/tiny-roberta/onnx/model.onnx');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-onnx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readOnnxGraph', () => {
  it('reads nodes, inputs and outputs of an encoder export', () => {
    const g = readOnnxGraph(BERT);
    expect(g.inputs.map((i) => i.name)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    expect(g.outputs).toEqual([{ name: 'last_hidden_state', elemType: 1 }]);
    expect(g.nodes.length).toBeGreaterThan(100);
    expect(g.nodes[0]).toMatchObject({
      name: '/embeddings/word_embeddings/Gather',
      opType: 'Gather',
      inputs: ['embeddings.word_embeddings.weight', 'input_ids'],
    });
    expect(g.externalData).toEqual([]);
  });

  it('reads a masked-LM export whose only output is logits', () => {
    const g = readOnnxGraph(ROBERTA);
    expect(g.outputs.map((o) => o.name)).toEqual(['logits']);
    expect(g.inputs.map((i) => i.name)).toEqual(['input_ids', 'attention_mask']);
  });

  it('refuses a file that is not ONNX, naming it', async () => {
    const bad = join(dir, 'bad.onnx');
    await writeFile(bad, Buffer.from([0x3a, 0xff, 0xff, 0xff, 0x0f, 1, 2]));
    expect(() => readOnnxGraph(bad)).toThrow(OnnxFormatError);
    expect(() => readOnnxGraph(bad)).toThrow(bad);
  });
});

describe('writePrunedModel', () => {
  it('keeps only the nodes and weights an inner tensor needs, and outputs it', async () => {
    const g = readOnnxGraph(BERT);
    const tensor = '/encoder/layer.0/output/LayerNorm/Add_1_output_0';
    const out = join(dir, 'layer1.onnx');
    await writePrunedModel(g, tensor, 1, out);
    const pruned = readOnnxGraph(out);
    expect(pruned.outputs).toEqual([{ name: tensor, elemType: 1 }]);
    expect(pruned.inputs.map((i) => i.name)).toEqual(g.inputs.map((i) => i.name));
    expect(pruned.nodes.length).toBe(nodesNeededFor(g, tensor).size);
    expect(pruned.nodes.some((n) => n.name.includes('layer.1/'))).toBe(false);
    expect(pruned.nodes.some((n) => n.name.includes('layer.0/'))).toBe(true);
    const original = (await readFile(BERT)).length;
    const smaller = (await readFile(out)).length;
    expect(smaller).toBeLessThan(original * 0.75); // layer 1's weights are gone
  });
});

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
});
