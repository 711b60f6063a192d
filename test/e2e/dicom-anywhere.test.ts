// DICOM files wherever a dataset names an image: a manifest (CSV and JSONL) or a folder of
// mixed images captions them through the real CLI and the tiny Qwen2-VL exactly as the
// `dicom` format does (same pixels, so the same captions); an extension-less DICOM is found
// by its DICM marker; a `.dcm` that is not DICOM is one error row naming the file.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASET_LOADERS } from '../../src/datasets/registry.js';
import type { Sample } from '../../src/datasets/types.js';
import { type CaptionRow, readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { dicomToPng } from '../../src/images/dicom/decode.js';
import { preprocessImage } from '../../src/images/preprocess.js';
import { dicomFile } from '../fixtures/dicom/write.js';
import { TINY_MODEL_DIR } from '../fixtures/tiny-qwen2-vl/reference.js';
import { runMain } from '../support/main-in-process.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'dicom', 'compressed');
/** Uncompressed 12-bit CT, RLE, JPEG 2000 multi-frame, JPEG-LS colour (in dataset order). */
const FILES = ['original/ct12.dcm', 'ct12.rle.dcm', 'multiframe.j2k.dcm', 'rgb8.jpls.dcm'];
const POLICY = { minPixels: 56 * 56, maxPixels: 112 * 112 };

let root: string;
let series: string;
/** Captions of the `dicom` format run, by image id. */
let dicomCaptions: Map<string, string>;

async function captionRun(
  data: string,
  extra: string[] = [],
): Promise<{ code: number; rows: CaptionRow[]; err: string }> {
  const out = join(root, `out-${Math.random().toString(36).slice(2)}`);
  const { code, err } = await runMain(
    [
      'caption',
      '--data',
      data,
      '--out',
      out,
      '--model',
      TINY_MODEL_DIR,
      '--offline',
      '--max-new-tokens',
      '6',
      '--min-pixels',
      String(POLICY.minPixels),
      '--max-pixels',
      String(POLICY.maxPixels),
      ...extra,
    ],
    { env: {} },
  );
  const csv = (await readdir(out)).find((name) => /^medical_captions_.*\.csv$/.test(name));
  return { code, rows: await readCaptionsCsv(join(out, csv!)), err };
}

const stem = (file: string) => file.replace(/^.*\//, '').replace(/\.dcm$/, '');

async function samplesOf(format: 'manifest' | 'dicom' | 'folder', path: string) {
  const samples: Sample[] = [];
  for await (const sample of DATASET_LOADERS[format]!.load({ path, split: 'train' }))
    samples.push(sample);
  return samples;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-dicom-anywhere-'));
  series = join(root, 'series');
  await mkdir(series);
  for (const file of FILES) await copyFile(join(FIXTURES, file), join(series, `${stem(file)}.dcm`));
  const run = await captionRun(series, ['--format', 'dicom']);
  expect(run.code, run.err).toBe(0);
  dicomCaptions = new Map(run.rows.map((row) => [row.imageId, row.generatedCaption]));
  expect(dicomCaptions.size).toBe(FILES.length);
  // The captions tell the images apart, so equal captions below mean equal images.
  expect(new Set(dicomCaptions.values()).size).toBeGreaterThan(1);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('DICOM files in a manifest', () => {
  it('CSV: captioned with the reports as references, the same captions as the dicom format', async () => {
    const dir = join(root, 'csv');
    await mkdir(dir);
    const lines = FILES.map((file) => `../series/${stem(file)}.dcm,"report of ${stem(file)}"`);
    await writeFile(join(dir, 'manifest.csv'), `image,caption\n${lines.join('\n')}\n`);
    const { code, rows, err } = await captionRun(join(dir, 'manifest.csv'));
    expect(code, err).toBe(0);
    expect(err).toContain('detected manifest layout');
    expect(rows.map((r) => [r.imageId, r.status, r.references])).toEqual(
      FILES.map((file) => [stem(file), 'ok', [`report of ${stem(file)}`]]),
    );
    for (const row of rows) expect(row.generatedCaption).toBe(dicomCaptions.get(row.imageId));
  });

  it('JSONL: the same, with a references array', async () => {
    const dir = join(root, 'jsonl');
    await mkdir(dir);
    const lines = FILES.map((file) =>
      JSON.stringify({
        id: `study-${stem(file)}`,
        image: join(series, `${stem(file)}.dcm`),
        references: [`report of ${stem(file)}`, 'a second reader'],
      }),
    );
    await writeFile(join(dir, 'manifest.jsonl'), `${lines.join('\n')}\n`);
    const { code, rows, err } = await captionRun(join(dir, 'manifest.jsonl'));
    expect(code, err).toBe(0);
    expect(rows.map((r) => [r.status, r.references.length])).toEqual(FILES.map(() => ['ok', 2]));
    for (const row of rows)
      expect(row.generatedCaption).toBe(dicomCaptions.get(row.imageId.replace('study-', '')));
  });

  it('the prepared pixels equal the dicom format and the DICOM renderer, file by file', async () => {
    const manifest = join(root, 'pixels.csv');
    await writeFile(
      manifest,
      `image,caption\n${FILES.map((file) => `series/${stem(file)}.dcm,x`).join('\n')}\n`,
    );
    const fromManifest = await samplesOf('manifest', manifest);
    const fromDicom = await samplesOf('dicom', series);
    expect(fromManifest.map((s) => s.id)).toEqual(fromDicom.map((s) => s.id));
    for (const [i, sample] of fromManifest.entries()) {
      const other = fromDicom[i]!;
      const a = await preprocessImage(
        sample.id,
        sample.imagePath,
        await sample.readImage(),
        POLICY,
      );
      const b = await preprocessImage(other.id, other.imagePath, await other.readImage(), POLICY);
      const bytes = await readFile(sample.imagePath);
      const rendered = await dicomToPng(bytes, sample.imagePath);
      const c = await preprocessImage(sample.id, 'rendered.png', rendered, POLICY);
      expect([a.width, a.height]).toEqual([b.width, b.height]);
      expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels)), sample.id).toBe(true);
      expect(Buffer.from(a.pixels).equals(Buffer.from(c.pixels)), sample.id).toBe(true);
    }
  });
});

