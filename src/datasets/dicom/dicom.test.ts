import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DicomSpec, dicomFile } from '../../../test/fixtures/dicom/write.js';
import { captionConfig } from '../../../test/support/config.js';
import { FakeEngine } from '../../../test/support/fake-engine.js';
import { imageFailure } from '../../../test/support/image-failure.js';
import { readCaptionsCsv } from '../../formats/captions-csv.js';
import { renderDicom } from '../../images/dicom/decode.js';
import { minMaxWindow, voiMapper } from '../../images/dicom/window.js';
import { decodableImage } from '../../images/preprocess.js';
import { caption } from '../../pipeline/run.js';
import type { Sample } from '../types.js';
import { dicomLoader } from './index.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-dicom-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const render = (spec: DicomSpec, window?: [number, number]) =>
  renderDicom(dicomFile(spec), 'x.dcm', { window });

/** CT Hounsfield units stored as unsigned 12-bit values with intercept -1024. */
const HU = [-1000, -160, -100, 0, 40, 100, 239, 1000];
const ct = (extra: Partial<DicomSpec> = {}): DicomSpec => ({
  rows: 2,
  columns: 4,
  bitsAllocated: 16,
  bitsStored: 12,
  rescaleSlope: 1,
  rescaleIntercept: -1024,
  values: HU.map((hu) => hu + 1024),
  ...extra,
});

describe('dicom: VOI windowing', () => {
  it('maps HU through slope/intercept and the file window 40/400 (PS3.3 LINEAR)', async () => {
    const image = await render(ct({ windowCenter: [40, 50], windowWidth: [400, 350] }));
    // LINEAR with c=40, w=400: 0 at HU <= -160, 255 above 239, else ((x-39.5)/399+0.5)*255.
    // -100 → 38.35, 0 → 102.26, 40 → 127.82, 100 → 166.17.
    expect([...image.pixels]).toEqual([0, 0, 38, 102, 128, 166, 255, 255]);
    expect([image.width, image.height, image.channels]).toEqual([4, 2, 1]);
  });

  it('uses --window instead of the file window', async () => {
    const image = await render(ct({ windowCenter: [40], windowWidth: [400] }), [-600, 1500]);
    // c=-600, w=1500: 0 at HU <= -1350, 255 above 149, else ((x+600.5)/1499+0.5)*255:
    // -1000 → 59.54, -160 → 202.44, -100 → 212.64, 0 → 229.65, 40 → 236.46, 100 → 246.66.
    expect([...image.pixels]).toEqual([60, 202, 213, 230, 236, 247, 255, 255]);
  });

  it('falls back to the min/max of the frame, and inverts MONOCHROME1', async () => {
    const spec: DicomSpec = { rows: 1, columns: 3, values: [100, 200, 300] };
    expect([...(await render(spec)).pixels]).toEqual([0, 128, 255]);
    const inverted = await render({ ...spec, photometric: 'MONOCHROME1' });
    expect([...inverted.pixels]).toEqual([255, 127, 0]);
    const flat = await render({ ...spec, values: [7, 7, 7] });
    expect([...flat.pixels]).toEqual([0, 0, 0]);
  });

  it('implements LINEAR_EXACT and SIGMOID', () => {
    const exact = voiMapper({ center: 100, width: 200, function: 'LINEAR_EXACT' });
    expect([0, 50, 100, 199, 200, 201].map(exact)).toEqual([0, 64, 128, 254, 255, 255]);
    const sigmoid = voiMapper({ center: 0, width: 100, function: 'SIGMOID' });
    // 255 / (1 + e^(-4x/100)): x=0 → 127.5, x=50 → 224.9, x=-50 → 30.1
    expect([0, 50, -50].map(sigmoid)).toEqual([128, 225, 30]);
    expect([1, 2, 3].map(voiMapper(minMaxWindow(1, 3)))).toEqual([0, 128, 255]);
    const threshold = voiMapper({ center: 10, width: 1, function: 'LINEAR' });
    expect([9, 9.5, 10].map(threshold)).toEqual([0, 0, 255]);
  });
});

