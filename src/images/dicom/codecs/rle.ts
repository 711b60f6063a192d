import { CodecError, type DecodedFrame, type FrameShape } from './types.js';

const HEADER_BYTES = 64;
const MAX_SEGMENTS = 15;

/**
 * Decodes one RLE Lossless frame (DICOM PS3.5 Annex G): a 64-byte header of segment offsets,
 * then one PackBits segment per byte of each sample, most significant byte first, component
 * by component. Gives the samples pixel-interleaved whatever Planar Configuration says
 * (PS3.5 G.2: the segment order already fixes it). 8 and 16 bits allocated.
 */
export function decodeRle(frame: Uint8Array, shape: FrameShape): DecodedFrame {
  const { rows, columns, samplesPerPixel: components, bitsAllocated } = shape;
  if (bitsAllocated !== 8 && bitsAllocated !== 16)
    throw new CodecError(`RLE with ${bitsAllocated} bits allocated is not supported (8 or 16)`);
  if (frame.length < HEADER_BYTES)
    throw new CodecError(`RLE frame is ${frame.length} bytes, shorter than its 64-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPerSample = bitsAllocated / 8;
  const expected = components * bytesPerSample;
  if (segments !== expected || segments > MAX_SEGMENTS)
    throw new CodecError(
      `RLE header has ${segments} segment(s); ${components} sample(s) of ${bitsAllocated} bits need ${expected}`,
    );
  const offsets: number[] = [];
  for (let s = 0; s < segments; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  offsets.push(frame.length);

  const pixels = rows * columns;
  const samples =
    bytesPerSample === 1
      ? new Uint8Array(pixels * components)
      : new Uint16Array(pixels * components);
  const plane = new Uint8Array(pixels);
  for (let s = 0; s < segments; s++) {
    const start = offsets[s]!;
    const end = offsets[s + 1]!;
    if (start < HEADER_BYTES || end < start || end > frame.length)
      throw new CodecError(
        `RLE segment ${s + 1} has offset ${start}..${end}, outside the ${frame.length}-byte frame`,
      );
    const produced = unpackBits(frame, start, end, plane);
    if (produced < pixels)
      throw new CodecError(
        `RLE segment ${s + 1} decodes to ${produced} bytes; ${columns}x${rows} needs ${pixels} (the data is truncated or corrupt)`,
      );
    const component = Math.floor(s / bytesPerSample);
    // Byte 0 of a sample is its most significant.
    const shift = 8 * (bytesPerSample - 1 - (s % bytesPerSample));
    for (let i = 0; i < pixels; i++) samples[components * i + component]! |= plane[i]! << shift;
  }
  return { width: columns, height: rows, components, samples };
}

/**
 * PackBits: a header byte n in 0..127 copies the next n+1 bytes, -127..-1 repeats the next
 * byte 1-n times, -128 does nothing. Fills `out` and stops there (segments are padded to an
 * even length); returns how many bytes were written.
 */
function unpackBits(input: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let at = start;
  let written = 0;
  while (at < end && written < out.length) {
    const header = (input[at++]! << 24) >> 24;
    if (header >= 0) {
      const count = Math.min(header + 1, end - at, out.length - written);
      out.set(input.subarray(at, at + count), written);
      at += header + 1;
      written += count;
    } else if (header !== -128) {
      if (at >= end) break;
      const count = Math.min(1 - header, out.length - written);
      out.fill(input[at++]!, written, written + count);
      written += count;
    }
  }
  return written;
}
