import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

/** Pairs as another tool writes them (no image paths), with status and error columns. */
const PAIRS = [
  'image_id,reference_caption,generated_caption,status,error',
  'p1,axial ct of the chest shows a mass,axial ct shows a chest mass,ok,',
  'p2,mri of the brain with a small lesion,brain mri with a lesion,ok,',
  'p3,ultrasound of the kidney,,ok,',
  'p4,,plain radiograph of the hand,ok,',
  'p5,ct of the abdomen,,error,oom',
].join('\n');

describe('medcap report after evaluate', () => {
  it('counts the images without a reference in the summary tile, as evaluate does', async () => {
    await writeFile(join(root, 'pairs.csv'), `${PAIRS}\n`);
    const evaluated = await cli(
      ['evaluate', '--captions', 'pairs.csv', '--out', 'tile', '--bootstrap', '0'],
      root,
    );
    expect(evaluated.code, evaluated.err).toBe(0);
    expect(evaluated.err).toContain('1 rows have no reference caption and are not scored');
    const result = await cli(['report', 'tile'], root);
    expect(result.code, result.err).toBe(0);
    const page = await readFile(result.out.trim(), 'utf8');
    expect(page).toContain(
      '<div class="k">Images</div><div class="v">5</div><div class="n">1 failed · 1 empty caption · 1 without a reference</div>',
    );
  });

  it('leaves out the scores of captions that changed under the same ids, saying so once', async () => {
    const dir = join(root, 'again');
    await mkdir(dir);
    await writeFile(join(root, 'first.csv'), `${PAIRS}\n`);
    const evaluated = await cli(['evaluate', '--captions', 'first.csv', '--out', 'again'], root);
    expect(evaluated.code, evaluated.err).toBe(0);
    // The folder captioned again: the same ids, other captions for p2 and p3.
    const captions = join(dir, 'medical_captions_train.csv');
    await writeFile(
      captions,
      `${PAIRS.replace('brain mri with a lesion', 'a kidney').replace('kidney,,ok', 'kidney,renal ultrasound,ok')}\n`,
    );
    const result = await cli(['report', 'again'], root);
    expect(result.code, result.err).toBe(0);
    const warnings = result.err.split('\n').filter((line) => line.startsWith('warn'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /the captions of 2 of the 3 images evaluate scored have changed since \(the first: p2;.* left out of the report; run medcap evaluate --captions .*medical_captions_train\.csv --out .*again --split train$/,
    );
    const page = await readFile(result.out.trim(), 'utf8');
    expect(page).toContain(
      'the captions of 2 of the 3 images they score have changed since (the first: p2)',
    );
    // No score of the earlier captions anywhere: no metric table, histograms or ranked gallery.
    expect(page).not.toContain('<th>Corpus</th>');
    expect(page).not.toContain('id="distributions"');
    expect(page).not.toContain('class="scores"');
    expect(page).toContain('a kidney');
    expect(page).not.toContain('medical_train_detailed.csv</code>');
  });
});
