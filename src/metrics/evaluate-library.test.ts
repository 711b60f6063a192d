import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { evaluate } from './evaluate.js';
import { createMetric } from './registry.js';
import type { Metric } from './types.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-evaluate-library-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A metric of the caller's own that counts its disposals and refuses to score after one. */
function lengthMetric(): Metric & { disposed: number } {
  return {
    id: 'length',
    columns: ['length'],
    corpusDependent: false,
    disposed: 0,
    async score(input) {
      if (this.disposed > 0) throw new Error('length: used after dispose');
      return {
        corpus: {},
        values: { length: Float64Array.from(input.candidates, (c) => c.length) },
      };
    },
    async dispose() {
      this.disposed += 1;
    },
  };
}

describe('evaluate() with metrics of the caller', () => {
  it('scores them, records them as the metrics run, and leaves them to the caller to reuse and dispose', async () => {
    const captions = join(root, 'pairs.jsonl');
    await writeFile(
      captions,
      '{"id": "a", "candidate": "a small mass", "references": ["a mass"]}\n' +
        '{"id": "b", "candidate": "clear lungs", "references": ["the lungs are clear"]}\n',
    );
    const length = lengthMetric();
    const metrics = [await createMetric('bleu'), length];
    for (const out of ['first', 'second']) {
      const { aggregate } = await evaluate(
        { captions, out: join(root, out), split: 'train', bootstrap: 0 },
        { logger: silentLogger, metrics },
      );
      expect(aggregate.run.metrics).toEqual(['bleu', 'length']);
      expect(aggregate.metrics.length!.corpus).toBe((12 + 11) / 2);
      const summary = await readFile(join(root, out, 'medical_train_summary.txt'), 'utf8');
      expect(summary).toMatch(/metrics bleu,length/);
    }
    expect(length.disposed).toBe(0);
  });
});
