/**
 * Captioning pipeline benchmarks:
 * - preprocessing + pipeline overhead: `caption()` over 600 ROCOv2-sized JPEGs with an
 *   engine that answers at once, so the time is reading, decoding, resizing, batching,
 *   journaling and writing (the ceiling medcap puts on any engine);
 * - the embedded engine with the bundled tiny Qwen2-VL, sequential (batch 1, no cache) vs
 *   batched (batch 8, cache), on 96 sample images.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { TINY_CAPTION_MODEL } from '../src/cli/commands/demo.js';
import { loadConfig } from '../src/config/load.js';
import { CAPTION_OPTIONS, COMMON_OPTIONS } from '../src/config/schema.js';
import type { CaptionConfig } from '../src/config/types.js';
import { writeDemoDataset } from '../src/demo/sample-data.js';
import type { CaptionEngine, CaptionOutcome, PreparedImage } from '../src/engines/types.js';
import { caption } from '../src/pipeline/run.js';

/** Answers at once: measures everything but the model. */
const instantEngine: CaptionEngine = {
  id: 'instant',
  model: 'none',
  device: 'cpu',
  async generate(batch: readonly PreparedImage[]): Promise<CaptionOutcome[]> {
    return batch.map(() => ({ ok: true, caption: 'a caption' }));
  },
  async dispose() {},
};

function config(flags: Record<string, unknown>): CaptionConfig {
  return loadConfig({
    specs: [...COMMON_OPTIONS, ...CAPTION_OPTIONS],
    flags: { limit: 'all', checkpointEvery: 100, overwrite: true, ...flags },
    env: {},
    cwd: '/nonexistent',
  }) as unknown as CaptionConfig;
}

/** A ROCOv2-layout dataset of `count` images made from the demo images at `side` px. */
async function dataset(root: string, count: number, side: number | undefined): Promise<string> {
  const demo = join(root, 'demo');
  await writeDemoDataset(demo);
  const data = join(root, `data-${count}-${side ?? 'orig'}`);
  await mkdir(join(data, 'train'), { recursive: true });
  const lines = ['ID,Caption'];
  for (let i = 0; i < count; i++) {
    const source = join(demo, 'train', `DEMO_${String((i % 24) + 1).padStart(3, '0')}.jpg`);
    const bytes = side
      ? await sharp(source)
          .resize(side, Math.round(side * (0.75 + (i % 3) * 0.125)), { fit: 'fill' })
          .jpeg({ quality: 90 })
          .toBuffer()
      : await readFile(source);
    const id = `BENCH_${String(i).padStart(5, '0')}`;
    await writeFile(join(data, 'train', `${id}.jpg`), bytes);
    lines.push(`${id},"Sample caption ${i}."`);
  }
  await writeFile(join(data, 'train_captions.csv'), `${lines.join('\n')}\n`);
  return data;
}

async function timed(
  label: string,
  run: () => Promise<{ processed: number; peakRssBytes: number }>,
) {
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const mib = (result.peakRssBytes / 1024 ** 2).toFixed(0);
  process.stdout.write(
    `${label.padEnd(58)} ${result.processed} images  ${seconds.toFixed(2)} s  ${(result.processed / seconds).toFixed(1)} img/s  peak RSS ${mib} MiB\n`,
  );
}

export async function benchCaption(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'medcap-bench-'));
  try {
    const big = await dataset(root, 600, 1024);
    for (const [label, flags] of [
      ['pipeline, instant engine, 1024px JPEGs, batch 8, cache', { batchSize: 8 }],
      ['pipeline, instant engine, 1024px JPEGs, batch 1, no cache', { batchSize: 1, cache: false }],
    ] as const) {
      await timed(label, () =>
        caption(config({ data: big, out: join(root, 'out-instant'), ...flags }), {
          engine: instantEngine,
        }),
      );
    }
    const small = await dataset(root, 96, undefined);
    for (const [label, flags] of [
      ['tiny Qwen2-VL on CPU, batch 1, no cache (sequential)', { batchSize: 1, cache: false }],
      ['tiny Qwen2-VL on CPU, batch 8, cache', { batchSize: 8 }],
    ] as const) {
      await timed(label, () =>
        caption(
          config({
            data: small,
            out: join(root, 'out-tiny'),
            model: TINY_CAPTION_MODEL,
            offline: true,
            maxNewTokens: 24,
            ...flags,
          }),
        ),
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchCaption();
