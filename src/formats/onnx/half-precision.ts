import { encodeVarint, lengthDelimited } from './protobuf.js';

/**
 * fp16 weights for the encoder's matrix products: each MatMul whose right operand is a float32
 * weight becomes Cast(x → fp16) · weight_fp16 → Cast(→ fp32). Everything else (embeddings,
 * LayerNorm, softmax, the attention mask) stays fp32, as PyTorch's autocast keeps them, so the
 * matrix products, almost all of the work, run in half precision on devices that have it.
 */

export const FLOAT = 1;
export const FLOAT16 = 10;

const scratch = new Float32Array(1);
const bits = new Uint32Array(scratch.buffer);

/** IEEE 754 binary16 bits of a number, rounded to nearest even (as numpy's astype). */
export function toHalfBits(value: number): number {
  scratch[0] = value;
  const x = bits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const middle = 1 << (shift - 1);
    if (rest > middle || (rest === middle && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry rounds up the exponent
  return half;
}

/** The number that binary16 bits stand for (finite values, as toHalfBits writes them). */
export function fromHalfBits(h: number): number {
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  const magnitude =
    exponent === 0 ? mantissa * 2 ** -24 : (1 + mantissa / 1024) * 2 ** (exponent - 15);
  return h & 0x8000 ? -magnitude : magnitude;
}

export interface FloatTensor {
  name: string;
  dims: number[];
  values: Float32Array;
}

/** A float32 TensorProto with its data inside (raw_data or float_data); else undefined. */
export function parseFloatTensor(bytes: Buffer): FloatTensor | undefined {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: Buffer | undefined;
  let floats: number[] | undefined;
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[pos++];
      if (b === undefined) throw new Error('truncated TensorProto');
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return value;
    }
  };
  while (pos < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) {
      const v = varint();
      if (field === 1) dims.push(v);
      else if (field === 2) dataType = v;
      else if (field === 14 && v === 1) return undefined; // external data
    } else if (wire === 2) {
      const length = varint();
      const value = bytes.subarray(pos, pos + length);
      pos += length;
      if (field === 1) {
        for (let p = 0; p < value.length; ) {
          let v = 0;
          let scale = 1;
          for (;;) {
            const b = value[p++]!;
            v += (b & 0x7f) * scale;
            scale *= 128;
            if ((b & 0x80) === 0) break;
          }
          dims.push(v);
        }
      } else if (field === 8) name = value.toString('utf8');
      else if (field === 9) raw = value;
      else if (field === 4) {
        floats = [];
        for (let p = 0; p + 4 <= value.length; p += 4) floats.push(value.readFloatLE(p));
      } else if (field === 13) return undefined; // external data
    } else if (wire === 5) {
      if (field === 4) {
        floats ??= [];
        floats.push(bytes.readFloatLE(pos));
      }
      pos += 4;
    } else if (wire === 1) pos += 8;
    else return undefined;
  }
  if (dataType !== FLOAT) return undefined;
  const count = dims.reduce((a, b) => a * b, 1);
  let values: Float32Array;
  if (raw) {
    if (raw.length !== count * 4) return undefined;
    values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = raw.readFloatLE(i * 4);
  } else if (floats && floats.length === count) values = Float32Array.from(floats);
  else return undefined;
  return { name, dims, values };
}

/** TensorProto bytes {dims, data_type, name, raw_data}; raw_data little-endian, as ONNX has it. */
export function encodeRawTensor(
  name: string,
  dims: readonly number[],
  dataType: number,
  raw: Uint8Array,
): Buffer {
  return Buffer.concat([
    ...dims.map((d) => Buffer.concat([encodeVarint(1 * 8), encodeVarint(d)])),
    encodeVarint(2 * 8),
    encodeVarint(dataType),
    lengthDelimited(8, Buffer.from(name, 'utf8')),
    lengthDelimited(9, Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)),
  ]);
}

