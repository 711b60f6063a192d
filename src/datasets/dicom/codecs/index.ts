import type { PixelEncoding } from '../transfer-syntax.js';
import { decodeJpegLossless } from './jpeg-lossless.js';
import { decodeRle } from './rle.js';
import type { DecodedFrame, FrameShape } from './types.js';
import { decodeJpeg2000, decodeJpegLs } from './wasm.js';

export { CodecError, type DecodedFrame, type FrameShape } from './types.js';

/** The encodings decoded here, from one encapsulated frame to its samples. */
export type CodecEncoding = Extract<
  PixelEncoding,
  'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000' | 'rle'
>;

export const CODEC_NAMES: Readonly<Record<CodecEncoding, string>> = Object.freeze({
  'jpeg-lossless': 'lossless JPEG',
  'jpeg-ls': 'JPEG-LS',
  jpeg2000: 'JPEG 2000',
  rle: 'RLE',
});

export function isCodecEncoding(encoding: PixelEncoding): encoding is CodecEncoding {
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
  }
}
