import { describe, expect, it } from 'vitest';
import { planChunks } from './plan.js';

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
