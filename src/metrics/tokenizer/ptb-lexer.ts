/**
 * Penn-Treebank-style tokenization with the observable behaviour of the Stanford CoreNLP
 * 3.4.1 PTBTokenizer in its default options (the one pycocoevalcap runs): the same token
 * classes, abbreviation lists, quote/bracket/dash normalisation, contraction splitting
 * and longest-match precedence. Written for medcap; checked against the real tokenizer's
 * output on a large corpus (test/fixtures/parity/).
 *
 * Differences by design: characters that the Java tokenizer turns into line breaks
 * (\r, \v, \f, U+2028, U+2029) separate tokens like a space (in pycocoevalcap they shift
 * every later caption onto the wrong image); characters outside the Basic Multilingual
 * Plane are dropped like any untokenizable character.
 */
import {
  alt,
  anyUnit,
  charClass,
  exact,
  lit,
  normalizeRanges,
  notClass,
  opt,
  type Pattern,
  plus,
  type Rule,
  RuleScanner,
  rangesFromFlat,
  repeat,
  seq,
  setOf,
  star,
} from './automaton.js';
import { DIGIT_RANGES, LETTER_RANGES, UPPERCASE_RANGES } from './unicode-classes.js';

const letterRanges = rangesFromFlat(LETTER_RANGES);
const digitRanges = rangesFromFlat(DIGIT_RANGES);
const upperRanges = rangesFromFlat(UPPERCASE_RANGES);

// ---- character sets -------------------------------------------------------------------
const uLetter = setOf(letterRanges);
const uDigit = setOf(digitRanges);
const uUpper = setOf(upperRanges);
const letterOrDigit = setOf(normalizeRanges([...letterRanges, ...digitRanges]));

const space = charClass(' \t\u00a0\u2000-\u200a\u3000');
const newline = alt(
  exact('\r'),
  seq(opt(exact('\r')), exact('\n')),
  charClass('\u2028\u2029\u000b\u000c\u0085'),
);
const spaceNl = alt(space, newline);
const spaceNls = plus(spaceNl);
const digit = charClass('\u07c0-\u07c9', digitRanges);
const ascii09 = charClass('0-9');
const asciiLetter = charClass('A-Za-z');
const asciiAlnum = charClass('A-Za-z0-9');

// Letters beyond the Unicode letter class that the PTB lexer accepts inside words
// (combining marks, modifier letters, soft hyphen and some script-specific marks).
const extraLetterFlat = [
  0xad, 0xad, 0x237, 0x24f, 0x2c2, 0x2c5, 0x2d2, 0x2df, 0x2e5, 0x2ff, 0x300, 0x36f, 0x370, 0x37d,
  0x384, 0x385, 0x3cf, 0x3cf, 0x3f6, 0x3f6, 0x3fc, 0x3ff, 0x483, 0x487, 0x4cf, 0x4cf, 0x4f6, 0x4ff,
  0x510, 0x525, 0x55a, 0x55f, 0x591, 0x5bd, 0x5bf, 0x5bf, 0x5c1, 0x5c2, 0x5c4, 0x5c5, 0x5c7, 0x5c7,
  0x615, 0x61a, 0x63b, 0x63f, 0x64b, 0x65e, 0x670, 0x670, 0x6d6, 0x6ef, 0x6fa, 0x6ff, 0x70f, 0x70f,
  0x711, 0x711, 0x730, 0x74f, 0x750, 0x77f, 0x7a6, 0x7b1, 0x7ca, 0x7f5, 0x7fa, 0x7fa, 0x900, 0x903,
  0x93c, 0x93c, 0x93e, 0x94e, 0x951, 0x955, 0x962, 0x963, 0x981, 0x983, 0x9bc, 0x9c4, 0x9c7, 0x9c8,
  0x9cb, 0x9cd, 0x9d7, 0x9d7, 0x9e2, 0x9e3, 0xa01, 0xa03, 0xa3c, 0xa3c, 0xa3e, 0xa4f, 0xa81, 0xa83,
  0xabc, 0xacf, 0xb82, 0xb82, 0xbbe, 0xbc2, 0xbc6, 0xbc8, 0xbca, 0xbcd, 0xc01, 0xc03, 0xc3e, 0xc56,
  0xd3e, 0xd44, 0xd46, 0xd48, 0xe30, 0xe3a, 0xe47, 0xe4e, 0xeb1, 0xebc, 0xec8, 0xecd,
];
// HTML-style accented letters (&eacute; ...) count as letters.
const splet = seq(exact('&'), charClass('aeiouAEIOU'), alt('acute', 'grave', 'uml'), exact(';'));
const letter = alt(
  setOf(normalizeRanges([...letterRanges, ...rangesFromFlat(extraLetterFlat)])),
  splet,
);
const letterDigit = alt(letter, digit);

