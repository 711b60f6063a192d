import { CodecError, type DecodedFrame, type FrameShape } from './types.js';

/**
 * Sequential Huffman DCT JPEG with 12-bit samples (ISO 10918-1 process 4; DICOM's "JPEG
 * Extended" as CT and MR scanners write it), grey only. sharp and the WASM libjpeg-turbo
 * build decode 8-bit JPEG only, and no maintained npm package decodes 12-bit, so this is
 * medcap's own: Huffman decoding with restart intervals, dequantisation, a floating-point
 * inverse DCT, level shift and clamping to 0..4095.
 */
export function decodeJpeg12(frame: Uint8Array, shape: FrameShape): DecodedFrame {
  return new Jpeg12Decoder(frame).decode(shape);
}

/** Position in the zig-zag sequence → position in the 8x8 block, row by row. */
const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
  13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52,
  45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/** COS[x * 8 + u] = C(u) cos((2x + 1) u π / 16) / 2, C(0) = 1/√2. */
const COS = new Float64Array(64);
for (let x = 0; x < 8; x++)
  for (let u = 0; u < 8; u++)
    COS[x * 8 + u] =
      ((u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16)) / 2;

/** A Huffman table in the form of ISO 10918-1 F.2.2.3 (decoding by code length). */
interface HuffmanTable {
  maxCode: Int32Array;
  minCode: Int32Array;
  valuePointer: Int32Array;
  values: Uint8Array;
}

function huffmanTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  const maxCode = new Int32Array(18).fill(-1);
  const minCode = new Int32Array(17);
  const valuePointer = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    const count = counts[length - 1]!;
    valuePointer[length] = k;
    minCode[length] = code;
    code += count;
    k += count;
    if (count > 0) maxCode[length] = code - 1;
    code <<= 1;
  }
  return { maxCode, minCode, valuePointer, values };
}

class Jpeg12Decoder {
  private at = 2;
  private readonly quant: (Int32Array | undefined)[] = [];
  private readonly dc: (HuffmanTable | undefined)[] = [];
  private readonly ac: (HuffmanTable | undefined)[] = [];
  private restartInterval = 0;
  private width = 0;
  private height = 0;
  private precision = 0;
  private quantIndex = 0;
  // Entropy-coded data reader.
  private bits = 0;
  private bitCount = 0;

  constructor(private readonly data: Uint8Array) {
    if (data[0] !== 0xff || data[1] !== 0xd8)
      throw new CodecError('not a JPEG stream (no start-of-image marker)');
  }

  decode(shape: FrameShape): DecodedFrame {
    for (;;) {
      const marker = this.nextMarker();
      const length = this.u16(this.at);
      const body = this.at + 2;
      const end = this.at + length;
      if (end > this.data.length)
        throw new CodecError('JPEG segment runs past the end of the data');
      if (marker === 0xdb) this.readQuantTables(body, end);
      else if (marker === 0xc4) this.readHuffmanTables(body, end);
      else if (marker === 0xdd) this.restartInterval = this.u16(body);
      else if (marker === 0xc0 || marker === 0xc1) this.readFrame(body, shape);
      else if (
        marker >= 0xc2 &&
        marker <= 0xcf &&
        marker !== 0xc4 &&
        marker !== 0xc8 &&
        marker !== 0xcc
      )
        throw new CodecError(
          `JPEG process with frame marker FF${marker.toString(16).toUpperCase()} is not supported (sequential Huffman only)`,
        );
      else if (marker === 0xda) {
        this.at = end;
        return this.readScan(body);
      }
      this.at = end;
    }
  }

  private nextMarker(): number {
    while (this.at + 4 <= this.data.length) {
      if (this.data[this.at] === 0xff && this.data[this.at + 1] !== 0xff) {
        const marker = this.data[this.at + 1]!;
        this.at += 2;
        return marker;
      }
      this.at += 1;
    }
    throw new CodecError('JPEG stream ends before its scan (truncated)');
  }

  private u16(at: number): number {
    return (this.data[at]! << 8) | this.data[at + 1]!;
  }

  private readQuantTables(at: number, end: number): void {
    while (at < end) {
      const wide = this.data[at]! >> 4;
      const id = this.data[at]! & 15;
      at += 1;
      const table = new Int32Array(64);
      for (let k = 0; k < 64; k++) {
        table[k] = wide ? this.u16(at) : this.data[at]!;
        at += wide ? 2 : 1;
      }
      this.quant[id] = table;
    }
  }

  private readHuffmanTables(at: number, end: number): void {
    while (at < end) {
      const isAc = this.data[at]! >> 4;
      const id = this.data[at]! & 15;
      const counts = this.data.subarray(at + 1, at + 17);
      const total = counts.reduce((sum, n) => sum + n, 0);
      const values = this.data.slice(at + 17, at + 17 + total);
      (isAc ? this.ac : this.dc)[id] = huffmanTable(counts, values);
      at += 17 + total;
    }
  }

