/**
 * The part of NLTK's WordNet reader that METEOR uses: `synsets(word)` over all parts of
 * speech (noun, verb, adjective, adverb, in that order), with Morphy as NLTK 3.9+ runs
 * it (exception list, else one pass of the suffix substitutions; the word itself is
 * always tried first), and the lemma names of each synset (adjective markers such as
 * "(p)" removed, case kept). Index lines are found through a map built once; synsets are
 * parsed from the data files by byte offset on first use and cached.
 */
import { MetricError } from '../../core/errors.js';
import {
  readWordNetFiles,
  WORDNET_POS,
  type WordNetFiles,
  type WordNetPos,
  type WordNetSourceOptions,
} from './wordnet-files.js';

export type { WordNetPos } from './wordnet-files.js';

/** Morphy's suffix substitutions ([suffix, replacement]), in Morphy's order. */
const SUBSTITUTIONS: Readonly<Record<WordNetPos, readonly (readonly [string, string])[]>> = {
  n: [
    ['s', ''],
    ['ses', 's'],
    ['ves', 'f'],
    ['xes', 'x'],
    ['zes', 'z'],
    ['ches', 'ch'],
    ['shes', 'sh'],
    ['men', 'man'],
    ['ies', 'y'],
  ],
  v: [
    ['s', ''],
    ['ies', 'y'],
    ['es', 'e'],
    ['es', ''],
    ['ed', 'e'],
    ['ed', ''],
    ['ing', 'e'],
    ['ing', ''],
  ],
  a: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
  ],
  r: [],
};

const WHITESPACE = /\s+/;

function splitFields(line: string): string[] {
  const trimmed = line.trim();
  return trimmed === '' ? [] : trimmed.split(WHITESPACE);
}

/** Lemma → start of its line in index.<pos>. */
function indexLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const first = text.charCodeAt(start);
    // License lines start with spaces; blank lines carry no lemma.
    if (end > start && first !== 32 && first !== 9 && first !== 13) {
      let space = start;
      while (space < end && text.charCodeAt(space) > 32) space += 1;
      lines.set(text.slice(start, space), start);
    }
    start = end + 1;
  }
  return lines;
}

function exceptionMap(text: string): Map<string, readonly string[]> {
  const map = new Map<string, readonly string[]>();
  for (const line of text.split('\n')) {
    const terms = splitFields(line);
    const head = terms[0];
    if (head !== undefined) map.set(head, terms.slice(1));
  }
  return map;
}

/** "galore(ip)" → "galore": a trailing "(...)" from the first "(" on is a syntactic marker. */
function stripMarker(name: string): string {
  if (!name.endsWith(')')) return name;
  const open = name.indexOf('(');
  return open !== -1 && open <= name.length - 2 ? name.slice(0, open) : name;
}

export class WordNet {
  private readonly files: WordNetFiles;
  private readonly lemmaLines: Record<WordNetPos, Map<string, number>>;
  private readonly exceptions: Record<WordNetPos, Map<string, readonly string[]>>;
  private readonly offsetCache: Record<WordNetPos, Map<string, readonly number[]>>;
  private readonly lemmaNameCache: Record<WordNetPos, Map<number, readonly string[]>>;

  constructor(files: WordNetFiles) {
    this.files = files;
    this.lemmaLines = {} as Record<WordNetPos, Map<string, number>>;
    this.exceptions = {} as Record<WordNetPos, Map<string, readonly string[]>>;
    this.offsetCache = {} as Record<WordNetPos, Map<string, readonly number[]>>;
    this.lemmaNameCache = {} as Record<WordNetPos, Map<number, readonly string[]>>;
    for (const pos of WORDNET_POS) {
      this.lemmaLines[pos] = indexLines(files.index[pos]);
      this.exceptions[pos] = exceptionMap(files.exceptions[pos]);
      this.offsetCache[pos] = new Map();
      this.lemmaNameCache[pos] = new Map();
    }
  }

  static load(options: WordNetSourceOptions = {}): WordNet {
    return new WordNet(readWordNetFiles(options));
  }

  /** True when index.<pos> lists `lemma`. */
  hasLemma(lemma: string, pos: WordNetPos): boolean {
    return this.lemmaLines[pos].has(lemma);
  }

