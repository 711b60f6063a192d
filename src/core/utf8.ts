import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { type Readable, Transform } from 'node:stream';
import { DatasetError } from './errors.js';

/**
 * Text files (captions CSV, manifests, captions.txt) must be UTF-8. Node's decoder would
 * quietly turn a Latin-1 `é` into U+FFFD and change the reference captions, so the bytes
 * are checked first and the first bad one is reported with its file and line.
 */

/** Byte offset of the first byte that is not part of a valid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    if (i + length > n) return i;
    const second = bytes[i + 1]!;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k++) {
      const next = bytes[i + k]!;
      if (next < 0x80 || next > 0xbf) return i;
    }
    i += length;
  }
  return -1;
}

/** Bytes at the end of a chunk that start a multi-byte sequence the next chunk finishes. */
function incompleteTail(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let k = 1; k <= Math.min(3, n); k++) {
    const byte = bytes[n - k]!;
    if (byte >= 0x80 && byte <= 0xbf) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > k ? k : 0;
  }
  return 0;
}

function countNewlines(bytes: Uint8Array, end: number): number {
  let count = 0;
  for (let i = bytes.indexOf(10); i !== -1 && i < end; i = bytes.indexOf(10, i + 1)) count += 1;
  return count;
}

function notUtf8Error(path: string, line: number, bytes: Uint8Array, offset: number): DatasetError {
  const byte = bytes[offset];
  const shown = byte === undefined ? 'end of file' : `byte 0x${byte.toString(16).toUpperCase()}`;
  const utf16 = line === 1 && offset === 0 && (byte === 0xff || byte === 0xfe);
  const hint = utf16
    ? 'the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8'
    : 'the file is probably Latin-1 or Windows-1252; convert it with `iconv -f latin1 -t utf-8`';
  return new DatasetError(`${path}:${line}: not UTF-8 text (${shown}); ${hint}`, {
    code: 'NOT_UTF8',
  });
}

/** Passes bytes through unchanged, failing with a DatasetError at the first one that is not UTF-8. */
export function utf8Guard(path: string): Transform {
  let carry: Buffer = Buffer.alloc(0);
  let linesBefore = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const body = bytes.subarray(0, bytes.length - incompleteTail(bytes));
      if (!isUtf8(body)) {
        const offset = firstInvalidUtf8(body);
        done(notUtf8Error(path, linesBefore + countNewlines(body, offset) + 1, body, offset));
        return;
      }
      linesBefore += countNewlines(body, body.length);
      carry = bytes.subarray(body.length);
      done(null, body);
    },
    flush(done) {
      if (carry.length > 0) done(notUtf8Error(path, linesBefore + 1, carry, 0));
      else done();
    },
  });
}

/** The file's bytes, checked to be UTF-8; read errors (ENOENT, EACCES) reach the reader too. */
export function readUtf8Stream(path: string): Readable {
  const source = createReadStream(path);
  const guard = utf8Guard(path);
  source.on('error', (error) => guard.destroy(error));
  return source.pipe(guard);
}

/** Throws a DatasetError naming the file and line unless the bytes are UTF-8. */
export function assertUtf8(bytes: Uint8Array, path: string): void {
  if (!isUtf8(bytes)) {
    const offset = firstInvalidUtf8(bytes);
    throw notUtf8Error(path, countNewlines(bytes, offset) + 1, bytes, offset);
  }
}

/** Decodes a whole file as UTF-8, or throws a DatasetError naming the file and line. */
export function decodeUtf8(bytes: Uint8Array, path: string): string {
  assertUtf8(bytes, path);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}
