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
  const run = new PtbRun(joinLines(texts));
  const out: string[][] = [];
  let start = 0;
  for (let i = 0; i < texts.length; i++) {
    const stop = i + 1 < texts.length ? run.text.indexOf('\n', start) : run.text.length;
    out.push(cocoLine.scan(run, start, stop));
    start = stop + 1;
  }
  return out;
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
 * A fresh copy of text[pos, end). The memo below outlives the run, and V8 may keep a slice
 * as a view into the string it was cut from.
 */
function copyOf(text: string, pos: number, end: number): string {
  const units: number[] = [];
  for (let i = pos; i < end; i++) units.push(text.charCodeAt(i));
  return String.fromCharCode(...units);
}

function sameUnits(token: string, text: string, pos: number): boolean {
  for (let i = 0; i < token.length; i++) {
    if (token.charCodeAt(i) !== text.charCodeAt(pos + i)) return false;
  }
  return true;
}

/**
 * A bounded memo of {@link cocoForm}, looked up by a span of the text so that a token seen
 * before costs no new string: captions repeat a small vocabulary, and sharing its strings
 * also spares the garbage collector from copying millions of small kept ones.
 */
class CocoForms {
  private static readonly SLOTS = 1 << 16;
  private static readonly MAX_LENGTH = 40;
  private readonly keys: (string | undefined)[] = new Array(CocoForms.SLOTS).fill(undefined);
  private readonly forms: (string | null)[] = new Array(CocoForms.SLOTS).fill(null);
  private readonly hashes = new Int32Array(CocoForms.SLOTS);
  private count = 0;
  private readonly byToken = new Map<string, string | null>();

  ofSpan(text: string, pos: number, end: number): string | null {
    const length = end - pos;
    if (length > CocoForms.MAX_LENGTH) return cocoForm(text.slice(pos, end));
    let hash = 0x811c9dc5 | 0; // FNV-1a over the code units
    for (let i = pos; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    const mask = CocoForms.SLOTS - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const key = this.keys[slot];
      if (key === undefined) return this.add(slot, hash, copyOf(text, pos, end));
      if (this.hashes[slot] === hash && key.length === length && sameUnits(key, text, pos)) {
        return this.forms[slot]!;
      }
    }
  }

  ofToken(token: string): string | null {
    if (token.length > CocoForms.MAX_LENGTH) return cocoForm(token);
    let form = this.byToken.get(token);
    if (form === undefined) {
      const key = copyOf(token, 0, token.length);
      form = cocoForm(key);
      if (this.byToken.size >= CocoForms.SLOTS / 2) this.byToken.clear();
      this.byToken.set(key, form);
    }
    return form;
  }

  private add(free: number, hash: number, token: string): string | null {
    let slot = free;
    // Kept at most half full: a vocabulary larger than that starts over.
    if (this.count >= CocoForms.SLOTS / 2) {
      this.keys.fill(undefined);
      this.count = 0;
      slot = hash & (CocoForms.SLOTS - 1);
    }
    const form = cocoForm(token);
    this.keys[slot] = token;
    this.forms[slot] = form;
    this.hashes[slot] = hash;
    this.count += 1;
    return form;
  }
}

const cocoForms = new CocoForms();

/** Collects the coco tokens of one line from the PTB lexer. */
class CocoLine implements PtbTokenSink {
  /** Scratch: the line's coco tokens are tokens[0, count). */
  private readonly tokens: string[] = [];
  private count = 0;
  /** The last PTB token: text[lastPos, lastEnd) of the run, or `lastToken` unless null. */
  private lastPos = 0;
  private lastEnd = 0;
  private lastToken: string | null = null;

  span(text: string, pos: number, end: number): void {
    this.lastPos = pos;
    this.lastEnd = end;
    this.lastToken = null;
    this.add(cocoForms.ofSpan(text, pos, end));
  }

  token(token: string): void {
    this.lastToken = token;
    this.add(cocoForms.ofToken(token));
  }

  scan(run: PtbRun, start: number, stop: number): string[] {
    this.count = 0;
    this.lastToken = ''; // none yet
    run.scanLine(start, stop, this);
    if (isPythonWhitespace(this.lastUnit(run.text))) this.stripLast(run.text);
    return this.tokens.slice(0, this.count);
  }

  private add(form: string | null): void {
    if (form !== null) this.tokens[this.count++] = form;
  }

  /** The last code unit of the last PTB token, or -1. */
  private lastUnit(text: string): number {
    const token = this.lastToken;
    if (token !== null) return token.length > 0 ? token.charCodeAt(token.length - 1) : -1;
    return this.lastEnd > this.lastPos ? text.charCodeAt(this.lastEnd - 1) : -1;
  }

  /**
   * pycocoevalcap strips the end of each output line (Python's rstrip): a URL-like last
   * token can end in a no-break space. Such a token was kept (no dropped punctuation ends
   * in white space), so it is the last one collected.
   */
  private stripLast(text: string): void {
    const last = this.lastToken ?? text.slice(this.lastPos, this.lastEnd);
    this.count -= 1;
    const stripped = last.replace(PY_WHITESPACE_END, '');
    if (stripped !== '') this.add(cocoForms.ofToken(stripped));
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
