// §2 of the fault suite: hostile and unusual image files. Each is captioned with the right
// pixels or is one error row naming the file; the run ends with exit 3 and every other
// image captioned. Runs go through the CLI (main) with an instant fake engine.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CaptionOutcome, GenerateOptions, PreparedImage } from '../../src/engines/types.js';
import { type CaptionRow, readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { writeBadImages } from '../fixtures/bad-images.js';
import { dicomFile } from '../fixtures/dicom/write.js';
import { hfShard } from '../fixtures/parquet/write.js';
import { FakeEngine } from '../support/fake-engine.js';

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
  const err: string[] = [];
  const out = join(root, `out-${Math.random().toString(36).slice(2)}`);
  const code = await main(['caption', '--data', data, '--out', out, '--quiet', ...extra], {
    env: {},
    engine,
    writeErr: (t) => err.push(t),
    writeOut: () => {},
  });
  const csv = (await readdir(out)).find((name) => /^medical_captions_.*\.csv$/.test(name));
  if (!csv) throw new Error(`no captions CSV in ${out} (exit ${code}): ${err.join('')}`);
  const rows = await readCaptionsCsv(join(out, csv));
  return { code, rows, engine, stderr: err.join('') };
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
      truncated: /truncated\.jpg: cannot decode image \(.*(premature|truncated|end of)/i,
      empty: /empty\.jpg: empty file \(0 bytes\)/,
      text: /text\.jpg: cannot decode image \(.*unsupported image format/i,
      'bad-crc': /bad-crc\.png: cannot decode PNG image data; the file is corrupt or truncated/,
      bomb: /bomb\.png: image is larger than the pixel limit of \d+ pixels \(possible decompression bomb\); refused/,
      external: /external\.png: SVG images are not accepted/,
      loop: /loop\.jpg: .*symbolic link loop/,
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
    near(colour('grey-alpha'), [100, 100, 100], 2);
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
