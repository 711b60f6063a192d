/**
 * DICOM decode time per transfer syntax, for a 512x512 12-bit CT slice (the common case):
 * renderDicom (decode + modality LUT + window) and dicomToPng (what a run does per file).
 * The compressed files are made with DCMTK/GDCM at run time, so those on PATH are measured
 * and the rest are skipped with a note.
 *
 *   npx tsx bench/dicom.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dicomToPng, renderDicom } from '../src/images/dicom/decode.js';
import { dicomToPngInWorker } from '../src/images/dicom/decode-pool.js';
import { dicomFile } from '../test/fixtures/dicom/write.js';

const SIZE = 512;

/** name, tool and arguments (input and output are appended). */
const SYNTAXES: [string, string, string[]][] = [
  ['JPEG-LS lossless', 'dcmcjpls', []],
  ['RLE', 'dcmcrle', []],
  ['lossless JPEG SV1', 'dcmcjpeg', ['+e1']],
  ['JPEG 12-bit lossy', 'dcmcjpeg', ['+ee']],
  ['JPEG 2000 lossless', 'gdcmconv', ['--j2k']],
];

function ctSlice(): number[] {
  const values: number[] = [];
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const r = Math.hypot(x - SIZE / 2, y - SIZE / 2);
      const body = r < SIZE * 0.4 ? 1024 + 40 + 30 * Math.sin(x / 7) * Math.cos(y / 11) : 24;
      values.push(Math.round(body + ((x * 7 + y * 13) % 17)));
    }
  return values;
}

export async function benchDicom(
  options: { rounds?: number; log?: (line: string) => void } = {},
): Promise<Record<string, { renderMs: number; pngMs: number }>> {
  const rounds = options.rounds ?? 20;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dir = await mkdtemp(join(tmpdir(), 'medcap-bench-dicom-'));
  const results: Record<string, { renderMs: number; pngMs: number }> = {};
  try {
    const original = join(dir, 'original.dcm');
    await writeFile(
      original,
      dicomFile({
        rows: SIZE,
        columns: SIZE,
        bitsStored: 12,
        values: ctSlice(),
        rescaleIntercept: -1024,
        rescaleSlope: 1,
        windowCenter: [40],
        windowWidth: [400],
      }),
    );
    const files: [string, string][] = [['uncompressed', original]];
    for (const [index, [name, tool, args]] of SYNTAXES.entries()) {
      const out = join(dir, `${index}-${tool}.dcm`);
      try {
        execFileSync(tool, [...args, original, out], { stdio: 'ignore' });
        files.push([name, out]);
      } catch {
        log(`${name}: skipped (${tool} not found; apt-get install dcmtk libgdcm-tools)`);
      }
    }
    for (const [name, path] of files) {
      const bytes = await readFile(path);
      // Codec start-up and JIT warm-up (the lossless JPEG decoder is plain JavaScript) are
      // not part of the per-image time.
      for (let i = 0; i < 5; i++) await dicomToPng(bytes, path);
      const render: number[] = [];
      const png: number[] = [];
      for (let i = 0; i < rounds; i++) {
        let t = performance.now();
        await renderDicom(bytes, path);
        render.push(performance.now() - t);
        t = performance.now();
        await dicomToPng(bytes, path);
        png.push(performance.now() - t);
      }
      const renderMs = median(render);
      const pngMs = median(png);
      results[name] = { renderMs, pngMs };
      log(
        `${name.padEnd(20)} ${String(bytes.length).padStart(8)} bytes  render ${renderMs.toFixed(1)} ms  to PNG ${pngMs.toFixed(1)} ms  (${SIZE}x${SIZE}, median of ${rounds})`,
      );
    }
    // What a run sees: many files in flight at once, decoded by the worker pool.
    for (const [name, path] of files) {
      const bytes = await readFile(path);
      await Promise.all(Array.from({ length: 8 }, () => dicomToPngInWorker(bytes, path)));
      const t = performance.now();
      await Promise.all(Array.from({ length: rounds }, () => dicomToPngInWorker(bytes, path)));
      const perImage = (performance.now() - t) / rounds;
      log(
        `${name.padEnd(20)} worker pool: ${perImage.toFixed(1)} ms per image (${rounds} at once)`,
      );
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  await benchDicom({ rounds: Number(process.argv[2] ?? 20) });
