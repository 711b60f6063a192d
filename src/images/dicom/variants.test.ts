/**
 * DICOM files as they come out of real archives rather than as the standard draws them:
 * headers older or careless writers leave, nested sequences, stray bytes, objects that are not
 * images. Each file is built byte by byte (test/fixtures/dicom/write.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  DEFLATED,
  type DicomSpec,
  dicomFile,
  EXPLICIT_BE,
  EXPLICIT_LE,
  type ExtraElement,
  IMPLICIT_LE,
} from '../../../test/fixtures/dicom/write.js';
import { imageFailure } from '../../../test/support/image-failure.js';
import { type FrameChoice, renderDicom } from './decode.js';

/** CT values -1000..1000 HU (12 of 16 bits, intercept -1024) in a 40/400 window. */
const ct = (extra: Partial<DicomSpec> = {}): DicomSpec => ({
  rows: 2,
  columns: 4,
  bitsAllocated: 16,
  bitsStored: 12,
  rescaleIntercept: -1024,
  rescaleSlope: 1,
  windowCenter: [40],
  windowWidth: [400],
  values: [-1000, -160, -100, 0, 40, 100, 239, 1000].map((hu) => hu + 1024),
  ...extra,
});
const CT_PIXELS = [0, 0, 38, 102, 128, 166, 255, 255];

const pixels = async (bytes: Uint8Array) => [...(await renderDicom(bytes, 'x.dcm')).pixels];

/** Referenced Image Sequence with nested undefined-length sequences and items. */
const NESTED: ExtraElement[] = [
  {
    tag: [0x0008, 0x1140],
    vr: 'SQ',
    value: [
      [
        { tag: [0x0008, 0x1150], vr: 'UI', value: '1.2.3' },
        {
          tag: [0x0040, 0x0260],
          vr: 'SQ',
          value: [[{ tag: [0x0008, 0x0100], vr: 'SH', value: 'ABC' }], []],
        },
      ],
    ],
  },
  // An icon image with its own (nested) Pixel Data, which must not be taken for the image.
  {
    tag: [0x0088, 0x0200],
    vr: 'SQ',
    value: [
      [
        { tag: [0x0028, 0x0010], vr: 'US', value: [1] },
        { tag: [0x0028, 0x0011], vr: 'US', value: [2] },
        { tag: [0x0028, 0x0100], vr: 'US', value: [8] },
        { tag: [0x7fe0, 0x0010], vr: 'OB', value: Buffer.from([9, 9]) },
      ],
    ],
  },
  // Odd-length value (no padding), as some writers leave them.
  { tag: [0x0018, 0x0015], vr: 'CS', value: Buffer.from('ABD', 'latin1') },
];

describe('dicom variants: file layouts', () => {
  it('reads a file without preamble, one without meta group, and one whose meta group has no transfer syntax', async () => {
    for (const layout of ['no-preamble', 'bare', 'no-syntax'] as const)
      for (const transferSyntax of [EXPLICIT_LE, IMPLICIT_LE])
        expect(await pixels(dicomFile(ct({ layout, transferSyntax }))), layout).toEqual(CT_PIXELS);
  });

  it('reads undefined-length sequences and items before Pixel Data in every syntax', async () => {
    for (const transferSyntax of [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED])
      expect(
        await pixels(dicomFile(ct({ transferSyntax, extra: NESTED }))),
        transferSyntax,
      ).toEqual(CT_PIXELS);
  });

  it('ignores stray bytes after a complete Pixel Data element', async () => {
    for (const tail of [[1], [1, 2, 3], new Array(1024).fill(0)])
      expect(await pixels(Buffer.concat([dicomFile(ct()), Buffer.from(tail)]))).toEqual(CT_PIXELS);
  });

  it('reads 8-bit samples from big endian OW words (swapped pair by pair)', async () => {
    const spec: DicomSpec = { rows: 1, columns: 3, bitsAllocated: 8, values: [0, 85, 255] };
    for (const pixelVr of ['OB', 'OW'] as const)
      expect(await pixels(dicomFile({ ...spec, transferSyntax: EXPLICIT_BE, pixelVr }))).toEqual([
        0, 85, 255,
      ]);
  });
});

