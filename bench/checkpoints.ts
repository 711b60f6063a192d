/**
 * What checkpoints cost at ROCOv2 scale (issue #10 §2): `caption()` over 60,000 small JPEGs
 * with an engine that answers at once, batch 8, with `--checkpoint-every 100` and without,
 * alternating in one process so both see the same machine state. Writes
 * bench/results/checkpoints-YYYY-MM-DD.json.
 *
 *   npx tsx bench/checkpoints.ts [images] [rounds]
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { loadConfig } from '../src/config/load.js';
import { CAPTION_OPTIONS, COMMON_OPTIONS } from '../src/config/schema.js';
import type { CaptionConfig } from '../src/config/types.js';
import type { CaptionEngine, CaptionOutcome, PreparedImage } from '../src/engines/types.js';
import { caption } from '../src/pipeline/run.js';
import { newResultPath } from './results-path.js';

const instantEngine: CaptionEngine = {
  id: 'instant',
  model: 'none',
  device: 'cpu',
  async generate(batch: readonly PreparedImage[]): Promise<CaptionOutcome[]> {
    return batch.map((image) => ({ ok: true, caption: `a ${image.width}x${image.height} scan` }));
  },
  async dispose() {},
};

/** A ROCOv2-layout dataset of `count` small JPEGs in 4 sizes, with ROCOv2-length captions. */
async function smallJpegDataset(root: string, count: number): Promise<string> {
  const sizes = [
    [64, 48],
    [56, 56],
    [48, 64],
    [80, 60],
  ] as const;
  const jpegs = await Promise.all(
    sizes.map(([width, height], i) =>
      sharp({
        create: { width, height, channels: 3, background: { r: 40 * i, g: 90, b: 200 - 30 * i } },
      })
        .jpeg({ quality: 85 })
        .toBuffer(),
    ),
  );
  await mkdir(join(root, 'train'), { recursive: true });
  const lines = ['ID,Caption'];
  for (let i = 0; i < count; i++) {
    const id = `ROCOv2_2023_train_${String(i).padStart(6, '0')}`;
    await writeFile(join(root, 'train', `${id}.jpg`), jpegs[i % jpegs.length]!);
    lines.push(
      `${id},"Axial CT of the chest, case ${i}, showing a 2.3 cm nodule in the right upper lobe."`,
    );
  }
  await writeFile(join(root, 'train_captions.csv'), `${lines.join('\n')}\n`);
  return root;
}

function config(data: string, out: string, checkpointEvery: number): CaptionConfig {
  return loadConfig({
    specs: [...COMMON_OPTIONS, ...CAPTION_OPTIONS],
    flags: { data, out, limit: 'all', batchSize: 8, checkpointEvery, overwrite: true },
    env: {},
    cwd: '/nonexistent',
  }) as unknown as CaptionConfig;
}

export interface CheckpointBenchResult {
  images: number;
  rounds: number;
  withCheckpoints: { imagesPerS: number[]; checkpointFiles: number };
  without: { imagesPerS: number[] };
  /** Median throughput lost to checkpoints, in percent. */
  costPercent: number;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export async function benchCheckpoints(
  images = 60_000,
  rounds = 2,
): Promise<CheckpointBenchResult> {
  const root = await mkdtemp(join(tmpdir(), 'medcap-bench-checkpoints-'));
  try {
    const data = await smallJpegDataset(join(root, 'data'), images);
    const rates = { with: [] as number[], without: [] as number[] };
    let checkpointFiles = 0;
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so a trend in machine load does not favour one.
      const order =
        round % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const);
      for (const mode of order) {
        const out = join(root, `out-${mode}`);
        const started = performance.now();
        const result = await caption(config(data, out, mode === 'with' ? 100 : 0), {
          engine: instantEngine,
        });
        const rate = result.processed / ((performance.now() - started) / 1000);
        rates[mode].push(rate);
        if (mode === 'with')
          checkpointFiles = (await readdir(out)).filter((n) => n.startsWith('checkpoint_')).length;
        process.stdout.write(
          `round ${round + 1} ${mode === 'with' ? 'checkpoint every 100' : 'no checkpoints     '}  ${result.processed} images  ${rate.toFixed(1)} img/s\n`,
        );
        await rm(out, { recursive: true, force: true });
      }
    }
    const costPercent = (1 - median(rates.with) / median(rates.without)) * 100;
    process.stdout.write(
      `median: ${median(rates.with).toFixed(1)} img/s with checkpoints, ${median(rates.without).toFixed(1)} without: ${costPercent.toFixed(1)}% cost\n`,
    );
    return {
      images,
      rounds,
      withCheckpoints: { imagesPerS: rates.with, checkpointFiles },
      without: { imagesPerS: rates.without },
      costPercent,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const images = Number(process.argv[2] ?? 60_000);
  const rounds = Number(process.argv[3] ?? 2);
  const result = await benchCheckpoints(images, rounds);
  const path = newResultPath('checkpoints');
  const record = {
    command: `npx tsx bench/checkpoints.ts ${images} ${rounds}`,
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    engine: 'instant (answers at once)',
    batchSize: 8,
    checkpointEvery: 100,
    ...result,
  };
  await writeFile(path, `${JSON.stringify(record, null, 2)}\n`);
  process.stdout.write(`wrote ${path}\n`);
}
