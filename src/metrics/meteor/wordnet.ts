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

const POS_SLOT: Readonly<Record<WordNetPos, number>> = { n: 0, v: 1, a: 2, r: 3 };
const NO_LINE = -1;

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13 || code === 11 || code === 12;
}

export class WordNet {
  private readonly files: WordNetFiles;
  /** Every lemma of every index file → its id. */
  private readonly lemmaIds = new Map<string, number>();
  /** lineStarts[id * 4 + slot]: start of the lemma's line in index.<pos>, or NO_LINE. */
  private readonly lineStarts: number[] = [];
  private readonly exceptions: Record<WordNetPos, Map<string, readonly string[]>>;
  /** (id * 4 + slot) → synset offsets. */
  private readonly offsetCache = new Map<number, readonly number[]>();
  private readonly lemmaNameCache: Record<WordNetPos, Map<number, readonly string[]>>;

  constructor(files: WordNetFiles) {
    this.files = files;
    this.exceptions = {} as Record<WordNetPos, Map<string, readonly string[]>>;
    this.lemmaNameCache = {} as Record<WordNetPos, Map<number, readonly string[]>>;
    for (const pos of WORDNET_POS) {
      this.indexLemmas(files.index[pos], POS_SLOT[pos]);
      this.exceptions[pos] = exceptionMap(files.exceptions[pos]);
      this.lemmaNameCache[pos] = new Map();
    }
  }

  static load(options: WordNetSourceOptions = {}): WordNet {
    return new WordNet(readWordNetFiles(options));
  }

  /** Records where each lemma's line starts (license lines start with spaces). */
  private indexLemmas(text: string, slot: number): void {
    const { lemmaIds, lineStarts } = this;
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      if (end > start && !isSpace(text.charCodeAt(start))) {
        let space = start;
        while (space < end && !isSpace(text.charCodeAt(space))) space += 1;
        const lemma = text.slice(start, space);
        let id = lemmaIds.get(lemma);
        if (id === undefined) {
          id = lemmaIds.size;
          lemmaIds.set(lemma, id);
          lineStarts.push(NO_LINE, NO_LINE, NO_LINE, NO_LINE);
        }
        lineStarts[id * 4 + slot] = start;
      }
      start = end + 1;
    }
  }

  private lineStart(lemma: string, pos: WordNetPos): number {
    const id = this.lemmaIds.get(lemma);
    return id === undefined ? NO_LINE : this.lineStarts[id * 4 + POS_SLOT[pos]]!;
  }

  /** True when index.<pos> lists `lemma`. */
  hasLemma(lemma: string, pos: WordNetPos): boolean {
    return this.lineStart(lemma, pos) !== NO_LINE;
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
    const id = this.lemmaIds.get(lemma);
    if (id === undefined) return [];
    const key = id * 4 + POS_SLOT[pos];
    const cached = this.offsetCache.get(key);
    if (cached !== undefined) return cached;
    const start = this.lineStarts[key]!;
    const offsets = start === NO_LINE ? [] : parseIndexOffsets(this.files.index[pos], start, pos);
    this.offsetCache.set(key, offsets);
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
    const lemma = word.toLowerCase();
    for (const pos of WORDNET_POS) {
      for (const form of this.morphy(lemma, pos)) {
        for (const offset of this.synsetOffsets(form, pos)) {
          for (const name of this.lemmaNames(pos, offset)) {
            if (!name.includes('_')) names.add(name);
          }
        }
      }
    }
    return names;
  }
}

/** Reads the whitespace-separated fields of one line, from `start`, without splitting it. */
class FieldReader {
  private position: number;

  constructor(
    private readonly text: string,
    start: number,
  ) {
    this.position = start;
  }

  next(): string | undefined {
    const { text } = this;
    let position = this.position;
    while (
      position < text.length &&
      text.charCodeAt(position) !== 10 &&
      isSpace(text.charCodeAt(position))
    ) {
      position += 1;
    }
    if (position >= text.length || text.charCodeAt(position) === 10) {
      this.position = position;
      return undefined;
    }
    const begin = position;
    while (position < text.length && !isSpace(text.charCodeAt(position))) position += 1;
    this.position = position;
    return text.slice(begin, position);
  }
}

function parseIndexOffsets(text: string, start: number, pos: WordNetPos): number[] {
  // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
  const fields = new FieldReader(text, start);
  const malformed = () =>
    new MetricError(`meteor: malformed WordNet index.${pos} line at character ${start}`);
  fields.next();
  fields.next();
  const synsetCount = Number.parseInt(fields.next() ?? '', 10);
  const pointerCount = Number.parseInt(fields.next() ?? '', 10);
  if (!(synsetCount > 0) || !(pointerCount >= 0)) throw malformed();
  for (let k = 0; k < pointerCount + 2; k += 1) fields.next();
  const offsets: number[] = [];
  for (let k = 0; k < synsetCount; k += 1) {
    const offset = Number.parseInt(fields.next() ?? '', 10);
    if (!Number.isFinite(offset)) throw malformed();
    offsets.push(offset);
  }
  return offsets;
}

function parseSynsetLemmas(data: Buffer, offset: number, pos: WordNetPos, source: string) {
  // offset lex_filenum ss_type w_cnt (word lex_id)... p_cnt ... | gloss
  // The words come first and some lines run to tens of kilobytes of pointers, so the
  // first kilobyte is read, and the whole line only where the words go on past it.
  let end = data.indexOf(10, offset);
  if (end === -1) end = data.length;
  const head = Math.min(end, offset + 1024);
  const names = lemmasOfLine(
    data.toString('latin1', offset, head),
    offset,
    pos,
    source,
    head < end,
  );
  return names ?? lemmasOfLine(data.toString('latin1', offset, end), offset, pos, source, false)!;
}

/** undefined when `partial` and the text ends before the last word. */
function lemmasOfLine(
  line: string,
  offset: number,
  pos: WordNetPos,
  source: string,
  partial: boolean,
): string[] | undefined {
  const fields = new FieldReader(line, 0);
  if (Number.parseInt(fields.next() ?? '', 10) !== offset) {
    throw new MetricError(`meteor: no WordNet synset at data.${pos} offset ${offset} (${source})`);
  }
  fields.next();
  fields.next();
  const count = Number.parseInt(fields.next() ?? '', 16);
  if (Number.isNaN(count)) {
    throw new MetricError(`meteor: malformed WordNet synset at data.${pos} offset ${offset}`);
  }
  const names: string[] = [];
  for (let k = 0; k < count; k += 1) {
    const name = fields.next();
    const lexId = fields.next();
    if (name === undefined || lexId === undefined) {
      if (partial) return undefined;
      throw new MetricError(`meteor: truncated WordNet synset at data.${pos} offset ${offset}`);
    }
    names.push(stripMarker(name));
  }
  return names;
}
