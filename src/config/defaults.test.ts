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

  it('refuse an option they do not know, with the one meant', () => {
    expect(() => captionConfig({ data: 'x', batchSzie: 4, maxNewToken: 10 })).toThrow(
      "captionConfig: unknown options 'batchSzie' (did you mean 'batchSize'?), 'maxNewToken' (did you mean 'maxNewTokens'?)",
    );
    expect(() => evaluateConfig({ captions: 'c.csv', bootsrap: 0 })).toThrow(
      "evaluateConfig: unknown option 'bootsrap' (did you mean 'bootstrap'?)",
    );
  });
});
