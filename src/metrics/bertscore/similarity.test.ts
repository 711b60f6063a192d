import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Embedded, scoreFromMatches, scorePair, uniformWeights, unitRows } from './scoring.js';
import { createMatcher, type Matcher } from './similarity.js';

/** Seeded random unit embeddings (mulberry32). */
function randomEmbedded(seed: number, tokens: number, dim: number): Embedded {
  let state = seed;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  const raw = Float32Array.from({ length: tokens * dim }, next);
  return {
    ids: Array.from({ length: tokens }, (_, i) => 10 + ((seed + i) % 7)),
    dim,
    vectors: unitRows(raw, 0, tokens, dim),
  };
}

let matcher: Matcher;
beforeAll(async () => {
  matcher = await createMatcher({ maxPairs: 3 });
});
afterAll(async () => {
  await matcher.dispose();
});

describe('createMatcher', () => {
  it('gives the same greedy matches as the plain loop, whatever the lengths in a batch', async () => {
    const weights = uniformWeights(0, 2);
    const lengths = [2, 3, 17, 5, 40, 2, 9, 9, 1, 64, 12];
    const pairs = lengths.map(
      (n, i) =>
        [
          randomEmbedded(i, n, 24),
          randomEmbedded(100 + i, lengths[(i + 3) % lengths.length]!, 24),
        ] as const,
    );
    // twice: the second call reuses input blocks that still hold the first call's values
    for (const round of [0, 1]) {
      const batch = round === 0 ? pairs : [...pairs].reverse();
      const matches = await matcher.match(batch);
      expect(matches).toHaveLength(batch.length);
      batch.forEach(([c, r], k) => {
        const m = matches[k]!;
        expect(m.candidate).toHaveLength(c.ids.length);
        expect(m.reference).toHaveLength(r.ids.length);
        const want = scorePair(c, r, weights);
        const got = scoreFromMatches(c.ids, r.ids, m.candidate, m.reference, weights);
        expect(Math.abs(got.precision - want.precision)).toBeLessThan(1e-6);
        expect(Math.abs(got.recall - want.recall)).toBeLessThan(1e-6);
        expect(Math.abs(got.f1 - want.f1)).toBeLessThan(1e-6);
      });
    }
  });

  it('matches nothing for no pairs', async () => {
    expect(await matcher.match([])).toEqual([]);
  });
});
