import { createRequire } from 'node:module';
import { endOfImage, readJpegFrameHeader } from './jpeg-header.js';
import { CodecError, checkShape, type DecodedFrame, type FrameShape } from './types.js';

interface LosslessDecoder {
  decode(buffer: ArrayBufferLike, offset: number, length: number): Uint8Array | Uint16Array;
  /** Where the next sample would go: yLoc reaches the height once every sample is decoded. */
  yLoc: number;
}

// jpeg-lossless-decoder-js ships no type declarations; this is the part medcap uses.
const { Decoder } = createRequire(import.meta.url)('jpeg-lossless-decoder-js') as {
  Decoder: new () => LosslessDecoder;
};

/** Lossless JPEG (process 14, any predictor; SV1 included), 2 to 16 bits, grey or colour. */
export function decodeJpegLossless(frame: Uint8Array, shape: FrameShape): DecodedFrame {
  const header = readJpegFrameHeader(frame);
  if (header.marker !== 0xc3)
    throw new CodecError(
      `not a lossless Huffman JPEG stream (frame marker FF${header.marker.toString(16).toUpperCase()}, expected FFC3)`,
    );
  checkShape('lossless JPEG', header, shape);
  const stream = withLookahead(frame);
  const decoder = new Decoder();
  const samples = decoder.decode(stream.buffer, stream.byteOffset, stream.byteLength);
  const expected = header.width * header.height * header.components;
  if (samples.length !== expected || decoder.yLoc < header.height)
    throw new CodecError(
      `the lossless JPEG data ends after ${decoder.yLoc} of ${header.height} rows (truncated or corrupt)`,
    );
  return { width: header.width, height: header.height, components: header.components, samples };
}

const LOOKAHEAD_BYTES = 4;

/**
 * The stream with zero bytes between its last data and the end-of-image marker (fill bytes
 * 0xFF dropped). The decoder reads ahead past the last code; when it meets the marker there
 * instead of data it drops the final sample (DCMTK's 8-bit SV1 files end that way).
 */
function withLookahead(frame: Uint8Array): Uint8Array {
  let data = endOfImage(frame, 'lossless JPEG');
  while (data > 0 && frame[data - 1] === 0xff) data -= 1;
  const out = new Uint8Array(data + LOOKAHEAD_BYTES + 2);
  out.set(frame.subarray(0, data));
  out[out.length - 2] = 0xff;
  out[out.length - 1] = 0xd9;
  return out;
}
