import sharp, { type JpegOptions, type PngOptions } from 'sharp';
import type { EncodedImage, ImageEncoding, PreparedImage } from '../types.js';

/**
 * PNGs written to batch files (whose size the Batch API limits) and of raw pixels: lossless;
 * zlib level 1 without adaptive filtering encodes about twice as fast as sharp's default
 * (level 6) for about a fifth more bytes.
 */
export const PNG_OPTIONS: PngOptions = { compressionLevel: 1, adaptiveFiltering: false };
/**
 * PNGs sent to a server as requests are made: zlib level 0 (stored, no compression), the
 * same pixels for about 1.3 ms less client CPU an image (448x448; a fifth of the client's
 * work on images that need resizing) and about 1.8 times the bytes of level 1.
 */
export const LIVE_PNG_OPTIONS: PngOptions = { compressionLevel: 0, adaptiveFiltering: false };
/** `--image-encoding jpeg`: quality 95, no chroma subsampling, so grey stays grey. */
export const JPEG_OPTIONS: JpegOptions = { quality: 95, chromaSubsampling: '4:4:4' };

/**
 * The image as a `data:` URI: the encoded file the pipeline prepared (images/encoded.ts),
 * or, for callers that hand raw pixels, those pixels encoded as `encoding` says (`auto`
 * is `png` then: there is no file to send).
 */
export async function imageDataUri(
  image: PreparedImage,
  encoding: ImageEncoding = 'png',
): Promise<string> {
  const { mime, bytes } = image.encoded ?? (await encodePixels(image, encoding));
  const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return `data:${mime};base64,${base64}`;
}

/** Raw RGB pixels as a PNG (lossless; one channel when grey) or a JPEG. */
export async function encodePixels(
  image: PreparedImage,
  encoding: ImageEncoding,
): Promise<EncodedImage> {
  const { pixels, width, height } = image;
  if (pixels.byteLength !== width * height * 3) {
    throw new RangeError(
      `${image.id}: expected ${width * height * 3} bytes of RGB pixels, got ${pixels.byteLength}`,
    );
  }
  let pipeline = sharp(pixels, { raw: { width, height, channels: 3 } });
  if (isGrey(pixels)) pipeline = pipeline.extractChannel(0).toColourspace('b-w');
  if (encoding === 'jpeg') {
    return { mime: 'image/jpeg', bytes: await pipeline.jpeg(JPEG_OPTIONS).toBuffer() };
  }
  return { mime: 'image/png', bytes: await pipeline.png(PNG_OPTIONS).toBuffer() };
}

function isGrey(pixels: Uint8Array): boolean {
  for (let i = 0; i < pixels.length; i += 3) {
    const r = pixels[i];
    if (pixels[i + 1] !== r || pixels[i + 2] !== r) return false;
  }
  return true;
}
