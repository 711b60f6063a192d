/**
 * Porter stemmer that behaves as NLTK's `PorterStemmer()` in its default mode
 * (`NLTK_EXTENSIONS`, NLTK 3.9+): the irregular-form table, the 1- and 2-character
 * short cut, the NLTK-only rules for `-ies`/`-ied`, `y -> i`, `-alli`, `-fulli` and
 * `-logi`, and lower-casing first. Written from the published algorithm and NLTK's
 * documented behaviour; checked against NLTK's output in porter.test.ts.
 *
 * Strings are treated as sequences of code points, as Python does: characters outside
 * the Basic Multilingual Plane are handled through single-unit placeholders.
 */

/** NLTK's table of irregular forms (`pool`): looked up after lower-casing. */
const IRREGULAR_FORMS: ReadonlyMap<string, string> = new Map([
  ['sky', 'sky'],
  ['skies', 'sky'],
  ['dying', 'die'],
  ['lying', 'lie'],
  ['tying', 'tie'],
  ['news', 'news'],
  ['innings', 'inning'],
  ['inning', 'inning'],
  ['outings', 'outing'],
  ['outing', 'outing'],
  ['cannings', 'canning'],
  ['canning', 'canning'],
  ['howe', 'howe'],
  ['proceed', 'proceed'],
  ['exceed', 'exceed'],
  ['succeed', 'succeed'],
]);

const A = 97;
const E = 101;
const I = 105;
const O = 111;
const U = 117;
const Y = 121;

function isVowelCode(code: number): boolean {
  return code === A || code === E || code === I || code === O || code === U;
}

/** Porter's consonant test: a, e, i, o, u are vowels; y is a vowel after a consonant. */
function isConsonant(word: string, index: number): boolean {
  let i = index;
  let negate = false;
  while (true) {
    const code = word.charCodeAt(i);
    if (isVowelCode(code)) return negate;
    if (code !== Y) return !negate;
    if (i === 0) return !negate;
    negate = !negate;
    i -= 1;
  }
}

/** m in [C](VC){m}[V]: the number of vowel-to-consonant transitions. */
function measure(stem: string): number {
  let count = 0;
  let previousConsonant = true;
  let previousWasVowel = false;
  for (let i = 0; i < stem.length; i += 1) {
    const code = stem.charCodeAt(i);
    let consonant: boolean;
    if (isVowelCode(code)) consonant = false;
    else if (code === Y) consonant = i === 0 ? true : !previousConsonant;
    else consonant = true;
    if (consonant && previousWasVowel) count += 1;
    previousWasVowel = !consonant;
    previousConsonant = consonant;
  }
  return count;
}

function containsVowel(stem: string): boolean {
  let previousConsonant = true;
  for (let i = 0; i < stem.length; i += 1) {
    const code = stem.charCodeAt(i);
    let consonant: boolean;
    if (isVowelCode(code)) consonant = false;
    else if (code === Y) consonant = i === 0 ? true : !previousConsonant;
    else consonant = true;
    if (!consonant) return true;
    previousConsonant = consonant;
  }
  return false;
}

/** Condition *d: ends with a double consonant. */
function endsDoubleConsonant(word: string): boolean {
  const n = word.length;
  return n >= 2 && word.charCodeAt(n - 1) === word.charCodeAt(n - 2) && isConsonant(word, n - 1);
}

/** Condition *o (consonant-vowel-consonant, last not w/x/y), plus NLTK's two-letter case. */
function endsCvc(word: string): boolean {
  const n = word.length;
  if (n >= 3) {
    const last = word.charCodeAt(n - 1);
    if (
      isConsonant(word, n - 3) &&
      !isConsonant(word, n - 2) &&
      isConsonant(word, n - 1) &&
      last !== 119 /* w */ &&
      last !== 120 /* x */ &&
      last !== Y
    ) {
      return true;
    }
  }
  return n === 2 && !isConsonant(word, 0) && isConsonant(word, 1);
}

type Condition = ((stem: string) => boolean) | null;
type Rule = readonly [suffix: string, replacement: string, condition: Condition];

