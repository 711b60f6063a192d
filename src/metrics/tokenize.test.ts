import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.js';
import {
  forEachTokenized,
  getTokenizer,
  splitPythonWhitespace,
  tokenizeCoco,
  tokenizeCocoBatch,
  tokenizeWhitespace,
} from './tokenize.js';

const dir = fileURLToPath(new URL('../../test/fixtures/parity/', import.meta.url));

function lines(file: string): string[] {
  const all = readFileSync(`${dir}${file}`, 'utf8').split('\n');
  if (all.at(-1) === '') all.pop();
  return all;
}

describe('coco tokenizer', () => {
  it('equals the real Stanford PTBTokenizer 3.4.1 (as pycocoevalcap runs it) on 20,000 strings', () => {
    const input = lines('tokenizer-strings.txt');
    const want = lines('tokenizer-expected.txt');
    expect(input.length).toBeGreaterThanOrEqual(20_000);
    expect(want.length).toBe(input.length);
    const got = tokenizeCocoBatch(input).map((tokens) => tokens.join(' '));
    const mismatches = got
      .map((line, i) => ({ i, input: input[i], got: line, want: want[i] }))
      .filter((m) => m.got !== m.want);
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it.each([
    [
      'Axial CT (arrow) shows a mass.',
      ['axial', 'ct', '-lrb-', 'arrow', '-rrb-', 'shows', 'a', 'mass'],
    ],
    ['Lesion [arrow] {star}', ['lesion', '-lsb-', 'arrow', '-rsb-', '-lcb-', 'star', '-rcb-']],
    ['e.g. the liver vs. the spleen', ['e.g.', 'the', 'liver', 'vs.', 'the', 'spleen']],
    ['Wow!!! really?!', ['wow', '!!!', 'really', '?!']],
    ["The patient's don't", ['the', 'patient', "'s", 'do', "n't"]],
    ['“Curly” and „low“ quotes', ['curly', 'and', '„', 'low', 'quotes']],
    ['5–10 mm, 3.5 cm; 1/2', ['5', '10', 'mm', '3.5', 'cm', '1/2']],
    ['cannot gonna', ['can', 'not', 'gon', 'na']],
    ['Σ ΑΣ', ['σ', 'ας']],
    ['', []],
    ['   ', []],
  ])('%j', (text, want) => {
    expect(tokenizeCoco(text)).toEqual(want);
  });

  it('lets a caption see the next one, as the Java tool reading one caption a line does', () => {
    // `Ct.` keeps its period before a digit on the next line, and drops it at the end.
    expect(tokenizeCocoBatch(['a Ct.', '3 cm'])[0]).toEqual(['a', 'ct.']);
    expect(tokenizeCocoBatch(['a No.', '3 cm'])[0]).toEqual(['a', 'no.']);
    expect(tokenizeCocoBatch(['a No.', 'the cm'])[0]).toEqual(['a', 'no']);
    expect(tokenizeCocoBatch(['a No.'])[0]).toEqual(['a', 'no']);
  });

  it('looks past any number of blank captions, as the Java tool does', () => {
    // `A.` before the start of a sentence gives up its period.
    expect(tokenizeCocoBatch(['vitamin A.', 'The end'])[0]).toEqual(['vitamin', 'a']);
    expect(tokenizeCocoBatch(['vitamin A.', '', ' ', '', '\t', 'The end'])[0]).toEqual([
      'vitamin',
      'a',
    ]);
    expect(tokenizeCocoBatch(['vitamin A.', '', ''])[0]).toEqual(['vitamin', 'a.']);
    expect(tokenizeCoco('vitamin A.', ['', '', '', 'The end'])).toEqual(['vitamin', 'a']);
  });

  it('tokenizes each caption of a batch as tokenizeCoco does with the captions after it', () => {
    const texts = ['a Ct.', '3 cm', "it's e.g.\nNo.", '', 'http://x.org/a\u00a0', 'U.S.', 'The'];
    const batch = tokenizeCocoBatch(texts);
    texts.forEach((text, i) => {
      expect(batch[i]).toEqual(tokenizeCoco(text, texts.slice(i + 1)));
    });
  });

  it('tokenizes part of a run as the whole run does (two threads each take a part)', () => {
    const texts = ['a Ct.', '3 cm', "it's e.g.\nNo.", '', 'soft\u00adhyphen', 'vitamin A.', 'The'];
    const whole = tokenizeCocoBatch(texts);
    for (const tokenizer of ['coco', 'whitespace'] as const) {
      const all = tokenizer === 'coco' ? whole : getTokenizer(tokenizer)(texts);
      for (let first = 0; first <= texts.length; first++) {
        for (let stop = first; stop <= texts.length; stop++) {
          const got: string[][] = [];
          forEachTokenized(
            tokenizer,
            texts,
            (tokens, count) => got.push(tokens.slice(0, count)),
            first,
            stop,
          );
          expect(got).toEqual(all.slice(first, stop));
        }
      }
    }
  });

  it('gives a chunk seen before the tokens that its context gives it (the chunk cache)', () => {
    const cases: [string[], string[]][] = [
      [
        ['a No.', '3 cm'],
        ['a', 'no.'],
      ],
      [
        ['a No.', 'the cm'],
        ['a', 'no'],
      ],
      [
        ['see fig. 3 and fig.', '4'],
        ['see', 'fig.', '3', 'and', 'fig.'],
      ],
      [['12 x 8 mm, 1 1/2 cm'], ['12', 'x', '8', 'mm', '1\u00a01/2', 'cm']],
      [
        ['vitamin A.', 'The end'],
        ['vitamin', 'a'],
      ],
      [
        ['vitamin A.', 'the end'],
        ['vitamin', 'a.'],
      ],
      [['http://x.org/a\u00a0', 'x'], ['http://x.org/a']],
      [["cannot, patient's don't"], ['can', 'not', 'patient', "'s", 'do', "n't"]],
    ];
    for (const [run, want] of [...cases, ...cases.reverse(), ...cases]) {
      expect(tokenizeCocoBatch(run)[0]).toEqual(want);
    }
  });

  it('treats line breaks inside a caption as spaces', () => {
    expect(tokenizeCoco('a\nb')).toEqual(['a', 'b']);
    expect(tokenizeCoco('a\r\nb\u2028c')).toEqual(['a', 'b', 'c']);
  });

  it('keeps no-break spaces inside fraction tokens; BLEU/CIDEr re-split them', () => {
    const tokens = tokenizeCoco('1 1/2 cm');
    expect(tokens).toEqual(['1\u00a01/2', 'cm']);
    expect(splitPythonWhitespace(tokens)).toEqual(['1', '1/2', 'cm']);
    const plain = ['a', 'b'];
    expect(splitPythonWhitespace(plain)).toBe(plain);
  });
});

describe('whitespace tokenizer', () => {
  it('splits on white space only', () => {
    expect(tokenizeWhitespace('  A, b.\tC\u00a0d\n')).toEqual(['A,', 'b.', 'C', 'd']);
    expect(tokenizeWhitespace('')).toEqual([]);
  });

  it('is chosen by id; unknown ids are a ConfigError listing the valid ones', () => {
    expect(getTokenizer('whitespace')(['a b'])).toEqual([['a', 'b']]);
    expect(getTokenizer('coco')(['Done.'])).toEqual([['done']]);
    expect(() => getTokenizer('nope' as 'coco')).toThrow(ConfigError);
    expect(() => getTokenizer('nope' as 'coco')).toThrow(/coco, whitespace/);
  });
});
