/**
 * Memory (issue #11 §7): a 60,000-image run with an engine that answers at once keeps its
 * RSS flat, and the preprocessed-image cache never holds more than its budget.
 *
 * The RSS curve is the run's own record: the memory lines of its journal (one per
 * checkpoint, every 2,000 images here, and one every 5 s). What must stay in memory grows
 * with the images done: the rows kept for the final CSV and the run's result, and their CSV
 * text for the checkpoints: measured 0.65 kB of heap and buffers per row, 1.2 kB of RSS
 * with the allocator's overhead (RunState alone, 50,000 rows, after a full GC). So the
 * bound on growth between 10,000 and 60,000 images is 50,000 x RETAINED_PER_IMAGE +
 * GC_SLACK = 148 MB; keeping one prepared image per image (9 to 19 kB of pixels for the
 * images used) would add 470 MB or more and fail it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalMemory } from '../../src/formats/journal-types.js';
import { runCli } from '../support/cli-process.js';
import { jpeg } from '../support/datasets.js';

const IMAGES = 60_000;
/** Rows + CSV text kept per finished image: 1.2 kB of RSS measured, 2 kB allowed. */
const RETAINED_PER_IMAGE = 2048;
/** V8 grows and shrinks its heap in steps; RSS moves by tens of MB without a leak. */
const GC_SLACK = 48 * 1024 * 1024;
/** Below what three half-full buckets of these sizes hold, so the budget is reached. */
const CACHE_BUDGET = 400 * 1024;
const SIZES = [
  [56, 56],
  [112, 56],
  [56, 112],
] as const;

let root: string;
let manifest: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-memory-'));
  // 60,000 manifest rows over three small images: the run reads, decodes and batches every
  // row, without 60,000 files to write first.
  await mkdir(join(root, 'images'));
  for (const [i, [width, height]] of SIZES.entries())
    writeFileSync(join(root, 'images', `${i}.jpg`), await jpeg(width, height, i + 1));
  const lines = Array.from({ length: IMAGES }, (_, i) =>
    JSON.stringify({
      id: `ROCOv2_2023_train_${String(i).padStart(6, '0')}`,
      image: `images/${i % SIZES.length}.jpg`,
      caption: `Axial CT of the chest, case ${i}, showing a 2.3 cm nodule in the right upper lobe.`,
    }),
  );
  manifest = join(root, 'manifest.jsonl');
  writeFileSync(manifest, `${lines.join('\n')}\n`);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('memory over a 60,000-image run', () => {
  it('RSS stays flat from 10,000 to 60,000 images and the cache stays within its budget', async () => {
    const out = join(root, 'out');
    const result = await runCli([
      'caption',
      '--data',
      manifest,
      '--limit',
      'all',
      '--out',
      out,
      '--batch-size',
      '32',
      '--checkpoint-every',
      '2000',
      '--cache-memory',
      String(CACHE_BUDGET),
    ]);
    expect(result.code, result.stderr).toBe(0);

    const samples = readFileSync(join(out, 'medical_captions_train.journal.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string })
      .filter((line): line is JournalMemory => line.kind === 'memory');
    expect(samples.at(-1)!.done).toBe(IMAGES);
    const at = (done: number) => samples.find((s) => s.done >= done)!;
    const curve = [2_000, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000].map((done) => ({
      done: at(done).done,
      rssMiB: Math.round(at(done).rssBytes / 2 ** 20),
      heapMiB: Math.round(at(done).heapUsedBytes / 2 ** 20),
    }));
    process.stdout.write(`RSS curve (images, RSS MiB, heap MiB): ${JSON.stringify(curve)}\n`);

    const growth = at(60_000).rssBytes - at(10_000).rssBytes;
    expect(growth).toBeLessThan(50_000 * RETAINED_PER_IMAGE + GC_SLACK);
    const peakCache = Math.max(...samples.map((s) => s.cacheBytes));
    expect(peakCache).toBeLessThanOrEqual(CACHE_BUDGET);
    // The budget was reached: caching stopped, said once, and the run streamed on.
    expect(result.stderr.match(/cache: budget of .* reached/g)).toHaveLength(1);
  }, 600_000);
});
