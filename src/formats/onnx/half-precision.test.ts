import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_BERT_ONNX, tinyBertHidden } from '../../../test/support/tiny-bert.js';
import { readOnnxGraph, writePrunedModel } from './graph.js';
import { encodeHalfTensor, parseFloatTensor, toHalfBits } from './half-precision.js';

describe('toHalfBits', () => {
  it('rounds to the nearest binary16, ties to even, with overflow, subnormals and signs', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(0.1)).toBe(0x2e66);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // rounds past the largest finite half
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalfBits(2 ** -26)).toBe(0x0000);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // a tie goes to the even neighbour
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalfBits(Number.NaN) & 0x7e00).toBe(0x7e00);
    expect(toHalfBits(-0)).toBe(0x8000);
  });
});

describe('fp16 tensors', () => {
  it('round-trips a float tensor through parse and the fp16 encoding', () => {
    const values = Float32Array.from([0.5, -1.25, 3, 1024]);
    const fp16 = encodeHalfTensor('w', [2, 2], values);
    // an fp16 tensor is not a float32 one: the parser declines it
    expect(parseFloatTensor(fp16)).toBeUndefined();
  });
});

describe('writePrunedModel with fp16 matrix weights', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medcap-half-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('turns every weight MatMul into Cast/MatMul/Cast and stays close to fp32', async () => {
    const source = TINY_BERT_ONNX;
    const graph = readOnnxGraph(source);
    const full = join(dir, 'full.onnx');
    const half = join(dir, 'half.onnx');
    await writePrunedModel(graph, 'last_hidden_state', 1, full);
    await writePrunedModel(graph, 'last_hidden_state', 1, half, { matMulWeights: 'fp16' });
    const halfGraph = readOnnxGraph(half);
    const matmuls = graph.nodes.filter(
      (n) => n.opType === 'MatMul' && /\.weight\.T$/.test(n.inputs[1] ?? ''),
    );
    expect(matmuls.length).toBeGreaterThan(0);
    const casts =
      halfGraph.nodes.filter((n) => n.opType === 'Cast').length -
      graph.nodes.filter((n) => n.opType === 'Cast').length;
    expect(casts).toBe(2 * matmuls.length);
    expect(halfGraph.nodes.filter((n) => n.inputs[1]?.endsWith('.weight.T_fp16'))).toHaveLength(
      matmuls.length,
    );

    const [a, b] = [await tinyBertHidden(full), await tinyBertHidden(half)];
    let worst = 0;
    let differs = false;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      if (a[i] !== b[i]) differs = true;
    }
    expect(differs).toBe(true); // the matrix products really ran in fp16
    expect(worst).toBeLessThan(2e-2);
  });
});
