import { describe, expect, it } from 'vitest';
import { valueSchema } from './values.js';

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
});