// ---- building blocks ------------------------------------------------------------------
const apos = alt(charClass("'\u0092\u2019"), '&apos;');
const aposEtc = alt(apos, charClass('`\u0091\u2018\u201b'));
const hyphen = charClass('\\-_\u058a\u2010\u2011');
const spAmp = lit('&amp;');

const sgmlName = seq(asciiLetter, star(charClass('A-Za-z0-9_:.\\-')));
const sgml = seq(
  exact('<'),
  alt(
    seq(charClass('!?'), charClass('A-Za-z\\-'), star(notClass('>\r\n'))),
    seq(
      sgmlName,
      star(
        seq(
          plus(exact(' ')),
          alt(
            sgmlName,
            seq(
              sgmlName,
              star(exact(' ')),
              exact('='),
              star(exact(' ')),
              alt(
                seq(exact("'"), star(notClass("'")), exact("'")),
                seq(exact('"'), star(notClass('"')), exact('"')),
              ),
            ),
          ),
        ),
      ),
      star(exact(' ')),
      opt(exact('/')),
    ),
    seq(exact('/'), sgmlName),
  ),
  star(exact(' ')),
  exact('>'),
);

const word = seq(letter, star(letterDigit), star(seq(charClass('.!?'), letter, star(letterDigit))));
const num = alt(
  plus(digit),
  seq(star(digit), plus(seq(charClass('.:,\u00ad\u066b\u066c'), plus(digit)))),
);
const number = seq(opt(charClass('\\-+')), num);
const date = seq(
  repeat(digit, 1, 2),
  charClass('\\-/'),
  repeat(digit, 1, 2),
  charClass('\\-/'),
  repeat(digit, 2, 4),
);
const subSupNum = seq(
  opt(charClass('\u207a\u207b\u208a\u208b')),
  alt(plus(charClass('\u2070\u00b9\u00b2\u00b3\u2074-\u2079')), plus(charClass('\u2080-\u2089'))),
);
const frac = seq(
  opt(seq(repeat(digit, 1, 4), charClass('\\- \u00a0'))),
  repeat(digit, 1, 4),
  alt(seq(opt(exact('\\')), exact('/')), exact('\u2044')),
  repeat(digit, 1, 4),
);
const frac2 = charClass('\u00bc\u00bd\u00be\u2153-\u215e');
const dolSign = alt(seq(star(charClass('A-Z')), exact('$')), exact('#'));
const dolSign2 = charClass(
  '\u00a2\u00a3\u00a4\u00a5\u0080\u20a0\u20ac\u060b\u0e3f\u20a4\uffe0\uffe1\uffe5\uffe6',
);

const fileExt = alt(
  ...'bat bmp c class cgi cpp dll doc docx exe gif gz h htm html jar java jpeg jpg mov mp3 pdf php pl png ppt ps py sql tar txt wav x xml zip'.split(
    ' ',
  ),
);
const filename = seq(
  plus(letterDigit),
  star(seq(exact('.'), plus(letterDigit))),
  exact('.'),
  fileExt,
);

const uLetterOrDigit = letterOrDigit;
const thingPart = seq(opt(seq(charClass('dDoOlL'), aposEtc, uLetterOrDigit)), plus(uLetterOrDigit));
const thing = seq(thingPart, star(seq(hyphen, thingPart)));
const thingA = seq(
  plus(charClass('A-Z')),
  plus(seq(alt(charClass('+&'), spAmp), plus(charClass('A-Z')))),
);
const thing3Part = seq(plus(asciiAlnum), repeat(seq(exact('-'), plus(asciiLetter)), 0, 2));
const thing3 = seq(thing3Part, repeat(seq(opt(exact('\\')), exact('/'), thing3Part), 1, 2));