/** TensorProto {dims, data_type = FLOAT16, name, raw_data} of the values rounded to fp16. */
export function encodeHalfTensor(
  name: string,
  dims: readonly number[],
  values: Float32Array,
): Buffer {
  const raw = Buffer.alloc(values.length * 2);
  for (let i = 0; i < values.length; i++) raw.writeUInt16LE(toHalfBits(values[i]!), i * 2);
  return encodeRawTensor(name, dims, FLOAT16, raw);
}

/** ModelProto.opset_import field {domain, version} (field 8); '' is ONNX's own domain. */
export function opsetImportField(domain: string, version: number): Buffer {
  return lengthDelimited(
    8,
    Buffer.concat([
      lengthDelimited(1, Buffer.from(domain, 'utf8')),
      encodeVarint(2 * 8),
      encodeVarint(version),
    ]),
  );
}

/**
 * NodeProto bytes; `attributes` are INT attributes, in their order (a number alone is Cast's
 * `to`); `domain` for an operator outside ONNX's own (e.g. com.microsoft).
 */
export function encodeNode(
  op: string,
  name: string,
  inputs: readonly string[],
  output: string,
  attributes?: number | Readonly<Record<string, number>>,
  domain?: string,
): Buffer {
  const parts = [
    ...inputs.map((i) => lengthDelimited(1, Buffer.from(i, 'utf8'))),
    lengthDelimited(2, Buffer.from(output, 'utf8')),
    lengthDelimited(3, Buffer.from(name, 'utf8')),
    lengthDelimited(4, Buffer.from(op, 'utf8')),
  ];
  if (domain) parts.push(lengthDelimited(7, Buffer.from(domain, 'utf8')));
  const named = typeof attributes === 'number' ? { to: attributes } : (attributes ?? {});
  for (const [key, value] of Object.entries(named)) {
    const attribute = Buffer.concat([
      lengthDelimited(1, Buffer.from(key, 'utf8')),
      encodeVarint(3 * 8),
      encodeVarint(value),
      encodeVarint(20 * 8),
      encodeVarint(2), // AttributeType INT
    ]);
    parts.push(lengthDelimited(5, attribute));
  }
  return Buffer.concat(parts);
}

/**
 * How the Cast into fp16 that starts a MatMul with fp16 or 8-bit weights ends its name: a copy
 * holding one has at least one such MatMul.
 */
export const LOWERED_MATMUL_MARK = '/cast_in_fp16';

/**
 * The three nodes that replace MatMul(x, w) when the product runs in fp16: Cast x to fp16, the
 * product that `product(x16, y16)` encodes, Cast back to float32.
 */
export function castAroundProduct(
  name: string,
  input: string,
  output: string,
  product: (x16: string, y16: string) => Buffer,
): Buffer[] {
  const x16 = `${output}/x_fp16`;
  const y16 = `${output}/y_fp16`;
  return [
    encodeNode('Cast', `${name}${LOWERED_MATMUL_MARK}`, [input], x16, FLOAT16),
    product(x16, y16),
    encodeNode('Cast', `${name}/cast_out_fp32`, [y16], output, FLOAT),
  ];
}

/** The three nodes that replace MatMul(x, w): Cast x to fp16, MatMul with w_fp16, Cast back. */
export function halfMatMulNodes(
  name: string,
  input: string,
  weight16: string,
  output: string,
): Buffer[] {
  return castAroundProduct(name, input, output, (x16, y16) =>
    encodeNode('MatMul', name, [x16, weight16], y16),
  );
}

/** The fp16 copy of a 2-D float32 weight (TensorProto bytes), named `<name>_fp16`. */
export function halfWeightTensor(tensorProto: Buffer): { name: string; bytes: Buffer } | undefined {
  const tensor = parseFloatTensor(tensorProto);
  if (!tensor || tensor.dims.length !== 2) return undefined;
  const name = `${tensor.name}_fp16`;
  return { name, bytes: encodeHalfTensor(name, tensor.dims, tensor.values) };
}
