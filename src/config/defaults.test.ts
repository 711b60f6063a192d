import { describe, expect, it } from 'vitest';
import { captionConfig, evaluateConfig } from './defaults.js';

describe('library config helpers', () => {
  it('fill in defaults and validate like the CLI', () => {
    const caption = captionConfig({ data: './ROCOv2', split: 'test', batchSize: 4 });
    expect(caption).toMatchObject({
      data: './ROCOv2',
      split: 'test',
      batchSize: 4,
      limit: 1000,
      cache: true,
    });
    expect(evaluateConfig({ captions: 'c.csv', metrics: 'bleu,cider' }).metrics).toEqual([
      'bleu',
      'cider',
    ]);
    expect(() => captionConfig({ data: 'x', device: 'tpu' })).toThrow(/--device/);
  });
});
