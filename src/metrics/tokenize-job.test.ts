import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startResampleHelpers } from './resample-helpers.js';
import { type CaptionItem, metricInput } from './score.js';
import { CaptionEncoder, type EncodedCaptions, encodedCaptions, joinEncoded } from './token-ids.js';
import {
  createTokenizeWork,
  runTokenizeChunks,
  type TokenizedChunk,
  tokenizedChunks,
  warmUpTokenizer,
} from './tokenize-job.js';

const strings = readFileSync(
  fileURLToPath(new URL('../../test/fixtures/parity/tokenizer-strings.txt', import.meta.url)),
  'utf8',
)
  .split('\n')
  .slice(0, 3000);
// With chunks of 4 captions: `vitamin A.` ends a chunk and the captions that decide its
// period (blank ones, then `The end`) are in the next ones; a caption with a line break;
// another `vitamin A.` whose period the next caption decides, 6,000 blank captions away
// (past a helper's window); captions of two- to four-byte UTF-8 characters, so that windows end inside one.
const tricky = [
  'a',
  'b',
  'c',
  'vitamin A.',
  '',
  ' ',
  '',
  'The end',
  'vitamin A.',
  ...Array<string>(6000).fill(' '),
  'The end',
  '3 cm\nNo.',
  'x',
  ...Array.from({ length: 40 }, (_, k) => `é Σ ${'😀'.repeat(k * 13)} 中文 No.`),
];
const candidates = [...tricky, ...strings.slice(0, 1000)];
const items: CaptionItem[] = candidates.map((candidate, k) => ({
  id: String(k),
  candidate,
  references: [strings[(k * 7) % strings.length]!, ...(k % 3 === 0 ? [strings[k % 2000]!] : [])],
}));
const references = items.flatMap((item) => item.references);
const counts = items.map((item) => item.references.length);
const oneEncoder = encodedCaptions(metricInput(items, 'coco'));

/** Where `got` differs from one encoder's captions (undefined: nowhere), in words. */
function differenceFromOne(got: EncodedCaptions): string | undefined {
  const want = oneEncoder;
  if (got.vocabulary.join('\n') !== want.vocabulary.join('\n')) return 'vocabulary';
  for (const key of ['tokens', 'starts', 'referenceStarts'] as const) {
    const at = got[key].findIndex((value, i) => value !== want[key][i]);
    if (at !== -1 || got[key].length !== want[key].length) return `${key}[${at}]`;
  }
  return got.sentences === want.sentences ? undefined : 'sentences';
}

describe('tokenizing in chunks', () => {
  it("gives one encoder's ids and tokens, chunks joined in order, this thread's way and the helpers'", async () => {
    for (const size of [4, 97, 5000]) {
      const work = createTokenizeWork(candidates, references, size)!;
      const parts = await tokenizedChunks(work, async () => {});
      expect(parts.length).toBe(
        Math.ceil(candidates.length / size) + Math.ceil(references.length / size),
      );
      expect(differenceFromOne(joinEncoded(parts, counts))).toBeUndefined();
      // A helper's way: windows of the shared UTF-8 bytes.
      const fromBytes = runTokenizeChunks(createTokenizeWork(candidates, references, size)!.job);
      expect(fromBytes.map(({ chunk }) => chunk)).toEqual([...parts.keys()]);
      expect(
        differenceFromOne(
          joinEncoded(
            fromBytes.map(({ sentences }) => sentences),
            counts,
          ),
        ),
      ).toBeUndefined();
    }
    // `A.` gives up its period to the sentence that starts 6,000 lines on.
    expect(metricInput(items, 'coco').candidateTokens[8]).toEqual(['vitamin', 'a']);
  });

  it('warms up on the start of any captions file without changing a token', () => {
    const jsonl = readFileSync(
      fileURLToPath(new URL('../../test/fixtures/parity/corpus.jsonl', import.meta.url)),
    );
    // The file, a line longer than the warm-up's MB, invalid UTF-8, nothing, no line break.
    const long = new TextEncoder().encode(`${'Axial CT é. '.repeat(100_000)}\n`);
    for (const bytes of [jsonl, long, Uint8Array.of(0xff, 0xc3, 0x0a, 0x41), new Uint8Array(0)]) {
      warmUpTokenizer(bytes);
    }
    warmUpTokenizer(new TextEncoder().encode('vitamin A.'));
    const { job } = createTokenizeWork(candidates, references, 97)!;
    const fromBytes = runTokenizeChunks(job).map(({ sentences }) => sentences);
    expect(differenceFromOne(joinEncoded(fromBytes, counts))).toBeUndefined();
  });

  it('leaves texts with a lone surrogate, which UTF-8 cannot carry, to this thread', () => {
    expect(createTokenizeWork(['a \ud800 b'], ['c'])).toBeUndefined();
    expect(createTokenizeWork(['a 😀 b'], ['c'])).toBeDefined();
  });

  it('takes the chunks that helpers hand over, and tokenizes those a helper claimed and dropped', async () => {
    const work = createTokenizeWork(candidates, references, 50)!;
    const handed = new CaptionEncoder();
    handed.add(['handed', 'over']);
    const parts = await tokenizedChunks(work, async (take) => {
      // One "helper" claims chunk 0 and hands over something of its own for it; another
      // claims chunk 1 and dies without handing it over.
      Atomics.add(work.job.claims, 0, 2);
      await new Promise((resolve) => setTimeout(resolve, 10));
      take([{ chunk: 0, sentences: handed.sentences() }]);
    });
    expect(parts[0]!.vocabulary).toEqual(['handed', 'over']);
    const alone = await tokenizedChunks(
      createTokenizeWork(candidates, references, 50)!,
      async () => {},
    );
    expect(parts.slice(1)).toEqual(alone.slice(1));
  });

  it('on real helper threads: the same captions as this thread alone', async () => {
    const helpers = startResampleHelpers(2);
    try {
      // The helpers alone: every chunk comes from them, once.
      const { job } = createTokenizeWork(candidates, references, 40)!;
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
      expect(differenceFromOne(joined)).toBeUndefined();
      // The helpers and this thread.
      const shared = createTokenizeWork(candidates, references, 40)!;
      const parts = await tokenizedChunks(shared, (take) => helpers.tokenize(shared.job, take));
      expect(differenceFromOne(joinEncoded(parts, counts))).toBeUndefined();
    } finally {
      helpers.stop();
    }
    // Stopped helpers answer nothing: this thread tokenizes every chunk.
    const again = createTokenizeWork(candidates, references, 40)!;
    const stopped = startResampleHelpers(2);
    stopped.stop();
    const alone = await tokenizedChunks(again, (take) => stopped.tokenize(again.job, take));
    expect(differenceFromOne(joinEncoded(alone, counts))).toBeUndefined();
    expect(runTokenizeChunks(again.job)).toEqual([]);
  });
});
