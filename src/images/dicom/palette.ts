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

/**
 * Reads the red, green and blue tables of a PALETTE COLOR image. A descriptor holds the
 * number of entries (0 means 65,536), the first stored value mapped and the bits per entry;
 * 8-bit entries come one per byte or one per 16-bit word, as writers differ.
 */
export function readPalette(dataSet: DataSet, signed: boolean, path: string): Palette {
  const tables: Partial<Record<'red' | 'green' | 'blue', Uint8Array>> = {};
  let firstMapped = 0;
  for (const [name, descriptorTag, dataTag] of CHANNELS) {
    const count = dataSet.uint16(descriptorTag, 0);
    const first = signed ? dataSet.int16(descriptorTag, 1) : dataSet.uint16(descriptorTag, 1);
    const bits = dataSet.uint16(descriptorTag, 2);
    const data = dataSet.elements[dataTag];
    if (count === undefined || first === undefined || bits === undefined || !data) {
      const segmented = dataSet.elements[`x0028122${descriptorTag.slice(-1)}`];
      throw new ImageError(
        segmented
          ? `${path}: PALETTE COLOR with segmented lookup tables is not supported`
          : `${path}: PALETTE COLOR without its ${name} lookup table (descriptor ${descriptorTag.slice(1)}, data ${dataTag.slice(1)})`,
        { code: 'DICOM_UNSUPPORTED' },
      );
    }
    const entries = count === 0 ? 65536 : count;
    const bytes = dataSet.byteArray.subarray(data.dataOffset, data.dataOffset + data.length);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const wide = bytes.length >= 2 * entries;
    if (!wide && bytes.length < entries)
      throw new ImageError(
        `${path}: the ${name} palette has ${bytes.length} bytes for ${entries} entries`,
        { code: 'DICOM_INVALID' },
      );
    const little = isLittleEndian(dataSet);
    const table = new Uint8Array(entries);
    for (let i = 0; i < entries; i++) {
      const entry = wide ? view.getUint16(2 * i, little) : bytes[i]!;
      // 16-bit entries keep their high byte; 8-bit entries in words sit in the low byte.
      table[i] = bits > 8 ? entry >> 8 : entry & 0xff;
    }
    tables[name] = table;
    if (name === 'red') firstMapped = first;
  }
  return { firstMapped, red: tables.red!, green: tables.green!, blue: tables.blue! };
}

function isLittleEndian(dataSet: DataSet): boolean {
  return (dataSet.string('x00020010') ?? '').trim() !== '1.2.840.10008.1.2.2';
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
