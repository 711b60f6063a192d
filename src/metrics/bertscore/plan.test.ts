import { describe, expect, it } from 'vitest';
import { planBatches, planChunks } from './plan.js';

describe('planChunks', () => {
  const uses = [
    [0, 1],
    [2, 1],
    [3, 4, 0],
    [5, 6],
    [7, 1],
    [8, 9],
  ];

  it('embeds each sequence once, before the first chunk that uses it', () => {
    const chunks = planChunks(uses, 2);
    expect(chunks.map((c) => [c.start, c.end])).toEqual([
      [0, 2],
      [2, 4],
      [4, 6],
    ]);
    const embedded = chunks.flatMap((c) => c.embed);
    expect(embedded.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const live = new Set<number>();
    for (const chunk of chunks) {
      for (const s of chunk.embed) live.add(s);
      for (let i = chunk.start; i < chunk.end; i++) {
        for (const s of uses[i]!) expect(live.has(s), `sequence ${s} of item ${i}`).toBe(true);
      }
      for (const s of chunk.release) live.delete(s);
    }
    expect(live.size).toBe(0);
  });

  it('keeps a shared sequence only until its last use', () => {
    const chunks = planChunks(uses, 2);
    expect(chunks[0]!.release).not.toContain(1); // item 4 (chunk 2) still needs it
    expect(chunks[2]!.release).toContain(1);
    expect(chunks[1]!.release).toContain(0); // item 2 was its last user
  });

  it('plans nothing for no items and rejects a bad chunk size', () => {
    expect(planChunks([], 4)).toEqual([]);
    expect(() => planChunks(uses, 0)).toThrow(/items per chunk/);
  });
});

describe('planBatches', () => {
  const limits = { maxSequences: 4, maxTokens: 1_000, overheadTokens: 5 };
  const cost = (lengths: number[], ends: number[], overhead: number) => {
    let total = 0;
    let start = 0;
    for (const end of ends) {
      total += overhead + lengths[start]! * (end - start);
      start = end;
    }
    return total;
  };
  /** The least cost over every way of cutting, by trying them all. */
  const cheapest = (lengths: number[], from: number, max: number, overhead: number): number => {
    if (from === lengths.length) return 0;
    let best = Number.POSITIVE_INFINITY;
    for (let size = 1; size <= Math.min(max, lengths.length - from); size++) {
      const rest = cheapest(lengths, from + size, max, overhead);
      best = Math.min(best, overhead + lengths[from]! * size + rest);
    }
    return best;
  };

  it('covers the sequences in order, within the limits', () => {
    const lengths = [90, 40, 40, 39, 12, 12, 11, 10, 10, 3];
    const ends = planBatches(lengths, limits);
    expect(ends.at(-1)).toBe(lengths.length);
    let start = 0;
    for (const end of ends) {
      expect(end).toBeGreaterThan(start);
      expect(end - start).toBeLessThanOrEqual(limits.maxSequences);
      start = end;
    }
  });

  it('finds the cheapest cuts', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 40; round++) {
      const lengths = Array.from({ length: 1 + Math.floor(random() * 11) }, () =>
        Math.ceil(random() * 60),
      ).sort((a, b) => b - a);
      const overhead = Math.floor(random() * 80);
      const ends = planBatches(lengths, { ...limits, overheadTokens: overhead });
      expect(cost(lengths, ends, overhead)).toBe(cheapest(lengths, 0, 4, overhead));
    }
  });

  it('pads less than fixed batches where lengths spread', () => {
    const lengths = Array.from({ length: 64 }, (_, i) => 80 - i).concat(Array(64).fill(10));
    const ends = planBatches(lengths, { maxSequences: 64, maxTokens: 100_000, overheadTokens: 50 });
    const fixed = [64, 128];
    const padded = (cuts: number[]) => cost(lengths, cuts, 0);
    expect(padded(ends)).toBeLessThan(padded(fixed));
    expect(ends.length).toBeGreaterThan(2);
  });

  it('keeps a pass within the token limit, one long sequence alone if need be', () => {
    const ends = planBatches([600, 300, 300, 300, 2], { maxSequences: 8, maxTokens: 600 });
    expect(ends).toEqual([1, 3, 5]);
  });

  it('takes no batch for no sequences and rejects unsorted lengths or a bad size', () => {
    expect(planBatches([], limits)).toEqual([]);
    expect(() => planBatches([3, 5], limits)).toThrow(/longest first/);
    expect(() => planBatches([3], { ...limits, maxSequences: 0 })).toThrow(/sequences per pass/);
  });
});
