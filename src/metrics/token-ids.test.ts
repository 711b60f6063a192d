import { describe, expect, it } from 'vitest';
import { tokenizedInput } from '../../test/support/metric-input.js';
import {
  CaptionEncoder,
  encodedCaptions,
  inputFromEncoded,
  joinEncoded,
  pythonSplitCaptions,
} from './token-ids.js';
import { forEachCocoTokens } from './tokenize.js';

/** The tokens of sentence s, back as strings. */
function sentence(encoded: ReturnType<typeof encodedCaptions>, s: number): string[] {
  const ids = encoded.tokens.subarray(encoded.starts[s], encoded.starts[s + 1]);
  return [...ids].map((id) => encoded.vocabulary[id]!);
}

describe('encoded captions', () => {
  const data = tokenizedInput(
    [['a', 'mass'], [], ['a', '1\u00a01/2', 'cm']],
    [
      [
        ['a', 'mass'],
        ['the', 'mass'],
      ],
      [['effusion']],
      [['1', '1/2', 'cm']],
    ],
  );

  it('lays out candidates, then each item its references, with shared ids', () => {
    const encoded = encodedCaptions(data);
    expect(encoded.sentences).toBe(3 + 4);
    expect([...encoded.referenceStarts]).toEqual([3, 5, 6, 7]);
    expect(sentence(encoded, 0)).toEqual(['a', 'mass']);
    expect(sentence(encoded, 1)).toEqual([]);
    expect(sentence(encoded, 4)).toEqual(['the', 'mass']);
    expect(encoded.tokens[encoded.starts[0]!]).toBe(encoded.tokens[encoded.starts[3]!]);
    expect(encodedCaptions(data)).toBe(encoded);
  });

  it('re-splits tokens at Python white space for BLEU/CIDEr, and only when needed', () => {
    const split = pythonSplitCaptions(data);
    expect(sentence(split, 2)).toEqual(['a', '1', '1/2', 'cm']);
    expect(sentence(split, 6)).toEqual(['1', '1/2', 'cm']);
    expect(split.tokens[split.starts[2]! + 1]).toBe(split.tokens[split.starts[6]!]);
    const plain = tokenizedInput([['a']], [[['b']]]);
    expect(pythonSplitCaptions(plain)).toBe(encodedCaptions(plain));
  });

  it('rebuilds an input from encoded captions, token strings on demand', () => {
    const encoded = encodedCaptions(data);
    const rebuilt = inputFromEncoded(data, encoded);
    expect(encodedCaptions(rebuilt)).toBe(encoded);
    expect(rebuilt.candidateTokens).toEqual(data.candidateTokens);
    expect(rebuilt.referenceTokens).toEqual(data.referenceTokens);
  });
});

describe('joinEncoded', () => {
  it('gives the ids one encoder would, the sentences encoded in two parts apart', () => {
    const candidates = [['a', 'mass'], [], ['b', 'a', 'cm']];
    const references = [[['the', 'mass'], ['a']], [['x', 'b']], [['cm', 'new', 'x']]];
    const one = new CaptionEncoder();
    for (const c of candidates) one.add(c);
    for (const refs of references) for (const r of refs) one.add(r);
    const counts = references.map((refs) => refs.length);
    const expected = one.finish(counts);
    const apart = [new CaptionEncoder(), new CaptionEncoder()] as const;
    for (const c of candidates) apart[0].add(c);
    for (const refs of references) for (const r of refs) apart[1].add(r);
    const joined = joinEncoded(apart[0].sentences(), apart[1].sentences(), counts);
    expect(joined).toEqual(expected);
    // Split inside the candidates: the first one apart, the others with the references.
    const split = [new CaptionEncoder(), new CaptionEncoder()] as const;
    split[0].add(candidates[0]!);
    for (const c of candidates.slice(1)) split[1].add(c);
    for (const refs of references) for (const r of refs) split[1].add(r);
    expect(joinEncoded(split[0].sentences(), split[1].sentences(), counts)).toEqual(expected);
    expect(() => joinEncoded(new CaptionEncoder().sentences(), one.sentences(), counts)).toThrow();
  });
});

describe("CaptionEncoder with the chunk cache's form indexes", () => {
  /** The texts encoded twice: ids looked up by string, and through the chunk cache. */
  function bothWays(texts: string[]) {
    const plain = new CaptionEncoder();
    const cached = new CaptionEncoder();
    forEachCocoTokens(texts, (words, count) => plain.add(words, count));
    forEachCocoTokens(texts, (words, count, forms) => cached.add(words, count, forms));
    return { plain: plain.sentences(), cached: cached.sentences() };
  }

  it('gives the ids that looking up every token gives, for encoder after encoder', () => {
    const texts = [
      'A mass, a Mass.',
      'see fig. 3 and fig.',
      '4',
      '1 1/2 cm',
      'http://x.org/a\u00a0',
    ];
    for (let round = 0; round < 3; round++) {
      const { plain, cached } = bothWays([...texts, ...texts.reverse()]);
      expect(cached).toEqual(plain);
    }
  });

  it('still does when the cache starts over in the middle of a caption', () => {
    // More distinct chunks than the cache keeps (2^18), each caption also with chunks found
    // in the cache (`a`), so that it starts over in the middle of captions that hold some.
    const texts = Array.from({ length: 3000 }, (_, c) =>
      Array.from({ length: 100 }, (_, w) => `w${c * 100 + w} a`).join(' '),
    );
    const { plain, cached } = bothWays([...texts, ...texts.slice(2000)]);
    expect(cached).toEqual(plain);
  });
});
