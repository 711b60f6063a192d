import { CodecError } from './types.js';

export interface JpegFrameHeader {
  /** The SOF marker's second byte: 0xC3 lossless Huffman, 0xF7 JPEG-LS, … */
  marker: number;
  precision: number;
  width: number;
  height: number;
  components: number;
}

/**
 * The frame header (SOFn, or SOF55 for JPEG-LS) of a JPEG stream, read without decoding,
 * so a stream that declares a huge image is refused before a decoder allocates it.
 */
export function readJpegFrameHeader(bytes: Uint8Array): JpegFrameHeader {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8)
    throw new CodecError('not a JPEG stream (no start-of-image marker)');
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new CodecError(`JPEG marker expected at byte ${at}`);
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    const isFrame =
      (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) ||
      marker === 0xf7;
    if (isFrame) {
      if (at + 10 > bytes.length) break;
      return {
        marker,
        precision: bytes[at + 4]!,
        height: (bytes[at + 5]! << 8) | bytes[at + 6]!,
        width: (bytes[at + 7]! << 8) | bytes[at + 8]!,
        components: bytes[at + 9]!,
      };
    }
    if (marker === 0xda || marker === 0xd9) break;
    at += 2 + length;
  }
  throw new CodecError('JPEG stream has no frame header (SOF) before its data');
}

/**
 * Where the end-of-image marker (FFD9) of a stream starts, after any zero padding of the
 * fragment. A stream without one is truncated: refused here, because some decoders spend
 * a minute reading past the end of such a stream before they give up.
 */
export function endOfImage(frame: Uint8Array, codec: string): number {
  let end = frame.length;
  while (end > 0 && frame[end - 1] === 0) end -= 1;
  if (end < 4 || frame[end - 2] !== 0xff || frame[end - 1] !== 0xd9)
    throw new CodecError(`${codec} stream has no end-of-image marker (truncated)`);
  return end - 2;
}