const acroTail = alt(
  seq(alt('Canada', 'Sino', 'Korean', 'EU', 'Japan', 'non'), '-U.S'),
  seq('U.S.-', alt('U.K', 'U.S.S.R')),
);
const acro = alt(seq(asciiLetter, star(seq(exact('.'), asciiLetter))), acroTail);
const acro2 = alt(seq(asciiLetter, plus(seq(exact('.'), asciiLetter))), acroTail);
const hthing = seq(
  asciiAlnum,
  star(charClass('A-Za-z0-9.,\u00ad')),
  plus(seq(exact('-'), alt(plus(charClass('A-Za-z0-9\u00ad')), seq(acro2, exact('.'))))),
);
const redAux = seq(apos, alt(charClass('msdMSD'), 're', 've', 'll'));
const sword = seq(
  star(charClass('A-Za-z\u00ad')),
  charClass('A-MO-Za-mo-z'),
  star(exact('\u00ad')),
);
const sredAux = seq('n', aposEtc, 't');

const apoWord = alt(
  seq(apos, 'n', opt(apos)),
  seq(charClass('lLdDjJ'), apos),
  seq('Dunkin', apos),
  seq('somethin', apos),
  seq('ol', apos),
  seq(apos, 'em'),
  seq(charClass('A-HJ-XZn'), aposEtc, uLetter, uLetter, star(uLetter)),
  seq(apos, charClass('2-9'), '0s'),
  seq(apos, 'til', opt('l')),
  seq(
    uLetter,
    star(uLetter),
    charClass('aeiouyAEIOUY'),
    aposEtc,
    charClass('aeiouA-Z'),
    star(uLetter),
  ),
  seq(apos, 'cause'),
  seq("cont'd", opt(exact('.'))),
  "'twas",
  "nor'easter",
  "c'mon",
  "e'er",
  "s'mores",
  "ev'ry",
  "li'l",
  "nat'l",
  seq('O', aposEtc, 'o'),
);
const apoWord2 = seq('y', apos);

const urlStop = ' \t\n\f\r"<>|(){}';
const fullUrl = seq(
  'http',
  opt('s'),
  '://',
  plus(notClass(urlStop)),
  notClass(`${urlStop}.!?,\\-`),
);
const likelyUrl = seq(
  alt(
    seq(
      'www.',
      plus(seq(plus(notClass(' \t\n\f\r"<>|.!?(){},')), exact('.'))),
      repeat(asciiLetter, 2, 4),
    ),
    // The label class excludes the whole range ',' .. '_' (digits, upper case, '.', '/').
    seq(
      plus(seq(plus(notClass(' \t\n\f\r"`\'<>|.!?(){}$', [[0x2c, 0x5f]])), exact('.'))),
      alt('com', 'net', 'org', 'edu'),
    ),
  ),
  opt(seq(exact('/'), plus(notClass(' \t\n\f\r"<>|()')), notClass(' \t\n\f\r"<>|.!?(){},\\-'))),
);
const email = seq(
  opt(alt('&lt;', exact('<'))),
  asciiAlnum,
  star(notClass(' \t\n\f\r"<>|()\u00a0{}')),
  exact('@'),
  star(seq(plus(notClass(' \t\n\f\r"<>|(){}.\u00a0')), exact('.'))),
  plus(notClass(' \t\n\f\r"<>|(){}.\u00a0')),
  opt(alt('&gt;', exact('>'))),
);
const twitter = alt(
  seq(exact('@'), charClass('a-zA-Z_'), star(charClass('a-zA-Z_0-9'))),
  seq(exact('#'), plus(letter)),
);

