/** The two protobuf encodings the ONNX writers here need. */

export function encodeVarint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 128) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** Field `field` with wire type LEN holding `payload`. */
export function lengthDelimited(field: number, payload: Buffer): Buffer {
  return Buffer.concat([encodeVarint(field * 8 + 2), encodeVarint(payload.length), payload]);
}
