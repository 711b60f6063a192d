/**
 * The JSONL captions file that `medcap evaluate` reads, and which of its rows (or a captions
 * CSV's) are scored. A module of its own, small, so that the metric worker can parse the
 * same bytes as the main thread without loading the evaluation's other modules.
 */
import { DatasetError } from '../core/errors.js';
import { assertUtf8 } from '../core/utf8.js';
import type { CaptionRow } from './captions-csv.js';

/** One line's fields, as JSON.parse would give them. */
export interface JsonlItem {
  id: string;
  candidate: string;
  references: string[];
}

/**
 * Reads `{"id", "candidate", "references"}` lines from the file's bytes; a bad or repeated
 * line, or bytes that are not UTF-8, are an error naming it.
 */
export function parseCaptionsJsonl(bytes: Uint8Array, path: string): CaptionRow[] {
  assertUtf8(bytes, path);
  const reader = new LineReader(bytes);
  const rows: CaptionRow[] = [];
  const lines = new Map<string, number>();
  let start = hasByteOrderMark(bytes) ? 3 : 0;
  for (let lineNumber = 1; start <= bytes.length; lineNumber++) {
    const end = reader.lineEnd(start);
    const item = reader.item(start, end) ?? parsedLine(bytes, start, end, `${path}:${lineNumber}`);
    start = end + 1;
    if (item === undefined) continue;
    if (isBlank(item.id)) throw new DatasetError(`${path}:${lineNumber}: "id" is empty`);
    const first = lines.get(item.id);
    if (first !== undefined) {
      throw new DatasetError(
        `${path}:${lineNumber}: id '${item.id}' appears again (first at line ${first})`,
      );
    }
    lines.set(item.id, lineNumber);
    rows.push(captionRow(item));
  }
  return rows;
}

function hasByteOrderMark(bytes: Uint8Array): boolean {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

/** The captions row of an item. */
export function captionRow({ id, candidate, references }: JsonlItem): CaptionRow {
  return {
    imageId: id,
    imagePath: '',
    references,
    generatedCaption: candidate,
    processingTimeS: Number.NaN,
    batchSize: Number.NaN,
    engine: '',
    model: '',
    status: 'ok',
    error: '',
  };
}

/** The line bytes[start, end) read with JSON.parse; undefined for a blank line. */
function parsedLine(
  bytes: Uint8Array,
  start: number,
  end: number,
  where: string,
): JsonlItem | undefined {
  const line = utf8Slice(bytes, start, end).trim();
  if (line === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw invalidJsonLine(line, where, error);
  }
  return jsonlItem(value, where);
}

/**
 * The error for a (trimmed) line that JSON.parse refused, saying so when the file looks
 * like another layout: a JSON array, or objects written over several lines.
 */
export function invalidJsonLine(line: string, where: string, error: unknown): DatasetError {
  const convert = 'JSON Lines holds one whole {"id", "candidate", "references"} object per line';
  const hint = line.startsWith('[')
    ? `: the file looks like a JSON array; ${convert} (jq -c '.[]' converts it)`
    : line === '{'
      ? `: the object spans several lines; ${convert} (jq -c . converts it)`
      : '';
  return new DatasetError(`${where}: not valid JSON (${(error as Error).message})${hint}`, {
    cause: error,
  });
}

/** A line's parsed JSON value as an item; a value of the wrong shape is an error at `where`. */
export function jsonlItem(value: unknown, where: string): JsonlItem {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DatasetError(`${where}: expected an object {"id", "candidate", "references"}`);
  }
  const record = value as Record<string, unknown>;
  for (const key of ['id', 'candidate', 'references']) {
    if (!Object.hasOwn(record, key)) throw missingKey(key, record, where);
  }
  const id = record.id;
  if (typeof id !== 'string' && typeof id !== 'number') {
    throw new DatasetError(`${where}: "id" must be a string or a number`);
  }
  if (typeof id === 'number' && !Number.isSafeInteger(id)) {
    // 12345678901234567891 would be read as ...7000 and 1.50 as 1.5: not the file's id.
    throw new DatasetError(
      `${where}: "id" is a number that is not a whole number up to 2^53 (JSON numbers lose such ids); write it as a string`,
    );
  }
  const candidate = record.candidate ?? '';
  if (typeof candidate !== 'string') {
    throw new DatasetError(`${where}: "candidate" must be a string`);
  }
  const references = record.references;
  if (!Array.isArray(references) || references.some((r) => typeof r !== 'string')) {
    throw new DatasetError(`${where}: "references" must be an array of strings`);
  }
  return { id: String(id), candidate, references: references as string[] };
}

