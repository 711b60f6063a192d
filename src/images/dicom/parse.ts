import { createRequire } from 'node:module';
import type { DataSet } from 'dicom-parser';
import { ImageError } from '../../core/errors.js';
import { IMPLICIT_VR_LITTLE_ENDIAN } from './transfer-syntax.js';

// dicom-parser is a UMD bundle: Node's ESM loader sees only its default export.
export const dicomParser = createRequire(import.meta.url)(
  'dicom-parser',
) as typeof import('dicom-parser');

const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** VRs whose explicit length field is 4 bytes after 2 reserved ones (PS3.5 7.1.2). */
const LONG_VRS = new Set([
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'SQ',
  'SV',
  'UC',
  'UN',
  'UR',
  'UT',
  'UV',
]);
const SHORT_VRS = new Set(
  'AE AS AT CS DA DS DT FD FL IS LO LT PN SH SL SS ST TM UI UL US'.split(' '),
);

/**
 * Parses a DICOM file: a Part 10 file, and the shapes older or careless writers leave: the
 * file meta group without the 128-byte preamble and `DICM`, a meta group without a
 * Transfer Syntax UID, a bare data set (ACR-NEMA style, implicit or explicit VR), and bytes
 * after a complete Pixel Data element.
 */
export function parseDataSet(bytes: Uint8Array, path: string): DataSet {
  // dicom-parser inflates deflated files with Buffer methods.
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length >= 132 && buffer.toString('latin1', 128, 132) === 'DICM')
    return parsePart10(buffer, path);
  if (buffer.length >= 8 && buffer.readUInt16LE(0) === 0x0002) {
    const preamble = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1')]);
    return parsePart10(Buffer.concat([preamble, buffer]), path);
  }
  try {
    const dataSet = parseLeniently(buffer, { TransferSyntaxUID: guessSyntax(buffer, 0) });
    if (dataSet.elements.x7fe00010 && dataSet.elements.x00280010) return dataSet;
  } catch {
    // not a bare data set either: the error below
  }
  throw new ImageError(
    `${path}: not a DICOM file (no 'DICM' marker at byte 128, and not a bare DICOM data set)`,
    { code: 'DICOM_INVALID' },
  );
}

function parsePart10(buffer: Buffer, path: string): DataSet {
  try {
    const meta = metaGroup(buffer);
    if (meta.end >= buffer.length) throw new Error('the file ends inside its meta header');
    if (meta.hasSyntax) return parseLeniently(buffer);
    // Some writers leave the Transfer Syntax UID out of the meta group: read the data set
    // after it as its first element's shape says.
    const dataSet = buffer.subarray(meta.end);
    return parseLeniently(dataSet, { TransferSyntaxUID: guessSyntax(dataSet, 0) });
  } catch (error) {
    throw new ImageError(
      `${path}: cannot parse DICOM (${thrownMessage(error)}); the file is truncated or corrupt`,
      { code: 'DICOM_INVALID', cause: error },
    );
  }
}

/**
 * dicom-parser, except that an error after the Pixel Data element (stray bytes at the end of
 * the file) keeps what was read: Pixel Data comes last, and a short one is caught where its
 * frame is read, with the number of bytes missing.
 */
function parseLeniently(buffer: Buffer, options?: { TransferSyntaxUID: string }): DataSet {
  try {
    return dicomParser.parseDicom(withOffsetTablesAsOb(buffer), options);
  } catch (error) {
    const partial = (error as { dataSet?: DataSet } | null)?.dataSet;
    if (!partial?.elements?.x7fe00010) throw error;
    // dicom-parser adds the meta group (the transfer syntax) only to a complete data set.
    if (!options) Object.assign(partial.elements, dicomParser.readPart10Header(buffer).elements);
    return partial;
  }
}

/** (7FE0,0001) and (7FE0,0002) with VR OV, as explicit VR little endian writes them. */
const EXTENDED_OFFSET_TABLES = [0x01, 0x02].map((element) =>
  Buffer.from([0xe0, 0x7f, element, 0x00, 0x4f, 0x56]),
);

/**
 * dicom-parser reads the length of an OV element (VR of 2019) as 2 bytes instead of 4, and
 * loses its way in the Extended Offset Table that recent writers put before encapsulated
 * pixel data; OB has the same layout, so a copy with OB there parses (the table is still read
 * as 64-bit offsets). A match counts only where its 4-byte length ends on the next element of
 * group 7FE0 (the table's lengths, or Pixel Data), so the same bytes inside other data are
 * never changed.
 */
function withOffsetTablesAsOb(buffer: Buffer): Buffer {
  let copy: Buffer | undefined;
  let from = 0;
  for (const pattern of EXTENDED_OFFSET_TABLES) {
    const at = buffer.indexOf(pattern, from);
    if (at < 0 || at + 12 > buffer.length) continue;
    const next = at + 12 + buffer.readUInt32LE(at + 8);
    const nextIsPixelGroup =
      next + 4 <= buffer.length &&
      buffer.readUInt16LE(next) === 0x7fe0 &&
      [0x0002, 0x0010].includes(buffer.readUInt16LE(next + 2));
    if (!nextIsPixelGroup) continue;
    copy ??= Buffer.from(buffer);
    copy[at + 5] = 0x42;
    from = next;
  }
  return copy ?? buffer;
}

/** Where the file meta group (group 0002, explicit VR little endian) after `DICM` ends. */
function metaGroup(buffer: Buffer): { end: number; hasSyntax: boolean } {
  let at = 132;
  let hasSyntax = false;
  while (at < buffer.length) {
    if (at + 12 > buffer.length) return { end: buffer.length, hasSyntax };
    if (buffer.readUInt16LE(at) !== 0x0002) break;
    const vr = buffer.toString('latin1', at + 4, at + 6);
    if (buffer.readUInt16LE(at + 2) === 0x0010) hasSyntax = true;
    at += LONG_VRS.has(vr) ? 12 + buffer.readUInt32LE(at + 8) : 8 + buffer.readUInt16LE(at + 6);
  }
  return { end: Math.min(at, buffer.length), hasSyntax };
}

/** Explicit VR little endian when the first element carries a VR, else implicit VR. */
function guessSyntax(buffer: Buffer, at: number): string {
  if (at + 6 > buffer.length) return IMPLICIT_VR_LITTLE_ENDIAN;
  const vr = buffer.toString('latin1', at + 4, at + 6);
  return LONG_VRS.has(vr) || SHORT_VRS.has(vr)
    ? EXPLICIT_VR_LITTLE_ENDIAN
    : IMPLICIT_VR_LITTLE_ENDIAN;
}

/** dicom-parser throws Errors, strings, and `{exception, dataSet}` objects. */
export function thrownMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  if (error !== null && typeof error === 'object' && 'exception' in error)
    return thrownMessage((error as { exception: unknown }).exception);
  return String(error);
}