describe('DICOM files in a folder', () => {
  it('a study export: the images are captioned, a Structured Report beside them is left out and said, exit 0', async () => {
    const dir = join(root, 'study');
    await mkdir(join(dir, 'SE1'), { recursive: true });
    await copyFile(join(series, 'ct12.dcm'), join(dir, 'SE1', 'IM1'));
    await copyFile(join(series, 'ct12.rle.dcm'), join(dir, 'SE1', 'IM2'));
    await writeFile(
      join(dir, 'SR000001'),
      dicomFile({
        rows: 1,
        columns: 1,
        sopClass: '1.2.840.10008.5.1.4.1.1.88.22',
        modality: 'SR',
        noPixelData: true,
      }),
    );
    const { code, rows, err } = await captionRun(dir);
    expect(code, err).toBe(0);
    expect(err).toContain('detected dicom layout');
    expect(rows.map((r) => [r.imageId, r.status, r.generatedCaption])).toEqual([
      ['SE1/IM1', 'ok', dicomCaptions.get('ct12')],
      ['SE1/IM2', 'ok', dicomCaptions.get('ct12.rle')],
    ]);
    expect(err).toContain(
      `dataset: left out 1 file that is a Structured Report or Key Object Selection, not an image: ${join(dir, 'SR000001')}`,
    );
  });

  it('a mixed folder (PNG, .dcm, extension-less DICOM, a .dcm that is not DICOM) is a folder dataset; only the fake .dcm fails', async () => {
    const dir = join(root, 'mixed');
    await mkdir(join(dir, 'export'), { recursive: true });
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toFile(join(dir, 'a-photo.png'));
    await copyFile(join(series, 'ct12.dcm'), join(dir, 'b-ct.dcm'));
    // A PACS export: no extension, and a SOP Instance UID as the name.
    await copyFile(join(series, 'rgb8.jpls.dcm'), join(dir, 'export', 'IM000001'));
    await copyFile(join(series, 'ct12.rle.dcm'), join(dir, 'export', '1.2.840.113619.2.55.3.7'));
    await writeFile(join(dir, 'export', 'README'), 'not an image, not listed');
    // A PNG saved under a DICOM name.
    await copyFile(join(dir, 'a-photo.png'), join(dir, 'c-fake.dcm'));
    const { code, rows, err } = await captionRun(dir);
    expect(code, err).toBe(3);
    expect(err).toContain('detected folder layout');
    expect(rows.map((r) => [r.imageId, r.status])).toEqual([
      ['a-photo', 'ok'],
      ['b-ct', 'ok'],
      ['c-fake', 'error'],
      ['export/1.2.840.113619.2.55.3.7', 'ok'],
      ['export/IM000001', 'ok'],
    ]);
    const byId = new Map(rows.map((r) => [r.imageId, r]));
    expect(byId.get('b-ct')!.generatedCaption).toBe(dicomCaptions.get('ct12'));
    expect(byId.get('export/IM000001')!.generatedCaption).toBe(dicomCaptions.get('rgb8.jpls'));
    expect(byId.get('export/1.2.840.113619.2.55.3.7')!.generatedCaption).toBe(
      dicomCaptions.get('ct12.rle'),
    );
    expect(byId.get('c-fake')!.error).toBe(
      `${join(dir, 'c-fake.dcm')}: not a DICOM file (no 'DICM' marker at byte 128, and not a bare DICOM data set)`,
    );
  });
});

describe('--frame', () => {
  it('names the frame of a multi-frame image; a frame past the last is an error row naming the file', async () => {
    const first = await captionRun(series, ['--format', 'dicom', '--frame', 'first']);
    expect(first.code, first.err).toBe(0);
    // A single-frame file's first frame is its middle one: the same captions.
    for (const row of first.rows.filter((r) => r.imageId !== 'multiframe.j2k'))
      expect(row.generatedCaption).toBe(dicomCaptions.get(row.imageId));
    const past = await captionRun(series, ['--format', 'dicom', '--frame', '99']);
    expect(past.code, past.err).toBe(3);
    expect(past.rows.map((r) => r.status)).toEqual(FILES.map(() => 'error'));
    expect(past.rows[0]!.error).toBe(
      `${join(series, 'ct12.dcm')}: --frame 99, but the image has 1 frame`,
    );
  });
});
