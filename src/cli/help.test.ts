import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { optionHelp, shownDefault } from './help.js';

describe('shownDefault', () => {
  it('writes a default as it would be typed', () => {
    expect(shownDefault(8)).toBe('8');
    expect(shownDefault('9GB')).toBe('9GB');
    expect(shownDefault(['bleu', 'rouge'])).toBe('bleu,rouge');
    expect(shownDefault('two words')).toBe('"two words"');
    expect(shownDefault(true)).toBe('on');
  });

  it('says nothing for switches that are off, empty lists and no default', () => {
    expect(shownDefault(false)).toBeUndefined();
    expect(shownDefault([])).toBeUndefined();
    expect(shownDefault(undefined)).toBeUndefined();
  });
});

describe('optionHelp', () => {
  it('puts the allowed values before the default', () => {
    const spec = {
      key: 'device',
      flag: '--device <device>',
      description: 'where it runs',
      schema: z.string(),
      default: 'cpu',
      allowed: 'cpu, webgpu',
    };
    expect(optionHelp(spec)).toBe('where it runs (cpu, webgpu) (default: cpu)');
    expect(optionHelp({ ...spec, default: undefined, allowed: undefined })).toBe('where it runs');
  });
});
