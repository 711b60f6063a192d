/**
 * Shared contract suite for Metric implementations. A metric's test calls
 * `runMetricContract('name', () => createXMetric())` to check the common promises:
 * declared columns filled for every item, finite values, empty and whitespace-only
 * candidates scored, several references accepted, deterministic results.
 */
import { describe, expect, it } from 'vitest';
import type { Metric, MetricInput } from '../metrics/types.js';

function input(): MetricInput {
  const rows = [
    {
      id: 'a',
      candidate: 'axial ct shows a mass in the liver',
      references: ['axial ct showing a liver mass'],
    },
    { id: 'b', candidate: '', references: ['chest x-ray with effusion', 'pleural effusion'] },
    { id: 'c', candidate: '   ', references: ['mri of the brain'] },
    { id: 'd', candidate: 'mri of the brain', references: ['mri of the brain', ''] },
  ];
  const split = (s: string) => s.split(/\s+/).filter(Boolean);
  return {
    ids: rows.map((r) => r.id),
    candidates: rows.map((r) => r.candidate),
    references: rows.map((r) => r.references),
    candidateTokens: rows.map((r) => split(r.candidate)),
    referenceTokens: rows.map((r) => r.references.map(split)),
  };
}

export function runMetricContract(name: string, create: () => Metric | Promise<Metric>): void {
  describe(`${name}: metric contract`, () => {
    it('fills every declared column for every item with finite values', async () => {
      const metric = await create();
      expect(metric.columns.length).toBeGreaterThan(0);
      const data = input();
      const result = await metric.score(data);
      for (const column of metric.columns)
        expect(Number.isFinite(result.corpus[column])).toBe(true);
      expect(Object.keys(result.values).sort()).toEqual([...metric.columns].sort());
      for (const values of Object.values(result.values)) {
        expect(values).toHaveLength(data.ids.length);
        for (const value of values) expect(Number.isFinite(value)).toBe(true);
      }
      await metric.dispose?.();
    });

    it('scores an exact match above a mismatch, and empty captions at the bottom', async () => {
      const metric = await create();
      const data = input();
      const result = await metric.score(data);
      const values = result.values[metric.columns[0]!]!;
      const of = (id: string) => values[data.ids.indexOf(id)]!;
      expect(of('d')).toBeGreaterThan(of('a'));
      expect(of('b')).toBeLessThanOrEqual(of('a'));
    });

    it('is deterministic', async () => {
      const first = await (await create()).score(input());
      const second = await (await create()).score(input());
      expect(second.values).toEqual(first.values);
      expect(second.corpus).toEqual(first.corpus);
    });
  });
}
