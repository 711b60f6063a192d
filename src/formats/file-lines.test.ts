import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesAfterLastNewline, readFileLines } from './file-lines.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-file-lines-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readFileLines', () => {
  it('gives every line of a file read in several chunks, characters cut at a chunk edge whole', async () => {
    // About 10 MB: lines of varying length with two- and four-byte characters, so that
    // chunk edges (every 4 MiB) fall inside lines and inside characters.
    const lines = Array.from(
      { length: 60_000 },
      (_, i) => `{"n":${i},"t":"${'é😀a'.repeat(i % 97)}"}`,
    );
    const path = join(root, 'big.jsonl');
    await writeFile(path, `${lines.join('\n')}\n{"torn":`);
    const read = readFileLines(path);
    expect(read.lines).toEqual(lines);
    expect([read.tail, read.tailBytes]).toEqual(['{"torn":', 8]);
  });

  it('reads an empty file, and one without a newline as all tail', async () => {
    const empty = join(root, 'empty');
    await writeFile(empty, '');
    expect(readFileLines(empty)).toEqual({ lines: [], tail: '', tailBytes: 0 });
    const one = join(root, 'one');
    await writeFile(one, 'µ');
    expect(readFileLines(one)).toEqual({ lines: [], tail: 'µ', tailBytes: 2 });
  });

  it('counts the bytes after the last newline from the end, as readFileLines does', async () => {
    const big = join(root, 'big.jsonl');
    expect(bytesAfterLastNewline(big)).toBe(readFileLines(big).tailBytes);
    for (const [name, text, torn] of [
      ['empty', '', 0],
      ['one', 'µ', 2],
      ['whole', 'a\nb\n', 0],
      // a torn line longer than a read from the end: 5 MiB after the last newline
      ['long-tail', `a\n${'x'.repeat(5 * 2 ** 20)}`, 5 * 2 ** 20],
    ] as const) {
      await writeFile(join(root, name), text);
      expect(bytesAfterLastNewline(join(root, name)), name).toBe(torn);
    }
  });
});
