import {
  castAroundProduct,
  encodeNode,
  encodeRawTensor,
  FLOAT16,
  fromHalfBits,
  toHalfBits,
} from './half-precision.js';

/**
 * 8-bit weights for the encoder's matrix products, in the form of ONNX Runtime's MatMulNBits
 * (com.microsoft): each column of a float32 weight [K, N] is cut into blocks of 32 rows, and
 * each block keeps one fp16 scale and 32 unsigned bytes q, the weight being (q - 128) · scale.
 * The scale is the block's largest magnitude / 127 (symmetric, no zero points stored).
 *
 * Why: ONNX Runtime's WebGPU provider runs MatMulNBits with subgroup matrices (the tensor
 * cores, through Vulkan's cooperative matrices on NVIDIA), while its plain MatMul is a shader
 * loop; on an H100 8-bit products of roberta-large's shapes ran 1.8x plain fp16's rate
 * (docs/PERFORMANCE.md). Quantizing a weight moves it by about 0.5% (relative RMS).
 */

export const QUANT_BLOCK = 32;
const QUANT_BITS = 8;
const ZERO_POINT = 1 << (QUANT_BITS - 1);
const Q_MAX = ZERO_POINT - 1;
const UINT8 = 2;
export const MS_DOMAIN = 'com.microsoft';

export interface QuantizedWeight {
  /** [N, K / 32, 32]: column n's block b, row r at (n · K/32 + b) · 32 + r. */
  packed: Uint8Array;
  /** fp16 bits, [N · K / 32]. */
  scales: Uint16Array;
}

/** Whether a weight [K, N] can take this form (whole blocks of 32 rows). */
export function quantizable(dims: readonly number[]): boolean {
  return dims.length === 2 && dims[0]! > 0 && dims[1]! > 0 && dims[0]! % QUANT_BLOCK === 0;
}

/** Row-major float32 weight [K, N] (K a multiple of 32) to MatMulNBits' 8-bit blocks. */
export function quantizeWeight(values: Float32Array, k: number, n: number): QuantizedWeight {
  const blocks = k / QUANT_BLOCK;
  const packed = new Uint8Array(n * k);
  const scales = new Uint16Array(n * blocks);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < blocks; b++) {
      let largest = 0;
      for (let r = 0; r < QUANT_BLOCK; r++) {
        largest = Math.max(largest, Math.abs(values[(b * QUANT_BLOCK + r) * n + col]!));
      }
      const scaleBits = toHalfBits(largest / Q_MAX);
      const scale = fromHalfBits(scaleBits);
      scales[col * blocks + b] = scaleBits;
      const at = (col * blocks + b) * QUANT_BLOCK;
      for (let r = 0; r < QUANT_BLOCK; r++) {
        const w = values[(b * QUANT_BLOCK + r) * n + col]!;
        const q = scale > 0 ? Math.max(-Q_MAX, Math.min(Q_MAX, Math.round(w / scale))) : 0;
        packed[at + r] = q + ZERO_POINT;
      }
    }
  }
  return { packed, scales };
}

/** The weight MatMulNBits computes with: (q - 128) · scale, row-major [K, N]. */
export function dequantizeWeight(weight: QuantizedWeight, k: number, n: number): Float32Array {
  const blocks = k / QUANT_BLOCK;
  const out = new Float32Array(k * n);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < blocks; b++) {
      const scale = fromHalfBits(weight.scales[col * blocks + b]!);
      const at = (col * blocks + b) * QUANT_BLOCK;
      for (let r = 0; r < QUANT_BLOCK; r++) {
        out[(b * QUANT_BLOCK + r) * n + col] = (weight.packed[at + r]! - ZERO_POINT) * scale;
      }
    }
  }
  return out;
}

/** The two initializers (TensorProto bytes) of a quantized weight named `<name>_q8`. */
export function quantizedWeightTensors(
  name: string,
  weight: QuantizedWeight,
  k: number,
  n: number,
): { weight: string; scales: string; tensors: Buffer[] } {
  const names = { weight: `${name}_q8`, scales: `${name}_q8_scales` };
  const scaleBytes = new Uint8Array(
    weight.scales.buffer,
    weight.scales.byteOffset,
    weight.scales.byteLength,
  );
  return {
    ...names,
    tensors: [
      encodeRawTensor(names.weight, [n, k / QUANT_BLOCK, QUANT_BLOCK], UINT8, weight.packed),
      encodeRawTensor(names.scales, [(n * k) / QUANT_BLOCK], FLOAT16, scaleBytes),
    ],
  };
}

/**
 * The three nodes that replace MatMul(x, w): Cast x to fp16, MatMulNBits with the 8-bit
 * weight, Cast back to float32.
 */
export function quantizedMatMulNodes(
  name: string,
  input: string,
  weight: { weight: string; scales: string },
  dims: { k: number; n: number },
  output: string,
): Buffer[] {
  return castAroundProduct(name, input, output, (x16, y16) =>
    encodeNode(
      'MatMulNBits',
      name,
      [x16, weight.weight, weight.scales],
      y16,
      { K: dims.k, N: dims.n, bits: QUANT_BITS, block_size: QUANT_BLOCK },
      MS_DOMAIN,
    ),
  );
}
