import { describe, expect, it } from 'vitest';
import { packStrings, unpackStrings } from './packed-strings.js';

describe('packStrings / unpackStrings', () => {
  it('give back the same strings, empty and non-ASCII ones included', () => {
    const strings = ['', 'a', '', 'Ünïcode 心脏 😀', 'x'.repeat(1000), ''];
    const packed = packStrings(strings);
    expect(packed.text).toBe(strings.join(''));
    expect(unpackStrings(packed)).toEqual(strings);
    expect(unpackStrings(packStrings([]))).toEqual([]);
  });
});
