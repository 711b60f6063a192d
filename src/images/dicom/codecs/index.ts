import type { PixelEncoding } from '../transfer-syntax.js';
import { decodeJpegLossless } from './jpeg-lossless.js';
import { decodeJpeg12 } from './jpeg12.js';
import { decodeRle } from './rle.js';
import type { DecodedFrame, FrameShape } from './types.js';
import { decodeJpeg2000, decodeJpegLs } from './wasm.js';

export { CodecError, type DecodedFrame, type FrameShape } from './types.js';

/**
 * The encodings decoded here, from one encapsulated frame to its samples. `jpeg12` is JPEG
 * with more than 8 bits (8-bit JPEG goes to sharp).
 */
export type CodecEncoding =
  | Extract<PixelEncoding, 'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000' | 'rle'>
  | 'jpeg12';

export const CODEC_NAMES: Readonly<Record<CodecEncoding, string>> = Object.freeze({
  'jpeg-lossless': 'lossless JPEG',
  'jpeg-ls': 'JPEG-LS',
  jpeg2000: 'JPEG 2000',
  rle: 'RLE',
  jpeg12: '12-bit JPEG',
});

export function isCodecEncoding(
  encoding: PixelEncoding | CodecEncoding,
): encoding is CodecEncoding {
  return encoding in CODEC_NAMES;
}

export async function decodeFrame(
  encoding: CodecEncoding,
  frame: Uint8Array,
  shape: FrameShape,
): Promise<DecodedFrame> {
  switch (encoding) {
    case 'jpeg-lossless':
      return decodeJpegLossless(frame, shape);
    case 'jpeg-ls':
      return decodeJpegLs(frame, shape);
    case 'jpeg2000':
      return decodeJpeg2000(frame, shape);
    case 'rle':
      return decodeRle(frame, shape);
    case 'jpeg12':
      return decodeJpeg12(frame, shape);
  }
}
