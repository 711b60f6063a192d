import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { COMMON_OPTIONS, EVALUATE_OPTIONS } from '../../config/schema.js';
import { createMetric } from '../registry.js';
import { DEFAULT_BERTSCORE_MODEL } from './index.js';

const specs = [...COMMON_OPTIONS, ...EVALUATE_OPTIONS];
const load = (flags: Record<string, unknown>, env: Record<string, string> = {}) =>
  loadConfig({ specs, flags, env, cwd: '/nonexistent' });

describe('BERTScore options', () => {
  it('runs on the CPU with FacebookAI/roberta-large unless told otherwise', () => {
    const config = load({});
    expect(config.bertscoreDevice).toBe('cpu');
    expect(config.bertscoreModel).toBe(DEFAULT_BERTSCORE_MODEL);
    expect(DEFAULT_BERTSCORE_MODEL).toBe('FacebookAI/roberta-large');
  });

  it('takes --bertscore-device from the flag, else MEDCAP_BERTSCORE_DEVICE', () => {
    expect(load({}, { MEDCAP_BERTSCORE_DEVICE: 'auto' }).bertscoreDevice).toBe('auto');
    expect(
      load({ bertscoreDevice: 'webgpu' }, { MEDCAP_BERTSCORE_DEVICE: 'auto' }).bertscoreDevice,
    ).toBe('webgpu');
  });

  it('names the option and the devices allowed for a bad value', () => {
    expect(() => load({ bertscoreDevice: 'tpu' })).toThrow(
      /--bertscore-device from the command line: .*allowed: cpu, webgpu, cuda, auto/,
    );
  });

  it('takes --bertscore-batch-size (default: per device, DEFAULT_BATCH_SIZE) and refuses 0', () => {
    expect(load({}).bertscoreBatchSize).toBeUndefined();
    expect(load({}, { MEDCAP_BERTSCORE_BATCH_SIZE: '256' }).bertscoreBatchSize).toBe(256);
    expect(() => load({ bertscoreBatchSize: 0 })).toThrow(/--bertscore-batch-size/);
  });

  it('hands the batch size to the BERTScore metric', async () => {
    await expect(createMetric('bertscore', { bertscoreBatchSize: 2.5 })).rejects.toThrow(
      /BERTScore batch size must be a whole number >= 1, got 2.5/,
    );
  });
});

describe('--bertscore-baseline', () => {
  it('is unset unless given, and comes from the flag, MEDCAP_BERTSCORE_BASELINE or the config key', () => {
    expect(load({}).bertscoreBaseline).toBeUndefined();
    expect(load({}, { MEDCAP_BERTSCORE_BASELINE: 'b.tsv' }).bertscoreBaseline).toBe('b.tsv');
    expect(
      load({ bertscoreBaseline: 'flag.tsv' }, { MEDCAP_BERTSCORE_BASELINE: 'b.tsv' })
        .bertscoreBaseline,
    ).toBe('flag.tsv');
  });

  it('hands the file to the BERTScore metric, which reads it first', async () => {
    await expect(
      createMetric('bertscore', {
        bertscoreModel: 'someone/not-cached-anywhere',
        bertscoreBaseline: '/nonexistent/roberta-large.tsv',
        offline: true,
      }),
    ).rejects.toThrow(/--bertscore-baseline \/nonexistent\/roberta-large\.tsv: no such file/);
  });
});

describe('createMetric("bertscore") without a dtype', () => {
  it("asks for fp32, bert_score's precision, on a GPU too (fp16 is opt-in)", async () => {
    const dtypes: unknown[] = [];
    vi.resetModules();
    vi.doMock('./index.js', () => ({
      DEFAULT_BERTSCORE_MODEL: 'm',
      createBertScoreMetric: async (o: { dtype?: string }) => {
        dtypes.push(o.dtype);
        return { id: 'bertscore', columns: [], corpusDependent: false };
      },
    }));
    try {
      const registry = await import('../registry.js');
      await registry.createMetric('bertscore', { bertscoreDevice: 'webgpu' });
      await registry.createMetric('bertscore', { bertscoreDtype: 'auto' });
      expect(dtypes).toEqual(['fp32', 'auto']);
    } finally {
      vi.doUnmock('./index.js');
      vi.resetModules();
    }
  });
});