describe('dicom variants: errors name the file and the problem', () => {
  it('says where a file is truncated', async () => {
    const whole = dicomFile(ct({ extra: NESTED }));
    expect(await imageFailure(renderDicom(whole.subarray(0, 150), 'a.dcm'))).toMatch(
      /^a\.dcm: cannot parse DICOM \(the file ends inside its meta header\)/,
    );
    expect(await imageFailure(renderDicom(whole.subarray(0, whole.length - 3), 'b.dcm'))).toBe(
      'b.dcm: pixel data has 13 bytes but frame 1 of 1 (4x2, 1 x 16-bit) needs 16; the file is truncated',
    );
    const inSequence = whole.indexOf(Buffer.from('ABC', 'latin1'));
    expect(await imageFailure(renderDicom(whole.subarray(0, inSequence), 'c.dcm'))).toMatch(
      /^c\.dcm: cannot parse DICOM .*; the file is truncated or corrupt$/,
    );
  });

  it('says what a file without Pixel Data is', async () => {
    const object = (sopClass: string, modality: string) =>
      dicomFile({ rows: 1, columns: 1, sopClass, modality, noPixelData: true, extra: NESTED });
    expect(
      await imageFailure(renderDicom(object('1.2.840.10008.5.1.4.1.1.88.11', 'SR'), 'sr.dcm')),
    ).toBe(
      'sr.dcm: no Pixel Data (7FE0,0010) element, so no image to caption; the file is a Structured Report ' +
        'or Key Object Selection (Modality SR, SOP Class 1.2.840.10008.5.1.4.1.1.88.11)',
    );
    expect(
      await imageFailure(renderDicom(object('1.2.840.10008.5.1.4.1.1.11.1', 'PR'), 'pr')),
    ).toMatch(/^pr: no Pixel Data .*; the file is a Presentation State \(Modality PR/);
    expect(await imageFailure(renderDicom(object('1.2.840.10008.1.3.10', ''), 'DICOMDIR'))).toMatch(
      /^DICOMDIR: no Pixel Data .*; the file is a DICOMDIR/,
    );
  });
});

describe('dicom variants: colour', () => {
  /** Red, green and blue tables of three entries from stored value 100: red, green, blue. */
  const palette = (bits: 8 | 16, oneBytePerEntry = false): ExtraElement[] => {
    const table = (entries: number[]) => {
      if (oneBytePerEntry) return Buffer.from(entries);
      const words = Buffer.alloc(2 * entries.length);
      for (const [i, v] of entries.entries()) words.writeUInt16LE(bits === 16 ? v * 257 : v, 2 * i);
      return words;
    };
    return [
      { tag: [0x0028, 0x1101], vr: 'US', value: [3, 100, bits] },
      { tag: [0x0028, 0x1102], vr: 'US', value: [3, 100, bits] },
      { tag: [0x0028, 0x1103], vr: 'US', value: [3, 100, bits] },
      { tag: [0x0028, 0x1201], vr: 'OW', value: table([255, 0, 0]) },
      { tag: [0x0028, 0x1202], vr: 'OW', value: table([0, 255, 0]) },
      { tag: [0x0028, 0x1203], vr: 'OW', value: table([0, 0, 255]) },
    ];
  };

  it('maps PALETTE COLOR through its tables (8- and 16-bit entries), clamping values outside them', async () => {
    const spec = (extra: ExtraElement[]): DicomSpec => ({
      rows: 1,
      columns: 5,
      bitsAllocated: 8,
      photometric: 'PALETTE COLOR',
      values: [99, 100, 101, 102, 103],
      extra,
    });
    const expected = [255, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255];
    for (const extra of [palette(16), palette(8), palette(8, true)]) {
      const image = await renderDicom(dicomFile(spec(extra)), 'x.dcm');
      expect([image.channels, ...image.pixels]).toEqual([3, ...expected]);
    }
    const segmented = await imageFailure(
      renderDicom(
        dicomFile({
          ...spec([{ tag: [0x0028, 0x1221], vr: 'OW', value: Buffer.alloc(6) }]),
        }),
        'seg.dcm',
      ),
    );
    expect(segmented).toBe('seg.dcm: PALETTE COLOR with segmented lookup tables is not supported');
  });

  it('reads uncompressed YBR_FULL_422 (Y1 Y2 Cb Cr per pair of pixels)', async () => {
    // Pair 1: grey 100 and 200, no colour; pair 2: Y 128 twice, sharing Cb 128 and Cr 255.
    const image = await renderDicom(
      dicomFile({
        rows: 1,
        columns: 4,
        bitsAllocated: 8,
        samplesPerPixel: 3,
        photometric: 'YBR_FULL_422',
        values: [100, 200, 128, 128, 128, 128, 128, 255],
      }),
      'x.dcm',
    );
    // Y 128, Cb 128, Cr 255: R = 128 + 1.402 * 127 = 306 → 255, G = 128 - 0.714136 * 127 = 37.3.
    expect([...image.pixels]).toEqual([100, 100, 100, 200, 200, 200, 255, 37, 128, 255, 37, 128]);
  });
});

describe('dicom variants: display values', () => {
  /** A VOI LUT Sequence of one item: 4 entries of 10 bits from stored value 10 on. */
  const voiLut: ExtraElement = {
    tag: [0x0028, 0x3010],
    vr: 'SQ',
    value: [
      [
        { tag: [0x0028, 0x3002], vr: 'US', value: [4, 10, 10] },
        { tag: [0x0028, 0x3006], vr: 'OW', value: [1023, 800, 400, 0] },
      ],
    ],
  };
  const lutImage = (extra: Partial<DicomSpec> = {}) =>
    dicomFile({
      rows: 1,
      columns: 6,
      bitsStored: 12,
      values: [5, 10, 11, 12, 13, 20],
      extra: [voiLut],
      ...extra,
    });

  it('uses the VOI LUT Sequence where the file has no window; a window or --window comes first', async () => {
    // 800 and 400 of 1023 → 199.4 and 99.7.
    expect(await pixels(lutImage())).toEqual([255, 255, 199, 100, 0, 0]);
    expect(await pixels(lutImage({ photometric: 'MONOCHROME1' }))).toEqual([
      0, 0, 56, 155, 255, 255,
    ]);
    const windowed = lutImage({ windowCenter: [12.5], windowWidth: [16] });
    // LINEAR c=12.5 w=16: ((x - 12) / 15 + 0.5) * 255 for 5..20 → 8.4999, 93.5, 110.5, 127.5,
    // 144.5, 255 (halves round up).
    expect(await pixels(windowed)).toEqual([8, 94, 111, 128, 145, 255]);
    const image = await renderDicom(lutImage(), 'x.dcm', { window: [12.5, 16] });
    expect([...image.pixels]).toEqual([8, 94, 111, 128, 145, 255]);
  });

  it('leaves Pixel Padding Value (and its range) out of the min/max window', async () => {
    const padded = (padding: ExtraElement[], values: number[], signed = false) =>
      pixels(
        dicomFile({
          rows: 1,
          columns: 4,
          pixelRepresentation: signed ? 1 : 0,
          values,
          extra: padding,
        }),
      );
    const value = (v: number, vr = 'US'): ExtraElement => ({
      tag: [0x0028, 0x0120],
      vr,
      value: [v],
    });
    expect(await padded([value(0)], [0, 100, 150, 200])).toEqual([0, 0, 128, 255]);
    expect(await padded([value(-2000 & 0xffff, 'SS')], [-2000 & 0xffff, 0, 50, 100], true)).toEqual(
      [0, 0, 128, 255],
    );
    // Pixel Padding Range Limit: 0..10 is padding, 5 included.
    const range: ExtraElement = { tag: [0x0028, 0x0121], vr: 'US', value: [10] };
    expect(await padded([value(0), range], [5, 100, 150, 200])).toEqual([0, 0, 128, 255]);
    // A frame of padding only renders black instead of failing.
    expect(await padded([value(7)], [7, 7, 7, 7])).toEqual([0, 0, 0, 0]);
  });
});

describe('dicom variants: encapsulated frames', () => {
  const RLE = '1.2.840.10008.1.2.5';
  /** One 2x2 8-bit RLE frame: the 64-byte header, then a literal run of the 4 bytes. */
  const rleFrame = (values: number[]) => {
    const header = Buffer.alloc(64);
    header.writeUInt32LE(1, 0);
    header.writeUInt32LE(64, 4);
    return Buffer.concat([header, Buffer.from([values.length - 1, ...values])]);
  };
  const frames = [
    [1, 2, 3, 4],
    [10, 20, 30, 40],
    [5, 5, 5, 5],
  ].map(rleFrame);
  // Each frame in two fragments (the header, then the run: 6 bytes with the pad byte).
  const fragments = frames.flatMap((f) => [f.subarray(0, 64), f.subarray(64)]);
  const rle = (extra: ExtraElement[] = []) =>
    dicomFile({
      rows: 2,
      columns: 2,
      bitsAllocated: 8,
      frames: 3,
      transferSyntax: RLE,
      fragments,
      extra,
    });

  it('finds frames of several fragments by the Extended Offset Table', async () => {
    // Offsets of each frame's first item from the first fragment: items of 8 + 64 and 8 + 6 bytes.
    const offsets = Buffer.alloc(24);
    for (let i = 0; i < 3; i++) offsets.writeBigUInt64LE(BigInt(i * (72 + 14)), 8 * i);
    const image = await renderDicom(
      rle([{ tag: [0x7fe0, 0x0001], vr: 'OV', value: offsets }]),
      'x.dcm',
    );
    expect([image.frame, image.frames, ...image.pixels]).toEqual([1, 3, 0, 85, 170, 255]);
  });

  it('says why a frame cannot be found', async () => {
    expect(await imageFailure(renderDicom(rle(), 'x.dcm'))).toBe(
      'x.dcm: cannot find RLE frame 2 of 3 in the pixel data (6 fragments for 3 frames and no offset ' +
        'table; their end-of-image markers end 1 frame(s))',
    );
    const short = dicomFile({
      rows: 2,
      columns: 2,
      bitsAllocated: 8,
      frames: 5,
      transferSyntax: RLE,
      fragments: frames,
    });
    expect(await imageFailure(renderDicom(short, 'y.dcm'))).toMatch(
      /^y\.dcm: cannot find RLE frame 3 of 5 .*\(3 fragment\(s\) for 5 frames and no offset table; Number of Frames says more than the pixel data holds\)/,
    );
  });

  it('renders the frame --frame names: a number from 1, first, middle (default) or last', async () => {
    const spec: DicomSpec = {
      rows: 1,
      columns: 3,
      bitsAllocated: 8,
      frames: 4,
      values: [0, 50, 100, 100, 0, 50, 50, 100, 0, 0, 100, 0],
    };
    const bytes = dicomFile(spec);
    const render = async (frame?: FrameChoice) => {
      const image = await renderDicom(bytes, 'x.dcm', frame === undefined ? {} : { frame });
      return [image.frame, ...image.pixels];
    };
    expect(await render()).toEqual([2, 128, 255, 0]);
    expect(await render('middle')).toEqual([2, 128, 255, 0]);
    expect(await render('first')).toEqual([0, 0, 128, 255]);
    expect(await render(1)).toEqual([0, 0, 128, 255]);
    expect(await render(2)).toEqual([1, 255, 0, 128]);
    expect(await render('last')).toEqual([3, 0, 255, 0]);
    expect(await imageFailure(renderDicom(bytes, 'x.dcm', { frame: 5 }))).toBe(
      'x.dcm: --frame 5, but the image has 4 frames',
    );
  });

  it('reads uncompressed pixel data under a compressed transfer syntax UID', async () => {
    const spec: DicomSpec = { rows: 1, columns: 3, bitsAllocated: 8, values: [0, 85, 255] };
    for (const transferSyntax of [RLE, '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.90'])
      expect(await pixels(dicomFile({ ...spec, transferSyntax }))).toEqual([0, 85, 255]);
  });
});
