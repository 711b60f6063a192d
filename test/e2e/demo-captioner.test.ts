// The trained demo captioner says real things about the demo's held-out studies: through
// `medcap run` it beats the random-weight tiny model by a wide, measured margin, and the demo's
// scores are the same on every run. Margins measured 2026-12-06 (docs/DEMO-MODEL.md): trained
// BLEU-4 0.839, ROUGE-L 0.929, CIDEr-D 8.18, 17 of 24 captions exact; random 0.000, 0.000,
// 0.000.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CAPTION_MODEL, TINY_CAPTION_MODEL } from '../../src/cli/commands/demo.js';
import { writeDemoDataset } from '../../src/demo/sample-data.js';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { runMain } from '../support/main-in-process.js';

let root: string;
let data: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-demo-captioner-'));
  data = join(root, 'data');
  await writeDemoDataset(data);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Aggregate {
  n: number;
  metrics: Record<string, { corpus: number; mean: number }>;
}

async function cli(argv: string[]): Promise<void> {
  const { code, err } = await runMain(argv, { env: { HF_HUB_OFFLINE: '1' } });
  expect(code, err).toBe(0);
}

async function aggregate(out: string): Promise<Aggregate> {
  return JSON.parse(await readFile(join(out, 'medical_train_aggregate.json'), 'utf8')) as Aggregate;
}

async function runWith(model: string, out: string): Promise<Aggregate> {
  await cli([
    'run',
    '--data',
    data,
    '--format',
    'rocov2',
    '--split',
    'train',
    '--model',
    model,
    '--offline',
    '--limit',
    'all',
    '--metrics',
    'bleu,rouge,cider',
    '--out',
    out,
    '--quiet',
  ]);
  return aggregate(out);
}

describe('demo captioner', () => {
  it('beats the random tiny model on the held-out demo studies, through medcap run', async () => {
    const trained = await runWith(DEMO_CAPTION_MODEL, join(root, 'trained'));
    const random = await runWith(TINY_CAPTION_MODEL, join(root, 'random'));
    expect(trained.n).toBe(24);
    expect(random.n).toBe(24);
    const score = (a: Aggregate, key: string) => a.metrics[key]!.corpus;
    expect(score(trained, 'bleu_4')).toBeGreaterThanOrEqual(0.8);
    expect(score(trained, 'rouge_l')).toBeGreaterThanOrEqual(0.9);
    expect(score(trained, 'cider')).toBeGreaterThanOrEqual(7.5);
    expect(score(random, 'rouge_l')).toBeLessThanOrEqual(0.05);
    expect(score(random, 'cider')).toBeLessThanOrEqual(0.1);
    expect(score(trained, 'rouge_l') - score(random, 'rouge_l')).toBeGreaterThanOrEqual(0.85);
    expect(score(trained, 'cider') - score(random, 'cider')).toBeGreaterThanOrEqual(7);
    // Most captions are exactly right, and every one names the study's modality.
    const rows = await readCaptionsCsv(join(root, 'trained', 'medical_captions_train.csv'));
    const exact = rows.filter((r) => r.generatedCaption === r.references[0]).length;
    expect(exact).toBeGreaterThanOrEqual(16); // measured: 17 of 24
    for (const r of rows) {
      expect(r.generatedCaption.split(' ').slice(0, 2), r.imageId).toEqual(
        r.references[0]!.split(' ').slice(0, 2),
      );
    }
  });

  it('the demo shows the same scores on every run', async () => {
    const a = join(root, 'demo-a');
    const b = join(root, 'demo-b');
    await cli(['demo', '--out', a, '--quiet']);
    await cli(['demo', '--out', b, '--quiet']);
    const first = await aggregate(a);
    const second = await aggregate(b);
    expect(first.metrics.rouge_l!.corpus).toBeGreaterThanOrEqual(0.9);
    expect(second.metrics).toEqual(first.metrics);
    const captions = async (dir: string) =>
      (await readCaptionsCsv(join(dir, 'medical_captions_train.csv'))).map(
        (r) => r.generatedCaption,
      );
    expect(await captions(b)).toEqual(await captions(a));
    const table = async (dir: string) =>
      (await readFile(join(dir, 'medical_train_summary.txt'), 'utf8'))
        .split('\n')
        .filter((line) => /^\s+(BLEU|ROUGE|METEOR|CIDEr|BERTScore)/.test(line));
    expect(await table(b)).toEqual(await table(a));
    expect((await table(a)).length).toBeGreaterThanOrEqual(9);
  });
});
