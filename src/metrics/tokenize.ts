import { ConfigError } from '../core/errors.js';
import { PtbRun, type PtbTokenSink } from './tokenizer/ptb-lexer.js';

export type TokenizerId = 'coco' | 'whitespace';

export const TOKENIZER_IDS: readonly TokenizerId[] = Object.freeze(['coco', 'whitespace']);

/**
 * Tokenizes a run of texts at once. The `coco` tokenizer needs the run: pycocoevalcap
 * tokenizes all references (and, separately, all candidates) as one text, one caption a
 * line, and the end of a caption can depend on the start of the next one.
 */
export type TokenizeBatch = (texts: readonly string[]) => string[][];

/**
 * Tokens that pycocoevalcap's PTBTokenizer step drops after lower-casing. The bracket
 * entries are upper case, so the lower-cased -lrb-/-rrb-/-lcb-/-rcb- survive (a quirk that
 * published numbers carry).
 */
const COCO_PUNCTUATION = new Set([
  "''",
  "'",
  '``',
  '`',
  '-LRB-',
  '-RRB-',
  '-LCB-',
  '-RCB-',
  '.',
  '?',
  '!',
  ',',
  ':',
  '-',
  '--',
  '...',
  ';',
]);

/** Lower-cased tokens can only be dropped when they are this short and start so. */
const PUNCTUATION_MAX_LENGTH = Math.max(...[...COCO_PUNCTUATION].map((p) => p.length));
const PUNCTUATION_FIRST = new Set([...COCO_PUNCTUATION].map((p) => p.charCodeAt(0)));

/**
 * The `coco` tokenizer: pycocoevalcap's PTBTokenizer step (Stanford PTBTokenizer 3.4.1
 * with -preserveLines -lowerCase, then its punctuation list removed). A token may hold a
 * no-break space (fractions such as `1 1/2`, phone-number-like digit groups), as the
 * Java tokenizer writes them; see {@link splitPythonWhitespace}. `following` are the
 * captions after this one in its run (see {@link tokenizeCocoBatch}).
 */
export function tokenizeCoco(text: string, following?: readonly string[]): string[] {
  const run = new PtbRun(joinLines(following ? [text, ...following] : [text]));
  return cocoLine.scan(run, 0, text.length);
}

/**
 * {@link tokenizeCoco} over a run of captions, each seeing the ones after it as
 * pycocoevalcap does: the run is tokenized as one text, one caption a line. A rule may look
 * as far ahead as the Java tokenizer does (through any number of blank lines, say), not
 * only into the next few captions.
 */
export function tokenizeCocoBatch(texts: readonly string[]): string[][] {
  const out: string[][] = [];
  forEachCocoTokens(texts, (tokens, count) => out.push(tokens.slice(0, count)));
  return out;
}

/**
 * Ids that `owner` gave the coco tokens found in the chunk cache, by their index there
 * (the `forms` that forEachCocoTokens hands over; -1: none yet, for the owner to fill in).
 * Ask again for each caption: the array changes as the cache grows.
 */
export function chunkFormIds(owner: object): Int32Array {
  return chunkCache.idsFor(owner);
}

/**
 * {@link tokenizeCocoBatch} without an array per caption: hands each caption's tokens, in
 * order, to `take` as tokens[0, count) of a scratch array that the next caption reuses,
 * with forms[0, count): each token's index in the chunk cache (see chunkFormIds), or -1.
 * Only texts[first, stop) are tokenized, each as in the whole run: a caption's tokens
 * depend on it and the captions after it, and on the run's text as a whole, not on the
 * captions before it, so two threads can each tokenize a part.
 */
export function forEachCocoTokens(
  texts: readonly string[],
  take: (tokens: readonly string[], count: number, forms?: readonly number[]) => void,
  first = 0,
  stop = texts.length,
): void {
  const run = new PtbRun(joinLines(texts));
  let start = 0;
  for (let i = 0; i < first; i++) start += texts[i]!.length + 1;
  for (let i = first; i < stop; i++) {
    const stop = start + texts[i]!.length; // joinLines keeps the lengths
    const count = cocoLine.scanInto(run, start, stop);
    take(cocoLine.tokens, count, cocoLine.forms);
    start = stop + 1;
  }
}

