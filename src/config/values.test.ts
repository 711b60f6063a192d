import { describe, expect, it } from 'vitest';
import { type ParseResult, valueSchema } from './values.js';

/** Why a value was refused ('' when it was taken). */
function reason(result: ParseResult): string {
  return result.success ? '' : result.error.issues[0]!.message;
}

describe('valueSchema', () => {
  it('gives the parsed value, or one issue saying why not', () => {
    const integer = valueSchema({ kind: 'integer', min: 1, max: 8, words: { auto: 'auto' } });
    expect(integer.safeParse('4')).toEqual({ success: true, data: 4 });
    expect(integer.safeParse(' AUTO ')).toEqual({ success: true, data: 'auto' });
    expect(integer.safeParse('9')).toEqual({
      success: false,
      error: { issues: [{ message: 'must be at most 8' }] },
    });
    expect(integer.safeParse(undefined).success).toBe(false);
    expect(valueSchema({ kind: 'boolean' }).safeParse('off')).toEqual({
      success: true,
      data: false,
    });
    // A value that is itself falsy or an object is data, not a refusal.
    expect(valueSchema({ kind: 'shard' }).safeParse('1/4')).toEqual({
      success: true,
      data: { index: 1, count: 4 },
    });
  });

  it('takes sizes with or without a space and binary units; refuses a forgotten unit', () => {
    const size = valueSchema({ kind: 'size' });
    expect(size.safeParse('9 GiB').data).toBe(9 * 1024 ** 3);
    expect(size.safeParse('512MB').data).toBe(512 * 1024 ** 2);
    expect(size.safeParse(409600.4).data).toBe(409600);
    expect(size.safeParse('0').data).toBe(0);
    expect(reason(size.safeParse(9))).toBe('9 bytes is too small: write the unit, as in 9GB');
    for (const bad of ['-1', '1e9', '9 G B']) expect(size.safeParse(bad).success, bad).toBe(false);
  });

  it('refuses a memory limit of 0', () => {
    const limit = valueSchema({ kind: 'size', positive: true });
    expect(reason(limit.safeParse('0'))).toMatch(/must be more than 0/);
    expect(limit.safeParse('8G').data).toBe(8 * 1024 ** 3);
  });

  it('says which half of a shard is wrong', () => {
    const shard = valueSchema({ kind: 'shard' });
    expect(reason(shard.safeParse('1/0'))).toBe('N must be at least 1');
    expect(reason(shard.safeParse('4/4'))).toMatch(/I must be below N/);
    expect(shard.safeParse('3/4').data).toEqual({ index: 3, count: 4 });
  });
});
