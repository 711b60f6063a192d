import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { porterStem } from './porter.js';

interface PorterFixture {
  nltk_version: string;
  words: string[];
  stems: string[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/meteor/porter.json', import.meta.url), 'utf8'),
) as PorterFixture;

describe('porterStem', () => {
  it('agrees with NLTK PorterStemmer().stem on every fixture word', () => {
    expect(fixture.words.length).toBeGreaterThan(5000);
    expect(fixture.stems).toHaveLength(fixture.words.length);
    const mismatches: string[] = [];
    fixture.words.forEach((word, k) => {
      const stem = porterStem(word);
      if (stem !== fixture.stems[k]) mismatches.push(`${word}: ${stem} != ${fixture.stems[k]}`);
    });
    expect(mismatches).toEqual([]);
  });

  it('follows the published examples and NLTK extensions', () => {
    const cases: [string, string][] = [
      ['caresses', 'caress'],
      ['ponies', 'poni'],
      ['ties', 'tie'], // NLTK: four-letter -ies
      ['cats', 'cat'],
      ['feed', 'feed'],
      ['agreed', 'agre'],
      ['plastered', 'plaster'],
      ['motoring', 'motor'],
      ['hopping', 'hop'],
      ['falling', 'fall'],
      ['filing', 'file'],
      ['happy', 'happi'],
      ['enjoy', 'enjoy'],
      ['relational', 'relat'],
      ['generalizations', 'gener'],
      ['dying', 'die'], // irregular table
      ['skies', 'sky'],
      ['Sky', 'sky'], // lower-cased before the table lookup (NLTK >= 3.9)
      ['', ''],
      ['Is', 'is'], // two characters: only lower-cased
      ['lesions', 'lesion'],
      ['showed', 'show'],
      ['foo*ded', 'food'], // NLTK's "*d" pseudo-suffix
    ];
    for (const [word, stem] of cases) expect(porterStem(word), word).toBe(stem);
  });

  it('counts characters outside the BMP as one character, like Python', () => {
    expect(porterStem('😀s')).toBe('😀s'); // two code points: returned as is
    expect(porterStem('😀😀s')).toBe('😀😀');
    expect(porterStem('x𝔸ying')).toBe(fixture.stems[fixture.words.indexOf('x𝔸ying')]);
  });
});
