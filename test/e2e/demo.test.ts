import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-demo-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('medcap demo', () => {
  it('runs the whole pipeline on the bundled data with the bundled model, offline', async () => {
    const out = join(root, 'demo');
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await main(['demo', '--out', out], {
      env: { HF_HUB_OFFLINE: '1' },
      writeOut: (t) => stdout.push(t),
      writeErr: (t) => stderr.push(t),
    });
    expect(code, stderr.join('')).toBe(0);
    // The demo's data are clean: nothing in the whole pipeline deserves a warning.
    expect(
      stderr
        .join('')
        .split('\n')
        .filter((line) => line.startsWith('warn')),
    ).toEqual([]);
    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows).toHaveLength(24);
    expect(rows.every((r) => r.status === 'ok' && r.generatedCaption.length > 0)).toBe(true);
    expect(rows[0]!.concepts).toEqual(['C0040405', 'C0018670']);
    for (const file of [
      'medical_captions_train.journal.jsonl',
      'medical_captions_train_with_metrics.csv',
      'medical_train_detailed.csv',
      'medical_train_summary.txt',
      'checkpoint_24.csv',
    ]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    const aggregate = JSON.parse(await readFile(join(out, 'medical_train_aggregate.json'), 'utf8'));
    expect(aggregate.n).toBe(24);
    expect(Object.keys(aggregate.metrics)).toEqual(
      expect.arrayContaining(['bleu_4', 'rouge_l', 'meteor', 'cider', 'bertscore_f1']),
    );
    const report = join(out, 'medical_train_report.html');
    expect(stdout.join('').trim()).toBe(report);
    expect((await readFile(report, 'utf8')).length).toBeGreaterThan(10_000);
  });

  it('exits 1 naming --out when it is a file', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'not a folder');
    const stderr: string[] = [];
    const code = await main(['demo', '--out', file], {
      env: { HF_HUB_OFFLINE: '1' },
      writeOut: () => {},
      writeErr: (t) => stderr.push(t),
    });
    expect(code).toBe(1);
    expect(stderr.join('')).toContain(
      `--out ${file}: the output folder is not writable: a file of that name is in the way`,
    );
  });

  it('writes the same sample images every time', async () => {
    const { writeDemoDataset } = await import('../../src/demo/sample-data.js');
    const a = join(root, 'a');
    const b = join(root, 'b');
    await writeDemoDataset(a);
    await writeDemoDataset(b);
    for (const name of [
      'train_captions.csv',
      'train/DEMO_001.jpg',
      'train/DEMO_012.jpg',
      'train/DEMO_024.jpg',
    ]) {
      expect((await readFile(join(a, name))).equals(await readFile(join(b, name))), name).toBe(
        true,
      );
    }
  });
});
