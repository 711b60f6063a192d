/**
 * Enhanced multi-frame images (Enhanced CT/MR/XA, PS3.3 C.7.6.16) keep the rescale and the
 * window in functional groups, per frame or shared, instead of at the top level. Each file is
 * built byte by byte: sequences of undefined length by test/fixtures/dicom/write.ts, sequences
 * and items of defined length by `definedLength` below.
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
import { renderDicom } from './decode.js';

const ENHANCED_CT = '1.2.840.10008.5.1.4.1.1.2.1';

/** CT values -1000..1000 HU; through intercept -1024 and a 40/400 window, CT_PIXELS. */
const HU = [-1000, -160, -100, 0, 40, 100, 239, 1000];
const CT_PIXELS = [0, 0, 38, 102, 128, 166, 255, 255];

type Group = ExtraElement[];

/** A Pixel Value Transformation Sequence (0028,9145) item: intercept, slope, rescale type. */
const rescale = (intercept: number, slope = 1): Group => [
  {
    tag: [0x0028, 0x9145],
    vr: 'SQ',
    value: [
      [
        { tag: [0x0028, 0x1052], vr: 'DS', value: String(intercept) },
        { tag: [0x0028, 0x1053], vr: 'DS', value: String(slope) },
        { tag: [0x0028, 0x1054], vr: 'LO', value: 'HU' },
      ],
    ],
  },
];

/** A Frame VOI LUT Sequence (0028,9132) item: window centre and width (and function). */
const voi = (center: number | string, width: number | string, fn?: string): Group => [
  {
    tag: [0x0028, 0x9132],
    vr: 'SQ',
    value: [
      [
        { tag: [0x0028, 0x1050], vr: 'DS', value: String(center) },
        { tag: [0x0028, 0x1051], vr: 'DS', value: String(width) },
        ...(fn ? [{ tag: [0x0028, 0x1056], vr: 'CS', value: fn } as ExtraElement] : []),
      ],
    ],
  },
];

const shared = (group: Group): ExtraElement => ({
  tag: [0x5200, 0x9229],
  vr: 'SQ',
  value: [group],
});
const perFrame = (groups: Group[]): ExtraElement => ({
  tag: [0x5200, 0x9230],
  vr: 'SQ',
  value: groups,
});

/**
 * Elements with every sequence and item of defined length (as many writers do), in the
 * given encoding: a sequence becomes an SQ element whose value is its encoded items.
 */
function definedLength(elements: ExtraElement[], explicit: boolean, little: boolean): Group {
  return elements.map((element) => {
    if (element.vr !== 'SQ' || !Array.isArray(element.value)) return element;
    const items = (element.value as ExtraElement[][]).map((item) => {
      const body = Buffer.concat(
        definedLength(item, explicit, little).map((e) => encode(e, explicit, little)),
      );
      const head = Buffer.alloc(8);
      u16(head, 0xfffe, 0, little);
      u16(head, 0xe000, 2, little);
      u32(head, body.length, 4, little);
      return Buffer.concat([head, body]);
    });
    return { ...element, value: Buffer.concat(items) };
  });
}

/** One element (text, raw bytes or US words) in explicit or implicit VR. */
function encode(element: ExtraElement, explicit: boolean, little: boolean): Buffer {
  const { tag, vr, value } = element;
  let body: Buffer;
  if (typeof value === 'string') body = Buffer.from(value, 'latin1');
  else if (Buffer.isBuffer(value)) body = value;
  else {
    const words = value as number[];
    body = Buffer.alloc(2 * words.length);
    for (const [i, word] of words.entries()) u16(body, word, 2 * i, little);
  }
  if (body.length % 2) body = Buffer.concat([body, Buffer.from([0x20])]);
  const long = vr === 'SQ' || vr === 'OB' || vr === 'OW';
  const head = Buffer.alloc(explicit && long ? 12 : 8);
  u16(head, tag[0], 0, little);
  u16(head, tag[1], 2, little);
  if (!explicit) u32(head, body.length, 4, little);
  else {
    head.write(vr, 4, 'latin1');
    if (long) u32(head, body.length, 8, little);
    else u16(head, body.length, 6, little);
  }
  return Buffer.concat([head, body]);
}

