import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unitRows } from '../../metrics/bertscore/scoring.js';
import {
  nodesNeededFor,
  OnnxFormatError,
  readOnnxGraph,
  unitRowsTensor,
  writePrunedModel,
} from './graph.js';

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

  it('with unitRows, outputs each token vector scaled to length 1 (LpNormalization), as unitRows does', async () => {
    const g = readOnnxGraph(BERT);
    const tensor = '/encoder/layer.0/output/LayerNorm/Add_1_output_0';
    const plain = join(dir, 'plain.onnx');
    const unit = join(dir, 'unit.onnx');
    await writePrunedModel(g, tensor, 1, plain);
    await writePrunedModel(g, tensor, 1, unit, { unitRows: true });
    const graph = readOnnxGraph(unit);
    expect(graph.outputs).toEqual([{ name: unitRowsTensor(tensor), elemType: 1 }]);
    const last = graph.nodes.find((n) => n.outputs.includes(unitRowsTensor(tensor)));
    expect(last).toMatchObject({ opType: 'LpNormalization', inputs: [tensor] });

    const ort = await import('onnxruntime-node');
    const feeds = (ids: number[]) => {
      const long = (v: number[]) =>
        new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length]);
      return {
        input_ids: long(ids),
        attention_mask: long(ids.map(() => 1)),
        token_type_ids: long(ids.map(() => 0)),
      };
    };
    const ids = [2, 15, 40, 7, 99, 3];
    const run = async (path: string, name: string) => {
      const session = await ort.InferenceSession.create(path);
      try {
        const out = (await session.run(feeds(ids)))[name]!;
        return { data: out.data as Float32Array, dim: out.dims[2]! };
      } finally {
        await session.release();
      }
    };
    const raw = await run(plain, tensor);
    const inGraph = await run(unit, unitRowsTensor(tensor));
    const inJs = unitRows(raw.data, 0, ids.length, raw.dim);
    expect(inGraph.data.length).toBe(inJs.length);
    let worst = 0;
    for (let i = 0; i < inJs.length; i++)
      worst = Math.max(worst, Math.abs(inGraph.data[i]! - inJs[i]!));
    expect(worst).toBeLessThan(1e-6);
    expect(Math.hypot(...inGraph.data.subarray(0, inGraph.dim))).toBeCloseTo(1, 6);
  });
});