  private readFrame(at: number, shape: FrameShape): void {
    this.precision = this.data[at]!;
    this.height = this.u16(at + 1);
    this.width = this.u16(at + 3);
    const components = this.data[at + 5]!;
    if (this.precision !== 12 && this.precision !== 8)
      throw new CodecError(`JPEG precision ${this.precision} is not supported (8 or 12)`);
    if (components !== 1)
      throw new CodecError(
        `12-bit JPEG with ${components} components is not supported (grey only)`,
      );
    if (this.width !== shape.columns || this.height !== shape.rows || shape.samplesPerPixel !== 1)
      throw new CodecError(
        `the JPEG stream is ${this.width}x${this.height} with ${components} component(s), but the DICOM header says ${shape.columns}x${shape.rows} with ${shape.samplesPerPixel}`,
      );
    this.quantIndex = this.data[at + 8]!;
  }

  private readScan(at: number): DecodedFrame {
    if (this.width === 0) throw new CodecError('JPEG scan before its frame header');
    const tables = this.data[at + 2]!;
    const dc = this.dc[tables >> 4];
    const ac = this.ac[tables & 15];
    const quant = this.quant[this.quantIndex];
    if (!dc || !ac || !quant)
      throw new CodecError('JPEG scan uses a table the stream does not define');
    const { width, height } = this;
    const blocksPerLine = Math.ceil(width / 8);
    const blockRows = Math.ceil(height / 8);
    const samples = new Uint16Array(width * height);
    const shift = 1 << (this.precision - 1);
    const max = (1 << this.precision) - 1;
    const coefficients = new Float64Array(64);
    const rows = new Float64Array(64);
    let predictor = 0;
    let untilRestart = this.restartInterval;
    for (let blockRow = 0; blockRow < blockRows; blockRow++) {
      for (let blockCol = 0; blockCol < blocksPerLine; blockCol++) {
        if (this.restartInterval > 0) {
          if (untilRestart === 0) {
            this.restart();
            predictor = 0;
            untilRestart = this.restartInterval;
          }
          untilRestart -= 1;
        }
        coefficients.fill(0);
        const dcSize = this.decodeHuffman(dc);
        predictor += dcSize === 0 ? 0 : this.receiveExtend(dcSize);
        coefficients[0] = predictor * quant[0]!;
        for (let k = 1; k < 64; ) {
          const rs = this.decodeHuffman(ac);
          const run = rs >> 4;
          const size = rs & 15;
          if (size === 0) {
            if (run !== 15) break;
            k += 16;
            continue;
          }
          k += run;
          if (k > 63)
            throw new CodecError('JPEG block has more than 64 coefficients (corrupt data)');
          coefficients[ZIGZAG[k]!] = this.receiveExtend(size) * quant[k]!;
          k += 1;
        }
        // Inverse DCT, rows then columns.
        for (let v = 0; v < 8; v++)
          for (let x = 0; x < 8; x++) {
            let sum = 0;
            for (let u = 0; u < 8; u++) sum += COS[x * 8 + u]! * coefficients[v * 8 + u]!;
            rows[v * 8 + x] = sum;
          }
        for (let y = 0; y < 8; y++) {
          const row = blockRow * 8 + y;
          if (row >= height) break;
          for (let x = 0; x < 8; x++) {
            const column = blockCol * 8 + x;
            if (column >= width) break;
            let sum = 0;
            for (let v = 0; v < 8; v++) sum += COS[y * 8 + v]! * rows[v * 8 + x]!;
            const value = Math.round(sum) + shift;
            samples[row * width + column] = Math.max(0, Math.min(value, max));
          }
        }
      }
    }
    return { width, height, components: 1, samples };
  }

  /** The next bit of entropy-coded data (a byte 0xFF is followed by a stuffed 0x00). */
  private bit(): number {
    if (this.bitCount === 0) {
      if (this.at >= this.data.length)
        throw new CodecError('JPEG data ends inside a scan (truncated)');
      const byte = this.data[this.at]!;
      if (byte === 0xff) {
        const next = this.data[this.at + 1];
        if (next !== 0)
          throw new CodecError('JPEG data ends inside a block (truncated or corrupt)');
        this.at += 2;
      } else this.at += 1;
      this.bits = byte;
      this.bitCount = 8;
    }
    this.bitCount -= 1;
    return (this.bits >> this.bitCount) & 1;
  }

  private decodeHuffman(table: HuffmanTable): number {
    let code = this.bit();
    let length = 1;
    while (code > table.maxCode[length]!) {
      code = (code << 1) | this.bit();
      length += 1;
      if (length > 16) throw new CodecError('bad Huffman code in the JPEG data (corrupt)');
    }
    return table.values[table.valuePointer[length]! + code - table.minCode[length]!]!;
  }

  /** `size` more bits as a signed value (ISO 10918-1 F.2.2.1, RECEIVE and EXTEND). */
  private receiveExtend(size: number): number {
    let value = 0;
    for (let i = 0; i < size; i++) value = (value << 1) | this.bit();
    return value < 1 << (size - 1) ? value - (1 << size) + 1 : value;
  }

  /** Skips to the restart marker, dropping the padding bits of the interval before. */
  private restart(): void {
    this.bitCount = 0;
    while (this.at + 1 < this.data.length) {
      if (
        this.data[this.at] === 0xff &&
        this.data[this.at + 1]! >= 0xd0 &&
        this.data[this.at + 1]! <= 0xd7
      ) {
        this.at += 2;
        return;
      }
      this.at += 1;
    }
    throw new CodecError('JPEG restart marker missing (truncated)');
  }
}