const u16 = (b: Buffer, v: number, at: number, little: boolean) =>
  little ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at);
const u32 = (b: Buffer, v: number, at: number, little: boolean) =>
  little ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at);

/** A 2x4 16-bit (12 stored) Enhanced CT of `frames` frames, each with stored `HU + 1024`. */
const enhanced = (extra: ExtraElement[], spec: Partial<DicomSpec> = {}): DicomSpec => {
  const frames = spec.frames ?? 3;
  const frame = HU.map((hu) => hu + 1024);
  return {
    rows: 2,
    columns: 4,
    bitsAllocated: 16,
    bitsStored: 12,
    sopClass: ENHANCED_CT,
    frames,
    values: Array.from({ length: frames }, () => frame).flat(),
    extra,
    ...spec,
  };
};

const pixels = async (bytes: Uint8Array, window?: [number, number]) => [
  ...(await renderDicom(bytes, 'x.dcm', { window })).pixels,
];

/** The file in each syntax, with sequences of undefined and of defined length. */
function layouts(spec: DicomSpec): [string, Buffer][] {
  const files: [string, Buffer][] = [];
  for (const transferSyntax of [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED]) {
    files.push([`${transferSyntax} undefined`, dicomFile({ ...spec, transferSyntax })]);
    const extra = definedLength(
      spec.extra ?? [],
      transferSyntax !== IMPLICIT_LE,
      transferSyntax !== EXPLICIT_BE,
    );
    files.push([`${transferSyntax} defined`, dicomFile({ ...spec, transferSyntax, extra })]);
  }
  return files;
}

