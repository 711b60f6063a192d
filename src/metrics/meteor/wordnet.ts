/**
 * The part of NLTK's WordNet reader that METEOR uses: `synsets(word)` over all parts of
 * speech (noun, verb, adjective, adverb, in that order), with Morphy as NLTK 3.9+ runs
 * it (exception list, else one pass of the suffix substitutions; the word itself is
 * always tried first), and the lemma names of each synset (adjective markers such as
 * "(p)" removed, case kept). Index lines are found through a hash table over the index
 * text, built once; synsets are parsed in place from the data files by byte offset.
 * For METEOR's "is this reference word a synonym of that hypothesis word" the reader
 * answers without building synonym sets (isSynonym, namedSynsetLemmas).
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

/** Per part of speech (n, v, a, r), lower-cased lemma names (see namedSynsetLemmas). */
export type NamedLemmas = readonly ReadonlySet<string>[];

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

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13 || code === 11 || code === 12;
}

/**
 * Lemma → start of its line in one index file: an open-addressing hash table over the
 * file text itself (FNV-1a, linear probing), so that building it allocates no strings
 * and a lookup compares characters in place. A lemma listed twice keeps its last line,
 * as NLTK's dictionary does. License lines (leading spaces) are skipped.
 */
class LemmaTable {
  private readonly text: string;
  /** Line start + 1 per slot; 0 = empty. */
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(text: string) {
    this.text = text;
    let lines = 0;
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines += 1;
    let size = 1024;
    while (size < (lines + 1) * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      if (end > start && !isSpace(text.charCodeAt(start))) this.insert(start);
      start = end + 1;
    }
  }

  private insert(start: number): void {
    const { text, slots, mask } = this;
    let hash = 0x811c9dc5;
    let length = 0;
    for (let k = start; k < text.length && !isSpace(text.charCodeAt(k)); k += 1) {
      hash = Math.imul(hash ^ text.charCodeAt(k), 0x01000193);
      length += 1;
    }
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const stored = slots[slot]!;
      if (stored === 0 || this.sameLemma(stored - 1, start, length)) {
        slots[slot] = start + 1;
        return;
      }
    }
  }

  /** Whether the lemma at `other` is the `length` characters at `start`. */
  private sameLemma(other: number, start: number, length: number): boolean {
    const { text } = this;
    for (let k = 0; k < length; k += 1) {
      if (text.charCodeAt(other + k) !== text.charCodeAt(start + k)) return false;
    }
    const after = other + length;
    return after >= text.length || isSpace(text.charCodeAt(after));
  }

  /** Start of the line of `lemma`, or -1. */
  find(lemma: string): number {
    const { text, slots, mask } = this;
    const length = lemma.length;
    let hash = 0x811c9dc5;
    for (let k = 0; k < length; k += 1) hash = Math.imul(hash ^ lemma.charCodeAt(k), 0x01000193);
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const stored = slots[slot]!;
      if (stored === 0) return -1;
      const start = stored - 1;
      let k = 0;
      while (k < length && text.charCodeAt(start + k) === lemma.charCodeAt(k)) k += 1;
      if (k === length) {
        const after = start + length;
        if (after >= text.length || isSpace(text.charCodeAt(after))) return start;
      }
    }
  }
}

export class WordNet {
  private readonly files: WordNetFiles;
  private readonly lemmaLines: Record<WordNetPos, LemmaTable>;
  private readonly exceptions: Record<WordNetPos, Map<string, readonly string[]>>;
  private readonly lemmaNameCache: Record<WordNetPos, Map<number, readonly string[]>>;
  private readonly formsScratch: string[] = [];

