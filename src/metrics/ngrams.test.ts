import { describe, expect, it } from 'vitest';
import { tokenizedInput } from '../../test/support/metric-input.js';
import {
  createNgramStatsJob,
  NGRAM_CHUNK_ITEMS,
  type NgramStats,
  ngramStats,
  ngramStatsShared,
} from './ngram-stats.js';
import { MAX_ORDER, ngramIndex, ONCE } from './ngrams.js';
import { startResampleHelpers } from './resample-helpers.js';
import { seededRandom } from './statistics.js';
import type { MetricInput } from './types.js';

/** Random captions over a small vocabulary, so that many n-grams repeat and many do not. */
function randomInput(items: number, seed: number): MetricInput {
  const rand = seededRandom(seed);
  const words = Array.from({ length: 30 }, (_, i) => `w${i}`);
  const caption = () =>
    Array.from({ length: Math.floor(rand() * 9) }, () => words[Math.floor(rand() ** 2 * 30)]!);
  const candidates = Array.from({ length: items }, caption);
  const references = candidates.map(() =>
    Array.from({ length: 1 + Math.floor(rand() * 3) }, caption),
  );
  return tokenizedInput(candidates, references);
}

describe('ngramIndex', () => {
  it('gives n-grams seen more than once an id per n-gram, ONCE to the others, -1 past the end', () => {
    const data = randomInput(300, 5);
    const { captions, grams, size } = ngramIndex(data);
    const { tokens, starts, sentences, vocabulary } = captions;
    const key = (p: number, n: number) =>
      Array.from(tokens.subarray(p, p + n), (id) => vocabulary[id]).join(' ');
    const occurrences = new Map<string, number>();
    for (let s = 0; s < sentences; s++) {
      for (let p = starts[s]!; p < starts[s + 1]!; p++) {
        for (let n = 1; n <= MAX_ORDER && p + n <= starts[s + 1]!; n++) {
          occurrences.set(key(p, n), (occurrences.get(key(p, n)) ?? 0) + 1);
        }
      }
    }
    const idOf = new Map<string, number>();
    const keyOf = new Map<number, string>();
    let once = 0;
    for (let s = 0; s < sentences; s++) {
      for (let p = starts[s]!; p < starts[s + 1]!; p++) {
        for (let n = 1; n <= MAX_ORDER; n++) {
          const g = grams[n - 1]![p]!;
          if (p + n > starts[s + 1]!) {
            expect(g).toBe(-1);
            continue;
          }
          const k = key(p, n);
          if (occurrences.get(k) === 1) {
            expect(g).toBe(ONCE);
            once++;
            continue;
          }
          expect(g).toBeGreaterThanOrEqual(0);
          expect(g).toBeLessThan(size);
          expect(idOf.get(k) ?? g).toBe(g);
          expect(keyOf.get(g) ?? k).toBe(k);
          idOf.set(k, g);
          keyOf.set(g, k);
        }
      }
    }
    expect(once).toBeGreaterThan(100);
    expect(idOf.size).toBeGreaterThan(100);
  });
});

/**
 * ngramStats computed with maps of n-gram strings, adding in the same order (position
 * order, each distinct n-gram at its first position), so the doubles must be equal.
 */
