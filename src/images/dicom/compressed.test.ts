import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DataSet } from 'dicom-parser';
import { describe, expect, it } from 'vitest';
import { ORIGINALS } from '../../../test/fixtures/dicom/compressed/originals.js';
import { dicomFile } from '../../../test/fixtures/dicom/write.js';
import { imageFailure } from '../../../test/support/image-failure.js';
import { ImageError } from '../../core/errors.js';
import { decodeRle } from './codecs/rle.js';
import { dicomToPng, renderDicom, storedValues } from './decode.js';
import { DecodePool, dicomToPngInWorker, startDecodeWorker } from './decode-pool.js';

// Files written by DCMTK and GDCM from the originals: test/fixtures/dicom/compressed/make.sh.
const DIR = 'test/fixtures/dicom/compressed';
const dicomParser = createRequire(import.meta.url)('dicom-parser') as typeof import('dicom-parser');

const fixture = (name: string) => readFile(join(DIR, name));

/** The stored values of the middle frame of an original, as its spec wrote them. */
function originalValues(name: string): number[] {
  const spec = ORIGINALS[name]!;
  const perFrame = spec.rows * spec.columns * (spec.samplesPerPixel ?? 1);
  const middle = Math.floor((spec.frames ?? 1) / 2);
  return Array.from(spec.values!).slice(middle * perFrame, (middle + 1) * perFrame);
}

