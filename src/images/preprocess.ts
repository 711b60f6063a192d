import sharp, { type Metadata, type Sharp } from 'sharp';
import { ImageError } from '../core/errors.js';
import type { PreparedImage } from '../engines/types.js';
import type { FrameChoice } from './dicom/decode.js';
import { dicomAsPng, isDicomImage } from './dicom/index.js';
import { MAX_ASPECT_RATIO, QWEN2VL_PATCH, type ResizePolicy, targetSize } from './resize.js';
import { refusedImageHint } from './sniff.js';

/** Refuse images above this many pixels (decompression bombs): 16k × 16k. */
export const DEFAULT_PIXEL_LIMIT = 16384 * 16384;

/**
 * The longest sharp may spend making one image (a damaged file that sends a decoder into a
 * loop would otherwise stall the run, and every --resume after it). Large images take well
 * under a second.
 */
export const IMAGE_TIMEOUT_S = 120;

export interface PreprocessOptions extends ResizePolicy {
  pixelLimit?: number;
  /** `--window C,W`: the VOI window for DICOM images, instead of the file's own. */
  window?: [number, number] | undefined;
  /** `--frame`: the frame of a multi-frame DICOM image (default: the middle one). */
  frame?: FrameChoice | undefined;
}

/**
 * Decodes an encoded image (JPEG, PNG, WebP, TIFF, DICOM, …) and resizes it to the model's grid:
 * EXIF orientation applied, alpha flattened onto white, 16-bit grey stretched to its own
 * range, grey or 16-bit input turned into 8-bit RGB. A corrupt, empty or oversized file is an ImageError naming the file.
 */
export async function preprocessImage(
  id: string,
  path: string,
  bytes: Uint8Array,
  options: PreprocessOptions,
): Promise<PreparedImage> {
  return withImageErrors(path, bytes, options, async (bytes, seen) => {
    const source = await openImage(path, bytes, options);
    seen.format = source.meta.format;
    const { data, info } = await preparedPipeline(source)
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3)
      throw new ImageError(`${path}: expected 3 channels after conversion, got ${info.channels}`);
    return {
      ...preparedGeometry(id, source),
      pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  });
}

/** A decodable image, its metadata, and the size the model will see it at. */
export interface OpenedImage {
  image: Sharp;
  /** The encoded bytes sharp reads: the file's own, or the PNG a DICOM file was rendered to. */
  bytes: Uint8Array;
  meta: Metadata;
  /** Size after EXIF rotation. */
  width: number;
  height: number;
  targetWidth: number;
  targetHeight: number;
}

/**
 * The bytes of an image file as sharp can read them: a DICOM file (by its `DICM` marker or
 * a `.dcm`/`.dicom` name) rendered to PNG in the decoder pool, any other file unchanged.
 * Every place that opens an image goes through here, so a DICOM decodes the same way in
 * every dataset format.
 */
export async function decodableImage(
  path: string,
  bytes: Uint8Array,
  options: Pick<PreprocessOptions, 'window' | 'frame'> = {},
): Promise<Uint8Array> {
  if (bytes.byteLength === 0)
    throw new ImageError(`${path}: empty file (0 bytes)`, { code: 'IMAGE_EMPTY' });
  if (!isDicomImage(path, bytes)) return bytes;
  return dicomAsPng(bytes, path, { window: options.window, frame: options.frame });
}

/**
 * Reads an image's header (not its pixels) and works out its target size. A DICOM file is
 * rendered first (see `decodableImage`).
 */
