import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startHelperThreads } from './helper-threads.js';
import { CaptionEncoder, type EncodedCaptions } from './token-ids.js';
import { forEachTokenized } from './tokenize.js';
import { planTokenizeShare, TokenizeJoin, tokenizeClaimed } from './tokenize-shares.js';

const corpus = fileURLToPath(new URL('../../test/fixtures/parity/corpus.jsonl', import.meta.url));
const parity = readFileSync(corpus, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line) as { candidate: string; references: string[] });

/**
 * Captions whose tokens depend on what follows them, far ahead too: `vitamin A.` gives up
 * its period before a sentence start, through any number of blank lines (thousands of
 * characters here, past any first window), and keeps it at the run's end.
 */
const blanks = Array.from({ length: 1500 }, (_, i) => (i % 3 === 0 ? '' : ' \t'));
const candidates = [
  ...parity.map((item) => item.candidate),
  'vitamin A.',
  ...blanks,
  'The end',
  'a Ct.',
  '3 cm',
  "it's e.g.\nNo.",
  'soft\u00adhyphen 1 1/2 cups',
  'Σ ΑΣ “curly” 5–10 mm',
  'café naïve',
  'vitamin A.',
];
const references = [
  ...parity.map((item) => item.references),
  ...Array.from({ length: candidates.length - parity.length }, (_, i) =>
    i % 2 === 0 ? ['vitamin A.', 'The end.'] : ['a No.', 'the cm', 'x'],
  ),
];
const counts = references.map((refs) => refs.length);

/** What one encoder gives over the whole runs: the ids every split must give. */
function oneEncoder(
  cands: readonly string[],
  refs: readonly (readonly string[])[],
): EncodedCaptions {
  const encoder = new CaptionEncoder();
  const add = (words: readonly string[], count: number, forms?: readonly number[]) =>
    encoder.add(words, count, forms);
  forEachTokenized('coco', cands, add);
  forEachTokenized('coco', refs.flat(), add);
  return encoder.finish(refs.map((r) => r.length));
}

function plain(encoded: EncodedCaptions) {
  return {
    vocabulary: [...encoded.vocabulary],
    tokens: [...encoded.tokens],
    starts: [...encoded.starts],
    referenceStarts: [...encoded.referenceStarts],
    sentences: encoded.sentences,
  };
}

describe('tokenizing shared between threads', () => {
  const want = plain(oneEncoder(candidates, references));

  it('gives the ids of one encoder, however the chunks fall to the threads', async () => {
    for (const threads of [1, 2, 3, 7, 40, 400]) {
      const share = planTokenizeShare([candidates, references.flat()], threads);
      const join = new TokenizeJoin(share);
      // Threads 1..3 take turns claiming, each with its own encoder; thread 0 takes the rest.
      const encoders = [1, 2, 3].map(() => new CaptionEncoder());
      for (let round = 0; round < 4; round++) {
        for (const [k, encoder] of encoders.entries()) {
          const thread = k + 1;
          const free = share.owners.indexOf(-1);
          if (free < 0) break;
          // Claim one chunk: hold the others back for the moment.
          const held = [...share.owners.keys()].filter((c) => c > free && share.owners[c] === -1);
          for (const c of held) share.owners[c] = 99;
          tokenizeClaimed(share, thread, encoder, (chunk) => join.add(thread, chunk));
          for (const c of held) share.owners[c] = -1;
        }
      }
      join.tokenizeHere();
      expect(plain(await join.joined(counts)), `${threads} threads`).toEqual(want);
    }
  });

  it('encodes here the chunks of a thread that died before handing them over', async () => {
    const share = planTokenizeShare([candidates, references.flat()], 5);
    const join = new TokenizeJoin(share);
    // Thread 4 claims every other chunk and dies.
    share.owners.forEach((_, c) => {
      if (c % 2 === 1) share.owners[c] = 4;
    });
    join.tokenizeHere();
    join.lost(4);
    expect(plain(await join.joined(counts))).toEqual(want);
  });

  it('in helper threads: the same ids, with text that needs two bytes a character', async () => {
    const helpers = startHelperThreads(3);
    try {
      const share = planTokenizeShare([candidates, references.flat()], helpers.count + 1);
      expect(share.runs[0]!.encoding).toBe('utf16le');
      const join = new TokenizeJoin(share);
      helpers.tokenize(share, join);
      join.tokenizeHere();
      expect(plain(await join.joined(counts))).toEqual(want);
    } finally {
      helpers.stop();
    }
  });

  it('keeps Latin-1 text one byte a character, and gives the same ids', async () => {
    const latin = candidates.map((c) => c.replace(/[^\u0000-\u00ff]/g, 'x'));
    const share = planTokenizeShare([latin, references.flat()], 4);
    expect(share.runs[0]!.encoding).toBe('latin1');
    expect(share.runs[0]!.bytes.length).toBe(latin.join('\n').length);
    const join = new TokenizeJoin(share);
    join.tokenizeHere();
    expect(plain(await join.joined(counts))).toEqual(plain(oneEncoder(latin, references)));
  });
});
