import { describe, expect, it } from 'vitest';
import {
  formatMetricValue,
  type ItemScores,
  type MetricCells,
  metricCells,
} from '../formats/metric-files.js';
import { createDraws, createResampleJob, runLeftoverResamples, runResamples } from './bootstrap.js';
import { createMetricCellsJob, metricCellsOf, runMetricCellChunks } from './metric-cells-job.js';
import { startResampleHelpers } from './resample-helpers.js';
import { seededRandom } from './statistics.js';

const columns = ['bleu_4', 'rouge_l', 'cider', 'meteor'];

/** Values of every kind a metric gives, the longest String(x) of a double among them. */
function scoresOf(items: number): ItemScores {
  const random = seededRandom(items);
  const odd = [
    Number.NaN,
    0,
    -0,
    1,
    10,
    -1.2345678901234567e-308,
    Number.NEGATIVE_INFINITY,
    5e-324,
  ];
  const values: Record<string, Float64Array> = {};
  columns.forEach((column, c) => {
    values[column] = Float64Array.from({ length: items }, (_, k) =>
      (k + c) % 7 === 0 ? odd[(k >> 3) % odd.length]! : random() * 10 ** (c - 2),
    );
  });
  // A column the scores lack: empty cells.
  return { ids: Array.from({ length: items }, (_, k) => `img${k}`), values };
}

function expectSameCells(got: MetricCells, want: MetricCells): void {
  expect(Buffer.compare(got.bytes, want.bytes)).toBe(0);
  expect([...got.offsets]).toEqual([...want.offsets]);
}

describe('metric cells in chunks', () => {
  it('are the bytes metricCells gives, each value as String(x), formatted here alone', () => {
    const scores = scoresOf(5000);
    const wanted = [...columns, 'rouge_1'];
    const job = createMetricCellsJob(wanted, scores);
    runMetricCellChunks(job);
    const cells = metricCellsOf(job);
    expectSameCells(cells, metricCells(wanted, scores));
    const item = (k: number) =>
      cells.bytes.subarray(cells.offsets[k], cells.offsets[k + 1]).toString('latin1');
    for (const k of [0, 7, 8 * 5 + 2, 4999]) {
      const expected = wanted.map((c) => `,${formatMetricValue(scores.values[c]?.[k])}`).join('');
      expect(item(k)).toBe(expected);
    }
    expect(cells.bytes.toString('latin1')).toContain(',-1.2345678901234567e-308');
  });

  it('formats here the chunks a helper claimed and did not finish', () => {
    const scores = scoresOf(4500);
    const job = createMetricCellsJob(columns, scores);
    Atomics.add(job.claims, 0, 1);
    runMetricCellChunks(job);
    expect(Atomics.load(job.claims, 1)).toBe(0);
    expectSameCells(metricCellsOf(job), metricCells(columns, scores));
  });

  it('are formatted by helper threads as here, their answer apart from the resamples', async () => {
    const scores = scoresOf(6000);
    const job = createMetricCellsJob(columns, scores);
    const table = columns.map((c) =>
      Float64Array.from(scores.values[c]!, (v) => (Number.isFinite(v) ? v : 0)),
    );
    const alone = createResampleJob(table, 100, 3);
    runResamples(alone);
    const resamples = createResampleJob(table, 100, 3);
    resamples.draws = createDraws(6000, 100, 3);
    const helpers = startResampleHelpers(2);
    try {
      helpers.draw(resamples.draws);
      const cellsDone = helpers.metricCells(job);
      const resampled = helpers.resample(resamples);
      // Answered once the helpers have claimed every resample (not on the cells' answer).
      await resampled;
      expect([...resamples.claims.subarray(1)].every((done) => done === 1)).toBe(true);
      await cellsDone;
      runLeftoverResamples(resamples);
    } finally {
      helpers.stop();
    }
    // The helpers took every chunk of both jobs.
    expect(Atomics.load(job.claims, 0)).toBeGreaterThanOrEqual(job.claims.length - 1);
    expect([...job.claims.subarray(1)].every((done) => done === 1)).toBe(true);
    expectSameCells(metricCellsOf(job), metricCells(columns, scores));
    expect([...resamples.sums]).toEqual([...alone.sums]);
  });
});