/** The captions as one text, one a line (a line break inside a caption becomes a space). */
function joinLines(texts: readonly string[]): string {
  const oneLineEach = texts.every((t) => !t.includes('\n'));
  return (oneLineEach ? texts : texts.map((t) => t.replaceAll('\n', ' '))).join('\n');
}

/** PTB token -> its coco form: lower case, or null when pycocoevalcap drops it. */
function cocoForm(token: string): string | null {
  const lower = javaLowerCase(token);
  return isCocoPunctuation(lower) ? null : lower;
}

/**
 * A fresh copy of text[pos, end). Tokens outlive the run, and V8 keeps a slice of 13 or
 * more units as a view into the string it was cut from (shorter ones are copies). Longer
 * tokens (rare) are sliced.
 */
function copyOf(text: string, pos: number, end: number): string {
  if (end - pos < 13 || end - pos > MAX_COPY_LENGTH) return text.slice(pos, end);
  const units: number[] = [];
  for (let i = pos; i < end; i++) units.push(text.charCodeAt(i));
  return String.fromCharCode(...units);
}

const MAX_COPY_LENGTH = 64;
const SPACE = 0x20;
const FNV_OFFSET = 0x811c9dc5 | 0;
/** The token range of a chunk record whose tokens depend on what follows it. */
const READS_ON = -1;

function fnvStep(hash: number, unit: number): number {
  return Math.imul(hash ^ unit, 0x01000193);
}

/**
 * Lines are read chunk by chunk: a chunk is text[pos, end) where the spaces at pos and
 * then the non-spaces after them run up to `end`, the next space or the line end. The
 * lexer is deterministic, so when its tokens that start in a chunk end exactly at `end`
 * and it looked no further than text[end] for them, they depend on text[pos, end] alone
 * (see PtbRun.scanTokens): such chunks are cached here by that content, their "key", and
 * found again instead of scanned again. Captions repeat their words, so most chunks are
 * found. Sharing the strings of a chunk's tokens also spares the garbage collector from
 * copying millions of small kept ones.
 *
 * Laid out for few cache misses: open addressing over an Int32Array of (hash, record + 1)
 * pairs; a record holds a chunk's key and where its coco tokens lie in {@link forms}, and
 * records lie in order of first sight, so that the frequent chunks lie together. It grows
 * with the vocabulary up to {@link MAX_RECORDS}, then starts over.
 */
class ChunkCache {
  private static readonly MAX_RECORDS = 1 << 18;
  /**
   * Record: key length, first token, token count * 2 + (1 if any PTB token) or
   * READS_ON, key units.
   */
  private static readonly HEADER = 3;
  private slots: Int32Array = new Int32Array(1 << 13);
  private records: Int32Array = new Int32Array(1 << 14);
  /** The records seen as UTF-16 code units, for the keys. */
  private units: Uint16Array = new Uint16Array(this.records.buffer);
  private used = 0;
  private count = 0;
  /** The coco tokens of all records. */
  private forms: string[] = [];
  /** See idsFor. */
  private formIds = new Int32Array(0);
  private idOwner: object | undefined;

  /** The record of text[pos, end] (`end` included), with this hash, or -1. */
  find(text: string, pos: number, end: number, hash: number): number {
    const { slots, records, units } = this;
    const mask = slots.length - 2;
    const length = end + 1 - pos;
    for (let slot = (hash << 1) & mask; ; slot = (slot + 2) & mask) {
      const record = slots[slot + 1]! - 1;
      if (record < 0) return -1;
      if (slots[slot] !== hash || records[record] !== length) continue;
      const offset = (record + ChunkCache.HEADER) * 2 - pos;
      let i = pos;
      while (i <= end && units[offset + i] === text.charCodeAt(i)) i += 1;
      if (i > end) return record;
    }
  }

  /**
   * Appends the coco tokens of `record` to out[count...], and their indexes in the cache's
   * forms to formsOut[count...]; returns the new count.
   */
  appendForms(record: number, out: string[], formsOut: number[], count: number): number {
    const first = this.records[record + 1]!;
    const stop = first + (this.records[record + 2]! >> 1);
    const forms = this.forms;
    let n = count;
    for (let f = first; f < stop; f++) {
      formsOut[n] = f;
      out[n++] = forms[f]!;
    }
    return n;
  }

