import { ConfigError } from '../core/errors.js';
import { ptbTokens } from './tokenizer/ptb-lexer.js';

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

/**
 * The `coco` tokenizer: pycocoevalcap's PTBTokenizer step (Stanford PTBTokenizer 3.4.1
 * with -preserveLines -lowerCase, then its punctuation list removed). A token may hold a
 * no-break space (fractions such as `1 1/2`, phone-number-like digit groups), as the
 * Java tokenizer writes them; see {@link splitPythonWhitespace}.
 */
export function tokenizeCoco(text: string, following?: readonly string[]): string[] {
  const out: string[] = [];
  const line = text.replaceAll('\n', ' ');
  const next =
    following && following.length > 0
      ? following.map((t) => t.replaceAll('\n', ' ')).join('\n')
      : undefined;
  const tokens = ptbTokens(line, next);
  // pycocoevalcap strips the end of each output line (Python's rstrip): a URL-like last
  // token can end in a no-break space.
  const lastIndex = tokens.length - 1;
  if (lastIndex >= 0 && PY_WHITESPACE_END.test(tokens[lastIndex]!)) {
    const stripped = tokens[lastIndex]!.replace(PY_WHITESPACE_END, '');
    if (stripped === '') tokens.pop();
    else tokens[lastIndex] = stripped;
  }
  for (const token of tokens) {
    const lower = javaLowerCase(token);
    if (!COCO_PUNCTUATION.has(lower)) out.push(lower);
  }
  return out;
}

/** How many following captions a caption's tokenization may look into. */
const LOOKAHEAD_LINES = 3;

/** {@link tokenizeCoco} over a run of captions, each seeing the next as pycocoevalcap does. */
export function tokenizeCocoBatch(texts: readonly string[]): string[][] {
  return texts.map((text, i) => tokenizeCoco(text, texts.slice(i + 1, i + 1 + LOOKAHEAD_LINES)));
}

const CASED = /[\p{Lowercase}\p{Uppercase}\p{Lt}]/u;

/**
 * Java's String.toLowerCase(Locale.ENGLISH): as JavaScript's, except that a capital sigma
 * becomes final (ς) only when no cased letter follows it anywhere in the token.
 */
function javaLowerCase(token: string): string {
  const lower = token.toLowerCase();
  if (!token.includes('\u03a3')) return lower;
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