export async function openImage(
  path: string,
  file: Uint8Array,
  options: PreprocessOptions,
): Promise<OpenedImage> {
  const bytes = await decodableImage(path, file, options);
  if (looksLikeSvg(bytes)) throw svgRefused(path);
  const open = (ignoreIcc = false) =>
    sharp(bytes, {
      limitInputPixels: options.pixelLimit ?? DEFAULT_PIXEL_LIMIT,
      failOn: 'error',
      sequentialRead: true,
      ignoreIcc,
    }).timeout({ seconds: IMAGE_TIMEOUT_S });
  let image = open().autoOrient();
  const meta = await image.metadata();
  if (meta.format === 'svg') throw svgRefused(path);
  // PIL, and so the Python pipeline, reads an RGB or grey file's samples as they are, whatever
  // ICC profile it embeds (Adobe RGB, Display P3, a grey gamma curve); CMYK still goes through
  // its profile to sRGB.
  const ignoreIcc = meta.hasProfile === true && meta.space !== 'cmyk';
  if (ignoreIcc) image = open(true).autoOrient();
  // An RGB PNG whose tRNS chunk names a transparent colour: PIL opens it as RGB, and
  // transformers' convert_to_rgb returns RGB images as they are, so that colour stays.
  // (sharp applies removeAlpha after flatten, whatever the order of the calls, so the colours
  // are taken out first.)
  if (meta.hasAlpha && isRgbPng(bytes)) {
    const { data, info } = await image
      .removeAlpha()
      .toColourspace('srgb') // 8 bits a sample, a 16-bit file's scaled as elsewhere
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    image = sharp(data, {
      raw: { width: info.width, height: info.height, channels: info.channels },
    });
  }
  if (meta.depth === 'ushort' && (meta.channels ?? 0) <= 2)
    image = await stretchGrey(image, open(ignoreIcc));
  if (!meta.width || !meta.height)
    throw new ImageError(`${path}: image has no size`, { code: 'IMAGE_CORRUPT' });
  // Size after EXIF rotation, which is what the model will see.
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  const ratio = Math.max(width, height) / Math.min(width, height);
  if (options.imageSize === undefined && ratio > MAX_ASPECT_RATIO) {
    throw new ImageError(
      `${path}: ${width}x${height} px, an aspect ratio of ${Math.round(ratio)}:1, over the ` +
        `${MAX_ASPECT_RATIO}:1 that Qwen2-VL's processor takes (its long side would take the ` +
        'pixels far past --max-pixels); crop it, or give --image-size to squeeze it into a square',
      { code: 'IMAGE_TOO_LARGE' },
    );
  }
  const [targetHeight, targetWidth] = targetSize(height, width, options);
  return { image, bytes, meta, width, height, targetWidth, targetHeight };
}

/**
 * A 16-bit grey image stretched from its darkest to its
 * brightest value, as a DICOM image without a window is: X-rays of 12 bits are commonly
 * stored in 16, and scaled by 1/257 like other 16-bit images they would come out almost
 * black. An image of one value is left as it is.
 */
async function stretchGrey(image: Sharp, again: Sharp): Promise<Sharp> {
  const { min, max } = (await again.stats()).channels[0]!;
  if (!(max > min)) return image;
  const scale = 65535 / (max - min);
  // One band: sharp flattens the alpha away before it applies `linear`.
  return image.linear(scale, -min * scale);
}

/**
 * The one chain of operations that makes the pixels every engine sees: alpha flattened
 * onto white (as transformers' convert_to_rgb does in Qwen2-VL's processor), sRGB, resized
 * to the target with a cubic kernel, no alpha; 8-bit once output.
 */
export function preparedPipeline(source: OpenedImage): Sharp {
  return source.image
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(source.targetWidth, source.targetHeight, { fit: 'fill', kernel: 'cubic' })
    .removeAlpha();
}

/**
 * `preparedPipeline`'s pixels for a plain grey source (see `isPlainGrey`), as one band:
 * sRGB from grey copies the band three times, so resizing the one band gives every channel
 * of `preparedPipeline`'s output (tested pixel for pixel), with no RGB to make and cut back.
 * (libvips resizes one band horizontally without its vector path, so the resize itself costs
 * about what three bands do.)
 */
export function preparedGreyPipeline(source: OpenedImage): Sharp {
  return source.image
    .resize(source.targetWidth, source.targetHeight, { fit: 'fill', kernel: 'cubic' })
    .toColourspace('b-w');
}

/** One 8-bit grey band, no alpha and no ICC profile (which could colour it). */
export function isPlainGrey(meta: Metadata): boolean {
  return (
    meta.channels === 1 &&
    meta.space === 'b-w' &&
    meta.depth === 'uchar' &&
    !meta.hasAlpha &&
    !meta.hasProfile
  );
}