  /**
   * Per form, the id that `owner` (a token numbering) gave it, -1 if none yet: filled in by
   * the owner, so that a token found in the cache costs no look-up of its string. Valid
   * until the forms start over or another owner asks.
   */
  idsFor(owner: object): Int32Array {
    if (owner !== this.idOwner || this.formIds.length < this.forms.length) {
      const ids = new Int32Array(Math.max(1024, this.forms.length * 2)).fill(-1);
      if (owner === this.idOwner) ids.set(this.formIds);
      this.formIds = ids;
      this.idOwner = owner;
    }
    return this.formIds;
  }

  /** Whether the chunk of `record` holds a PTB token (kept or dropped). */
  hasToken(record: number): boolean {
    return (this.records[record + 2]! & 1) === 1;
  }

  /** Whether the tokens of `record`'s key depend on what follows: look up a longer key. */
  readsOn(record: number): boolean {
    return this.records[record + 2] === READS_ON;
  }

  /**
   * Caches text[pos, end] (`end` included) as yielding tokens[first, stop), or as one
   * whose tokens depend on what follows.
   */
  add(
    text: string,
    pos: number,
    end: number,
    hash: number,
    tokens: readonly string[],
    first: number,
    stop: number,
    hasToken: boolean,
    readsOn = false,
  ): void {
    const length = end + 1 - pos;
    if (length > MAX_COPY_LENGTH) return;
    if (this.count === ChunkCache.MAX_RECORDS) this.clear();
    const size = ChunkCache.HEADER + ((length + 1) >> 1);
    if (this.used + size > this.records.length) this.growRecords(size);
    const record = this.used;
    this.records[record] = length;
    this.records[record + 1] = this.forms.length;
    this.records[record + 2] = readsOn ? READS_ON : ((stop - first) << 1) | (hasToken ? 1 : 0);
    const offset = (record + ChunkCache.HEADER) * 2;
    for (let i = 0; i < length; i++) this.units[offset + i] = text.charCodeAt(pos + i);
    for (let f = first; f < stop; f++) this.forms.push(tokens[f]!);
    this.used += size;
    this.count += 1;
    putSlot(this.slots, hash, record + 1);
    // Kept at most half full.
    if (this.count * 4 > this.slots.length) this.slots = rehashed(this.slots);
  }

  private growRecords(size: number): void {
    const records = new Int32Array(Math.max(this.records.length * 2, this.used + size));
    records.set(this.records);
    this.records = records;
    this.units = new Uint16Array(records.buffer);
  }

  /** How many times the cache started over (form indexes from before are void). */
  clears = 0;

  private clear(): void {
    this.clears += 1;
    this.slots = new Int32Array(1 << 13);
    this.used = 0;
    this.count = 0;
    this.forms = [];
    this.idOwner = undefined;
  }
}

function putSlot(slots: Int32Array, hash: number, value: number): void {
  const mask = slots.length - 2;
  let slot = (hash << 1) & mask;
  while (slots[slot + 1] !== 0) slot = (slot + 2) & mask;
  slots[slot] = hash;
  slots[slot + 1] = value;
}

function rehashed(old: Int32Array): Int32Array {
  const slots = new Int32Array(old.length * 2);
  for (let i = 0; i < old.length; i += 2) {
    if (old[i + 1] !== 0) putSlot(slots, old[i]!, old[i + 1]!);
  }
  return slots;
}

const chunkCache = new ChunkCache();

/** Collects the coco tokens of one line from the PTB lexer. */
class CocoLine implements PtbTokenSink {
  /** Scratch: the line's coco tokens are tokens[0, count). */
  readonly tokens: string[] = [];
  /** Scratch: per token, its index in the chunk cache's forms, or -1. */
  readonly forms: number[] = [];
  private count = 0;
  /** PTB tokens seen so far on the line. */
  private ptbTokens = 0;
  /** Whether the last PTB token ends in Python white space, and then the token itself. */
  private endsInSpace = false;
  private lastToken = '';
  /** Scratch: the hash that {@link chunkEnd} carried on. */
  private hash = 0;