/**
 * The first rule whose suffix the word ends with decides: its replacement when the
 * condition holds, otherwise the word unchanged (no later rule is tried).
 */
function applyRules(word: string, rules: readonly Rule[]): string {
  for (const [suffix, replacement, condition] of rules) {
    if (word.endsWith(suffix)) {
      const stem = suffix === '' ? word : word.slice(0, word.length - suffix.length);
      return condition === null || condition(stem) ? stem + replacement : word;
    }
  }
  return word;
}

const positiveMeasure = (stem: string): boolean => measure(stem) > 0;
const measureAboveOne = (stem: string): boolean => measure(stem) > 1;

const STEP1A_RULES: readonly Rule[] = [
  ['sses', 'ss', null],
  ['ies', 'i', null],
  ['ss', 'ss', null],
  ['s', '', null],
];

function step1a(word: string): string {
  if (word.length === 4 && word.endsWith('ies')) return word.slice(0, 1) + 'ie';
  return applyRules(word, STEP1A_RULES);
}

function step1b(word: string): string {
  if (word.endsWith('ied')) {
    return word.slice(0, word.length - 3) + (word.length === 4 ? 'ie' : 'i');
  }
  if (word.endsWith('eed')) {
    const stem = word.slice(0, word.length - 3);
    return measure(stem) > 0 ? stem + 'ee' : word;
  }
  let stem: string;
  if (word.endsWith('ed') && containsVowel(word.slice(0, word.length - 2))) {
    stem = word.slice(0, word.length - 2);
  } else if (word.endsWith('ing') && containsVowel(word.slice(0, word.length - 3))) {
    stem = word.slice(0, word.length - 3);
  } else {
    return word;
  }
  if (stem.endsWith('at')) return stem.slice(0, stem.length - 2) + 'ate';
  if (stem.endsWith('bl')) return stem.slice(0, stem.length - 2) + 'ble';
  if (stem.endsWith('iz')) return stem.slice(0, stem.length - 2) + 'ize';
  const last = stem.charAt(stem.length - 1);
  // The double-consonant rule; NLTK spells it as the pseudo-suffix "*d", so a stem that
  // literally ends in "*d" takes the same branch.
  if (endsDoubleConsonant(stem) || stem.endsWith('*d')) {
    return last !== 'l' && last !== 's' && last !== 'z'
      ? stem.slice(0, stem.length - 2) + last
      : stem;
  }
  return measure(stem) === 1 && endsCvc(stem) ? stem + 'e' : stem;
}

function step1c(word: string): string {
  if (!word.endsWith('y')) return word;
  const stem = word.slice(0, word.length - 1);
  return stem.length > 1 && isConsonant(stem, stem.length - 1) ? stem + 'i' : word;
}

const STEP2_RULES: readonly Rule[] = [
  ['ational', 'ate', positiveMeasure],
  ['tional', 'tion', positiveMeasure],
  ['enci', 'ence', positiveMeasure],
  ['anci', 'ance', positiveMeasure],
  ['izer', 'ize', positiveMeasure],
  ['bli', 'ble', positiveMeasure],
  ['alli', 'al', positiveMeasure],
  ['entli', 'ent', positiveMeasure],
  ['eli', 'e', positiveMeasure],
  ['ousli', 'ous', positiveMeasure],
  ['ization', 'ize', positiveMeasure],
  ['ation', 'ate', positiveMeasure],
  ['ator', 'ate', positiveMeasure],
  ['alism', 'al', positiveMeasure],
  ['iveness', 'ive', positiveMeasure],
  ['fulness', 'ful', positiveMeasure],
  ['ousness', 'ous', positiveMeasure],
  ['aliti', 'al', positiveMeasure],
  ['iviti', 'ive', positiveMeasure],
  ['biliti', 'ble', positiveMeasure],
  ['fulli', 'ful', positiveMeasure],
  // The "l" of "logi" stays with the stem when measuring: stem + "l".
  ['logi', 'log', (stem) => measure(stem + 'l') > 0],
];

