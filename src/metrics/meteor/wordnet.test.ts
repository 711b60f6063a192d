import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MetricError } from '../../core/errors.js';
import { WordNet } from './wordnet.js';
import { readWordNetFiles, WORDNET_POS } from './wordnet-files.js';

interface WordNetFixture {
  nltk_version: string;
  entries: { word: string; morphy: Record<string, string[]>; synonyms: string[] }[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/meteor/wordnet.json', import.meta.url), 'utf8'),
) as WordNetFixture;

let wordnet: WordNet;

beforeAll(() => {
  wordnet = WordNet.load();
});

describe('WordNet morphy and synsets', () => {
  it('finds the base forms NLTK _morphy finds, for every part of speech', () => {
    expect(fixture.entries.length).toBeGreaterThan(2000);
    const mismatches: string[] = [];
    for (const { word, morphy } of fixture.entries) {
      for (const pos of WORDNET_POS) {
        const ours = wordnet.morphy(word, pos);
        const theirs = morphy[pos] ?? [];
        if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
          mismatches.push(`${word}/${pos}: ${ours.join(',')} != ${theirs.join(',')}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('collects the lemma names (without "_") of the synsets NLTK synsets(word) finds', () => {
    const mismatches: string[] = [];
    for (const { word, synonyms } of fixture.entries) {
      const ours = [...wordnet.synonyms(word)].sort();
      const theirs = [...synonyms].sort();
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) mismatches.push(word);
    }
    expect(mismatches).toEqual([]);
  });

  it('uses exception lists and one pass of the substitution rules', () => {
    expect(wordnet.morphy('feet', 'n')).toEqual(['foot']);
    expect(wordnet.morphy('bronchi', 'n')).toEqual(['bronchus']);
    expect(wordnet.morphy('seen', 'v')).toEqual(['see']);
    expect(wordnet.morphy('worse', 'a')).toEqual(['worse', 'bad']);
    expect(wordnet.morphy('lesions', 'n')).toEqual(['lesion']);
    // The word itself first, then every substitution that is in the index, once each.
    expect(wordnet.morphy('masses', 'n')).toEqual(['masses', 'mass', 'masse']);
    expect(wordnet.morphy('showed', 'v')).toEqual(['show']);
    // NLTK 3.9+: no second pass ("tabless" -> "tables" is not in WordNet, so nothing).
    expect(wordnet.morphy('tabless', 'n')).toEqual([]);
    expect(wordnet.synonyms('tumour')).toEqual(new Set(['tumor', 'tumour', 'neoplasm']));
    // Adjective markers are removed: "galore(ip)" is listed as "galore".
    expect(wordnet.synonyms('galore').has('galore')).toBe(true);
    expect(wordnet.synonyms('zzzqqq').size).toBe(0);
  });
});

describe('WordNet files', () => {
  it('reads the same files from the package tarball when dict/ is not unpacked', () => {
    const unpacked = readWordNetFiles();
    const fromTarball = readWordNetFiles({ preferTarball: true });
    expect(fromTarball.source).toMatch(/WNdb-3\.0\.tar\.gz$/);
    for (const pos of WORDNET_POS) {
      expect(fromTarball.index[pos]).toBe(unpacked.index[pos]);
      expect(fromTarball.exceptions[pos]).toBe(unpacked.exceptions[pos]);
      expect(Buffer.compare(fromTarball.data[pos], unpacked.data[pos])).toBe(0);
    }
  });

  it('names the missing file when a WordNet folder is incomplete', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medcap-wordnet-'));
    try {
      expect(() => readWordNetFiles({ dir })).toThrow(MetricError);
      expect(() => readWordNetFiles({ dir })).toThrow(join(dir, 'index.noun'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