  constructor(files: WordNetFiles) {
    this.files = files;
    this.lemmaLines = {} as Record<WordNetPos, LemmaTable>;
    this.exceptions = {} as Record<WordNetPos, Map<string, readonly string[]>>;
    this.lemmaNameCache = {} as Record<WordNetPos, Map<number, readonly string[]>>;
    for (const pos of WORDNET_POS) {
      this.lemmaLines[pos] = new LemmaTable(files.index[pos]);
      this.exceptions[pos] = exceptionMap(files.exceptions[pos]);
      this.lemmaNameCache[pos] = new Map();
    }
  }

  static load(options: WordNetSourceOptions = {}): WordNet {
    return new WordNet(readWordNetFiles(options));
  }

  /** True when index.<pos> lists `lemma`. */
  hasLemma(lemma: string, pos: WordNetPos): boolean {
    return this.lemmaLines[pos].find(lemma) !== -1;
  }

  /**
   * Base forms of `form` for one part of speech, as NLTK's `_morphy(form, pos)`
   * (NLTK 3.9+): candidates are the form itself, then its exception-list entries if it
   * has any, else the results of one pass of the suffix substitutions; those found in
   * the index are returned, first occurrence first.
   */
  morphy(form: string, pos: WordNetPos): string[] {
    const found: string[] = [];
    this.collectForms(form, pos, found);
    return found;
  }

  /** `morphy(form, pos)` appended to the empty array `found`. */
  private collectForms(form: string, pos: WordNetPos, found: string[]): void {
    const table = this.lemmaLines[pos];
    if (table.find(form) !== -1) found.push(form);
    const extras = this.morphyExtras(form, pos);
    for (let k = 0; k < extras.length; k += 1) {
      const candidate = extras[k]!;
      if (!found.includes(candidate) && table.find(candidate) !== -1) found.push(candidate);
    }
  }

