import { describe, expect, it } from 'vitest';
import { captionConfig } from '../../test/support/config.js';
import { type CaptionRow, formatCaptionsCsv } from '../formats/captions-csv.js';
import type { JournalItem } from '../formats/journal-types.js';
import { seededRandom } from '../metrics/statistics.js';
import { type Checkpoint, journalItemToRow, RunState } from './run-state.js';

const text = (checkpoint: { parts: Buffer[] }) => Buffer.concat(checkpoint.parts).toString('utf8');

/**
 * The checkpoint as medcap wrote it before checkpoints became incremental: the first `n`
 * items to finish, sorted into dataset order, formatted in full. Kept here as the oracle.
 */
function referenceCheckpoint(finishOrder: readonly JournalItem[], n: number): string {
  const latest = new Map<number, CaptionRow>();
  const order: number[] = [];
  for (const item of finishOrder) {
    if (!latest.has(item.index)) order.push(item.index);
    latest.set(item.index, journalItemToRow(item));
  }
  const rows = order
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((index) => latest.get(index)!);
  return formatCaptionsCsv(rows);
}

const AWKWARD_TEXT = [
  'plain caption',
  'comma, inside',
  'a "quoted" word',
  'two\nlines',
  'crlf\r\nline',
  ' leading and trailing ',
  'résumé ünïcödé 肺',
  '',
  '=cmd|formula',
];

function item(index: number, next: () => number, withConcepts: boolean): JournalItem {
  const pick = () => AWKWARD_TEXT[Math.floor(next() * AWKWARD_TEXT.length)]!;
  const failed = next() < 0.1;
  const line: JournalItem = {
    kind: 'item',
    id: `ID_${index}`,
    index,
    path: `/data/train/ID_${index}.jpg`,
    references: next() < 0.2 ? [] : next() < 0.3 ? [pick(), pick()] : [pick()],
    caption: failed ? '' : pick(),
    status: failed ? 'error' : 'ok',
    error: failed ? `bad image, ${pick()}` : '',
    processingTimeS: next() < 0.05 ? Number.NaN : next() * 2,
    batchSize: 8,
    engine: 'fake',
    model: 'fake-model',
    time: 0,
  };
  if (withConcepts) line.concepts = next() < 0.2 ? [] : ['C0040405', 'C1306645'];
  return line;
}

/** `count` items in a finish order shuffled within windows (as grid buckets finish them). */
function finishOrder(
  count: number,
  seed: number,
  concepts: 'none' | 'all' | 'late',
  window = 40,
): JournalItem[] {
  const next = seededRandom(seed);
  const indices = Array.from({ length: count }, (_, i) => i);
  for (let start = 0; start < count; start += window) {
    for (let i = Math.min(count, start + window) - 1; i > start; i--) {
      const j = start + Math.floor(next() * (i - start + 1));
      [indices[i], indices[j]] = [indices[j]!, indices[i]!];
    }
  }
  return indices.map((index, position) =>
    item(index, next, concepts === 'all' || (concepts === 'late' && position >= count / 2)),
  );
}

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

describe('checkpoints', () => {
  for (const [label, concepts, batchSize, every, count, window] of [
    ['no concepts, batch 8, every 100', 'none', 8, 100, 700, 40],
    ['concepts on every row, batch 7, every 50', 'all', 7, 50, 700, 40],
    ['concepts appear half-way, batch 33, every 20 (several per batch)', 'late', 33, 20, 700, 40],
    [
      '3,000 rows in any order (blocks fill and split), batch 16, every 100',
      'late',
      16,
      100,
      3000,
      3000,
    ],
  ] as const) {
    it(`are byte-identical to the full re-format (${label})`, () => {
      const order = finishOrder(count, 17, concepts, window);
      const state = new RunState(captionConfig({ checkpointEvery: every }), new Map(), 0, 8);
      const written: Checkpoint[] = [];
      for (const batch of batches(order, batchSize)) written.push(...state.record(batch));
      const expectedCounts = Array.from(
        { length: Math.floor(count / every) },
        (_, i) => (i + 1) * every,
      );
      expect(written.map((c) => c.n)).toEqual(expectedCounts);
      for (const checkpoint of written)
        expect(text(checkpoint), `checkpoint_${checkpoint.n}`).toBe(
          referenceCheckpoint(order, checkpoint.n),
        );
      expect(text({ parts: state.captionsCsv() })).toBe(referenceCheckpoint(order, order.length));
    });
  }

  it('count resumed items first, in journal order, and rebuild the requested ones', () => {
    const order = finishOrder(450, 5, 'none');
    const previous = new Map(order.slice(0, 230).map((line) => [line.index, line] as const));
    const state = new RunState(
      captionConfig({ checkpointEvery: 100, resume: true }),
      previous,
      230,
      8,
      new Set([200]),
    );
    expect(state.rebuiltCheckpoints.map((c) => c.n)).toEqual([200]);
    expect(text(state.rebuiltCheckpoints[0]!)).toBe(referenceCheckpoint(order, 200));
    const written = batches(order.slice(230), 8).flatMap((batch) => state.record(batch));
    expect(written.map((c) => c.n)).toEqual([300, 400]);
    for (const checkpoint of written)
      expect(text(checkpoint)).toBe(referenceCheckpoint(order, checkpoint.n));
  });

  it('a row finished again replaces the earlier one without counting twice', () => {
    const order = finishOrder(120, 9, 'none');
    const again = { ...order[3]!, caption: 'second try', status: 'ok' as const, error: '' };
    const withRetry = [...order.slice(0, 50), again, ...order.slice(50)];
    const state = new RunState(captionConfig({ checkpointEvery: 100 }), new Map(), 0, 8);
    const written = batches(withRetry, 1).flatMap((batch) => state.record(batch));
    expect(written.map((c) => c.n)).toEqual([100]);
    expect(text(written[0]!)).toBe(referenceCheckpoint(withRetry, 100));
    expect(text({ parts: state.captionsCsv() })).toContain('second try');
  });

  it('an empty run writes the header only, as before', () => {
    const state = new RunState(captionConfig({}), new Map(), 0, 8);
    expect(text({ parts: state.captionsCsv() })).toBe(formatCaptionsCsv([]));
  });
});

describe('--batch-size auto on resume', () => {
  const journaled = (batchSize: number, time: number): JournalItem => ({
    ...item(time, seededRandom(time), false),
    batchSize,
    time,
  });

  it('starts at the size the last journaled batch used after a back-off, else at 32', () => {
    const auto = captionConfig({ batchSize: 'auto' });
    const previous = new Map([
      [0, journaled(32, 1)],
      [1, journaled(4, 3)],
      [2, journaled(8, 2)],
    ]);
    expect(new RunState(auto, previous, 3, undefined).batchSize).toBe(4);
    expect(new RunState(auto, new Map(), 0, undefined).batchSize).toBe(32);
    expect(new RunState(auto, new Map([[0, journaled(64, 1)]]), 1, undefined).batchSize).toBe(32);
    // a fixed size is the user's, whatever the journal says
    expect(new RunState(captionConfig({ batchSize: 8 }), previous, 3, undefined).batchSize).toBe(8);
  });
});
