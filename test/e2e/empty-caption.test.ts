import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { FakeEngine } from '../support/fake-engine.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-empty-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('an empty generated caption', () => {
  it('stays ok with the warning "empty caption", counted in the log, summary and report', async () => {
    const data = await writeRocov2(join(root, 'data'), imageSpecs(5));
    const out = join(root, 'out');
    const log: string[] = [];
    const code = await main(
      ['run', '--data', data, '--out', out, '--metrics', 'bleu,rouge,cider', '--batch-size', '2'],
      {
        engine: new FakeEngine({ emptyIds: ['IMG_0002', 'IMG_0005'], failIds: ['IMG_0003'] }),
        writeErr: (t) => log.push(t),
        writeOut: () => {},
        env: {},
      },
    );
    expect(code).toBe(3);

    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows.map((r) => [r.status, r.error.replace(/fake failure.*/, 'failed')])).toEqual([
      ['ok', ''],
      ['ok', 'empty caption'],
      ['error', 'failed'],
      ['ok', ''],
      ['ok', 'empty caption'],
    ]);
    expect(rows[1]!.generatedCaption).toBe('');

    const lines = log.join('').trimEnd().split('\n');
    const captionDone = lines.find((l) => l.includes('done: 5 images in'));
    expect(captionDone).toMatch(/1 failed, 2 with an empty caption; wrote /);
    expect(lines.at(-1)).toMatch(/done: 5 images, 1 failed, 2 with an empty caption; report: /);

    const summary = await readFile(join(out, 'medical_train_summary.txt'), 'utf8');
    expect(summary).toMatch(
      /4 scored, 1 failed captioning, 0 without a reference, 2 with an empty caption/,
    );
    expect(summary).toMatch(
      /Empty generated caption \(2, scored as empty\):\n {2}IMG_0002\n {2}IMG_0005/,
    );

    const report = await readFile(join(out, 'medical_train_report.html'), 'utf8');
    expect(report).toContain('1 failed · 2 empty captions');
  });

  it('keeps the dataset warning beside it', async () => {
    const specs = imageSpecs(2).map((s, i) => (i === 0 ? { ...s, caption: '' } : s));
    const data = await writeRocov2(join(root, 'noref'), specs);
    const out = join(root, 'noref-out');
    const code = await main(['caption', '--data', data, '--out', out], {
      engine: new FakeEngine({ emptyIds: ['IMG_0001'] }),
      writeErr: () => {},
      env: {},
    });
    expect(code).toBe(0);
    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows[0]!.status).toBe('ok');
    expect(rows[0]!.error).toMatch(/.+; empty caption$/);
    expect(rows[1]!.error).toBe('');
  });
});
