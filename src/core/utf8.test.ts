import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeUtf8, firstInvalidUtf8, utf8Guard } from './utf8.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('firstInvalidUtf8', () => {
  it.each([
    ['ASCII', Buffer.from('ID,Caption\n'), -1],
    ['2-, 3- and 4-byte characters', Buffer.from('é → 𝔼'), -1],
    ['a Latin-1 é', bytes(0x41, 0xe9, 0x42), 1],
    ['a lone continuation byte', bytes(0x41, 0x80), 1],
    ['an overlong slash', bytes(0xc0, 0xaf), 0],
    ['an overlong 3-byte form', bytes(0xe0, 0x80, 0xaf), 0],
    ['a UTF-16 surrogate', bytes(0xed, 0xa0, 0x80), 0],
    ['above U+10FFFF', bytes(0xf4, 0x90, 0x80, 0x80), 0],
    ['a sequence cut short at the end', bytes(0x41, 0xe2, 0x82), 1],
  ])('%s', (_name, input, expected) => {
    expect(firstInvalidUtf8(input)).toBe(expected);
    // agrees with Node's own validator on whether the bytes are UTF-8
    expect(expected === -1).toBe(isUtf8(input));
  });
});

async function guarded(chunks: Uint8Array[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks).pipe(utf8Guard('t.csv'))) out.push(chunk);
  return Buffer.concat(out);
}

describe('utf8Guard', () => {
  it('passes characters split across chunks through unchanged', async () => {
    const text = Buffer.from('a,é\nb,→\nc,𝔼\n');
    const oneByteChunks = [...text].map((b) => bytes(b));
    expect((await guarded(oneByteChunks)).equals(text)).toBe(true);
  });

  it('names the line of the first bad byte, even when lines span chunks', async () => {
    const chunks = [Buffer.from('ID,Caption\nA,o'), Buffer.from('k\nB,L'), bytes(0xe9, 0x0a)];
    await expect(guarded(chunks)).rejects.toThrow(/t\.csv:3: not UTF-8 text \(byte 0xE9\)/);
  });

  it('refuses a file that ends inside a character', async () => {
    await expect(guarded([Buffer.from('A\n'), bytes(0xe2, 0x82)])).rejects.toThrow(
      /t\.csv:2: not UTF-8 text \(byte 0xE2\)/,
    );
  });
});

describe('decodeUtf8', () => {
  it('decodes UTF-8 and names the line of a bad byte', () => {
    expect(decodeUtf8(Buffer.from('a\né'), 'x.jsonl')).toBe('a\né');
    expect(() => decodeUtf8(bytes(0x61, 0x0a, 0x0a, 0xe9), 'x.jsonl')).toThrow(
      /x\.jsonl:3: not UTF-8 text \(byte 0xE9\); .*iconv/,
    );
  });
});
