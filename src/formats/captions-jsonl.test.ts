import { describe, expect, it } from 'vitest';
import { DatasetError } from '../core/errors.js';
import { decodeUtf8 } from '../core/utf8.js';
import type { CaptionRow } from './captions-csv.js';
import { captionRow, invalidJsonLine, jsonlItem, parseCaptionsJsonl } from './captions-jsonl.js';

/**
 * The reader as it was before it read bytes: the whole text, then JSON.parse per line. The
 * shape checks and the row are the reader's own (jsonlItem, captionRow): the fast path under
 * test never reaches them.
 */
function referenceParse(text: string, path: string): CaptionRow[] {
  const rows: CaptionRow[] = [];
  const lines = new Map<string, number>();
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim();
      if (line === '') return;
      const where = `${path}:${i + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw invalidJsonLine(line, where, error);
      }
      const item = jsonlItem(value, where);
      const first = lines.get(item.id);
      if (first !== undefined) {
        throw new DatasetError(`${where}: id '${item.id}' appears again (first at line ${first})`);
      }
      lines.set(item.id, i + 1);
      rows.push(captionRow(item));
    });
  return rows;
}

type Outcome = { rows: CaptionRow[] } | { error: string };

function outcome(parse: () => CaptionRow[]): Outcome {
  try {
    return { rows: parse() };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** Both readers on the same bytes: the same rows, or the same error. */
function expectAsJsonParse(bytes: Uint8Array): void {
  const path = 'captions.jsonl';
  const expected = outcome(() => referenceParse(decodeUtf8(bytes, path), path));
  expect(outcome(() => parseCaptionsJsonl(bytes, path))).toEqual(expected);
}

const encode = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

/** Lines that are each read alone (each with an id of its own). */
const HOSTILE_LINES = [
  '{"id":"a","candidate":"plain words here","references":["one","two three four five six"]}',
  '{"id": "b", "candidate": "spaces after colons", "references": ["r"]}',
  '\t {"id":"c" ,\t"candidate" :"tabs" , "references" : [ "x" , "y" ] }\t \r',
  '{"references":["order"],"id":"d","candidate":"keys in another order"}',
  '{"id":"e","references":["no candidate"]}',
  '{"id":"f","candidate":null,"references":["null candidate"]}',
  '{"id":7,"candidate":"number id","references":["r"]}',
  '{"id":1.50,"candidate":"number id 1.5","references":["r"]}',
  '{"id":1e21,"candidate":"large number id","references":["r"]}',
  '{"id":"g","candidate":"x","references":[]}',
  '{"id":"h","candidate":"x","references":[ ]}',
  '{"id":"i","candidate":"extra key","references":["r"],"score":0.5}',
  '{"id":"j","candidate":"first","candidate":"last wins","references":["r"]}',
  '{"id":"k","id":"k2","candidate":"repeated id key","references":["r"]}',
  '{"id":"l","candidate":"x","references":["a"],"references":["last"]}',
  '{"__proto__":{},"id":"m","candidate":"proto key","references":["r"]}',
  '{"i\\u0064":"n","candidate":"escaped key","references":["r"]}',
  '{"id":"o","candidate":"quote \\" backslash \\\\ slash \\/ and \\b\\f\\n\\r\\t","references":["\\u0041\\u00e9"]}',
  '{"id":"p","candidate":"pair \\uD83D\\uDE00 and lone \\uD800 \\uDC00 end","references":["\\udbff"]}',
  '{"id":"q","candidate":"raw é ü 日本語 😀 text","references":["é","ascii then é then \\u00e9"]}',
  '{"id":"r\u00e9","candidate":"non-ASCII id","references":["r"]}',
  '{"id":"s","candidate":"trailing garbage","references":["r"]} x',
  '{"id":"t","candidate":"trailing comma","references":["r",]}',
  '{"id":"u","candidate":"raw\ttab","references":["r"]}',
  '{"id":"v","candidate":"bad escape \\x","references":["r"]}',
  '{"id":"w","candidate":"short unicode \\u12","references":["r"]}',
  '{"id":"x","candidate":"unterminated,"references":["r"]}',
  '{"id":"y","candidate":"no close","references":["r"]',
  '{"id":"z","candidate":"two objects","references":["r"]}{"id":"z2"}',
  '["an","array"]',
  '"a string"',
  'null',
  '{"id":true,"candidate":"boolean id","references":["r"]}',
  '{"id":"aa","candidate":5,"references":["r"]}',
  '{"id":"ab","candidate":"x","references":"not an array"}',
  '{"id":"ac","candidate":"x","references":["a",1]}',
  '{"id":"ad","candidate":"x","references":[["nested"]]}',
  '{"id":"ae","candidate":"x"}',
  '{"candidate":"x","references":["r"]}',
  '\u00a0{"id":"af","candidate":"no-break space before","references":["r"]}\u2028',
  '\ufeff{"id":"ag","candidate":"byte-order mark inside the file","references":["r"]}',
  '\u000b{"id":"ah","candidate":"vertical tab before","references":["r"]}',
  '{"id":"ai","candidate":"a control \u0001 character","references":["r"]}',
  '{"id":"aj","candidate":"","references":[""]}',
  '{ }',
  '{',
  '{"id":"ak","candidate":"x","references":["r"]}\r',
  '{"id":"al","candidate":"x" "references":["r"]}',
  '{"id":"am","candidate":"x","references":["r"],}',
  '{"id" "an","candidate":"x","references":["r"]}',
  '{"id":"ao","candidate":"x","references":["r" "s"]}',
  '{"id":"ap","candidate":"ends in backslash \\',
  '{"id":"aq","candidate":"x","references":["r"]}   ',
  '{"id":\u000b"ar","candidate":"vertical tab between","references":["r"]}',
  '{"id":"as",\u00a0"candidate":"no-break space between","references":["r"]}',
  '{"id":"at","candidate":"form feed between","references":["r"]\f}',
  '   ',
  '\r',
  '',
];

describe('parseCaptionsJsonl', () => {
  it('reads each hostile line as JSON.parse does: the same strings, or the same error', () => {
    for (const line of HOSTILE_LINES) expectAsJsonParse(encode(line));
    for (const line of HOSTILE_LINES) expectAsJsonParse(encode(`\n\n${line}\n`));
  });

  it('reads whole files as JSON.parse does: line numbers, blank lines, byte-order mark', () => {
    const readable = HOSTILE_LINES.filter((line) => {
      const got = outcome(() => referenceParse(line, 'x'));
      return 'rows' in got;
    });
    expect(readable.length).toBeGreaterThan(20);
    const file = readable.join('\n');
    expectAsJsonParse(encode(file));
    expectAsJsonParse(encode(`\ufeff${file}\n`));
    expectAsJsonParse(encode(file.replaceAll('\n', '\r\n')));
    // A bad line after good ones: its line number.
    expectAsJsonParse(encode(`${file}\n\n{"id":"bad","candidate":"raw\ttab","references":[]}\n`));
    // An id that appears twice: both line numbers.
    expectAsJsonParse(encode(`${file}\n${readable[3]}`));
    expectAsJsonParse(encode(''));
    expectAsJsonParse(encode('\ufeff'));
    expectAsJsonParse(encode('\n\n'));
  });

  it('refuses a line without one of the three keys, naming the keys it has (a caption under another name is not scored as empty)', () => {
    const parse = (text: string) => () => parseCaptionsJsonl(encode(text), 'x.jsonl');
    const good = '{"id":"a","candidate":"x","references":["r"]}\n';
    expect(parse(`${good}{"id":"b","caption":"CT of chest","references":["r"]}`)).toThrow(
      'x.jsonl:2: no "candidate" key (the line has: id, caption, references); each line must be an object {"id", "candidate", "references"}',
    );
    expect(parse('{"image_id":"b","candidate":"x","references":["r"]}')).toThrow(
      'x.jsonl:1: no "id" key (the line has: image_id, candidate, references)',
    );
    expect(parse('{}')).toThrow('x.jsonl:1: no "id" key (the line has: no keys)');
    // A null caption is an empty one (evaluate warns about empty captions).
    expect(parse('{"id":"a","candidate":null,"references":["r"]}')()[0]!.generatedCaption).toBe('');
  });

  it('says when the file is a JSON array or pretty-printed objects rather than JSON Lines', () => {
    const parse = (text: string) => () => parseCaptionsJsonl(encode(text), 'x.jsonl');
    expect(parse('[{"id":"a","candidate":"x","references":["r"]},\n{"id":"b"}]')).toThrow(
      /x\.jsonl:1: not valid JSON \(.*\): the file looks like a JSON array; JSON Lines holds one whole .* object per line \(jq -c '\.\[\]' converts it\)/,
    );
    expect(parse('{\n  "id": "a",\n  "candidate": "x"\n}')).toThrow(
      /x\.jsonl:1: not valid JSON \(.*\): the object spans several lines; .*\(jq -c \. converts it\)/,
    );
  });

  it('rejects bytes that are not UTF-8, naming the line', () => {
    const bytes = new Uint8Array([
      ...encode('{"id":"a","candidate":"x","references":["r"]}\n'),
      0xe9,
    ]);
    expect(() => parseCaptionsJsonl(bytes, 'x.jsonl')).toThrow(/x\.jsonl:2: not UTF-8 text/);
  });

  it('reads bytes in shared memory', () => {
    const text = '{"id":"a","candidate":"a caption long enough to be sliced","references":["r"]}';
    const plain = encode(text);
    const shared = new Uint8Array(new SharedArrayBuffer(plain.length + 4), 2, plain.length);
    shared.set(plain);
    expect(parseCaptionsJsonl(shared, 'x')).toEqual(referenceParse(text, 'x'));
  });

  it('matches JSON.parse on random lines spliced from hostile pieces', () => {
    const pieces = [
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      ' ',
      '\t',
      '"',
      '\\',
      '\\"',
      '\\u00e9',
      '\\uD83D',
      'é',
      '😀',
      '"id"',
      '"candidate"',
      '"references"',
      '"a"',
      '"a long caption with several words"',
      '1',
      'null',
      '\u0001',
      '\u000b',
      '\u00a0',
    ];
    let state = 12345;
    const random = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % n;
    };
    const base = '{"id":"ID","candidate":"the candidate é","references":["one \\u00e9","two"]}';
    for (let k = 0; k < 3000; k++) {
      let line = base.replace('ID', `id${k}`);
      for (let edits = 1 + random(3); edits > 0; edits--) {
        const at = random(line.length + 1);
        const cut = random(3);
        line = line.slice(0, at) + pieces[random(pieces.length)] + line.slice(at + cut);
      }
      expectAsJsonParse(encode(line));
    }
  });
});
