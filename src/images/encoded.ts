import type { PngOptions } from 'sharp';
import { JPEG_OPTIONS, PNG_OPTIONS } from '../engines/openai/image-uri.js';
import type { EncodedImage, ImageEncoding, PreparedImage } from '../engines/types.js';
import {
  isPlainGrey,
  type OpenedImage,
  openImage,
  type PreprocessOptions,
  preparedGeometry,
  preparedGreyPipeline,
  preparedPipeline,
  withImageErrors,
} from './preprocess.js';

const NO_PIXELS = new Uint8Array(0);

/**
 * Prepares an image for a server engine: the encoded file to send, never raw pixels.
 *
 * - `auto`: the file's own bytes when decoding them gives exactly the prepared pixels
 *   (see `sendsUnchanged`), which costs no decoding at all; otherwise as `png`.
 * - `png`: a lossless PNG of the prepared pixels (one channel for grey sources), written
 *   with `options.png` (default `PNG_OPTIONS`).
 * - `jpeg`: a JPEG of the prepared pixels at quality 95 (lossy).
 *
 * The prepared pixels are `preprocessImage`'s, from the same chain of operations.
 */
export async function prepareEncodedImage(
  id: string,
  path: string,
  bytes: Uint8Array,
  options: PreprocessOptions & { encoding: ImageEncoding; png?: PngOptions },
): Promise<PreparedImage> {
  return withImageErrors(path, bytes, options, async (bytes, seen) => {
    const source = await openImage(path, bytes, options);
    seen.format = source.meta.format;
    const geometry = preparedGeometry(id, source);
    const unchanged = options.encoding === 'auto' ? sendsUnchanged(source) : undefined;
    // A DICOM file sends the PNG it was rendered to (`source.bytes`), never the DICOM.
    if (unchanged)
      return { ...geometry, pixels: NO_PIXELS, encoded: { mime: unchanged, bytes: source.bytes } };
    return {
      ...geometry,
      pixels: NO_PIXELS,
      encoded: await encodePrepared(source, options.encoding, options.png ?? PNG_OPTIONS),
    };
  });
}

async function encodePrepared(
  source: OpenedImage,
  encoding: ImageEncoding,
  png: PngOptions,
): Promise<EncodedImage> {
  // A grey source gives three equal channels; one of them carries every pixel.
  const pipeline = isPlainGrey(source.meta)
    ? preparedGreyPipeline(source)
    : preparedPipeline(source);
  if (encoding === 'jpeg') {
    return { mime: 'image/jpeg', bytes: await pipeline.jpeg(JPEG_OPTIONS).toBuffer() };
  }
  return { mime: 'image/png', bytes: await pipeline.png(png).toBuffer() };
}

/**
 * The MIME type to send a file under as it is, when preprocessing would not change a pixel
 * of it: a JPEG or PNG (formats every server decodes) already at its target size, 8 bits
 * of grey or RGB, one frame, no alpha, no EXIF rotation and no ICC profile (medcap's
 * decoder would apply one, a server's may not). Undefined otherwise.
 */
export function sendsUnchanged(source: OpenedImage): EncodedImage['mime'] | undefined {
  const { meta } = source;
  if (source.targetWidth !== meta.width || source.targetHeight !== meta.height) return undefined;
  if (meta.depth !== 'uchar' || (meta.bitsPerSample ?? 8) !== 8) return undefined;
  if (meta.hasAlpha || meta.hasProfile || meta.isPalette) return undefined;
  if ((meta.orientation ?? 1) !== 1 || (meta.pages ?? 1) !== 1) return undefined;
  const colours =
    (meta.channels === 1 && meta.space === 'b-w') || (meta.channels === 3 && meta.space === 'srgb');
  if (!colours) return undefined;
  if (meta.format === 'jpeg') return 'image/jpeg';
  if (meta.format === 'png') return 'image/png';
  return undefined;
}
