// §2 of the fault suite: hostile and unusual image files. Each is captioned with the right
// pixels or is one error row naming the file; the run ends with exit 3 and every other
// image captioned. Runs go through the CLI (main) with an instant fake engine.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptionOutcome, GenerateOptions, PreparedImage } from '../../src/engines/types.js';
import { type CaptionRow, readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { solid, writeBadImages } from '../fixtures/bad-images.js';
import { dicomFile } from '../fixtures/dicom/write.js';
import { hfShard } from '../fixtures/parquet/write.js';
import { FakeEngine } from '../support/fake-engine.js';
import { runMain } from '../support/main-in-process.js';

/** The fake engine, keeping the pixels it was given so tests can check them. */
class RecordingEngine extends FakeEngine {
  readonly seen = new Map<string, PreparedImage>();

  override async generate(
    batch: readonly PreparedImage[],
    options: GenerateOptions,
    signal?: AbortSignal,
  ): Promise<CaptionOutcome[]> {
    for (const image of batch) this.seen.set(image.id, image);
    return super.generate(batch, options, signal);
  }
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-bad-images-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function captionRun(data: string, extra: string[] = []) {
  const engine = new RecordingEngine({ serverBatchSize: 4 });
  const out = join(root, `out-${Math.random().toString(36).slice(2)}`);
  const { code, err } = await runMain(
    ['caption', '--data', data, '--out', out, '--quiet', ...extra],
    { env: {}, engine },
  );
  const csv = (await readdir(out)).find((name) => /^medical_captions_.*\.csv$/.test(name));
  if (!csv) throw new Error(`no captions CSV in ${out} (exit ${code}): ${err}`);
  const rows = await readCaptionsCsv(join(out, csv));
  return { code, rows, engine, stderr: err };
}

function byId(rows: CaptionRow[]): Map<string, CaptionRow> {
  return new Map(rows.map((r) => [r.imageId, r]));
}

/** Mean of each channel of what the engine saw. */
function meanColour(image: PreparedImage): number[] {
  const sums = [0, 0, 0];
  for (let i = 0; i < image.pixels.length; i++) sums[i % 3]! += image.pixels[i]!;
  return sums.map((s) => Math.round(s / (image.pixels.length / 3)));
}

describe('bad images in a folder dataset', () => {
  let server: Server;
  let hits: string[];
  beforeAll(async () => {
    hits = [];
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('captions what can be read with the right pixels, one error row for each of the rest, exit 3', async () => {
    const dir = join(root, 'folder');
    await mkdir(dir, { recursive: true });
    await writeBadImages(dir, (server.address() as AddressInfo).port);
    const { code, rows, engine, stderr } = await captionRun(dir, ['--format', 'folder']);
    expect(code, stderr).toBe(3);
    const row = byId(rows);
    const ok = rows
      .filter((r) => r.status === 'ok')
      .map((r) => r.imageId)
      .sort();
    const asRoot = process.getuid?.() === 0;
    expect(ok).toEqual(
      [
        'good',
        'grey16',
        'cmyk',
        'grey-alpha',
        'animated-gif',
        'animated-webp',
        'same',
        'pages',
        'link-to-good',
        'with space',
        `quote "double" 'single'`,
        'naïve-画像-é',
        'comma,semicolon;',
        // root reads a file whatever its mode (CI runs as root); others get an error row.
        ...(asRoot ? ['no-permission'] : []),
      ]
        .filter((id, i, all) => all.indexOf(id) === i)
        .sort(),
    );
    // The second same.* is an error row under the same id, naming the first.
    const same = rows.filter((r) => r.imageId === 'same');
    expect(same.map((r) => r.status)).toEqual(['ok', 'error']);
    expect(same[1]!.error).toMatch(/same\.webp: duplicate id 'same' \(first at .*same\.png\)/);

    const errors: Record<string, RegExp> = {
      // libvips says "premature end" or, when decodes run at once and its error text comes
      // back without the detail, "corrupt header"; either way the row names the file
      truncated:
        /truncated\.jpg: cannot decode image \(.*(premature|truncated|end of|corrupt header)/i,
      empty: /empty\.jpg: empty file \(0 bytes\)/,
      text: /text\.jpg: cannot decode image \(.*unsupported image format\): it holds text, not an image$/i,
      'bad-crc': /bad-crc\.png: cannot decode PNG image data; the file is corrupt or truncated/,
      bomb: /bomb\.png: image is larger than the pixel limit of \d+ pixels \(possible decompression bomb\); refused/,
      'bomb-jpeg':
        /bomb-jpeg\.jpg: image is larger than the pixel limit of \d+ pixels \(possible decompression bomb\); refused/,
      external: /external\.png: SVG images are not accepted/,
      loop: /loop\.jpg: .*symbolic link loop/,
      dangling: /dangling\.jpg: image file is a dangling symbolic link/,
      fifo: /fifo\.jpg: .*not a regular file \(a FIFO\)/,
    };
    if (!asRoot) errors['no-permission'] = /no-permission\.jpg: cannot read file \(EACCES\)/;
    for (const [id, pattern] of Object.entries(errors)) {
      expect(row.get(id)?.status, id).toBe('error');
      expect(row.get(id)?.error, id).toMatch(pattern);
    }
    expect(rows).toHaveLength(ok.length + Object.keys(errors).length + 1);

    const colour = (id: string) => meanColour(engine.seen.get(id)!);
    const near = (actual: number[], expected: number[], tolerance: number) =>
      expect(
        actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance),
        `${actual} vs ${expected}`,
      ).toBe(true);
    near(colour('good'), [200, 40, 40], 3);
    near(colour('grey16'), [128, 128, 128], 1);
    near(colour('cmyk'), [120, 140, 160], 6);
    near(colour('grey-alpha'), [227, 227, 227], 2);
    near(colour('animated-gif'), [250, 250, 0], 3); // first frames
    near(colour('animated-webp'), [0, 250, 250], 3);
    near(colour('same'), [5, 5, 5], 1); // the first of the two files named same.*
    near(colour('pages'), [250, 120, 0], 1);
    near(colour('naïve-画像-é'), [200, 40, 40], 3);
    // Only the first page or frame is used: the image keeps its aspect ratio (square).
    for (const id of ['animated-gif', 'animated-webp', 'pages']) {
      const image = engine.seen.get(id)!;
      expect([image.originalWidth, image.originalHeight]).toEqual([64, 64]);
    }
    expect(hits).toEqual([]);
  });
});

describe('bad images in other datasets', () => {
  it('manifest: a directory where a file is expected, a name with quotes and commas, a missing file', async () => {
    const dir = join(root, 'manifest');
    await mkdir(join(dir, 'images', 'folder.png'), { recursive: true });
    const good = await solid(20, 220, 20).png().toBuffer();
    await writeFile(join(dir, 'images', 'a "quoted", name.png'), good);
    await writeFile(join(dir, 'images', 'plain.png'), good);
    await writeFile(
      join(dir, 'manifest.csv'),
      [
        'id,image,caption',
        'quoted,"images/a ""quoted"", name.png",a quoted name',
        'folder,images/folder.png,a directory where a file is expected',
        'missing,images/nowhere.png,a file that is not there',
        'plain,images/plain.png,a plain one',
        '',
      ].join('\n'),
    );
    const { code, rows, engine } = await captionRun(join(dir, 'manifest.csv'));
    expect(code).toBe(3);
    expect(rows.map((r) => [r.imageId, r.status])).toEqual([
      ['quoted', 'ok'],
      ['folder', 'error'],
      ['missing', 'error'],
      ['plain', 'ok'],
    ]);
    expect(rows[0]!.imagePath).toMatch(/a "quoted", name\.png$/);
    expect(rows[1]!.error).toMatch(
      /manifest\.csv:3: image file is not a regular file \(a directory\): .*folder\.png/,
    );
    expect(rows[2]!.error).toMatch(/manifest\.csv:4: image file not found: .*nowhere\.png/);
    expect(meanColour(engine.seen.get('quoted')!)[1]).toBeGreaterThan(200);
  });

  it('dicom: a transfer syntax medcap cannot decode is one error row; the rest are captioned', async () => {
    const dir = join(root, 'dicom');
    await mkdir(dir, { recursive: true });
    const ct = { rows: 8, columns: 8, values: Array.from({ length: 64 }, (_, i) => i * 60) };
    await writeFile(join(dir, '1-plain.dcm'), dicomFile(ct));
    // JPEG XL: a transfer syntax newer than medcap's table.
    await writeFile(
      join(dir, '2-jpegxl.dcm'),
      dicomFile({
        ...ct,
        values: undefined,
        transferSyntax: '1.2.840.10008.1.2.4.110',
        fragments: [new Uint8Array([0xff, 0x0a, 0, 0])],
      }),
    );
    // MPEG-4 video: not an image codec at all.
    await writeFile(
      join(dir, '3-mpeg4.dcm'),
      dicomFile({
        ...ct,
        values: undefined,
        transferSyntax: '1.2.840.10008.1.2.4.102',
        fragments: [new Uint8Array(16)],
      }),
    );
    await writeFile(join(dir, '4-plain.dcm'), dicomFile(ct));
    const { code, rows } = await captionRun(dir, ['--format', 'dicom']);
    expect(code).toBe(3);
    expect(rows.map((r) => [r.imageId, r.status])).toEqual([
      ['1-plain', 'ok'],
      ['2-jpegxl', 'error'],
      ['3-mpeg4', 'error'],
      ['4-plain', 'ok'],
    ]);
    expect(rows[1]!.error).toMatch(
      /2-jpegxl\.dcm: transfer syntax 1\.2\.840\.10008\.1\.2\.4\.110 \(unknown transfer syntax\) is not supported; .*gdcmconv --raw/,
    );
    expect(rows[2]!.error).toMatch(
      /3-mpeg4\.dcm: transfer syntax 1\.2\.840\.10008\.1\.2\.4\.102 .* is not supported/,
    );
  });

  it('manifest of DICOM files: a .dcm that is not DICOM, a truncated and an empty one are error rows naming the file; the rest, extension-less DICOM included, are captioned with the file window or --window', async () => {
    const dir = join(root, 'manifest-dicom');
    await mkdir(dir, { recursive: true });
    // CT in Hounsfield units (intercept -1024) with the file window 40/400.
    const hu = [-1000, -160, -100, 0, 40, 100, 239, 1000];
    const ct = dicomFile({
      rows: 2,
      columns: 4,
      bitsAllocated: 16,
      bitsStored: 12,
      rescaleIntercept: -1024,
      values: hu.map((v) => v + 1024),
      windowCenter: [40],
      windowWidth: [400],
    });
    await writeFile(join(dir, 'ct.dcm'), ct);
    await writeFile(join(dir, 'IM000002'), ct);
    await writeFile(join(dir, 'report.dcm'), 'Findings: none. This is a text file.\n');
    await writeFile(join(dir, 'cut.dcm'), ct.subarray(0, ct.length - 8));
    await writeFile(join(dir, 'empty.dcm'), new Uint8Array(0));
    await writeFile(join(dir, 'green.png'), await solid(20, 220, 20).png().toBuffer());
    await writeFile(
      join(dir, 'manifest.csv'),
      [
        'id,image,caption',
        'ct,ct.dcm,a CT',
        'fake,report.dcm,a text file named .dcm',
        'bare,IM000002,a PACS export without extension',
        'cut,cut.dcm,a truncated DICOM file',
        'empty,empty.dcm,an empty file',
        'green,green.png,a plain PNG',
        '',
      ].join('\n'),
    );
    const { code, rows, engine } = await captionRun(join(dir, 'manifest.csv'));
    expect(code).toBe(3);
    expect(rows.map((r) => [r.imageId, r.status])).toEqual([
      ['ct', 'ok'],
      ['fake', 'error'],
      ['bare', 'ok'],
      ['cut', 'error'],
      ['empty', 'error'],
      ['green', 'ok'],
    ]);
    const failed = byId(rows);
    expect(failed.get('fake')!.error).toBe(
      `${join(dir, 'report.dcm')}: not a DICOM file (no 'DICM' marker at byte 128, and not a bare DICOM data set)`,
    );
    expect(failed.get('cut')!.error).toMatch(/cut\.dcm: .*truncated/);
    expect(failed.get('empty')!.error).toBe(`${join(dir, 'empty.dcm')}: empty file (0 bytes)`);
    // The same file, with and without its extension: the same pixels, the file's window.
    const ctSeen = engine.seen.get('ct')!;
    expect(Buffer.from(engine.seen.get('bare')!.pixels).equals(Buffer.from(ctSeen.pixels))).toBe(
      true,
    );
    expect(meanColour(engine.seen.get('green')!)[1]).toBeGreaterThan(200);
    // --window reaches DICOM files of a manifest: lung window -600/1500 brightens this CT.
    const windowed = await captionRun(join(dir, 'manifest.csv'), ['--window', '-600,1500']);
    const brighter = meanColour(windowed.engine.seen.get('ct')!)[0]!;
    expect(brighter).toBeGreaterThan(meanColour(ctSeen)[0]! + 40);
  });

  it('parquet: a row whose image bytes are corrupt is one error row naming file and row', async () => {
    const dir = join(root, 'parquet');
    await mkdir(dir, { recursive: true });
    const good = await solid(220, 220, 220).jpeg().toBuffer();
    const corrupt = Buffer.concat([good.subarray(0, 200), Buffer.from('garbage')]);
    await writeFile(
      join(dir, 'train-00000-of-00001.parquet'),
      hfShard([
        { id: 'r0', caption: 'first', image: good },
        { id: 'r1', caption: 'corrupt', image: corrupt },
        { id: 'r2', caption: 'text', image: Buffer.from('not an image at all') },
        { id: 'r3', caption: 'last', image: good },
      ]),
    );
    const { code, rows } = await captionRun(dir, ['--format', 'parquet']);
    expect(code).toBe(3);
    expect(rows.map((r) => [r.imageId, r.status])).toEqual([
      ['r0', 'ok'],
      ['r1', 'error'],
      ['r2', 'error'],
      ['r3', 'ok'],
    ]);
    expect(rows[1]!.error).toMatch(
      /train-00000-of-00001\.parquet#1: cannot decode image \(Input buffer has corrupt header.*\): it starts as a JPEG image, so it is corrupt or truncated$/,
    );
    expect(rows[2]!.error).toMatch(
      /train-00000-of-00001\.parquet#2: cannot decode image \(.*unsupported image format\): it holds text, not an image$/,
    );
  });
});
