import { GIT_LFS_POINTER_START } from '../core/git-lfs.js';

/**
 * What a file that the decoder refused holds, from its first bytes, to say in its error row:
 * a truncated TIFF and a BMP both come back from libvips as "unsupported image format",
 * which tells the user neither that the file is broken nor what to do about it.
 */
export function refusedImageHint(
  bytes: Uint8Array,
): { text: string; unsupported: boolean } | undefined {
  const head = bytes.subarray(0, 512);
  const ascii = new TextDecoder('latin1').decode(head);
  const decoded = DECODED.find(([, test]) => test(head, ascii));
  if (decoded) {
    return {
      text: `it starts as a ${decoded[0]} image, so it is corrupt or truncated`,
      unsupported: false,
    };
  }
  const format = NOT_READ.find(([, test]) => test(head, ascii));
  if (format) {
    return {
      text: `it is a ${format[0]} image, which medcap does not read; convert it to PNG first`,
      unsupported: true,
    };
  }
  const other = OTHER.find(([, test]) => test(head, ascii));
  if (other) return { text: other[0], unsupported: false };
  if (head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || b >= 32))
    return { text: 'it holds text, not an image', unsupported: false };
  return undefined;
}

type Test = (head: Uint8Array, ascii: string) => boolean;

const starts =
  (...bytes: number[]): Test =>
  (head) =>
    bytes.every((b, i) => head[i] === b);

/** ISO base media (`ftyp` box) with one of these brands. */
const brand =
  (...brands: string[]): Test =>
  (_, ascii) =>
    ascii.slice(4, 8) === 'ftyp' && brands.includes(ascii.slice(8, 12));

/** Formats sharp decodes: a file that starts as one and is refused is damaged. */
const DECODED: readonly [string, Test][] = [
  ['JPEG', starts(0xff, 0xd8, 0xff)],
  ['PNG', starts(0x89, 0x50, 0x4e, 0x47)],
  ['GIF', (_, a) => a.startsWith('GIF87a') || a.startsWith('GIF89a')],
  ['WebP', (_, a) => a.startsWith('RIFF') && a.slice(8, 12) === 'WEBP'],
  ['TIFF', (_, a) => a.startsWith('II*\0') || a.startsWith('MM\0*')],
  ['AVIF', brand('avif', 'avis')],
];

/** Image formats sharp (as installed) does not decode. */
const NOT_READ: readonly [string, Test][] = [
  ['BMP', (_, a) => /^BM.{4}\0\0\0\0/s.test(a)],
  [
    'JPEG 2000 (read inside DICOM only)',
    (h, a) => starts(0xff, 0x4f, 0xff, 0x51)(h, a) || a.slice(4, 8) === 'jP  ',
  ],
  ['JPEG XL', (h, a) => starts(0xff, 0x0a)(h, a) || a.slice(4, 8) === 'JXL '],
  ['HEIC', brand('heic', 'heix', 'hevc', 'heim', 'heis')],
  ['PNM/PGM/PPM', (_, a) => /^P[1-6]\s/.test(a)],
];

/** Other things found where images should be, and what to do about them. */
const OTHER: readonly [string, Test][] = [
  [
    'it is a Git LFS pointer, not the image: fetch the files with `git lfs pull`',
    (_, a) => a.startsWith(GIT_LFS_POINTER_START),
  ],
  [
    'it is an HTML page, not an image (a failed download?)',
    (_, a) => /^\s*(<!doctype html|<html)/i.test(a),
  ],
  ['it is a PDF document, not an image', (_, a) => a.startsWith('%PDF-')],
  ['it is a ZIP archive, not an image', (_, a) => a.startsWith('PK\x03\x04')],
  ['it is a gzip archive, not an image', starts(0x1f, 0x8b)],
];