/**
 * A line without one of the three keys: refused, since a caption under another name
 * (`caption`, `prediction`) would otherwise be scored as empty, and every score as 0.
 */
function missingKey(key: string, record: Record<string, unknown>, where: string): DatasetError {
  const keys = Object.keys(record);
  return new DatasetError(
    `${where}: no "${key}" key (the line has: ${keys.length > 0 ? keys.join(', ') : 'no keys'}); ` +
      'each line must be an object {"id", "candidate", "references"}',
  );
}

function utf8Slice(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8', start, end);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
/** Control characters (a line holds no newline) and non-ASCII bytes, in the Latin-1 text. */
const UNUSUAL = /[\x00-\x09\x0b-\x1f\x80-\xff]/g;

/**
 * Reads the lines that have exactly the usual shape, `{"id": "…", "candidate": "…",
 * "references": ["…", …]}` (keys in any order, each once, JSON whitespace anywhere),
 * without JSON.parse and without copying the text: a string of plain ASCII is a slice of
 * the file's text, decoded once as Latin-1 (the same characters as UTF-8 then). Any other
 * line (numbers, nulls, other keys, control characters, bad JSON) is left to JSON.parse,
 * so the values and errors are JSON.parse's.
 */
class LineReader {
  private readonly bytes: Uint8Array;
  /** One character per byte: the text where it is ASCII. */
  private readonly chars: string;
  private pos = 0;
  private end = 0;
  private nextBackslash = -1;
  private nextUnusual = -1;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.chars = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }

  /** Where the line from `start` on ends (its newline, or the end of the bytes). */
  lineEnd(start: number): number {
    const end = this.chars.indexOf('\n', start);
    return end < 0 ? this.chars.length : end;
  }

  /** The item on bytes[start, end), or undefined when JSON.parse has to read the line. */
  item(start: number, end: number): JsonlItem | undefined {
    this.pos = start;
    this.end = end;
    if (!this.skipPast(0x7b /* { */)) return undefined;
    let id: string | undefined;
    let candidate: string | undefined;
    let references: string[] | undefined;
    for (;;) {
      this.skipSpace();
      const key = this.string();
      if (key === undefined || !this.skipPast(COLON)) return undefined;
      this.skipSpace();
      const value = key === 'references' ? this.strings() : this.string();
      if (typeof value === 'string' && key === 'id' && id === undefined) id = value;
      else if (typeof value === 'string' && key === 'candidate' && candidate === undefined) {
        candidate = value;
      } else if (Array.isArray(value) && references === undefined) references = value;
      else return undefined;
      this.skipSpace();
      if (this.pos >= this.end) return undefined;
      const next = this.bytes[this.pos++];
      if (next === 0x7d /* } */) break;
      if (next !== COMMA) return undefined;
    }
    this.skipSpace();
    if (this.pos !== this.end || id === undefined || candidate === undefined) return undefined;
    if (references === undefined) return undefined;
    return { id, candidate, references };
  }

  /** An array of strings at pos (`[` first), or undefined. */
  private strings(): string[] | undefined {
    if (this.bytes[this.pos] !== 0x5b /* [ */ || this.pos >= this.end) return undefined;
    this.pos++;
    const out: string[] = [];
    this.skipSpace();
    if (this.bytes[this.pos] === 0x5d /* ] */ && this.pos < this.end) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      const value = this.string();
      if (value === undefined) return undefined;
      out.push(value);
      this.skipSpace();
      if (this.pos >= this.end) return undefined;
      const next = this.bytes[this.pos++];
      if (next === 0x5d /* ] */) return out;
      if (next !== COMMA) return undefined;
    }
  }

  /** The JSON string at pos (its opening quote), as JSON.parse reads it; undefined if none. */
  private string(): string | undefined {
    if (this.pos >= this.end || this.bytes[this.pos] !== QUOTE) return undefined;
    const first = this.pos + 1;
    // Native searches instead of a loop over every byte in JavaScript.
    const close = this.chars.indexOf('"', first);
    if (close < 0 || close >= this.end) return undefined;
    if (this.backslashFrom(first) < close || this.unusualFrom(first) < close) {
      return this.scannedString();
    }
    this.pos = close + 1;
    return this.chars.slice(first, close);
  }

  /** Where the first backslash from `from` on is (the file's length if none). */
  private backslashFrom(from: number): number {
    if (this.nextBackslash < from) {
      const at = this.chars.indexOf('\\', from);
      this.nextBackslash = at < 0 ? this.chars.length : at;
    }
    return this.nextBackslash;
  }

  /** Where the first control or non-ASCII byte from `from` on is (the file's length if none). */
  private unusualFrom(from: number): number {
    if (this.nextUnusual < from) {
      UNUSUAL.lastIndex = from;
      this.nextUnusual = UNUSUAL.test(this.chars) ? UNUSUAL.lastIndex - 1 : this.chars.length;
    }
    return this.nextUnusual;
  }

  /** string() for a string with escapes, control bytes or non-ASCII bytes. */
  private scannedString(): string | undefined {
    const { bytes, end } = this;
    const first = this.pos + 1;
    let escaped = false;
    let ascii = true;
    let i = first;
    for (; i < end; i++) {
      const byte = bytes[i]!;
      if (byte === QUOTE) break;
      if (byte === BACKSLASH) {
        escaped = true;
        i++;
      } else if (byte < 0x20) return undefined;
      else if (byte >= 0x80) ascii = false;
    }
    if (i >= end) return undefined;
    this.pos = i + 1;
    if (escaped) return parsedString(utf8Slice(bytes, first - 1, i + 1));
    return ascii ? this.chars.slice(first, i) : utf8Slice(bytes, first, i);
  }

  /** Moves past JSON whitespace (a line holds no newline). */
  private skipSpace(): void {
    const { bytes, end } = this;
    while (this.pos < end) {
      const byte = bytes[this.pos];
      if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return;
      this.pos++;
    }
  }

  /** Moves past whitespace and then `byte`; false if `byte` is not next. */
  private skipPast(byte: number): boolean {
    this.skipSpace();
    if (this.pos >= this.end || this.bytes[this.pos] !== byte) return false;
    this.pos++;
    return true;
  }
}

/** A quoted JSON string with escapes, as JSON.parse reads it; undefined if it is not one. */
function parsedString(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return undefined;
  }
}

/** Empty or only white space, as String.prototype.trim sees it. */
export function isBlank(text: string): boolean {
  const first = text.charCodeAt(0);
  // Nearly every caption starts with a printable ASCII character: no trim needed.
  if (first > 0x20 && first < 0x7f) return false;
  return text.trim() === '';
}

const isReference = (text: string) => !isBlank(text);

/** A row that is scored: captioned, with at least one reference that is not blank. */
export function isScoredRow(row: CaptionRow): boolean {
  return row.status !== 'error' && row.references.some(isReference);
}

/**
 * A scored row as the item that the metrics score. A blank reference is no reference: scored,
 * it would be one of length 0, which BLEU's closest reference length can pick, dropping the
 * brevity penalty, so it is left out.
 */
export function scoredItemOf(row: CaptionRow): {
  id: string;
  candidate: string;
  references: readonly string[];
} {
  const { references } = row;
  return {
    id: row.imageId,
    candidate: row.generatedCaption,
    references: references.every(isReference) ? references : references.filter(isReference),
  };
}
