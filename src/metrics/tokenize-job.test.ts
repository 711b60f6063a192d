import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startResampleHelpers } from './resample-helpers.js';
import { metricInput } from './score.js';
import { CaptionEncoder, encodedCaptions, joinEncoded } from './token-ids.js';
import {
  createTokenizeJob,
  runTokenizeChunks,
  type TokenizedChunk,
  tokenizedChunks,
} from './tokenize-job.js';

const strings = readFileSync(
  fileURLToPath(new URL('../../test/fixtures/parity/tokenizer-strings.txt', import.meta.url)),
  'utf8',
)
  .split('\n')
  .slice(0, 3000);
// Chunks of 4 captions: `vitamin A.` ends a chunk and the captions that decide its period
// (blank ones, then `The end`) are in the next ones; a caption with a line break.
const tricky = ['a', 'b', 'c', 'vitamin A.', '', ' ', '', 'The end', 'a Ct.', '3 cm\nNo.', 'x'];
const candidates = [...tricky, ...strings.slice(0, 1000)];
const items = candidates.map((candidate, k) => ({
  id: String(k),
  candidate,
  references: [strings[(k * 7) % strings.length]!, ...(k % 3 === 0 ? [strings[k + 1000]!] : [])],
}));
const references = items.flatMap((item) => item.references);
const counts = items.map((item) => item.references.length);
const oneEncoder = () => encodedCaptions(metricInput(items, 'coco'));

describe('tokenizing in chunks', () => {
  it('gives the ids and tokens of one encoder over the whole runs, chunks joined in order', async () => {
    for (const size of [4, 97, 5000]) {
      const job = createTokenizeJob(candidates, references, size);
      const parts = await tokenizedChunks(job, async () => {});
      expect(parts.length).toBe(
        Math.ceil(candidates.length / size) + Math.ceil(references.length / size),
      );
      expect(joinEncoded(parts, counts)).toEqual(oneEncoder());
    }
  });

  it('takes the chunks that helpers hand over, and tokenizes those a helper claimed and dropped', async () => {
    const job = createTokenizeJob(candidates, references, 50);
    const handed = new CaptionEncoder();
    handed.add(['handed', 'over']);
    const parts = await tokenizedChunks(job, async (take) => {
      // One "helper" claims chunk 0 and hands over something of its own for it; another
      // claims chunk 1 and dies without handing it over.
      Atomics.add(job.claims, 0, 2);
      await new Promise((resolve) => setTimeout(resolve, 10));
      take([{ chunk: 0, sentences: handed.sentences() }]);
    });
    expect(parts[0]!.vocabulary).toEqual(['handed', 'over']);
    const alone = await tokenizedChunks(
      createTokenizeJob(candidates, references, 50),
      async () => {},
    );
    expect(parts.slice(1)).toEqual(alone.slice(1));
  });

  it('on real helper threads: the same captions as this thread alone', async () => {
    const helpers = startResampleHelpers(2);
    try {
      // The helpers alone: every chunk comes from them, once.
      const job = createTokenizeJob(candidates, references, 40);
      const fromHelpers: TokenizedChunk[] = [];
      await helpers.tokenize(job, (chunks) => fromHelpers.push(...chunks));
      fromHelpers.sort((a, b) => a.chunk - b.chunk);
      expect(fromHelpers.map(({ chunk }) => chunk)).toEqual([
        ...Array(job.claims.length - 1).keys(),
      ]);
      const joined = joinEncoded(
        fromHelpers.map(({ sentences }) => sentences),
        counts,
      );
      expect(joined).toEqual(oneEncoder());
      // The helpers and this thread.
      const shared = createTokenizeJob(candidates, references, 40);
      const parts = await tokenizedChunks(shared, (take) => helpers.tokenize(shared, take));
      expect(joinEncoded(parts, counts)).toEqual(oneEncoder());
    } finally {
      helpers.stop();
    }
    // Stopped helpers answer nothing: this thread tokenizes every chunk.
    const again = createTokenizeJob(candidates, references, 40);
    const stopped = startResampleHelpers(2);
    stopped.stop();
    const alone = await tokenizedChunks(again, (take) => stopped.tokenize(again, take));
    expect(joinEncoded(alone, counts)).toEqual(oneEncoder());
    expect(runTokenizeChunks(again)).toEqual([]);
  });
});