describe('dicom functional groups: rescale and window of the rendered frame', () => {
  it('reads the rescale and the window from the shared functional groups', async () => {
    const spec = enhanced([shared([...voi(40, 400), ...rescale(-1024)])]);
    for (const [name, file] of layouts(spec)) {
      expect(await pixels(file), name).toEqual(CT_PIXELS);
      // --window applies to modality values: the shared intercept still counts.
      expect(await pixels(file, [40, 400]), `${name} --window`).toEqual(CT_PIXELS);
    }
  });

  it("uses the middle frame's per-frame values, which differ from frame to frame", async () => {
    // Frame k stores HU + 1024 + 100k under intercept -1024 - 100k; only frame 1's window
    // is 40/400.
    const windows: [number, number][] = [
      [0, 10],
      [40, 400],
      [500, 100],
    ];
    const values = [0, 1, 2].flatMap((k) => HU.map((hu) => hu + 1024 + 100 * k));
    const groups = windows.map(([c, w], k) => [...rescale(-1024 - 100 * k), ...voi(c, w)]);
    // Shared values lose to per-frame ones.
    const spec = enhanced([shared([...rescale(0), ...voi(2000, 10)]), perFrame(groups)], {
      values,
    });
    for (const [name, file] of layouts(spec)) {
      const image = await renderDicom(file, 'x.dcm');
      expect([image.frame, ...image.pixels], name).toEqual([1, ...CT_PIXELS]);
    }
  });

  it('takes each macro from where it is: per-frame rescale, shared window, top level last', async () => {
    const groups = [0, 1, 2].map(() => rescale(-1024));
    // The top-level window and rescale are overridden by the groups.
    const spec = enhanced([shared(voi(40, 400)), perFrame(groups)], {
      windowCenter: [3000],
      windowWidth: [10],
      rescaleIntercept: 0,
      rescaleSlope: 1,
    });
    for (const [name, file] of layouts(spec)) expect(await pixels(file), name).toEqual(CT_PIXELS);
    // A shared rescale with the window at the top level, as some writers mix them.
    const mixed = enhanced([shared(rescale(-1024))], { windowCenter: [40], windowWidth: [400] });
    expect(await pixels(dicomFile(mixed))).toEqual(CT_PIXELS);
  });

  it('reads the VOI function from the frame VOI item, and inverts MONOCHROME1', async () => {
    // LINEAR_EXACT 40/400: ((x - 40) / 400 + 0.5) * 255 → 239 HU: 254.4 (LINEAR gives 255).
    const exact = enhanced([shared([...rescale(-1024), ...voi(40, 400, 'LINEAR_EXACT')])]);
    expect(await pixels(dicomFile(exact))).toEqual([0, 0, 38, 102, 128, 166, 254, 255]);
    const sigmoid = enhanced([shared([...rescale(-1024), ...voi(40, 400, 'SIGMOID')])]);
    // SIGMOID at the centre is half way.
    expect((await pixels(dicomFile(sigmoid)))[4]).toBe(128);
    const mono1 = enhanced([shared([...rescale(-1024), ...voi(40, 400)])], {
      photometric: 'MONOCHROME1',
    });
    expect(await pixels(dicomFile(mono1))).toEqual(CT_PIXELS.map((v) => 255 - v));
  });

  it('falls back to the shared groups, then the top level, where the groups are malformed', async () => {
    const good = shared([...rescale(-1024), ...voi(40, 400)]);
    // Fewer per-frame items than frames, an empty item, unreadable values: the shared ones.
    const cases: ExtraElement[][] = [
      [good, perFrame([rescale(5000)])],
      [good, perFrame([[], [], []])],
      [good, perFrame([[], [...rescale(Number.NaN), ...voi('abc', '0')], []])],
      [good, perFrame([[], [{ tag: [0x0028, 0x9145], vr: 'SQ', value: [] }], []])],
    ];
    for (const extra of cases)
      for (const [name, file] of layouts(enhanced(extra)))
        expect(await pixels(file), name).toEqual(CT_PIXELS);
    // Groups that are not sequences at all: the top level, as for a classic image.
    const notSequences = enhanced(
      [
        { tag: [0x5200, 0x9229], vr: 'OB', value: Buffer.from([1, 2, 3, 4]) },
        { tag: [0x5200, 0x9230], vr: 'OB', value: Buffer.from([0xfe, 0xff, 0x00, 0xe0]) },
      ],
      { rescaleIntercept: -1024, rescaleSlope: 1, windowCenter: [40], windowWidth: [400] },
    );
    expect(await pixels(dicomFile(notSequences))).toEqual(CT_PIXELS);
    // No usable window anywhere: the frame's min/max, after the shared intercept.
    const noWindow = enhanced([shared([...rescale(-1024), ...voi(40, -1)])]);
    expect(await pixels(dicomFile(noWindow))).toEqual([0, 107, 115, 128, 133, 140, 158, 255]);
  });

  it('reads a VOI LUT inside the Frame VOI LUT item where it has no window', async () => {
    const lut: ExtraElement = {
      tag: [0x0028, 0x9132],
      vr: 'SQ',
      value: [
        [
          {
            tag: [0x0028, 0x3010],
            vr: 'SQ',
            value: [
              [
                { tag: [0x0028, 0x3002], vr: 'US', value: [4, 10, 10] },
                { tag: [0x0028, 0x3006], vr: 'OW', value: [1023, 800, 400, 0] },
              ],
            ],
          },
        ],
      ],
    };
    const file = dicomFile({
      rows: 1,
      columns: 6,
      bitsStored: 12,
      values: [5, 10, 11, 12, 13, 20],
      sopClass: ENHANCED_CT,
      extra: [shared([lut])],
    });
    expect(await pixels(file)).toEqual([255, 255, 199, 100, 0, 0]);
  });
});