/** Stored values of an uncompressed little-endian file (the toolkit's own decoding). */
async function uncompressedValues(name: string): Promise<number[]> {
  const dataSet: DataSet = dicomParser.parseDicom(await fixture(name));
  const pixel = dataSet.elements.x7fe00010!;
  const bits = dataSet.uint16('x00280100')!;
  const stored = dataSet.uint16('x00280101')!;
  const signed = dataSet.uint16('x00280103') === 1;
  const bytes = dataSet.byteArray.subarray(pixel.dataOffset, pixel.dataOffset + pixel.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values: number[] = [];
  for (let i = 0; i < bytes.length / (bits / 8); i++) {
    const raw = (bits === 8 ? view.getUint8(i) : view.getUint16(2 * i, true)) % 2 ** stored;
    values.push(signed && raw >= 2 ** (stored - 1) ? raw - 2 ** stored : raw);
  }
  return values;
}

const LOSSLESS = [
  [
    'JPEG-LS lossless (dcmcjpls)',
    'jpls',
    ['ct12', 'signed12', 'signed16', 'mono8', 'rgb8', 'multiframe'],
  ],
  ['RLE (dcmcrle)', 'rle', ['ct12', 'signed12', 'signed16', 'mono8', 'rgb8', 'multiframe']],
  [
    'lossless JPEG SV1 (dcmcjpeg +e1)',
    'sv1',
    ['ct12', 'signed12', 'signed16', 'mono8', 'rgb8', 'multiframe'],
  ],
  ['lossless JPEG predictor 6 (dcmcjpeg +el +sv 6)', 'sv6', ['ct12', 'rgb8']],
  [
    'JPEG 2000 lossless (gdcmconv --j2k)',
    'j2k',
    ['ct12', 'signed12', 'signed16', 'mono8', 'rgb8', 'multiframe'],
  ],
  [
    'JPEG-LS colour, sample- and un-interleaved (dcmcjpls +is / +in)',
    null,
    ['rgb8.jpls-sample', 'rgb8.jpls-none'],
  ],
  [
    'JPEG-LS and RLE by a second toolkit (gdcmconv)',
    null,
    ['signed16.gdcm-jpls', 'signed16.gdcm-rle'],
  ],
] as const;

describe('dicom: compressed pixel data written by DCMTK and GDCM', () => {
  for (const [title, suffix, names] of LOSSLESS) {
    it(`${title}: the stored values and the rendered image equal the original's`, async () => {
      for (const name of names) {
        const file = suffix ? `${name}.${suffix}.dcm` : `${name}.dcm`;
        const original = name.split('.')[0]!;
        const bytes = await fixture(file);
        expect({ file, values: [...(await storedValues(bytes, file))] }).toEqual({
          file,
          values: originalValues(original),
        });
        // Same modality LUT, window and frame choice as the uncompressed file.
        const rendered = await renderDicom(bytes, file);
        const plain = await renderDicom(await fixture(`original/${original}.dcm`), original);
        expect(rendered.channels).toBe(plain.channels);
        expect([rendered.frame, rendered.frames]).toEqual([plain.frame, plain.frames]);
        expect(Buffer.from(rendered.pixels).equals(Buffer.from(plain.pixels))).toBe(true);
      }
    });
  }

  it('lossy JPEG-LS and JPEG 2000: the values equal the toolkit decoding, and stay near the original', async () => {
    const cases = [
      ['ct12.jpls-near2', 2],
      ['mono8.jpls-near3', 3],
      ['ct12.j2k-lossy', Number.POSITIVE_INFINITY],
      ['rgb8.j2k-lossy', Number.POSITIVE_INFINITY],
    ] as const;
    for (const [name, near] of cases) {
      const values = [...(await storedValues(await fixture(`${name}.dcm`), name))];
      expect({ name, values }).toEqual({
        name,
        values: await uncompressedValues(`decoded/${name}.dcm`),
      });
      // JPEG-LS near-lossless bounds every error by NEAR.
      const original = originalValues(name.split('.')[0]!);
      const worst = Math.max(...values.map((v, i) => Math.abs(v - original[i]!)));
      if (Number.isFinite(near)) expect(worst).toBeLessThanOrEqual(near);
      const mean =
        values.reduce((sum, v, i) => sum + Math.abs(v - original[i]!), 0) / values.length;
      expect(mean).toBeLessThan(name.startsWith('ct12') ? 60 : 4);
    }
  });

  it('HTJ2K lossy (ojph_compress -qstep 0.01): near the original', async () => {
    const values = await storedValues(await fixture('ct12.htj2k-lossy.dcm'), 'ct12.htj2k-lossy');
    const original = originalValues('ct12');
    const mean = values.reduce((sum, v, i) => sum + Math.abs(v - original[i]!), 0) / values.length;
    expect(mean).toBeLessThan(20);
    expect(mean).toBeGreaterThan(0); // it is lossy: the test reads what the file holds
  });

  it('baseline JPEG (dcmcjpeg +eb): grey and YBR_FULL_422 colour within 3 levels of DCMTK decoding', async () => {
    for (const name of ['mono8.baseline', 'rgb8.baseline']) {
      const ours = await renderDicom(await fixture(`${name}.dcm`), name);
      const theirs = await renderDicom(await fixture(`decoded/${name}.dcm`), name);
      expect(ours.channels).toBe(theirs.channels);
      const worst = Math.max(...ours.pixels.map((v, i) => Math.abs(v - theirs.pixels[i]!)));
      expect(worst).toBeLessThanOrEqual(3);
    }
  });

  it('extended 12-bit JPEG (dcmcjpeg +ee): within 1 of DCMTK decoding, near the original', async () => {
    const values = [
      ...(await storedValues(await fixture('ct12.extended12.dcm'), 'ct12.extended12')),
    ];
    const theirs = await uncompressedValues('decoded/ct12.extended12.dcm');
    // DCMTK (IJG) uses an integer inverse DCT, medcap a floating-point one.
    const worst = Math.max(...values.map((v, i) => Math.abs(v - theirs[i]!)));
    expect(worst).toBeLessThanOrEqual(1);
    // DCMTK moved the stored values and the Rescale Intercept with them (-1024 → -164): the
    // Hounsfield units stay near the original's.
    const original = originalValues('ct12');
    const hu = (v: number) => v - 164;
    const mean =
      values.reduce((sum, v, i) => sum + Math.abs(hu(v) - (original[i]! - 1024)), 0) /
      values.length;
    expect(mean).toBeLessThan(20);
    // Rendered through the file's window like the uncompressed original, within a level or two.
    const rendered = await renderDicom(await fixture('ct12.extended12.dcm'), 'e');
    const plain = await renderDicom(await fixture('original/ct12.dcm'), 'o');
    const meanPixel =
      rendered.pixels.reduce((sum, v, i) => sum + Math.abs(v - plain.pixels[i]!), 0) /
      rendered.pixels.length;
    expect(meanPixel).toBeLessThan(2);
  });

  it('a truncated 12-bit JPEG is one clear error', async () => {
    const half = await withFrame('ct12.extended12.dcm', (f) => f.subarray(0, f.length >> 1));
    expect(await imageFailure(renderDicom(half, 'half.dcm'))).toMatch(
      /^half\.dcm: cannot decode the 12-bit JPEG frame 1 of 1 \(JPEG data ends .*truncated/,
    );
  });
});

/** The encapsulated frame of a fixture, and a copy of the file with it replaced. */
async function withFrame(name: string, change: (frame: Uint8Array) => Uint8Array): Promise<Buffer> {
  const bytes = await fixture(name);
  const dataSet = dicomParser.parseDicom(bytes);
  const pixel = dataSet.elements.x7fe00010!;
  const frame = dicomParser.readEncapsulatedPixelDataFromFragments(
    dataSet,
    pixel,
    0,
    pixel.fragments!.length,
  );
  const spec = ORIGINALS[name.split('.')[0]!]!;
  return dicomFile({
    ...spec,
    values: undefined,
    transferSyntax: dataSet.string('x00020010')!,
    fragments: [change(new Uint8Array(frame))],
  });
}

describe('dicom: corrupt compressed pixel data', () => {
  it('a truncated or garbled frame of each codec is an error naming the file, and the codec still works after', async () => {
    const half = (f: Uint8Array) => f.subarray(0, f.length >> 1);
    const garble = (f: Uint8Array) => {
      const copy = f.slice();
      for (let i = copy.length >> 2; i < copy.length - 4; i += 3) copy[i] = 0xff;
      return copy;
    };
    // A JPEG 2000 codestream has no check on its code-block data: OpenJPEG decodes a garbled
    // one to a damaged image, as a JPEG decoder would; only truncation is detectable.
    for (const [name, codec, changes] of [
      ['ct12.jpls.dcm', 'JPEG-LS', [half, garble]],
      ['ct12.j2k.dcm', 'JPEG 2000', [half]],
      ['ct12.sv1.dcm', 'lossless JPEG', [half, garble]],
      ['ct12.rle.dcm', 'RLE', [half, garble]],
    ] as const) {
      for (const change of changes) {
        const bytes = await withFrame(name, change);
        const message = await imageFailure(renderDicom(bytes, `bad-${name}`));
        expect(message).toMatch(
          new RegExp(
            `^bad-${name}: cannot decode the ${codec} frame 1 of 1 \\(.*(truncated|corrupt|Invalid|inconsistent)`,
          ),
        );
      }
      // A failure does not poison the codec for the next file.
      const good = await storedValues(await fixture(name), name);
      expect([...good]).toEqual(originalValues('ct12'));
    }
  });

  it('refuses a stream that declares another size than the header before decoding it', async () => {
    // JPEG-LS SOF55 rewritten to 65535 x 65535: the decoder would allocate 8 GiB.
    const bomb = await withFrame('ct12.jpls.dcm', (frame) => {
      const copy = frame.slice();
      const sof = copy.findIndex((b, i) => b === 0xff && copy[i + 1] === 0xf7);
      copy.set([0xff, 0xff, 0xff, 0xff], sof + 5);
      return copy;
    });
    expect(await imageFailure(renderDicom(bomb, 'bomb.dcm'))).toMatch(
      /^bomb\.dcm: cannot decode the JPEG-LS frame 1 of 1 \(the JPEG-LS stream is 65535x65535 with 1 component\(s\), but the DICOM header says 64x64 with 1\)/,
    );
    // A header that itself declares 65535 x 65535 is over the pixel limit.
    const huge = dicomFile({
      rows: 65535,
      columns: 65535,
      transferSyntax: '1.2.840.10008.1.2.4.80',
      fragments: [new Uint8Array(16)],
    });
    expect(await imageFailure(renderDicom(huge, 'huge.dcm'))).toMatch(
      /^huge\.dcm: a 65535x65535 frame is larger than the pixel limit/,
    );
  });
});

describe('dicom: RLE decoder (PS3.5 Annex G)', () => {
  /** An RLE frame: 64-byte header with the segment offsets, then the segments. */
  function rleFrame(segments: number[][]): Uint8Array {
    const header = new Uint8Array(64);
    const view = new DataView(header.buffer);
    view.setUint32(0, segments.length, true);
    let offset = 64;
    segments.forEach((segment, s) => {
      view.setUint32(4 + 4 * s, offset, true);
      offset += segment.length;
    });
    return new Uint8Array([...header, ...segments.flat()]);
  }

  it('reads literal runs, replicate runs and the -128 no-op', () => {
    // 2 literal (header 1), -128 skipped, 3 x 9 (header -2 = 0xFE), 1 literal, padding byte.
    const frame = rleFrame([[1, 10, 20, 0x80, 0xfe, 9, 0, 30, 0]]);
    const out = decodeRle(frame, { rows: 2, columns: 3, samplesPerPixel: 1, bitsAllocated: 8 });
    expect([...out.samples]).toEqual([10, 20, 9, 9, 9, 30]);
  });

  it('puts the most significant byte segment first and interleaves colour', () => {
    const words = decodeRle(
      rleFrame([
        [1, 0x12, 0xab],
        [1, 0x34, 0xcd],
      ]),
      {
        rows: 1,
        columns: 2,
        samplesPerPixel: 1,
        bitsAllocated: 16,
      },
    );
    expect([...words.samples]).toEqual([0x1234, 0xabcd]);
    const rgb = decodeRle(
      rleFrame([
        [1, 1, 2],
        [1, 3, 4],
        [1, 5, 6],
      ]),
      {
        rows: 1,
        columns: 2,
        samplesPerPixel: 3,
        bitsAllocated: 8,
      },
    );
    expect([...rgb.samples]).toEqual([1, 3, 5, 2, 4, 6]);
  });

  it('names what is wrong with a bad header or a short segment', () => {
    const shape = { rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 16 } as const;
    expect(() => decodeRle(rleFrame([[3, 1, 2, 3, 4]]), shape)).toThrow(
      /RLE header has 1 segment\(s\); 1 sample\(s\) of 16 bits need 2/,
    );
    expect(() =>
      decodeRle(
        rleFrame([
          [3, 1, 2, 3, 4],
          [1, 1, 2],
        ]),
        shape,
      ),
    ).toThrow(/RLE segment 2 decodes to 2 bytes; 2x2 needs 4/);
    expect(() => decodeRle(new Uint8Array(10), shape)).toThrow(/shorter than its 64-byte header/);
  });
});

describe('dicom: decoding in worker threads', () => {
  it('gives the same PNG as decoding here, many files at once, and the same errors', async () => {
    const names = [
      'ct12.jpls.dcm',
      'ct12.j2k.dcm',
      'rgb8.sv1.dcm',
      'multiframe.rle.dcm',
      'mono8.baseline.dcm',
    ];
    const files = await Promise.all(names.map(fixture));
    const options = { window: [40, 400] as [number, number] };
    const [here, there] = await Promise.all([
      Promise.all(files.map((bytes, i) => dicomToPng(bytes, names[i]!, options))),
      Promise.all(files.map((bytes, i) => dicomToPngInWorker(bytes, names[i]!, options))),
    ]);
    for (let i = 0; i < names.length; i++)
      expect({
        name: names[i],
        same: Buffer.from(there[i]!).equals(Buffer.from(here[i]!)),
      }).toEqual({
        name: names[i],
        same: true,
      });
    const video = dicomFile({
      rows: 2,
      columns: 2,
      transferSyntax: '1.2.840.10008.1.2.4.102',
      fragments: [new Uint8Array(16)],
    });
    const error = await dicomToPngInWorker(video, 'e.dcm').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect((error as ImageError).message).toMatch(
      /^e\.dcm: transfer syntax 1\.2\.840\.10008\.1\.2\.4\.102 /,
    );
    expect((error as ImageError).code).toBe('DICOM_UNSUPPORTED');
  });

  it('a worker that dies fails only the file it was decoding; the others are decoded', async () => {
    // The first worker dies as soon as it is given a file; the ones after it are real.
    let started = 0;
    const pool = new DecodePool(1, () =>
      started++ === 0
        ? new Worker(
            "require('node:worker_threads').parentPort.on('message', () => process.exit(7))",
            {
              eval: true,
            },
          )
        : startDecodeWorker(),
    );
    const names = ['ct12.rle.dcm', 'ct12.jpls.dcm', 'ct12.j2k.dcm'];
    const results = await Promise.allSettled(
      (await Promise.all(names.map(fixture))).map((bytes, i) => pool.decode(bytes, names[i]!)),
    );
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    const reason = (results[0] as PromiseRejectedResult).reason as ImageError;
    expect(reason).toBeInstanceOf(ImageError);
    expect(reason.message).toBe(
      'ct12.rle.dcm: the DICOM decoder stopped on this file (exit code 7)',
    );
    const expected = await dicomToPng(await fixture('ct12.jpls.dcm'), 'x');
    expect(
      Buffer.from((results[1] as PromiseFulfilledResult<Uint8Array>).value).equals(
        Buffer.from(expected),
      ),
    ).toBe(true);
    expect(started).toBe(2);
  });

  it('a file the decoder does not finish in time fails alone; the worker is replaced', async () => {
    // The first worker never answers (a codec in a loop); the ones after it are real.
    let started = 0;
    const pool = new DecodePool(
      1,
      () =>
        started++ === 0
          ? new Worker("require('node:worker_threads').parentPort.on('message', () => {})", {
              eval: true,
            })
          : startDecodeWorker(),
      // Long enough for a real worker to start and decode (under tsx here).
      5_000,
    );
    const names = ['ct12.rle.dcm', 'ct12.jpls.dcm'];
    const results = await Promise.allSettled(
      (await Promise.all(names.map(fixture))).map((bytes, i) => pool.decode(bytes, names[i]!)),
    );
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(((results[0] as PromiseRejectedResult).reason as ImageError).message).toBe(
      'ct12.rle.dcm: the DICOM decoder stopped on this file (it took longer than 5 s)',
    );
    expect(started).toBe(2);
  });
});
