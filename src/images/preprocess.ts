import sharp from 'sharp';
import { ImageError } from '../core/errors.js';
import type { PreparedImage } from '../engines/types.js';
import { QWEN2VL_PATCH, type ResizePolicy, targetSize } from './resize.js';

/** Refuse images above this many pixels (decompression bombs): 16k × 16k. */
export const DEFAULT_PIXEL_LIMIT = 16384 * 16384;

export interface PreprocessOptions extends ResizePolicy {
  pixelLimit?: number;
}

/**
 * Decodes an encoded image (JPEG, PNG, WebP, TIFF, …) and resizes it to the model's grid:
 * EXIF orientation applied, alpha flattened onto black, grey or 16-bit input turned into
 * 8-bit RGB. A corrupt, empty or oversized file is an ImageError naming the file.
 */
export async function preprocessImage(
  id: string,
  path: string,
  bytes: Uint8Array,
  options: PreprocessOptions,
): Promise<PreparedImage> {
  if (bytes.byteLength === 0)
    throw new ImageError(`${path}: empty file (0 bytes)`, { code: 'IMAGE_EMPTY' });
  if (looksLikeSvg(bytes)) throw svgRefused(path);
  const limit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  let format: string | undefined;
  try {
    const image = sharp(bytes, {
      limitInputPixels: limit,
      failOn: 'error',
      sequentialRead: true,
    }).autoOrient();
    const meta = await image.metadata();
    if (meta.format === 'svg') throw svgRefused(path);
    format = meta.format;
    if (!meta.width || !meta.height)
      throw new ImageError(`${path}: image has no size`, { code: 'IMAGE_CORRUPT' });
    // Size after EXIF rotation, which is what the model will see.
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.autoOrient?.height ?? meta.height;
    const [targetHeight, targetWidth] = targetSize(height, width, options);
    const { data, info } = await image
      .flatten({ background: '#000000' })
      .toColourspace('srgb')
      .resize(targetWidth, targetHeight, { fit: 'fill', kernel: 'cubic' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3)
      throw new ImageError(`${path}: expected 3 channels after conversion, got ${info.channels}`);
    return {
      id,
      pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      gridThw: [1, info.height / QWEN2VL_PATCH, info.width / QWEN2VL_PATCH],
      originalWidth: width,
      originalHeight: height,
    };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    const message = (error as Error).message ?? String(error);
    if (/pixel limit/i.test(message)) {
      throw new ImageError(
        `${path}: image is larger than the pixel limit of ${limit} pixels (possible decompression bomb); refused`,
        {
          code: 'IMAGE_TOO_LARGE',
          cause: error,
        },
      );
    }
    // The header was read, the data was not: say what the file claimed to be.
    const what = format
      ? `${format.toUpperCase()} image data; the file is corrupt or truncated`
      : 'image';
    throw new ImageError(`${path}: cannot decode ${what} (${distinctLines(message)})`, {
      code: 'IMAGE_CORRUPT',
      cause: error,
    });
  }
}

/**
 * SVG is refused, not rendered: an SVG can reference other files and URLs, which a
 * captioning run must never read or fetch, and no medical image is a vector drawing.
 */
function svgRefused(path: string): ImageError {
  return new ImageError(
    `${path}: SVG images are not accepted (an SVG can reference other files and URLs); convert it to PNG first`,
    { code: 'IMAGE_UNSUPPORTED' },
  );
}

/** XML or SVG text (after an optional BOM and white space), checked before any decoder sees it. */
function looksLikeSvg(bytes: Uint8Array): boolean {
  const head = new TextDecoder('utf-8', { fatal: false })
    .decode(bytes.subarray(0, 512))
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  return head.startsWith('<?xml') || head.startsWith('<svg') || head.startsWith('<!doctype svg');
}

/** libvips repeats a warning once per attempt; each line is said once. */
function distinctLines(message: string): string {
  return [
    ...new Set(
      message
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean),
    ),
  ].join('; ');
}

/** Bytes an image holds in memory (pixels plus a small object overhead). */
export function preparedBytes(image: PreparedImage): number {
  return image.pixels.byteLength + 256;
}
