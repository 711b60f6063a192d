import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { describeDtype, parseDtype } from './dtype.js';

describe('--dtype', () => {
  it('is undefined when not set', () => {
    expect(parseDtype(undefined)).toBeUndefined();
    expect(parseDtype(' ')).toBeUndefined();
  });

  it('takes one precision for every graph', () => {
    expect(parseDtype('q4f16')).toBe('q4f16');
    expect(parseDtype('fp32')).toBe('fp32');
  });

  it('takes one precision per graph, the others auto', () => {
    expect(parseDtype('vision=fp16,decoder=q4f16')).toEqual({
      vision_encoder: 'fp16',
      embed_tokens: 'auto',
      decoder_model_merged: 'q4f16',
    });
    expect(parseDtype('embed_tokens=q8')).toMatchObject({ embed_tokens: 'q8' });
    expect(describeDtype(parseDtype('decoder=q4'))).toBe(
      'vision_encoder=auto,embed_tokens=auto,decoder_model_merged=q4',
    );
  });

  it('names the option and what is allowed when the value is wrong', () => {
    expect(() => parseDtype('fp8')).toThrow(ConfigError);
    expect(() => parseDtype('fp8')).toThrow(
      /--dtype: unknown precision 'fp8' \(allowed: auto, fp32/,
    );
    expect(() => parseDtype('audio=fp16')).toThrow(/graphs: vision, embed, decoder/);
    expect(() => parseDtype('vision=fp64')).toThrow(/unknown precision 'fp64' for vision/);
    expect(() => parseDtype('vision=fp16,vision_encoder=q8')).toThrow(/given twice/);
  });
});