// Abbreviations. Plain strings are case-insensitive; a leading class keeps a capital.
const cap = (first: string, rest: string): Pattern => seq(charClass(first), rest);
const abMonth = alt(
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Sept',
  'Oct',
  'Nov',
  'Dec',
);
const abDays = alt('Mon', 'Tue', 'Tues', 'Wed', 'Thu', 'Thurs', 'Fri');
const abState = alt(
  'Ala',
  'Ariz',
  cap('A', 'z'),
  cap('A', 'rk'),
  'Calif',
  'Colo',
  'Conn',
  'Ct',
  'Dak',
  cap('D', 'el'),
  'Fla',
  'Ga',
  cap('I', 'll'),
  'Ind',
  seq('Kan', opt('s')),
  'Ky',
  cap('L', 'a'),
  cap('M', 'ass'),
  'Md',
  'Mich',
  'Minn',
  cap('M', 'iss'),
  'Mo',
  'Mont',
  'Neb',
  'Nev',
  'Okla',
  cap('O', 're'),
  cap('P', 'a'),
  'Penn',
  'Tenn',
  cap('T', 'ex'),
  'Va',
  'Vt',
  cap('W', 'ash'),
  seq('Wis', opt('c')),
  'Wyo',
);
const abComp = alt(
  'Inc',
  seq('Co', opt('s')),
  'Corp',
  seq('P', opt('p'), 't', charClass('ye'), opt('s')),
  'Ltd',
  'Plc',
  'Rt',
  'Bancorp',
  'Bhd',
  'Assn',
  'Univ',
  'Intl',
  'Sys',
);
// Case-insensitivity: P, t, s above are literal letters; the [ye] class is lower case only.
const abNum = alt('tel', 'est', 'ext', 'sq');
const abPtit = alt('Jr', 'Sr', 'Bros', seq(alt('Ed', 'Ph'), '.D'), 'Blvd', 'Rd', 'Esq');
const abbrev1 = seq(
  alt(abMonth, abDays, abState, abComp, abNum, abPtit, 'etc', 'al', 'seq', 'Bldg'),
  exact('.'),
);
const abTitle = alt(
  'Mr',
  'Mrs',
  'Ms',
  cap('M', 'iss'),
  seq('Dr', opt('s')),
  seq('Prof', opt('s')),
  seq('Sen', opt('s')),
  seq('Rep', opt('s')),
  seq('Atty', opt('s')),
  'Lt',
  'Col',
  'Gen',
  'Messrs',
  seq('Gov', opt('s')),
  'Adm',
  'Rev',
  'Maj',
  'Sgt',
  'Cpl',
  'Pvt',
  'Capt',
  seq('St', opt('e')),
  'Ave',
  'Pres',
  'Lieut',
  'Hon',
  'Brig',
  seq('C', opt('o'), 'mdr'),
  'Pfc',
  'Spc',
  seq('Supt', opt('s')),
  'Det',
  'Mt',
  'Ft',
  'Adj',
  'Adv',
  'Asst',
  'Assoc',
  'Ens',
  'Insp',
  'Mlle',
  'Mme',
  'Msgr',
  'Sfc',
);
const abComp2 = alt('Invt', 'Elec', 'Natl', seq('M', charClass('ft'), 'g'), 'Dept');
const abbrev4 = alt(
  abTitle,
  'vs',
  'Alex',
  'Wm',
  'Jos',
  'Cie',
  'a.k.a',
  'cf',
  'TREAS',
  'Ph',
  acro,
  abComp2,
);
const abbrev2 = seq(abbrev4, exact('.'));
const acronym = seq(acro, exact('.'));
const abbrev3 = seq(
  alt('ca', seq('fig', opt('s')), 'prop', seq('no', opt('s')), 'art', 'bldg', 'pp', 'op'),
  exact('.'),
);
const sentenceStarters = alt(
  ...[
    ['A', 'bout'],
    ['A', 'ccording'],
    ['A', 'dditionally'],
    ['A', 'fter'],
    ['A', 'n'],
    ['A', ''],
    ['A', 's'],
    ['A', 't'],
    ['B', 'ut'],
    ['E', 'arlier'],
    ['H', 'e'],
    ['H', 'er'],
    ['H', 'ere'],
    ['H', 'owever'],
    ['I', 'f'],
    ['I', 'n'],
    ['I', 't'],
    ['L', 'ast'],
    ['M', 'any'],
    ['M', 'ore'],
    ['M', 'r.'],
    ['M', 's.'],
    ['N', 'ow'],
    ['O', 'nce'],
    ['O', 'ne'],
    ['O', 'ther'],
    ['O', 'ur'],
    ['S', 'he'],
    ['S', 'ince'],
    ['S', 'o'],
    ['S', 'ome'],
    ['S', 'uch'],
    ['T', 'hat'],
    ['T', 'he'],
    ['T', 'heir'],
    ['T', 'hen'],
    ['T', 'here'],
    ['T', 'hese'],
    ['T', 'hey'],
    ['T', 'his'],
    ['W', 'e'],
    ['W', 'hen'],
    ['W', 'hile'],
    ['W', 'hat'],
    ['Y', 'et'],
    ['Y', 'ou'],
  ].map(([first, rest]) => (rest ? cap(first!, rest) : charClass(first!))),
  sgml,
);