describe('dicom: stored values', () => {
  it('reads 16-bit signed values', async () => {
    const image = await render({
      rows: 1,
      columns: 5,
      pixelRepresentation: 1,
      values: [-2000, -1000, 0, 1000, 2000],
    });
    // min/max -2000..2000: -1000 → 63.75, 0 → 127.5, 1000 → 191.25
    expect([...image.pixels]).toEqual([0, 64, 128, 191, 255]);
  });

  it('keeps only Bits Stored bits and sign-extends them (12 of 16, garbage in the top bits)', async () => {
    // 12-bit two's complement: -5 = 0xFFB, -2048 = 0x800, 2047 = 0x7FF; top nibble is noise.
    const image = await render({
      rows: 1,
      columns: 4,
      bitsStored: 12,
      pixelRepresentation: 1,
      values: [0xaffb, 0x5800, 0xf7ff, 0x3000],
      windowCenter: [0],
      windowWidth: [4096],
    });
    // LINEAR c=0, w=4096: ((x+0.5)/4095+0.5)*255: -5 → 127.22, -2048 → 0 (boundary), 2047 → 255
    expect([...image.pixels]).toEqual([127, 0, 255, 128]);
  });

  it('reads 32-bit signed values', async () => {
    const image = await render({
      rows: 1,
      columns: 3,
      bitsAllocated: 32,
      pixelRepresentation: 1,
      values: [-100000, 0, 100000],
      rescaleSlope: 0.5,
    });
    expect([...image.pixels]).toEqual([0, 128, 255]);
  });

  it('honours a High Bit below the top of the word', async () => {
    // 8 bits stored in bits 4..11 of each 16-bit word.
    const image = await render({
      rows: 1,
      columns: 2,
      bitsStored: 8,
      highBit: 11,
      values: [0x0100 | 0xf000 | 0x000f, 0x0ff0],
      windowCenter: [128],
      windowWidth: [256],
    });
    // stored 16 and 255; LINEAR c=128 w=256 is ((x-127.5)/255+0.5)*255 = x
    expect([...image.pixels]).toEqual([16, 255]);
  });

  it('reads the same pixels in implicit VR, big endian and deflated syntaxes', async () => {
    const base = ct({ windowCenter: [40], windowWidth: [400] });
    const expected = [...(await render(base)).pixels];
    for (const syntax of ['1.2.840.10008.1.2', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99']) {
      expect([...(await render({ ...base, transferSyntax: syntax })).pixels]).toEqual(expected);
    }
  });

  it('renders the middle frame of a multi-frame image', async () => {
    const frame = (k: number) => [10 * k, 10 * k + 1, 10 * k + 2, 10 * k + 3];
    const identity = { windowCenter: [128], windowWidth: [256], bitsAllocated: 8 };
    const three = await render({
      rows: 2,
      columns: 2,
      frames: 3,
      values: [...frame(1), ...frame(2), ...frame(3)],
      ...identity,
    });
    expect([...three.pixels]).toEqual(frame(2));
    expect([three.frame, three.frames]).toEqual([1, 3]);
    const four = await render({
      rows: 2,
      columns: 2,
      frames: 4,
      values: [...frame(1), ...frame(2), ...frame(3), ...frame(4)],
      ...identity,
    });
    expect([...four.pixels]).toEqual(frame(3));
  });

  it('reads RGB with planar configuration 0 and 1, and YBR_FULL', async () => {
    const rgb = { rows: 1, columns: 2, samplesPerPixel: 3, bitsAllocated: 8 } as const;
    const interleaved = await render({ ...rgb, values: [255, 0, 0, 10, 200, 30] });
    expect([...interleaved.pixels]).toEqual([255, 0, 0, 10, 200, 30]);
    expect(interleaved.channels).toBe(3);
    const planar = await render({
      ...rgb,
      planarConfiguration: 1,
      values: [255, 10, 0, 200, 0, 30],
    });
    expect([...planar.pixels]).toEqual([255, 0, 0, 10, 200, 30]);
    // Y=128, Cb=Cr=128 is mid grey; Y=76, Cb=85, Cr=255 is (nearly) pure red.
    const ybr = await render({
      ...rgb,
      photometric: 'YBR_FULL',
      values: [128, 128, 128, 76, 85, 255],
    });
    expect([...ybr.pixels].slice(0, 3)).toEqual([128, 128, 128]);
    expect(ybr.pixels[3]).toBeGreaterThan(250);
    expect(ybr.pixels[4]).toBeLessThan(5);
    expect(ybr.pixels[5]).toBeLessThan(5);
  });
});

describe('dicom: errors', () => {
  it('reports a truncated file', async () => {
    const whole = dicomFile({ rows: 64, columns: 64, values: new Array(64 * 64).fill(5) });
    const inPixels = await imageFailure(
      renderDicom(whole.subarray(0, whole.length - 100), 'cut.dcm'),
    );
    expect(inPixels).toMatch(/^cut\.dcm: .*truncated/);
    const inHeader = await imageFailure(renderDicom(whole.subarray(0, 200), 'head.dcm'));
    expect(inHeader).toMatch(/^head\.dcm: .*truncated/);
    // The header promises 5 frames; the pixel data holds 2, so the middle (third) is missing.
    const short = await imageFailure(
      render({ rows: 2, columns: 2, frames: 5, values: new Array(8).fill(1) }),
    );
    expect(short).toMatch(
      /^x\.dcm: pixel data has 16 bytes but frame 3 of 5 \(2x2, 1 x 16-bit\) needs 24; the file is truncated/,
    );
  });

  it('names an unsupported compressed transfer syntax, and a compressed frame it cannot read', async () => {
    const video = await imageFailure(
      render({
        rows: 2,
        columns: 2,
        transferSyntax: '1.2.840.10008.1.2.4.102',
        fragments: [new Uint8Array(16)],
      }),
    );
    expect(video).toMatch(
      /^x\.dcm: transfer syntax 1\.2\.840\.10008\.1\.2\.4\.102 \(MPEG-4 AVC\/H\.264 High Profile\) is not supported/,
    );
    const rle = await imageFailure(
      render({
        rows: 2,
        columns: 2,
        transferSyntax: '1.2.840.10008.1.2.5',
        fragments: [new Uint8Array(8)],
      }),
    );
    expect(rle).toMatch(
      /^x\.dcm: cannot decode the RLE frame 1 of 1 \(RLE frame is 8 bytes, shorter than its 64-byte header\)/,
    );
  });

  it('says when a file is not DICOM or its photometric interpretation is not supported', async () => {
    expect(
      await imageFailure(renderDicom(Buffer.from('just some text, not dicom'), 'a.dcm')),
    ).toMatch(/a\.dcm: not a DICOM file/);
    expect(
      await imageFailure(
        render({
          rows: 1,
          columns: 1,
          bitsAllocated: 8,
          photometric: 'PALETTE COLOR',
          values: [1],
        }),
      ),
    ).toMatch(/x\.dcm: PALETTE COLOR without its red lookup table/);
    expect(
      await imageFailure(
        render({
          rows: 1,
          columns: 1,
          samplesPerPixel: 4,
          photometric: 'CMYK',
          values: [1, 2, 3, 4],
        }),
      ),
    ).toMatch(/photometric interpretation CMYK with 4 sample\(s\) per pixel is not supported/);
  });
});

describe('dicom: JPEG baseline', () => {
  it('decodes the encapsulated 8-bit JPEG with sharp', async () => {
    const grey = Buffer.alloc(16 * 8);
    for (let i = 0; i < grey.length; i++) grey[i] = i % 16 < 8 ? 40 : 200;
    const jpeg = await sharp(grey, { raw: { width: 16, height: 8, channels: 1 } })
      .toColourspace('b-w')
      .jpeg({ quality: 95 })
      .toBuffer();
    const image = await render({
      rows: 8,
      columns: 16,
      bitsAllocated: 8,
      transferSyntax: '1.2.840.10008.1.2.4.50',
      fragments: [jpeg],
      windowCenter: [128],
      windowWidth: [256],
    });
    expect([image.width, image.height, image.channels]).toEqual([16, 8, 1]);
    expect(Math.abs(image.pixels[2]! - 40)).toBeLessThanOrEqual(4);
    expect(Math.abs(image.pixels[13]! - 200)).toBeLessThanOrEqual(4);
  });

  it('keeps a colour JPEG in colour', async () => {
    const jpeg = await sharp({
      create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 30, b: 60 } },
    })
      .jpeg({ quality: 95 })
      .toBuffer();
    const image = await render({
      rows: 8,
      columns: 8,
      bitsAllocated: 8,
      samplesPerPixel: 3,
      photometric: 'YBR_FULL_422',
      transferSyntax: '1.2.840.10008.1.2.4.50',
      fragments: [jpeg],
    });
    expect(image.channels).toBe(3);
    const [r, g, b] = image.pixels;
    expect([r, g, b].map((v, i) => Math.abs(v! - [200, 30, 60][i]!) <= 6)).toEqual([
      true,
      true,
      true,
    ]);
  });
});

