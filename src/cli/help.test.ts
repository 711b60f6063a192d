import { describe, expect, it } from 'vitest';
import { valueSchema } from '../config/values.js';
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
  const device = {
    key: 'device',
    flag: '--device <device>',
    description: 'where it runs',
    type: { kind: 'choice', values: ['cpu', 'webgpu'] } as const,
    schema: valueSchema({ kind: 'choice', values: ['cpu', 'webgpu'] }),
    default: 'cpu',
    allowed: 'cpu, webgpu',
  };

  it('puts the allowed values before the default', () => {
    expect(optionHelp(device)).toBe('where it runs (cpu, webgpu) (default: cpu)');
    expect(optionHelp({ ...device, default: undefined })).toBe('where it runs (cpu, webgpu)');
  });

  it('leaves out the allowed text of free text and switches', () => {
    const prompt = {
      ...device,
      type: { kind: 'text' } as const,
      allowed: 'text',
      default: undefined,
    };
    expect(optionHelp(prompt)).toBe('where it runs');
    const offline = {
      ...device,
      type: { kind: 'boolean' } as const,
      allowed: 'true or false',
      default: false,
    };
    expect(optionHelp(offline)).toBe('where it runs');
  });
});