const phone = alt(
  seq(
    alt(
      seq(exact('('), repeat(ascii09, 2, 3), exact(')'), opt(charClass(' \u00a0'))),
      seq(
        opt(seq(exact('+'), opt(exact('+')))),
        opt(seq(repeat(ascii09, 2, 4), charClass('\\- \u00a0'))),
        repeat(ascii09, 2, 4),
        charClass('\\- \u00a0'),
      ),
    ),
    repeat(ascii09, 3, 4),
    opt(charClass('\\- \u00a0')),
    repeat(ascii09, 3, 5),
  ),
  seq(
    opt(seq(opt(seq(exact('+'), opt(exact('+')))), repeat(ascii09, 2, 4), exact('.'))),
    repeat(ascii09, 2, 4),
    exact('.'),
    repeat(ascii09, 3, 4),
    exact('.'),
    repeat(ascii09, 3, 5),
  ),
);

const ldots = alt(
  repeat(exact('.'), 3, 5),
  seq(repeat(seq(exact('.'), charClass(' \u00a0')), 2, 4), exact('.')),
  charClass('\u0085\u2026'),
);
const fnMarks = alt(plus(exact('@')), plus(exact('#')), plus(exact('_')));
const asts = alt(plus(exact('*')), repeat(exact('\\*'), 1, 3));
const inSentP = charClass(',;:\u3001');
const quotes = alt(
  apos,
  exact("''"),
  repeat(
    charClass(
      '`\u2018\u2019\u201a\u201b\u201c\u201d\u0091\u0092\u0093\u0094\u201e\u201f\u2039\u203a\u00ab\u00bb',
    ),
    1,
    2,
  ),
);
const dblQuot = alt(exact('"'), '&quot;');
const tbSpec = alt(
  seq(exact('-'), alt('RRB', 'LRB', 'RCB', 'LCB', 'RSB', 'LSB'), exact('-')),
  'C.D.s',
  'pro-',
  'anti-',
  seq('S', alt(exact('&'), spAmp), 'P-500'),
  seq('S', alt(exact('&'), spAmp), 'Ls'),
  seq('Cap', apos, 'n'),
  seq('c', apos, 'est'),
);
const tbSpec2 = seq(apos, ascii09, ascii09);
const smiley = seq(
  opt(charClass('<>')),
  charClass(':;='),
  opt(charClass("\\-o*'")),
  charClass('()DPdpO\\\\{@|[\\]'),
);
const asianEye = charClass('^x=~<>');
const asianSmiley = alt(
  seq(asianEye, exact('.'), '[^x=~<>]'),
  seq(charClass("\\-^x=~<>'"), exact('_'), charClass("\\-^x=~<>'")),
  seq(
    exact('('),
    charClass("\\-^x=~<>'"),
    opt(charClass('_.')),
    charClass("\\-^x=~<>'"),
    exact(')'),
  ),
  seq(exact('('), charClass("^x=~<>'"), exact('-'), charClass("^x=~<>'`"), exact(')')),
);
const miscSymbol = charClass(
  '+%&~^|\\\\\u00a6\u00a7\u00a8\u00a9\u00ac\u00ae\u00af\u00b0-\u00ba\u00d7\u00f7\u0387\u05be\u05c0\u05c3\u05c6\u05f3\u05f4\u0600-\u0603\u0606-\u060a\u060c\u0614\u061b\u061e\u066a\u066d\u0703-\u070d\u07f6-\u07f8\u0964\u0965\u0e4f\u1fbd\u2016\u2017\u2020-\u2023\u2030-\u2038\u203b\u203e-\u2042\u2044\u207a-\u207f\u208a-\u208e\u2100-\u214f\u2190-\u21ff\u2200-\u2bff\u3012\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65',
);

// ---- rules ----------------------------------------------------------------------------
/** Action kinds, numbered: the scan loop switches on them, and a switch over strings is slow. */
const K = {
  text: 0,
  skip: 1,
  softHyphens: 2,
  fixed: 3,
  /** Keep the first `keep` characters, re-scan the rest. */
  keep: 4,
  nbsp: 5,
  ampersand: 6,
  quote: 7,
  hyphens: 8,
  parens: 9,
  phone: 10,
  currency: 11,
  fraction: 12,
  acronymBeforeSentence: 13,
  trimTrailingSpace: 14,
  periodTwice: 15,
} as const;