  /**
   * Base forms of `form` for one part of speech, as NLTK's `_morphy(form, pos)`
   * (NLTK 3.9+): candidates are the form itself, then its exception-list entries if it
   * has any, else the results of one pass of the suffix substitutions; those found in
   * the index are returned, first occurrence first.
   */
  morphy(form: string, pos: WordNetPos): string[] {
    const listed = this.exceptions[pos].get(form);
    const candidates = [form];
    if (listed !== undefined) {
      candidates.push(...listed);
    } else {
      for (const [suffix, replacement] of SUBSTITUTIONS[pos]) {
        if (form.endsWith(suffix)) {
          candidates.push(form.slice(0, form.length - suffix.length) + replacement);
        }
      }
    }
    const found: string[] = [];
    for (const candidate of candidates) {
      if (this.hasLemma(candidate, pos) && !found.includes(candidate)) found.push(candidate);
    }
    return found;
  }

  /** Synset offsets of `lemma` in index.<pos>, in index order (empty when absent). */
  synsetOffsets(lemma: string, pos: WordNetPos): readonly number[] {
    const cache = this.offsetCache[pos];
    const cached = cache.get(lemma);
    if (cached !== undefined) return cached;
    const start = this.lemmaLines[pos].get(lemma);
    let offsets: number[] = [];
    if (start !== undefined) {
      const text = this.files.index[pos];
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      offsets = parseIndexLine(text.slice(start, end), pos);
    }
    cache.set(lemma, offsets);
    return offsets;
  }

  /** `synsets(word)`: (pos, offset) of every synset, parts of speech in NLTK's order. */
  synsets(word: string): { pos: WordNetPos; offset: number }[] {
    const lemma = word.toLowerCase();
    const result: { pos: WordNetPos; offset: number }[] = [];
    for (const pos of WORDNET_POS) {
      for (const form of this.morphy(lemma, pos)) {
        for (const offset of this.synsetOffsets(form, pos)) result.push({ pos, offset });
      }
    }
    return result;
  }

  /** Lemma names of the synset at `offset` in data.<pos>, markers removed, case kept. */
  lemmaNames(pos: WordNetPos, offset: number): readonly string[] {
    const cache = this.lemmaNameCache[pos];
    const cached = cache.get(offset);
    if (cached !== undefined) return cached;
    const names = parseSynsetLemmas(this.files.data[pos], offset, pos, this.files.source);
    cache.set(offset, names);
    return names;
  }

  /**
   * The synonym candidates METEOR takes for a word: lemma names without "_" of every
   * synset that `synsets(word)` finds.
   */
  synonyms(word: string): Set<string> {
    const names = new Set<string>();
    for (const { pos, offset } of this.synsets(word)) {
      for (const name of this.lemmaNames(pos, offset)) {
        if (!name.includes('_')) names.add(name);
      }
    }
    return names;
  }
}

function parseIndexLine(line: string, pos: WordNetPos): number[] {
  // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
  const fields = splitFields(line);
  const synsetCount = Number.parseInt(fields[2] ?? '', 10);
  const pointerCount = Number.parseInt(fields[3] ?? '', 10);
  if (!(synsetCount > 0) || !(pointerCount >= 0)) {
    throw new MetricError(`meteor: malformed WordNet index.${pos} line: ${line.slice(0, 80)}`);
  }
  const first = 4 + pointerCount + 2;
  const offsets: number[] = [];
  for (let k = 0; k < synsetCount; k += 1) {
    const offset = Number.parseInt(fields[first + k] ?? '', 10);
    if (!Number.isFinite(offset)) {
      throw new MetricError(`meteor: malformed WordNet index.${pos} line: ${line.slice(0, 80)}`);
    }
    offsets.push(offset);
  }
  return offsets;
}

function parseSynsetLemmas(data: Buffer, offset: number, pos: WordNetPos, source: string) {
  let end = data.indexOf(10, offset);
  if (end === -1) end = data.length;
  // offset lex_filenum ss_type w_cnt (word lex_id)... p_cnt ... | gloss
  const line = data.toString('latin1', offset, end);
  const bar = line.indexOf('|');
  const fields = splitFields(bar === -1 ? line : line.slice(0, bar));
  if (Number.parseInt(fields[0] ?? '', 10) !== offset) {
    throw new MetricError(`meteor: no WordNet synset at data.${pos} offset ${offset} (${source})`);
  }
  const count = Number.parseInt(fields[3] ?? '', 16);
  const names: string[] = [];
  for (let k = 0; k < count; k += 1) {
    const name = fields[4 + 2 * k];
    if (name === undefined) {
      throw new MetricError(`meteor: truncated WordNet synset at data.${pos} offset ${offset}`);
    }
    names.push(stripMarker(name));
  }
  return names;
}
