import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../support/main-in-process.js';
import { writeSyntheticRun } from './report-fixture.js';

function cli(argv: string[], cwd: string) {
  return runMain(argv, { env: {}, cwd });
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-report-cli-'));
  await writeSyntheticRun(join(root, 'run'), { rows: 12, images: 3, metrics: true, journal: true });
  await writeSyntheticRun(join(root, 'two'), { rows: 4, images: 0, split: 'valid' });
  await writeSyntheticRun(join(root, 'two'), { rows: 4, images: 0, split: 'test' });
  await writeSyntheticRun(join(root, 'with-train'), { rows: 4, images: 0 });
  await writeSyntheticRun(join(root, 'with-train'), { rows: 4, images: 0, split: 'valid' });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('medcap report', () => {
  it('writes the report into DIR (relative to the working directory) and prints its path', async () => {
    const result = await cli(['report', 'run'], root);
    expect(result.code).toBe(0);
    const path = join(root, 'run', 'medical_train_report.html');
    expect(result.out).toBe(`${path}\n`);
    expect(result.err).toMatch(/report: wrote .*medical_train_report\.html \(\d+ KiB\)/);
    expect(await readFile(path, 'utf8')).toContain('<!doctype html>');
  });

  it('takes --split', async () => {
    const result = await cli(['report', 'two', '--split', 'valid'], root);
    expect(result.code).toBe(0);
    expect(result.out.trim()).toBe(join(root, 'two', 'medical_valid_report.html'));
  });

  it('exits 1 naming the problem when DIR is missing, not a folder, or the split is ambiguous', async () => {
    const missing = await cli(['report', 'nowhere'], root);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/run folder .*nowhere: no such folder/);
    const file = await cli(['report', join('run', 'medical_captions_train.csv')], root);
    expect(file.code).toBe(1);
    expect(file.err).toMatch(/run folder .*medical_captions_train\.csv: is a file, not a folder/);
    const ambiguous = await cli(['report', 'two'], root);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.err).toMatch(/splits found: test, valid \(pick one with --split\)/);
    // train among them is not taken for the default
    const withTrain = await cli(['report', 'with-train'], root);
    expect(withTrain.code).toBe(1);
    expect(withTrain.err).toMatch(
      /run folder .*with-train: splits found: train, valid \(pick one with --split\)/,
    );
    expect((await cli(['report', 'with-train', '--split', 'train'], root)).code).toBe(0);
  });

  it('exits 1 without DIR', async () => {
    expect((await cli(['report'], root)).code).toBe(1);
  });
});