type Action =
  | { kind: typeof K.fixed; text: string }
  | { kind: typeof K.keep; keep: number }
  | { kind: typeof K.quote; left: boolean }
  | {
      kind: Exclude<(typeof K)[keyof typeof K], typeof K.fixed | typeof K.keep | typeof K.quote>;
    };

const A = {
  text: { kind: K.text } as Action,
  soft: { kind: K.softHyphens } as Action,
  nbsp: { kind: K.nbsp } as Action,
  amp: { kind: K.ampersand } as Action,
  skip: { kind: K.skip } as Action,
  fixed: (text: string): Action => ({ kind: K.fixed, text }),
  keep: (keep: number): Action => ({ kind: K.keep, keep }),
  quote: (left: boolean): Action => ({ kind: K.quote, left }),
};

const rule = (pattern: Pattern, action: Action, context?: Pattern): Rule<Action> =>
  context ? { pattern, action, context } : { pattern, action };

const RULES: Rule<Action>[] = [
  rule(seq('c', exact('++')), A.text),
  rule(seq(alt('c', 'f'), exact('#')), A.text),
  rule(lit('cannot'), A.keep(3)),
  rule(lit("'twas"), A.keep(2)),
  rule(lit("'tis"), A.keep(2)),
  rule(alt('gonna', 'gotta', 'lemme', 'gimme', 'wanna'), A.keep(3)),
  rule(sgml, A.nbsp),
  rule(
    alt(
      seq(exact('&'), alt('MD', 'mdash', 'ndash'), exact(';')),
      charClass('\u0096\u0097\u2013\u2014\u2015'),
    ),
    A.fixed('--'),
  ),
  rule(spAmp, A.fixed('&')),
  rule(
    seq(
      exact('&'),
      alt('HT', 'TL', 'UR', 'LR', 'QC', 'QL', 'QR', 'odq', 'cdq', seq(exact('#'), plus(ascii09))),
      exact(';'),
    ),
    A.text,
  ),
  rule(word, A.soft, redAux),
  rule(sword, A.soft, sredAux),
  rule(word, A.soft),
  rule(apoWord, A.text),
  rule(apoWord2, A.text, uLetter),
  rule(fullUrl, A.text),
  rule(likelyUrl, A.text),
  rule(email, A.text),
  rule(twitter, A.text),
  rule(redAux, A.quote(false), notClass('A-Za-z')),
  rule(sredAux, A.quote(false), notClass('A-Za-z')),
  rule(date, A.text),
  rule(number, A.soft),
  rule(subSupNum, A.text),
  rule(frac, A.nbsp),
  rule(frac2, { kind: K.fraction }),
  rule(tbSpec, A.amp),
  rule(thing3, A.text),
  rule(dolSign, A.text),
  rule(dolSign2, { kind: K.currency }),
  rule(acronym, { kind: K.acronymBeforeSentence }, seq(spaceNls, sentenceStarters, spaceNl)),
  rule(abbrev3, { kind: K.trimTrailingSpace }, seq(opt(spaceNl), uDigit)),
  rule(
    seq(alt(seq('pt', charClass('eyEY')), 'co'), exact('.')),
    A.text,
    seq(space, alt('ltd', 'lim')),
  ),
  rule(abbrev1, { kind: K.periodTwice }, seq(spaceNl, alt(spaceNl, uUpper, sgml))),
  rule(abbrev1, A.text, seq(anyUnit, anyUnit)),
  rule(abbrev1, { kind: K.periodTwice }),
  rule(abbrev2, A.text),
  rule(abbrev4, A.text, space),
  rule(acro, A.text, spaceNl),
  rule(tbSpec2, A.text, spaceNl),
  rule(filename, A.text, alt(spaceNl, charClass('.?!,'))),
  rule(seq(word, exact('.')), A.soft, inSentP),
  rule(phone, { kind: K.phone }),
  rule(dblQuot, A.quote(true), charClass('A-Za-z0-9$')),
  rule(dblQuot, A.quote(false)),
  rule(exact('\u007f'), A.skip),
  rule(alt(exact('<'), '&lt;'), A.fixed('<')),
  rule(alt(exact('>'), '&gt;'), A.fixed('>')),
  rule(smiley, { kind: K.parens }, notClass('A-Za-z0-9')),
  rule(asianSmiley, { kind: K.parens }),
  rule(exact('{'), A.fixed('-LCB-')),
  rule(exact('}'), A.fixed('-RCB-')),
  rule(exact('['), A.fixed('-LSB-')),
  rule(exact(']'), A.fixed('-RSB-')),
  rule(exact('('), A.fixed('-LRB-')),
  rule(exact(')'), A.fixed('-RRB-')),
  rule(plus(exact('-')), { kind: K.hyphens }),
  rule(ldots, A.fixed('...')),
  rule(fnMarks, A.text),
  rule(asts, A.text),
  rule(inSentP, A.text),
  rule(plus(charClass('?!')), A.text),
  rule(charClass('.\u00a1\u00bf\u037e\u0589\u061f\u06d4\u0700-\u0702\u07fa\u3002'), A.text),
  rule(exact('='), A.text),
  rule(exact('/'), A.text),
  rule(seq(hthing, exact('.')), A.soft, inSentP),
  rule(hthing, A.soft),
  rule(seq(thing, exact('.')), A.text, inSentP),
  rule(thing, A.text),
  rule(seq(thingA, exact('.')), A.amp, inSentP),
  rule(thingA, A.amp),
  rule(exact("'"), A.quote(true), seq(asciiLetter, notClass(' \t\n\r\u00a0'))),
  rule(redAux, A.quote(false)),
  rule(sredAux, A.quote(false)),
  rule(quotes, A.quote(false)),
  rule(alt(exact('<<'), exact('>>')), A.text),
  rule(miscSymbol, A.text),
  rule(alt(exact('\u0000'), plus(space), charClass('\u200b\u200e\u200f\ufeff')), A.skip),
  rule(newline, A.skip),
  rule(lit('&nbsp;'), A.skip),
];