/** The size fields of a prepared image, from its opened source. */
export function preparedGeometry(
  id: string,
  source: OpenedImage,
): Omit<PreparedImage, 'pixels' | 'encoded'> {
  return {
    id,
    width: source.targetWidth,
    height: source.targetHeight,
    gridThw: [1, source.targetHeight / QWEN2VL_PATCH, source.targetWidth / QWEN2VL_PATCH],
    originalWidth: source.width,
    originalHeight: source.height,
  };
}

/**
 * Runs `work`, turning sharp's failures into an ImageError naming the file. `work` notes the
 * format once the header is read, so that a failure past it says what the file claimed to be;
 * before that, the file's first bytes say what it holds (see `refusedImageHint`).
 */
export async function withImageErrors<T>(
  path: string,
  bytes: Uint8Array,
  options: PreprocessOptions,
  work: (bytes: Uint8Array, seen: { format?: string }) => Promise<T>,
): Promise<T> {
  const seen: { format?: string } = {};
  try {
    return await work(bytes, seen);
  } catch (error) {
    if (error instanceof ImageError) throw error;
    const message = (error as Error).message ?? String(error);
    const completed = /premature end of JPEG image/i.test(message)
      ? await withEndOfImage(bytes)
      : undefined;
    if (completed) return withImageErrors(path, completed, options, work);
    if (/^timeout: \d+% complete/m.test(message)) {
      throw new ImageError(
        `${path}: decoding took longer than ${IMAGE_TIMEOUT_S} s and was stopped (a damaged file can make the decoder loop)`,
        { code: 'IMAGE_TIMEOUT', cause: error },
      );
    }
    if (/pixel limit/i.test(message)) {
      const limit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
      throw new ImageError(
        `${path}: image is larger than the pixel limit of ${limit} pixels (possible decompression bomb); refused`,
        {
          code: 'IMAGE_TOO_LARGE',
          cause: error,
        },
      );
    }
    if (seen.format)
      throw new ImageError(
        `${path}: cannot decode ${seen.format.toUpperCase()} image data; the file is corrupt or truncated (${distinctLines(message)})`,
        { code: 'IMAGE_CORRUPT', cause: error },
      );
    const hint = refusedImageHint(bytes);
    throw new ImageError(
      `${path}: cannot decode image (${distinctLines(message)})${hint ? `: ${hint.text}` : ''}`,
      {
        code: hint?.unsupported ? 'IMAGE_UNSUPPORTED' : 'IMAGE_CORRUPT',
        cause: error,
      },
    );
  }
}

/**
 * A JPEG whose data is whole but whose end-of-image marker (FF D9) is missing, as some
 * writers and cut-off copies leave it: the bytes with the marker added, if they then decode
 * without even a warning (a file cut inside its data does not: libjpeg warns that the data
 * segment ends early, and those are still refused). Undefined for anything else. (PIL reads
 * the same pixels only with `ImageFile.LOAD_TRUNCATED_IMAGES`; by default it refuses them.)
 */
async function withEndOfImage(bytes: Uint8Array): Promise<Uint8Array | undefined> {
  const n = bytes.length;
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8 || (bytes[n - 2] === 0xff && bytes[n - 1] === 0xd9))
    return undefined;
  const completed = Buffer.concat([bytes, END_OF_IMAGE]);
  try {
    await sharp(completed, { failOn: 'warning' }).raw().toBuffer();
    return completed;
  } catch {
    return undefined;
  }
}

const END_OF_IMAGE = Uint8Array.from([0xff, 0xd9]);

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

/** A PNG of colour type 2 (RGB, no alpha channel; any alpha it has came from tRNS). */
function isRgbPng(bytes: Uint8Array): boolean {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  // signature, IHDR's length and type, width, height, bit depth, then the colour type
  return bytes.length > 25 && signature.every((b, i) => bytes[i] === b) && bytes[25] === 2;
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
  return image.pixels.byteLength + (image.encoded?.bytes.byteLength ?? 0) + 256;
}
