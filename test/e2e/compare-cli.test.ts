import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../support/main-in-process.js';

let dir: string;

function cli(args: string[]) {
  return runMain(args, { cwd: dir, env: {} });
}

/** A captions file of another tool (not named medical_captions_*), with status and error columns. */
function pairs(failedFirst: number): string {
  const lines = ['image_id,reference_caption,generated_caption,status,error'];
  for (let i = 0; i < 8; i += 1) {
    const failed = i < failedFirst;
    lines.push(
      `img${i},axial ct of the chest with a mass number ${i},ct of the chest shows a mass ${i % 3},${
        failed ? 'error,oom' : 'ok,'
      }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-compare-'));
  await writeFile(join(dir, 'failing.csv'), pairs(3));
  await writeFile(join(dir, 'all.csv'), pairs(0));
  for (const [file, out] of [
    ['failing.csv', 'F'],
    ['all.csv', 'A'],
  ] as const) {
    const evaluated = await cli([
      'evaluate',
      '--captions',
      file,
      '--out',
      out,
      '--metrics',
      'bleu,rouge',
      '--bootstrap',
      '0',
    ]);
    expect(evaluated.code, evaluated.err).toBe(0);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('medcap compare', () => {
  it("counts images that failed in a run evaluate wrote alone, from its with-metrics CSV's status", async () => {
    const { code, out } = await cli(['compare', 'F', 'A', '--out', 'FA']);
    expect(code).toBe(0);
    const withMetrics = join(dir, 'F', 'medical_captions_train_with_metrics.csv');
    expect(out).toContain(
      `Warning: 3 of the images only in B failed in A (error rows of ${withMetrics}): ` +
        'they are left out of the comparison, which flatters A',
    );
    const swapped = await cli(['compare', 'A', 'F', '--out', 'AF']);
    expect(swapped.out).toContain('3 of the images only in A failed in B');
  });
});
