import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_BERT_ONNX, tinyBertHidden } from '../../../test/support/tiny-bert.js';
import {
  dequantizeWeight,
  MS_DOMAIN,
  QUANT_BLOCK,
  quantizable,
  quantizeWeight,
} from './block-quantized.js';
import { readOnnxGraph, writePrunedModel } from './graph.js';

describe('quantizeWeight', () => {
  it('keeps each weight within half a step of its block and the block maximum exact', () => {
    const k = 64;
    const n = 3;
    const values = new Float32Array(k * n);
    for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 1.7) * (1 + (i % 5));
    for (let r = 32; r < 64; r++) values[r * n + 2] = 0; // column 2, block 1: all zero
    const q = quantizeWeight(values, k, n);
    expect(q.packed).toHaveLength(k * n);
    expect(q.scales).toHaveLength((k / QUANT_BLOCK) * n);
    const back = dequantizeWeight(q, k, n);
    for (let col = 0; col < n; col++) {
      for (let b = 0; b < k / QUANT_BLOCK; b++) {
        let largest = 0;
        let argmax = 0;
        for (let r = 0; r < QUANT_BLOCK; r++) {
          const at = (b * QUANT_BLOCK + r) * n + col;
          if (Math.abs(values[at]!) > largest) [largest, argmax] = [Math.abs(values[at]!), at];
        }
        const step = largest / 127;
        for (let r = 0; r < QUANT_BLOCK; r++) {
          const at = (b * QUANT_BLOCK + r) * n + col;
          // the scale is rounded to fp16 (relative 2^-11), so the error can pass half a step by that much
          expect(Math.abs(back[at]! - values[at]!)).toBeLessThanOrEqual(
            step * 0.5 + largest * 1e-3,
          );
        }
        if (largest === 0) expect(back[argmax]).toBe(0);
        else expect(Math.abs(back[argmax]! - values[argmax]!)).toBeLessThan(largest * 1e-3);
      }
    }
    // the all-zero block stays zero, stored as the zero point 128
    expect(q.packed[(2 * (k / QUANT_BLOCK) + 1) * QUANT_BLOCK]).toBe(128);
  });

  it('takes only weights whose rows come in whole blocks', () => {
    expect(quantizable([64, 10])).toBe(true);
    expect(quantizable([48, 10])).toBe(false);
    expect(quantizable([64])).toBe(false);
  });
});

describe('writePrunedModel with 8-bit matrix weights', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medcap-q8-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('turns every weight MatMul into Cast/MatMulNBits/Cast that ONNX Runtime runs close to fp32', async () => {
    const source = TINY_BERT_ONNX;
    const graph = readOnnxGraph(source);
    expect(graph.opsetDomains).not.toContain(MS_DOMAIN);
    const full = join(dir, 'full.onnx');
    const q8 = join(dir, 'q8.onnx');
    const half = join(dir, 'half.onnx');
    await writePrunedModel(graph, 'last_hidden_state', 1, full);
    await writePrunedModel(graph, 'last_hidden_state', 1, q8, { matMulWeights: 'q8' });
    await writePrunedModel(graph, 'last_hidden_state', 1, half, { matMulWeights: 'fp16' });
    const q8Graph = readOnnxGraph(q8);
    const weightMatMuls = graph.nodes.filter(
      (n) => n.opType === 'MatMul' && /\.weight\.T$/.test(n.inputs[1] ?? ''),
    );
    expect(weightMatMuls.length).toBeGreaterThan(0);
    const nbits = q8Graph.nodes.filter((n) => n.opType === 'MatMulNBits');
    expect(nbits).toHaveLength(weightMatMuls.length); // tiny-bert's widths (32, 64) are whole blocks
    expect(q8Graph.nodes.filter((n) => n.opType === 'MatMul').length).toBe(
      graph.nodes.filter((n) => n.opType === 'MatMul').length - weightMatMuls.length,
    );
    expect(q8Graph.opsetDomains).toContain(MS_DOMAIN);

    const [a, b, h] = [
      await tinyBertHidden(full),
      await tinyBertHidden(q8),
      await tinyBertHidden(half),
    ];
    let worst = 0;
    let worstHalf = 0;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      worstHalf = Math.max(worstHalf, Math.abs(a[i]! - h[i]!));
    }
    // A wrong byte order, block layout or zero point would move the outputs by their own size
    // (LayerNorm keeps them near unit scale); 8-bit weights move them by a few hundredths.
    expect(worst).toBeGreaterThan(worstHalf); // the 8-bit weights really ran
    expect(worst).toBeLessThan(5e-2);
  });
});