  /** Synset offsets of `lemma` in index.<pos>, in index order (empty when absent). */
  synsetOffsets(lemma: string, pos: WordNetPos): readonly number[] {
    const start = this.lemmaLines[pos].find(lemma);
    const offsets: number[] = [];
    if (start !== -1) appendIndexOffsets(this.files.index[pos], start, pos, offsets);
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
   * Morphy's candidates for `form` beyond the form itself, per part of speech, before the
   * index filter: the exception-list entries where the form has some, else the results
   * of the suffix substitutions. `morphy(form, pos)` = those of [form, ...extras] that
   * the index lists.
   */
  morphyExtras(form: string, pos: WordNetPos): readonly string[] {
    const listed = this.exceptions[pos].get(form);
    if (listed !== undefined) return listed;
    let extras: string[] | undefined;
    const rules = SUBSTITUTIONS[pos];
    for (let k = 0; k < rules.length; k += 1) {
      const rule = rules[k]!;
      const suffix = rule[0];
      if (!form.endsWith(suffix)) continue;
      if (extras === undefined) extras = [];
      extras.push(form.slice(0, form.length - suffix.length) + rule[1]);
    }
    return extras ?? NO_NAMES;
  }

  /**
   * For each part of speech (n, v, a, r), the lower-cased lemma names of the synsets that
   * have `name` itself among their lemma names; undefined when there are none (names
   * with "_" never count, as in METEOR's synonym sets).
   *
   * In WordNet's files every lemma name, lower-cased, is indexed with exactly the
   * synsets it names. So `synonyms(word).has(name)` holds exactly when, for some part
   * of speech, `word` lower-cased or one of its `morphyExtras` is among these names
   * (see isSynonym): the synonym stage needs neither synonym lists nor the index
   * entries of the hypothesis word.
   */
  namedSynsetLemmas(name: string): NamedLemmas | undefined {
    if (name.includes('_')) return undefined;
    const lemma = name.toLowerCase();
    let found: Set<string>[] | undefined;
    for (let slot = 0; slot < WORDNET_POS.length; slot += 1) {
      const pos = WORDNET_POS[slot]!;
      for (const offset of this.synsetOffsets(lemma, pos)) {
        const names = this.lemmaNames(pos, offset);
        if (!names.includes(name)) continue;
        if (found === undefined) found = [new Set(), new Set(), new Set(), new Set()];
        for (const other of names) found[slot]!.add(other.toLowerCase());
      }
    }
    return found;
  }

  /** Morphy's extra candidates of `word` (lower-cased) for each part of speech. */
  morphyExtrasByPos(word: string): readonly (readonly string[])[] {
    const lemma = word.toLowerCase();
    const extras = [
      this.morphyExtras(lemma, 'n'),
      this.morphyExtras(lemma, 'v'),
      this.morphyExtras(lemma, 'a'),
      this.morphyExtras(lemma, 'r'),
    ];
    return extras.every((list) => list.length === 0) ? NO_EXTRAS : extras;
  }

  /** Whether `name` is among `synonyms(word)`, without building the synonym set. */
  isSynonym(word: string, name: string): boolean {
    const named = this.namedSynsetLemmas(name);
    return (
      named !== undefined &&
      namesWordOrExtra(named, word.toLowerCase(), this.morphyExtrasByPos(word))
    );
  }

  /**
   * The synonym candidates METEOR takes for a word: lemma names without "_" of every
   * synset that `synsets(word)` finds.
   */
  synonyms(word: string): Set<string> {
    return new Set(this.synonymList(word));
  }

  /** `synonyms(word)` as an array, possibly with repeats (cheaper to build). */
  synonymList(word: string): readonly string[] {
    const lemma = word.toLowerCase();
    const forms = this.formsScratch;
    let names: string[] | undefined;
    for (const pos of WORDNET_POS) {
      forms.length = 0;
      this.collectForms(lemma, pos, forms);
      for (let f = 0; f < forms.length; f += 1) {
        const offsets = this.synsetOffsets(forms[f]!, pos);
        for (let o = 0; o < offsets.length; o += 1) {
          const synsetNames = this.lemmaNames(pos, offsets[o]!);
          for (let n = 0; n < synsetNames.length; n += 1) {
            const name = synsetNames[n]!;
            if (name.includes('_')) continue;
            if (names === undefined) names = [];
            names.push(name);
          }
        }
      }
    }
    return names ?? NO_NAMES;
  }
}

const NO_NAMES: readonly string[] = Object.freeze([]);
const NO_EXTRAS: readonly (readonly string[])[] = Object.freeze([
  NO_NAMES,
  NO_NAMES,
  NO_NAMES,
  NO_NAMES,
]);

/**
 * Whether, for some part of speech, `lemma` or one of its Morphy extras is among the
 * names `namedSynsetLemmas` gave: i.e. whether the name is a synonym of the word.
 */
export function namesWordOrExtra(
  named: NamedLemmas,
  lemma: string,
  extras: readonly (readonly string[])[],
): boolean {
  for (let slot = 0; slot < 4; slot += 1) {
    const names = named[slot]!;
    if (names.size === 0) continue;
    if (names.has(lemma)) return true;
    const candidates = extras[slot]!;
    for (let k = 0; k < candidates.length; k += 1) {
      if (names.has(candidates[k]!)) return true;
    }
  }
  return false;
}

// Field scanning in place (no splitting, no closures): a field ends at white space; a
// line ends at "\n". `-1` = no further field on this line.

function nextFieldInText(text: string, at: number): number {
  let position = at;
  while (position < text.length) {
    const code = text.charCodeAt(position);
    if (code === 10) return -1;
    if (!isSpace(code)) return position;
    position += 1;
  }
  return -1;
}

function fieldEndInText(text: string, start: number): number {
  let position = start;
  while (position < text.length && !isSpace(text.charCodeAt(position))) position += 1;
  return position;
}

function nextFieldInBytes(data: Buffer, at: number): number {
  let position = at;
  while (position < data.length) {
    const code = data[position]!;
    if (code === 10) return -1;
    if (!isSpace(code)) return position;
    position += 1;
  }
  return -1;
}

function fieldEndInBytes(data: Buffer, start: number): number {
  let position = start;
  while (position < data.length && !isSpace(data[position]!)) position += 1;
  return position;
}

/** Value of one digit character in `radix` (10 or 16), or -1. */
function digitValue(c: number, radix: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (radix === 16 && c >= 97 && c <= 102) return c - 87;
  if (radix === 16 && c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** The number written in text[start, end), or NaN. */
function numberInText(text: string, start: number, end: number, radix: number): number {
  if (end <= start) return Number.NaN;
  let value = 0;
  for (let k = start; k < end; k += 1) {
    const digit = digitValue(text.charCodeAt(k), radix);
    if (digit === -1) return Number.NaN;
    value = value * radix + digit;
  }
  return value;
}

/** The number written in data[start, end), or NaN. */
function numberInBytes(data: Buffer, start: number, end: number, radix: number): number {
  if (end <= start) return Number.NaN;
  let value = 0;
  for (let k = start; k < end; k += 1) {
    const digit = digitValue(data[k]!, radix);
    if (digit === -1) return Number.NaN;
    value = value * radix + digit;
  }
  return value;
}

/** Appends the synset offsets of the index line at `start` to `out`. */
function appendIndexOffsets(text: string, start: number, pos: WordNetPos, out: number[]): void {
  // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
  let synsetCount = Number.NaN;
  let pointerCount = Number.NaN;
  let appended = 0;
  let field = 0;
  let at = start;
  while (appended < synsetCount || field < 4) {
    const begin = nextFieldInText(text, at);
    if (begin === -1) break;
    const end = fieldEndInText(text, begin);
    if (field === 2) synsetCount = numberInText(text, begin, end, 10);
    else if (field === 3) pointerCount = numberInText(text, begin, end, 10);
    else if (field >= 4 && field >= 6 + pointerCount) {
      const offset = numberInText(text, begin, end, 10);
      if (Number.isNaN(offset)) break;
      out.push(offset);
      appended += 1;
    }
    field += 1;
    at = end;
  }
  if (!(synsetCount > 0) || appended !== synsetCount) {
    throw new MetricError(`meteor: malformed WordNet index.${pos} line at character ${start}`);
  }
}

function parseSynsetLemmas(data: Buffer, offset: number, pos: WordNetPos, source: string) {
  // offset lex_filenum ss_type w_cnt (word lex_id)... p_cnt ... | gloss
  // Only the words are decoded; some lines run to tens of kilobytes of pointers.
  let begin = nextFieldInBytes(data, offset);
  let end = begin === -1 ? -1 : fieldEndInBytes(data, begin);
  if (begin !== offset || numberInBytes(data, begin, end, 10) !== offset) {
    throw new MetricError(`meteor: no WordNet synset at data.${pos} offset ${offset} (${source})`);
  }
  let count = Number.NaN;
  for (let field = 1; field <= 3; field += 1) {
    begin = nextFieldInBytes(data, end);
    if (begin === -1) break;
    end = fieldEndInBytes(data, begin);
    if (field === 3) count = numberInBytes(data, begin, end, 16);
  }
  if (Number.isNaN(count)) {
    throw new MetricError(`meteor: malformed WordNet synset at data.${pos} offset ${offset}`);
  }
  const names: string[] = [];
  for (let k = 0; k < count; k += 1) {
    const nameStart = nextFieldInBytes(data, end);
    const nameEnd = nameStart === -1 ? -1 : fieldEndInBytes(data, nameStart);
    const lexId = nameStart === -1 ? -1 : nextFieldInBytes(data, nameEnd);
    if (lexId === -1) {
      throw new MetricError(`meteor: truncated WordNet synset at data.${pos} offset ${offset}`);
    }
    names.push(stripMarker(data.toString('latin1', nameStart, nameEnd)));
    end = fieldEndInBytes(data, lexId);
  }
  return names;
}