  span(text: string, pos: number, end: number): void {
    this.collect(copyOf(text, pos, end));
  }

  token(token: string): void {
    this.collect(copyOf(token, 0, token.length));
  }

  private collect(token: string): void {
    this.ptbTokens += 1;
    this.endsInSpace = token.length > 0 && isPythonWhitespace(token.charCodeAt(token.length - 1));
    if (this.endsInSpace) this.lastToken = token;
    this.add(cocoForm(token));
  }

  scan(run: PtbRun, start: number, stop: number): string[] {
    return this.tokens.slice(0, this.scanInto(run, start, stop));
  }

  /** Collects the line's coco tokens into `tokens`; returns how many there are. */
  scanInto(run: PtbRun, start: number, stop: number): number {
    this.count = 0;
    this.endsInSpace = false;
    const clears = chunkCache.clears;
    let pos = start;
    while (pos < stop) pos = this.scanChunk(run, pos, stop);
    if (this.endsInSpace) this.stripLast();
    // The cache started over on this line: the forms found before are not its forms now.
    if (chunkCache.clears !== clears) this.forms.fill(-1, 0, this.count);
    return this.count;
  }

  /**
   * Collects the tokens of the chunk at `pos`, or of it and the chunks after it on the
   * line where its tokens depend on them; returns where to go on.
   */
  private scanChunk(run: PtbRun, pos: number, stop: number): number {
    const text = run.text;
    let end = this.chunkEnd(text, pos, stop, FNV_OFFSET);
    for (;;) {
      if (end === text.length) return run.scanTokens(pos, stop, this); // nothing follows
      const hash = fnvStep(this.hash, text.charCodeAt(end));
      const record = chunkCache.find(text, pos, end, hash);
      if (record < 0) return this.scanAndCache(run, pos, end, hash);
      if (!chunkCache.readsOn(record)) {
        this.count = chunkCache.appendForms(record, this.tokens, this.forms, this.count);
        if (chunkCache.hasToken(record)) this.endsInSpace = false;
        return end;
      }
      if (end === stop || end - pos >= MAX_COPY_LENGTH) return run.scanTokens(pos, end, this);
      end = this.chunkEnd(text, end, stop, this.hash);
    }
  }

  /**
   * The end of the chunk at `pos`: past the spaces there, then up to the next space or
   * `stop`. Sets {@link hash} to `hash` carried on over text[pos, end).
   */
  private chunkEnd(text: string, pos: number, stop: number, hash: number): number {
    let end = pos;
    let h = hash;
    while (end < stop && text.charCodeAt(end) === SPACE) {
      h = fnvStep(h, SPACE);
      end += 1;
    }
    while (end < stop) {
      const unit = text.charCodeAt(end);
      if (unit === SPACE) break;
      h = fnvStep(h, unit);
      end += 1;
    }
    this.hash = h;
    return end;
  }

  /**
   * Scans text[pos, end) and caches what it yields when that depends on text[pos, end]
   * only; otherwise notes that the key reads on into the next chunk.
   */
  private scanAndCache(run: PtbRun, pos: number, end: number, hash: number): number {
    const count = this.count;
    const ptbTokens = this.ptbTokens;
    const next = run.scanTokens(pos, end, this);
    if (this.endsInSpace) return next;
    if (next === end && run.lastRead <= end) {
      const hasToken = this.ptbTokens > ptbTokens;
      chunkCache.add(run.text, pos, end, hash, this.tokens, count, this.count, hasToken);
    } else {
      chunkCache.add(run.text, pos, end, hash, this.tokens, count, count, false, true);
    }
    return next;
  }

  private add(form: string | null): void {
    if (form === null) return;
    this.forms[this.count] = -1;
    this.tokens[this.count++] = form;
  }

  /**
   * pycocoevalcap strips the end of each output line (Python's rstrip): a URL-like last
   * token can end in a no-break space. Such a token was kept (no dropped punctuation ends
   * in white space), so it is the last one collected.
   */
  private stripLast(): void {
    this.count -= 1;
    const stripped = this.lastToken.replace(PY_WHITESPACE_END, '');
    if (stripped !== '') this.add(cocoForm(stripped));
  }
}

