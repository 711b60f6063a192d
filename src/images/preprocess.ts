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
  const limit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  try {
    const image = sharp(bytes, {
      limitInputPixels: limit,
      failOn: 'error',
      sequentialRead: true,
    }).autoOrient();
    const meta = await image.metadata();
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
    throw new ImageError(`${path}: cannot decode image (${message})`, {
      code: 'IMAGE_CORRUPT',
      cause: error,
    });
  }
}

/** Bytes an image holds in memory (pixels plus a small object overhead). */
export function preparedBytes(image: PreparedImage): number {
  return image.pixels.byteLength + 256;
}