function step2(word: string): string {
  if (word.endsWith('alli') && measure(word.slice(0, word.length - 4)) > 0) {
    return step2(word.slice(0, word.length - 4) + 'al');
  }
  return applyRules(word, STEP2_RULES);
}

const STEP3_RULES: readonly Rule[] = [
  ['icate', 'ic', positiveMeasure],
  ['ative', '', positiveMeasure],
  ['alize', 'al', positiveMeasure],
  ['iciti', 'ic', positiveMeasure],
  ['ical', 'ic', positiveMeasure],
  ['ful', '', positiveMeasure],
  ['ness', '', positiveMeasure],
];

const STEP4_RULES: readonly Rule[] = [
  ['al', '', measureAboveOne],
  ['ance', '', measureAboveOne],
  ['ence', '', measureAboveOne],
  ['er', '', measureAboveOne],
  ['ic', '', measureAboveOne],
  ['able', '', measureAboveOne],
  ['ible', '', measureAboveOne],
  ['ant', '', measureAboveOne],
  ['ement', '', measureAboveOne],
  ['ment', '', measureAboveOne],
  ['ent', '', measureAboveOne],
  ['ion', '', (stem) => measure(stem) > 1 && (stem.endsWith('s') || stem.endsWith('t'))],
  ['ou', '', measureAboveOne],
  ['ism', '', measureAboveOne],
  ['ate', '', measureAboveOne],
  ['iti', '', measureAboveOne],
  ['ous', '', measureAboveOne],
  ['ive', '', measureAboveOne],
  ['ize', '', measureAboveOne],
];

function step5a(word: string): string {
  if (!word.endsWith('e')) return word;
  const stem = word.slice(0, word.length - 1);
  const m = measure(stem);
  if (m > 1) return stem;
  if (m === 1 && !endsCvc(stem)) return stem;
  return word;
}

function step5b(word: string): string {
  if (word.endsWith('ll') && measure(word.slice(0, word.length - 1)) > 1) {
    return word.slice(0, word.length - 1);
  }
  return word;
}

function stemBmp(word: string): string {
  let stem = step1a(word);
  stem = step1b(stem);
  stem = step1c(stem);
  stem = step2(stem);
  stem = applyRules(stem, STEP3_RULES);
  stem = applyRules(stem, STEP4_RULES);
  stem = step5a(stem);
  return step5b(stem);
}

const SURROGATE = /[\uD800-\uDFFF]/;

function codePointLength(text: string): number {
  if (!SURROGATE.test(text)) return text.length;
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/**
 * Runs the steps on a word with characters outside the BMP: each distinct one becomes a
 * private-use character that the word does not contain (all such characters are
 * consonants to Porter, and equal ones stay equal), and is put back afterwards.
 */
function stemWithAstral(word: string): string {
  const toPlaceholder = new Map<string, string>();
  const fromPlaceholder = new Map<string, string>();
  let next = 0xe000;
  let mapped = '';
  for (const char of word) {
    if (char.length === 1) {
      mapped += char;
      continue;
    }
    let placeholder = toPlaceholder.get(char);
    if (placeholder === undefined) {
      while (word.includes(String.fromCharCode(next))) next += 1;
      placeholder = String.fromCharCode(next);
      next += 1;
      toPlaceholder.set(char, placeholder);
      fromPlaceholder.set(placeholder, char);
    }
    mapped += placeholder;
  }
  let result = '';
  for (const char of stemBmp(mapped)) result += fromPlaceholder.get(char) ?? char;
  return result;
}

/**
 * Stem of `word` exactly as NLTK's `PorterStemmer().stem(word)` (lower-cases first).
 */
export function porterStem(word: string): string {
  const lower = word.toLowerCase();
  const irregular = IRREGULAR_FORMS.get(lower);
  if (irregular !== undefined) return irregular;
  if (codePointLength(word) <= 2) return lower;
  return SURROGATE.test(lower) ? stemWithAstral(lower) : stemBmp(lower);
}
