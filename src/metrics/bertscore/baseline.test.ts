import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { baselineFor, parseBaseline, readBaselineFile, rescale } from './baseline.js';

// Made-up numbers in bert_score's format (not any of its shipped baselines).
const FILE = 'LAYER,P,R,F\n0,0.25,0.5,0.375\n1,0.8125,0.75,0.78125\n2,-0.5,0,0.1\n';

describe('parseBaseline', () => {
  it('reads one row per layer by the header names, in any column order', () => {
    const table = parseBaseline(FILE, 'b.tsv');
    expect([...table.keys()]).toEqual([0, 1, 2]);
    expect(table.get(1)).toEqual({ precision: 0.8125, recall: 0.75, f1: 0.78125 });
    const reordered = parseBaseline('F,R,P,LAYER\r\n0.5,0.25,0.125,7\r\n', 'b.tsv');
    expect(reordered.get(7)).toEqual({ precision: 0.125, recall: 0.25, f1: 0.5 });
  });

  it.each([
    ['', /the file is empty/],
    ['LAYER\tP\tR\tF\n0\t0.1\t0.2\t0.3\n', /its header is 'LAYER\tP\tR\tF'/],
    ['LAYER,P,R,F\n', /a header but no rows/],
    ['LAYER,P,R,F\n0,0.1,0.2\n', /line 2 has 3 fields, the header 4/],
    ['LAYER,P,R,F\n0,0.1,x,0.3\n', /line 2: '0,0.1,x,0.3' needs three numbers below 1/],
    ['LAYER,P,R,F\n0,0.1,,0.3\n', /line 2: .* needs three numbers below 1/],
    ['LAYER,P,R,F\n0,0.1,1,0.3\n', /line 2: .* needs three numbers below 1/],
    ['LAYER,P,R,F\n1.5,0.1,0.2,0.3\n', /line 2: LAYER '1.5' is not a whole number/],
    ['LAYER,P,R,F\n3,0.1,0.2,0.3\n\n3,0.1,0.2,0.3\n', /line 4: a second row for layer 3/],
  ])('refuses a malformed file (%j), naming the file', (text, message) => {
    expect(() => parseBaseline(text, '/x/b.tsv')).toThrow(ConfigError);
    expect(() => parseBaseline(text, '/x/b.tsv')).toThrow(message);
    expect(() => parseBaseline(text, '/x/b.tsv')).toThrow(/--bertscore-baseline \/x\/b\.tsv: /);
  });
});

describe('readBaselineFile', () => {
  it('names a file it cannot read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medcap-baseline-'));
    try {
      await expect(readBaselineFile(join(dir, 'none.tsv'))).rejects.toThrow(
        /--bertscore-baseline .*none\.tsv: no such file/,
      );
      await writeFile(join(dir, 'b.tsv'), `\ufeff${FILE}`);
      expect((await readBaselineFile(join(dir, 'b.tsv'))).size).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('baselineFor', () => {
  const table = parseBaseline(FILE, 'b.tsv');

  it('takes the row of the layer, its values as float32 (as bert_score reads them)', () => {
    const b = baselineFor(table, 2, 'b.tsv');
    expect(b).toEqual({
      file: 'b.tsv',
      layer: 2,
      precision: -0.5,
      recall: 0,
      f1: Math.fround(0.1),
    });
    expect(b.f1).not.toBe(0.1);
  });

  it('names the file, the layer in use and the layers it has when the row is missing', () => {
    expect(() => baselineFor(table, 17, '/x/b.tsv')).toThrow(
      /--bertscore-baseline \/x\/b\.tsv has no row for layer 17, the layer in use \(it has layers 0, 1, 2\)/,
    );
  });
});

describe('rescale', () => {
  it('maps each of P, R and F1 to (x - b) / (1 - b) on its own', () => {
    const b = { precision: 0.5, recall: 0.75, f1: -1 };
    expect(rescale({ precision: 0.75, recall: 0.875, f1: 0 }, b)).toEqual({
      precision: 0.5,
      recall: 0.5,
      f1: 0.5,
    });
    // the baseline itself goes to 0, a perfect score stays 1
    expect(rescale({ precision: 0.5, recall: 1, f1: -1 }, b)).toEqual({
      precision: 0,
      recall: 1,
      f1: 0,
    });
  });
});
