/**
 * CSV text as csv-stringify writes it by default (RFC 4180: a field is quoted when it holds
 * a quote, comma, CR or LF, and its quotes are doubled; records end in LF), without its
 * per-field option handling, for files of 10^5 rows.
 */

const NEEDS_QUOTES = /[",\n\r]/;

export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One record, without its line end. */
export function csvLine(fields: readonly string[]): string {
  let line = csvField(fields[0] ?? '');
  for (let i = 1; i < fields.length; i++) line += `,${csvField(fields[i]!)}`;
  return line;
}

/**
 * UTF-8 text appended to one growing buffer. A large file's rows are written into it as
 * they are made, so their many small strings die young instead of being kept (and copied
 * by the garbage collector) until one giant string is done.
 */
export class Utf8Buffer {
  private buffer: Buffer;
  length = 0;

  /** `capacity`: the bytes expected, when known (no copy as the buffer grows to them). */
  constructor(capacity = 1 << 16) {
    this.buffer = Buffer.allocUnsafe(Math.max(16, capacity));
  }

  write(text: string): void {
    this.reserve(text.length * 3);
    this.length += this.buffer.write(text, this.length);
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}
