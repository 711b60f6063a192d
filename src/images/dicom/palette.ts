import type { DataSet } from 'dicom-parser';
import { ImageError } from '../../core/errors.js';

/** The Palette Color Lookup Tables of PS3.3 C.7.6.3.1.5-6, as 8-bit red, green, blue. */
export interface Palette {
  firstMapped: number;
  red: Uint8Array;
  green: Uint8Array;
  blue: Uint8Array;
}

const CHANNELS = [
  ['red', 'x00281101', 'x00281201'],
  ['green', 'x00281102', 'x00281202'],
  ['blue', 'x00281103', 'x00281203'],
] as const;

/** A lookup table's entries as its descriptor says: first mapped value, bits, 16-bit words. */
export interface LutWords {
  firstMapped: number;
  bits: number;
  words: Uint16Array;
}

/**
 * Reads a lookup table (a palette's or a VOI LUT): the descriptor holds the number of
 * entries (0 means 65,536), the first stored value mapped and the bits per entry; 8-bit
 * entries come one per byte or one per 16-bit word, as writers differ. Words are read in the
 * data set's own byte order. 'missing' when the descriptor or data is absent, 'short' when
 * the data holds fewer bytes than entries.
 */
export function readLut(
  dataSet: DataSet,
  descriptorTag: string,
  dataTag: string,
  signedFirst: boolean,
): LutWords | 'missing' | 'short' {
  const count = dataSet.uint16(descriptorTag, 0);
  const first = signedFirst ? dataSet.int16(descriptorTag, 1) : dataSet.uint16(descriptorTag, 1);
  const bits = dataSet.uint16(descriptorTag, 2);
  const data = dataSet.elements[dataTag];
  if (count === undefined || first === undefined || bits === undefined || !data) return 'missing';
  const words = new Uint16Array(count === 0 ? 65536 : count);
  const wide = data.length >= 2 * words.length;
  if (!wide && data.length < words.length) return 'short';
  for (let i = 0; i < words.length; i++)
    words[i] = wide ? dataSet.uint16(dataTag, i)! : dataSet.byteArray[data.dataOffset + i]!;
  return { firstMapped: first, bits, words };
}

/** Reads the red, green and blue tables of a PALETTE COLOR image (see readLut). */
export function readPalette(dataSet: DataSet, signed: boolean, path: string): Palette {
  const tables: Partial<Record<'red' | 'green' | 'blue', Uint8Array>> = {};
  let firstMapped = 0;
  for (const [name, descriptorTag, dataTag] of CHANNELS) {
    const lut = readLut(dataSet, descriptorTag, dataTag, signed);
    if (lut === 'missing') {
      const segmented = dataSet.elements[`x0028122${descriptorTag.slice(-1)}`];
      throw new ImageError(
        segmented
          ? `${path}: PALETTE COLOR with segmented lookup tables is not supported`
          : `${path}: PALETTE COLOR without its ${name} lookup table (descriptor ${descriptorTag.slice(1)}, data ${dataTag.slice(1)})`,
        { code: 'DICOM_UNSUPPORTED' },
      );
    }
    if (lut === 'short') {
      const count = dataSet.uint16(descriptorTag, 0)!;
      throw new ImageError(
        `${path}: the ${name} palette has ${dataSet.elements[dataTag]!.length} bytes for ${count === 0 ? 65536 : count} entries`,
        { code: 'DICOM_INVALID' },
      );
    }
    // 16-bit entries keep their high byte; 8-bit entries in words sit in the low byte.
    tables[name] = Uint8Array.from(lut.words, (entry) =>
      lut.bits > 8 ? entry >> 8 : entry & 0xff,
    );
    if (name === 'red') firstMapped = lut.firstMapped;
  }
  return { firstMapped, red: tables.red!, green: tables.green!, blue: tables.blue! };
}

/** RGB pixels of a palette image: each stored value through the tables (clamped to them). */
export function paletteColours(
  count: number,
  stored: (i: number) => number,
  palette: Palette,
): Uint8Array {
  const tables = [palette.red, palette.green, palette.blue];
  const pixels = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    const index = Math.max(0, stored(i) - palette.firstMapped);
    for (let c = 0; c < 3; c++) {
      const table = tables[c]!;
      pixels[3 * i + c] = table[Math.min(table.length - 1, index)]!;
    }
  }
  return pixels;
}