const cocoLine = new CocoLine();

function isCocoPunctuation(token: string): boolean {
  return (
    token.length <= PUNCTUATION_MAX_LENGTH &&
    PUNCTUATION_FIRST.has(token.charCodeAt(0)) &&
    COCO_PUNCTUATION.has(token)
  );
}

const CASED = /[\p{Lowercase}\p{Uppercase}\p{Lt}]/u;

/**
 * Java's String.toLowerCase(Locale.ENGLISH): as JavaScript's, except that a capital sigma
 * becomes final (ς) only when no cased letter follows it anywhere in the token.
 */
function javaLowerCase(token: string): string {
  const lower = token.toLowerCase();
  // A sigma always lower-cases to something else, so an unchanged token has none.
  if (lower === token || !token.includes('\u03a3')) return lower;
  const chars = [...token];
  let out = '';
  chars.forEach((ch, i) => {
    if (ch !== '\u03a3') {
      out += ch.toLowerCase();
      return;
    }
    const before = chars.slice(0, i).some((c) => CASED.test(c));
    const after = chars.slice(i + 1).some((c) => CASED.test(c));
    out += before && !after ? '\u03c2' : '\u03c3';
  });
  return out;
}

/** Python's str.split() separators (str.isspace), which differ from JavaScript's \s. */
const PY_WHITESPACE =
  /[\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const PY_WHITESPACE_END =
  /[\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;
const PY_WHITESPACE_TEST =
  /[\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Python's str.isspace for one UTF-16 code unit (the characters of {@link PY_WHITESPACE}). */
function isPythonWhitespace(unit: number): boolean {
  if (unit < 0) return false;
  if (unit <= 0x20) return unit === 0x20 || (unit >= 0x09 && unit <= 0x0d) || unit >= 0x1c;
  if (unit < 0x85) return false;
  return PY_WHITESPACE_TEST.test(String.fromCharCode(unit));
}

/** The `whitespace` tokenizer: split on white space (as Python's str.split()), nothing else. */
export function tokenizeWhitespace(text: string): string[] {
  return text.split(PY_WHITESPACE).filter((t) => t !== '');
}

/**
 * pycocoevalcap's BLEU and CIDEr re-split the tokenized caption with Python's str.split(),
 * which also breaks on the no-break spaces that the Java tokenizer leaves inside a few
 * tokens; ROUGE-L splits on ' ' only and keeps them. Returns `tokens` itself when nothing
 * needs splitting.
 */
export function splitPythonWhitespace(tokens: readonly string[]): readonly string[] {
  let needs = false;
  for (const token of tokens) {
    if (PY_WHITESPACE_TEST.test(token)) {
      needs = true;
      break;
    }
  }
  if (!needs) return tokens;
  const out: string[] = [];
  for (const token of tokens) {
    for (const piece of token.split(PY_WHITESPACE)) if (piece !== '') out.push(piece);
  }
  return out;
}

/**
 * Tokenizes a run of texts with the tokenizer `id`, handing each text's tokens to `take`
 * as tokens[0, count) (a scratch array: copy what must outlive the call); only
 * texts[first, stop), each as in the whole run (see forEachCocoTokens).
 */
export function forEachTokenized(
  id: TokenizerId,
  texts: readonly string[],
  take: (tokens: readonly string[], count: number, forms?: readonly number[]) => void,
  first = 0,
  stop = texts.length,
): void {
  if (id === 'coco') {
    forEachCocoTokens(texts, take, first, stop);
    return;
  }
  const tokenize = getTokenizer(id);
  for (let i = first; i < stop; i++) {
    const [tokens] = tokenize([texts[i]!]);
    take(tokens!, tokens!.length);
  }
}

export function getTokenizer(id: TokenizerId): TokenizeBatch {
  switch (id) {
    case 'coco':
      return tokenizeCocoBatch;
    case 'whitespace':
      return (texts) => texts.map(tokenizeWhitespace);
    default:
      throw new ConfigError(
        `unknown tokenizer '${String(id)}' (valid: ${TOKENIZER_IDS.join(', ')})`,
      );
  }
}