describe('dicom: loader', () => {
  async function collect(path: string): Promise<Sample[]> {
    const samples: Sample[] = [];
    for await (const s of dicomLoader.load({ path, split: 'train' })) samples.push(s);
    return samples;
  }

  it('lists .dcm files recursively in sorted order; they open as PNGs', async () => {
    const dir = join(root, 'series');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'b.dcm'), dicomFile(ct({ windowCenter: [40], windowWidth: [400] })));
    await writeFile(join(dir, 'a.DCM'), dicomFile({ rows: 1, columns: 3, values: [1, 2, 3] }));
    await writeFile(join(dir, 'sub', 'c.dcm'), dicomFile({ rows: 1, columns: 1, values: [1] }));
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    expect(await dicomLoader.detect({ path: dir, split: 'train' })).toBe(true);
    const samples = await collect(dir);
    expect(samples.map((s) => s.id)).toEqual(['a', 'b', 'sub/c']);
    expect(samples.every((s) => s.references.length === 0 && s.problem === undefined)).toBe(true);
    const png = await decodableImage(samples[1]!.imagePath, await samples[1]!.readImage());
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 4, 2, 1]);
    const data = await sharp(png).extractChannel(0).raw().toBuffer();
    expect([...data]).toEqual([0, 0, 38, 102, 128, 166, 255, 255]);
    // --window reaches the decoder through the preprocess options.
    const windowed = await decodableImage(samples[1]!.imagePath, await samples[1]!.readImage(), {
      window: [-600, 1500],
    });
    const raw = await sharp(windowed).extractChannel(0).raw().toBuffer();
    expect([...raw]).toEqual([60, 202, 213, 230, 236, 247, 255, 255]);
    // One file works too.
    const single = await collect(join(dir, 'sub', 'c.dcm'));
    expect(single.map((s) => s.id)).toEqual(['c']);
  });

  it('lists Siemens .IMA and extension-less files that carry the DICOM marker, and skips DICOMDIR', async () => {
    const dir = join(root, 'siemens');
    await mkdir(dir, { recursive: true });
    const image = dicomFile({ rows: 1, columns: 1, values: [1] });
    await writeFile(join(dir, 'CT.0001.0001.IMA'), image);
    await writeFile(join(dir, 'IM000002'), image);
    await writeFile(join(dir, 'DICOMDIR'), image);
    await writeFile(join(dir, 'notes.ima'), 'a text file under an .ima name');
    expect((await collect(dir)).map((s) => s.id)).toEqual(['CT.0001.0001', 'IM000002']);
  });

  it('turns bad files into error rows of a run, and --window flows from the config', async () => {
    const dir = join(root, 'run');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, '1-good.dcm'),
      dicomFile(ct({ windowCenter: [40], windowWidth: [400] })),
    );
    const whole = dicomFile({ rows: 32, columns: 32, values: new Array(1024).fill(9) });
    await writeFile(join(dir, '2-cut.dcm'), whole.subarray(0, whole.length - 50));
    await writeFile(
      join(dir, '3-j2k.dcm'),
      dicomFile({
        rows: 2,
        columns: 2,
        transferSyntax: '1.2.840.10008.1.2.4.91',
        fragments: [new Uint8Array(4)],
      }),
    );
    const config = captionConfig({ data: dir, out: join(dir, 'out'), window: '-600,1500' });
    expect(config.window).toEqual([-600, 1500]);
    const result = await caption(config, { engine: new FakeEngine() });
    const rows = await readCaptionsCsv(result.captionsPath);
    expect(rows.map((r) => [r.imageId, r.status])).toEqual([
      ['1-good', 'ok'],
      ['2-cut', 'error'],
      ['3-j2k', 'error'],
    ]);
    expect(rows[1]!.error).toMatch(/2-cut\.dcm: .*truncated/);
    expect(rows[2]!.error).toMatch(
      /3-j2k\.dcm: cannot decode the JPEG 2000 frame 1 of 1 \(not a JPEG 2000 codestream/,
    );
    // The fake engine's caption says whether the image is bright: the file's window 40/400
    // leaves this CT dark (mean 118), --window -600,1500 makes it bright (mean 212).
    expect(rows[0]!.generatedCaption).toMatch(/^bright /);
    const plain = await caption(captionConfig({ data: dir, out: join(dir, 'out-plain') }), {
      engine: new FakeEngine(),
    });
    expect((await readCaptionsCsv(plain.captionsPath))[0]!.generatedCaption).toMatch(/^dark /);
  });
});
