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
      expect([...result.perItem.keys()]).toEqual(data.ids);
      for (const row of result.perItem.values()) {
        expect(Object.keys(row).sort()).toEqual([...metric.columns].sort());
        for (const value of Object.values(row)) expect(Number.isFinite(value)).toBe(true);
      }
      await metric.dispose?.();
    });

    it('scores an exact match above a mismatch, and empty captions at the bottom', async () => {
      const metric = await create();
      const result = await metric.score(input());
      const column = metric.columns[0]!;
      expect(result.perItem.get('d')![column]!).toBeGreaterThan(result.perItem.get('a')![column]!);
      expect(result.perItem.get('b')![column]!).toBeLessThanOrEqual(
        result.perItem.get('a')![column]!,
      );
    });

    it('is deterministic', async () => {
      const first = await (await create()).score(input());
      const second = await (await create()).score(input());
      expect([...second.perItem]).toEqual([...first.perItem]);
      expect(second.corpus).toEqual(first.corpus);
    });
  });
}
