/**
 * DICOM as one more image format: any image medcap opens is checked here, so a `.dcm` in a
 * manifest or a folder decodes exactly as in a `dicom` dataset (same renderer, same pool).
 */
import type { DicomRenderOptions } from './decode.js';
import { dicomToPngInWorker } from './decode-pool.js';

export type { DicomRenderOptions } from './decode.js';
export { mediaStorageClass, nonImageObject } from './non-image.js';

/** File name extensions that mean DICOM (case-insensitive). */
export const DICOM_EXTENSIONS = Object.freeze(['.dcm', '.dicom']);

/** Bytes a file needs to show the Part 10 marker: a 128-byte preamble, then `DICM`. */
export const DICOM_MAGIC_BYTES = 132;

/** True when the bytes start with a DICOM Part 10 header (`DICM` at byte 128). */
export function hasDicomMagic(bytes: Uint8Array): boolean {
  return (
    bytes.byteLength >= DICOM_MAGIC_BYTES &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

/** True when `path` ends in a DICOM extension. */
export function hasDicomExtension(path: string): boolean {
  const lower = path.toLowerCase();
  return DICOM_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

/**
 * Whether an image is DICOM: by its Part 10 marker (extension-less PACS exports), or by a
 * `.dcm`/`.dicom` name (a bare data set has no marker; a `.dcm` that is not DICOM at all
 * then fails in the DICOM parser with an error naming the file, not as "unsupported image").
 */
export function isDicomImage(path: string, bytes: Uint8Array): boolean {
  return hasDicomMagic(bytes) || hasDicomExtension(path);
}

/**
 * A DICOM file rendered to PNG (modality LUT, VOI window, MONOCHROME1, middle or chosen frame) in the
 * process's pool of decoder threads; errors are ImageErrors naming `path`.
 */
export function dicomAsPng(
  bytes: Uint8Array,
  path: string,
  options: DicomRenderOptions = {},
): Promise<Uint8Array> {
  return dicomToPngInWorker(bytes, path, options);
}
