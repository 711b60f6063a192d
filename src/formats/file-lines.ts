import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const CHUNK_BYTES = 4 * 2 ** 20;

/**
 * The lines of a UTF-8 text file without their newlines, and what follows the last newline
 * (`tail`, `tailBytes`: a line cut short when its writer died). Read in chunks, so that a
 * file larger than the longest string V8 makes (512 MiB: the journal of a long run with
 * long references) is read too.
 */
export function readFileLines(path: string): { lines: string[]; tail: string; tailBytes: number } {
  const lines: string[] = [];
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let pending = Buffer.alloc(0);
    for (;;) {
      const read = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (read === 0) break;
      const bytes =
        pending.length === 0
          ? chunk.subarray(0, read)
          : Buffer.concat([pending, chunk.subarray(0, read)]);
      let start = 0;
      for (let newline = bytes.indexOf(10); newline !== -1; newline = bytes.indexOf(10, start)) {
        lines.push(bytes.toString('utf8', start, newline));
        start = newline + 1;
      }
      // A copy: `chunk` is read into again.
      pending = Buffer.from(bytes.subarray(start));
    }
    return { lines, tail: pending.toString('utf8'), tailBytes: pending.length };
  } finally {
    closeSync(fd);
  }
}

/**
 * How many bytes follow the file's last newline (a line cut short when its writer died),
 * read from the end: the rest of the file is not read.
 */
export function bytesAfterLastNewline(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, size)));
    for (let end = size; end > 0; ) {
      const from = Math.max(0, end - chunk.length);
      const read = readSync(fd, chunk, 0, end - from, from);
      const newline = chunk.subarray(0, read).lastIndexOf(10);
      if (newline !== -1) return size - (from + newline + 1);
      end = from;
    }
    return size;
  } finally {
    closeSync(fd);
  }
}