function naiveStats(data: MetricInput) {
  const { captions } = ngramIndex(data);
  const { tokens, starts, referenceStarts, sentences, vocabulary } = captions;
  const items = referenceStarts.length - 1;
  const ngramsOf = (s: number) => {
    const out: string[][] = Array.from({ length: MAX_ORDER }, () => []);
    for (let p = starts[s]!; p < starts[s + 1]!; p++) {
      for (let n = 1; n <= MAX_ORDER && p + n <= starts[s + 1]!; n++) {
        out[n - 1]!.push(Array.from(tokens.subarray(p, p + n), (id) => vocabulary[id]).join(' '));
      }
    }
    return out;
  };
  const counts = (grams: string[]) => {
    const m = new Map<string, number>();
    for (const g of grams) m.set(g, (m.get(g) ?? 0) + 1);
    return m;
  };
  const df = new Map<string, number>();
  for (let k = 0; k < items; k++) {
    const seen = new Set<string>();
    for (let s = referenceStarts[k]!; s < referenceStarts[k + 1]!; s++) {
      for (const order of ngramsOf(s)) for (const g of order) seen.add(g);
    }
    for (const g of seen) df.set(g, (df.get(g) ?? 0) + 1);
  }
  const idf = (g: string) => Math.log(items) - Math.log(Math.max(1, df.get(g) ?? 0));
  const clipped = new Int32Array(items * MAX_ORDER);
  const hypNorm = new Float64Array(items * MAX_ORDER);
  const refNorm = new Float64Array(sentences * MAX_ORDER);
  const dot = new Float64Array(sentences * MAX_ORDER);
  for (let k = 0; k < items; k++) {
    const hyp = ngramsOf(k);
    const maxRef = new Map<string, number>();
    for (let s = referenceStarts[k]!; s < referenceStarts[k + 1]!; s++) {
      ngramsOf(s).forEach((order, n) => {
        const ref = counts(order);
        const hypCounts = counts(hyp[n]!);
        for (const [g, c] of ref) {
          maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
          const wr = c * idf(g);
          refNorm[s * MAX_ORDER + n]! += wr ** 2;
          const h = hypCounts.get(g);
          if (h !== undefined) dot[s * MAX_ORDER + n]! += Math.min(h * idf(g), wr) * wr;
        }
        refNorm[s * MAX_ORDER + n] = Math.sqrt(refNorm[s * MAX_ORDER + n]!);
      });
    }
    hyp.forEach((order, n) => {
      for (const [g, c] of counts(order)) {
        hypNorm[k * MAX_ORDER + n]! += (c * idf(g)) ** 2;
        clipped[k * MAX_ORDER + n]! += Math.min(c, maxRef.get(g) ?? 0);
      }
      hypNorm[k * MAX_ORDER + n] = Math.sqrt(hypNorm[k * MAX_ORDER + n]!);
    });
  }
  return { clipped, hypNorm, refNorm, dot };
}

describe('ngramStats', () => {
  it('equals the same sums over maps of n-gram strings, n-grams seen once included', () => {
    const data = randomInput(400, 9);
    const stats = ngramStats(data);
    const naive = naiveStats(data);
    expect(stats.clipped).toEqual(naive.clipped);
    expect(stats.hypNorm).toEqual(naive.hypNorm);
    expect(stats.refNorm).toEqual(naive.refNorm);
    expect(stats.dot).toEqual(naive.dot);
  });
});

describe('ngramStatsShared', () => {
  const expectSameStats = (got: NgramStats, want: NgramStats) => {
    expect([...got.clipped]).toEqual([...want.clipped]);
    expect([...got.hypNorm]).toEqual([...want.hypNorm]);
    expect([...got.refNorm]).toEqual([...want.refNorm]);
    expect([...got.dot]).toEqual([...want.dot]);
  };

  it('redoes from zero a chunk that another thread claimed and left half written', async () => {
    const items = 2 * NGRAM_CHUNK_ITEMS + 300;
    const alone = ngramStats(randomInput(items, 8));
    const input = randomInput(items, 8);
    let left: number | undefined;
    const shared = await ngramStatsShared(input, async (job) => {
      // A helper that claims chunk 0, writes part of it and dies.
      left = Atomics.add(job.claims, 0, 1);
      const refs = job.referenceStarts;
      job.hypNorm.fill(7, 0, 10 * MAX_ORDER);
      job.dot.fill(3, refs[0]! * MAX_ORDER, refs[10]! * MAX_ORDER);
    });
    expect(left).toBe(0);
    expectSameStats(shared, alone);
  });

  it('helper threads that take every chunk compute the values of this thread alone', async () => {
    const items = 3 * NGRAM_CHUNK_ITEMS + 5;
    const alone = ngramStats(randomInput(items, 9));
    const job = createNgramStatsJob(ngramIndex(randomInput(items, 9), true), true);
    const helpers = startResampleHelpers(2);
    try {
      await helpers.ngramStats(job);
    } finally {
      helpers.stop();
    }
    expect([...job.claims.subarray(1)]).toEqual([1, 1, 1, 1]);
    expectSameStats({ ...alone, ...job }, alone);
  });
});