/** The rules' actions, all in one object shape so that the scan loop reads them fast. */
const ACTIONS: readonly Action[] = RULES.map(({ action }) =>
  Object.assign({ kind: action.kind, text: '', keep: 0, left: false }, action),
);

let scanner: RuleScanner<Action> | undefined;

function getScanner(): RuleScanner<Action> {
  scanner ??= new RuleScanner(RULES);
  return scanner;
}

function removeSoftHyphens(text: string): string {
  const out = text.replaceAll('\u00ad', '');
  return out === '' ? '-' : out;
}

const FRACTIONS: Readonly<Record<string, string>> = {
  '\u00bc': '1/4',
  '\u00bd': '1/2',
  '\u00be': '3/4',
  '\u2153': '1/3',
  '\u2154': '2/3',
};

function latexQuotes(text: string, left: boolean): string {
  let s = text;
  s = s.replace(/&apos;|'/g, left ? '`' : "'");
  s = s.replace(/"|&quot;/g, left ? '``' : "''");
  s = s.replace(/[\u0091\u2018\u201b\u2039]/g, '`');
  s = s.replace(/[\u0092\u2019\u203a]/g, "'");
  s = s.replace(/[\u0093\u201c\u00ab]/g, '``');
  s = s.replace(/[\u0094\u201d\u00bb]/g, "''");
  return s;
}

/** True when {@link latexQuotes} leaves the right quote text[pos, end) as it is. */
function isPlainRightQuote(text: string, pos: number, end: number): boolean {
  for (let i = pos; i < end; i++) {
    const unit = text.charCodeAt(i);
    if (unit === 0x22 || unit === 0x26 || unit >= 0x80) return false; // ", &, non-ASCII
  }
  return true;
}

function isSpaceOrNewline(unit: number): boolean {
  return unit === 0x20 || unit === 0x09 || (unit >= 0x0a && unit <= 0x0d) || unit === 0x85;
}

/** The end of text[pos, end) with spaces and line breaks trimmed off. */
function trimEnd(text: string, pos: number, end: number): number {
  let e = end;
  while (e > pos && isSpaceOrNewline(text.charCodeAt(e - 1))) e -= 1;
  return e;
}

function hasSoftHyphen(text: string, pos: number, end: number): boolean {
  for (let i = pos; i < end; i++) if (text.charCodeAt(i) === 0xad) return true;
  return false;
}

/** Receives the tokens of a line, in order. */
export interface PtbTokenSink {
  /** A token that is text[pos, end) as it stands. */
  span(text: string, pos: number, end: number): void;
  /** A token the lexer rewrote. */
  token(token: string): void;
}

/**
 * A run of lines (captions) joined by '\n', read as the Java tokenizer reads them: as one
 * text, one caption a line. Tokens start inside their line, but the matcher reads on past
 * its end. So rules with trailing context depend on the next lines (an abbreviation such
 * as `No.` or `fig.` keeps its period when the next line starts with a digit; `etc.` is
 * followed by an extra `.` token when the next line starts with a capital or a space), and
 * an SGML tag with a quoted attribute value may even run on into the next lines.
 */
export class PtbRun {
  private readonly softHyphens: boolean;
  /**
   * After {@link scanTokens}: the last index of the text that it looked at. Its tokens
   * depend on text[start, lastRead] only (and on nothing before start).
   */
  lastRead = -1;

  constructor(readonly text: string) {
    this.softHyphens = text.includes('\u00ad');
  }

  /**
   * Passes to `sink` the PTB tokens that start in text[start, stop), before lower-casing,
   * as the Stanford tokenizer prints them (brackets as -LRB- etc., quotes as `` and ''),
   * from a token start. Returns the end of the last token (stop or past it). A line's
   * tokens are those that start in it.
   */
  scanTokens(start: number, stop: number, sink: PtbTokenSink): number {
    const text = this.text;
    const scan = getScanner();
    let pos = start;
    let lastRead = start;
    while (pos < stop) {
      const matched = scan.match(text, pos);
      if (scan.lastRead > lastRead) lastRead = scan.lastRead;
      if (!matched) {
        pos += 1; // untokenizable: dropped
        continue;
      }
      pos = this.emit(ACTIONS[scan.rule]!, pos, scan.end, sink);
    }
    this.lastRead = lastRead;
    return pos;
  }

  /** Passes on the token that `action` makes of text[pos, end); returns where to go on. */
  private emit(action: Action, pos: number, matchEnd: number, sink: PtbTokenSink): number {
    const text = this.text;
    let end = matchEnd;
    switch (action.kind) {
      case K.text:
        sink.span(text, pos, end);
        break;
      case K.skip:
        break;
      case K.softHyphens:
        if (this.softHyphens && hasSoftHyphen(text, pos, end))
          sink.token(removeSoftHyphens(text.slice(pos, end)));
        else sink.span(text, pos, end);
        break;
      case K.fixed:
        sink.token(action.text);
        break;
      case K.keep:
        end = pos + action.keep;
        sink.span(text, pos, end);
        break;
      case K.nbsp:
        sink.token(text.slice(pos, end).replaceAll(' ', '\u00a0'));
        break;
      case K.ampersand:
        sink.token(text.slice(pos, end).replace(/&amp;/gi, '&'));
        break;
      case K.quote:
        if (action.left || !isPlainRightQuote(text, pos, end)) {
          sink.token(latexQuotes(text.slice(pos, end), action.left));
        } else sink.span(text, pos, end);
        break;
      case K.hyphens:
        if (end - pos >= 3 && end - pos <= 4) sink.token('--');
        else sink.span(text, pos, end);
        break;
      case K.phone:
        sink.token(
          text
            .slice(pos, end)
            .replaceAll(' ', '\u00a0')
            .replaceAll('(', '-LRB-')
            .replaceAll(')', '-RRB-'),
        );
        break;
      case K.parens:
        sink.token(text.slice(pos, end).replaceAll('(', '-LRB-').replaceAll(')', '-RRB-'));
        break;
      case K.currency:
        sink.token(
          text
            .slice(pos, end)
            .replace('\u00a2', 'cents')
            .replace('\u00a3', '#')
            .replace(/[\u0080\u00a4\u20a0\u20ac]/, '$'),
        );
        break;
      case K.fraction: {
        const raw = text.slice(pos, end);
        sink.token(FRACTIONS[raw] ?? raw);
        break;
      }
      case K.acronymBeforeSentence:
        // Its period is scanned again as the end of the sentence; a one-letter acronym
        // (`A.`) gives it up, a longer one (`U.S.`) also keeps it.
        end = trimEnd(text, pos, end);
        sink.span(text, pos, end - pos === 2 ? end - 1 : end);
        end -= 1;
        break;
      case K.trimTrailingSpace:
        end = trimEnd(text, pos, end);
        sink.span(text, pos, end);
        break;
      case K.periodTwice:
        sink.span(text, pos, end);
        end -= 1;
        break;
    }
    return end;
  }
}
