// The GPU captioning benchmark (bench/gpu-caption.sh) end to end in its CPU smoke mode: the
// committed tiny model, a few small images, medcap with the last-position logits rewrite on
// and off, and each engine setting back as it was. Checks the script's plumbing and outputs, not speed. Runs the built CLI (dist/).
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

let dir: string;
let report: {
  device: string;
  ceiling_img_s: null;
  batches: {
    batch: number;
    medcap_img_s: number | null;
    medcap_full_logits_img_s: number | null;
    medcap_breakdown: Record<string, number> | null;
  }[];
  runs: { engine: string; variant: string; batch: number; rc: number; images: number }[];
};
let stdout: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-gpu-bench-'));
  const env = {
    ...process.env,
    BENCH_SMOKE: '1',
    BENCH_WORK: join(dir, 'work'),
    BENCH_IMAGES: '3',
    BENCH_BATCHES: '1 2',
    BENCH_EXTRA_RUNS: '1:full 2:full 2:vision-batch',
    BENCH_IMAGES_PER_BATCH: '3',
    BENCH_NO_CEILING: '1',
    BENCH_CPU_PROFILE: '2',
  };
  ({ stdout } = await run('bash', ['bench/gpu-caption.sh', join(dir, 'out')], { cwd: root, env }));
  const json = (await readdir(join(dir, 'out'))).find((f) => /^gpu-\d{4}-\d\d-\d\d\.json$/.test(f));
  report = JSON.parse(await readFile(join(dir, 'out', json!), 'utf8'));
}, 180_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function captions(batch: number, variant: string): Promise<string> {
  const csv = await readFile(
    join(dir, 'work', `out-${batch}-${variant}`, 'medical_captions_train.csv'),
    'utf8',
  );
  // generated_caption is the 4th column; the timing columns differ between runs
  return csv
    .trim()
    .split('\n')
    .map((line) => line.split(',').slice(0, 4).join(','))
    .join('\n');
}

describe('bench/gpu-caption.sh --smoke', () => {
  it('captions every image at every batch size, with the rewrite on and off', () => {
    const medcap = report.runs.filter((r) => r.engine === 'medcap');
    expect(medcap.map((r) => [r.batch, r.variant])).toEqual([
      [1, 'last'],
      [2, 'last'],
      [1, 'full'],
      [2, 'full'],
      [2, 'vision-batch'],
    ]);
    for (const r of medcap) expect([r.rc, r.images]).toEqual([0, 3]);
  });

  it('writes a rate per batch size, and says what was not measured', () => {
    expect(report.batches.map((b) => b.batch)).toEqual([1, 2]);
    for (const b of report.batches) {
      expect(b.medcap_img_s).toBeGreaterThan(0);
      expect(b.medcap_full_logits_img_s).toBeGreaterThan(0);
    }
    expect(report.ceiling_img_s).toBeNull();
    for (const b of report.batches) {
      // MEDCAP_PROFILE=1's line, parsed: 3 images in batches of b, one vision and one
      // prefill run per batch, at most 3 decode steps each (4 new tokens)
      const batchCount = Math.ceil(3 / b.batch);
      expect(b.medcap_breakdown).toMatchObject({
        vision_runs: batchCount,
        prefill_runs: batchCount,
      });
      expect(b.medcap_breakdown!.decode_runs).toBeLessThanOrEqual(3 * batchCount);
      expect(b.medcap_breakdown!.peak_rss_mib).toBeGreaterThan(50);
    }
    expect(report.device).toBe('cpu');
    expect(stdout).toMatch(/^1 \| [0-9.]+ \| [0-9.]+ \| /m);
  });

  it('writes a V8 CPU profile of the default run at BENCH_CPU_PROFILE', async () => {
    // One per thread: the main thread's (the engine's) and the hang watchdog's.
    const profiles = await readdir(join(dir, 'out', 'cpu-profile'));
    expect(profiles).toHaveLength(2);
    for (const name of profiles) expect(name).toMatch(/\.cpuprofile$/);
  });

  it('no engine setting changes a caption', async () => {
    for (const batch of [1, 2]) {
      const last = await captions(batch, 'last');
      expect(last.split('\n')).toHaveLength(4);
      expect(last).toBe(await captions(batch, 'full'));
    }
    expect(await captions(2, 'vision-batch')).toBe(await captions(2, 'last'));
  });
});
