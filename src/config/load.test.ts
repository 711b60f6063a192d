import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './load.js';
import { ALL_OPTIONS, CAPTION_OPTIONS, COMMON_OPTIONS, envName } from './schema.js';

const specs = [...COMMON_OPTIONS, ...CAPTION_OPTIONS];

describe('loadConfig', () => {
  it('applies flag > env > file > default', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'medcap-config-'));
    await writeFile(
      join(cwd, 'medcap.config.json'),
      JSON.stringify({ batchSize: 4, limit: 50, split: 'valid', cache: false }),
    );
    const env = { MEDCAP_BATCH_SIZE: '16', MEDCAP_LIMIT: '20' };
    const config = loadConfig({ specs, flags: { batchSize: '2' }, env, cwd });
    expect(config.batchSize).toBe(2); // flag
    expect(config.limit).toBe(20); // env
    expect(config.split).toBe('valid'); // file
    expect(config.cache).toBe(false); // file
    expect(config.checkpointEvery).toBe(100); // default
    expect(config.cacheMemory).toBe(9 * 1024 ** 3);
  });

  it('maps the Python pipeline settings to their defaults', () => {
    const config = loadConfig({ specs, flags: {}, env: {}, cwd: '/nonexistent' });
    expect(config).toMatchObject({ batchSize: 8, limit: 1000, split: 'train', cache: true });
  });

  it('reports every bad value with its option, source and what is allowed', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'medcap-config-'));
    await writeFile(join(cwd, 'medcap.config.json'), JSON.stringify({ device: 'tpu', bogus: 1 }));
    let message = '';
    try {
      loadConfig({
        specs,
        flags: { batchSize: 'lots' },
        env: { MEDCAP_CACHE_MEMORY: 'nine' },
        cwd,
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(
      /--batch-size from the command line: .*"lots".*allowed: a whole number 1\.\.4096, or auto/,
    );
    expect(message).toMatch(
      /--cache-memory from environment variable MEDCAP_CACHE_MEMORY: not a size; got "nine" \(allowed: a size such as 9GB/,
    );
    expect(message).toMatch(
      /--device from .*medcap\.config\.json.*allowed: cpu, webgpu, cuda, auto/,
    );
    expect(message).toMatch(/unknown key 'bogus': not a medcap option/);
  });

  it('parses shards, limits and sizes', () => {
    const config = loadConfig({
      specs,
      flags: { shard: '2/8', limit: 'all', memoryLimit: '1.5GB', batchSize: 'auto' },
      env: {},
      cwd: '/x',
    });
    expect(config.shard).toEqual({ index: 2, count: 8 });
    expect(config.limit).toBe(Number.POSITIVE_INFINITY);
    expect(config.memoryLimit).toBe(1.5 * 1024 ** 3);
    expect(config.batchSize).toBe('auto');
    expect(() => loadConfig({ specs, flags: { shard: '8/8' }, env: {}, cwd: '/x' })).toThrow(
      /--shard.*0 <= I < N/,
    );
    expect(envName('cacheMemory')).toBe('MEDCAP_CACHE_MEMORY');
  });

  it('says where a config file stops being JSON: its path, line and column', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'medcap-config-'));
    const path = join(cwd, 'medcap.config.json');
    const cases: Array<[string, string]> = [
      ['{\n  "batchSize": 4,\n  "cache": true,\n}\n', 'line 4, column 1'], // trailing comma
      ['{\n  "limit": 10\n  "split": "valid"\n}', 'line 3, column 3'], // missing comma
      ['{ "batchSize": 4 ', 'line 1, column 18'], // cut short
    ];
    for (const [text, place] of cases) {
      await writeFile(path, text);
      expect(() => loadConfig({ specs, flags: {}, env: {}, cwd }), place).toThrow(
        `${path}: not valid JSON at ${place}: `,
      );
    }
  });

  it('takes relative paths in the config file from its folder; flags and variables as given', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'medcap-config-'));
    const dir = join(cwd, 'project', 'configs');
    await mkdir(join(dir, 'models', 'local'), { recursive: true });
    const file = join(dir, 'exp.json');
    const values = {
      data: '../data/rocov2',
      out: 'results',
      captions: 'runs/medical_captions_train.csv',
      bertscoreBaseline: '/abs/baseline.tsv',
      model: './models/x',
      bertscoreModel: 'models/local',
      prompt: '@prompts/radiology.txt',
    };
    await writeFile(file, JSON.stringify(values));
    const all = ALL_OPTIONS.filter((o, i) => ALL_OPTIONS.findIndex((p) => p.key === o.key) === i);
    const config = loadConfig({ specs: all, flags: { config: 'project/configs/exp.json' }, cwd });
    expect(config).toMatchObject({
      data: join(cwd, 'project', 'data', 'rocov2'),
      out: join(dir, 'results'),
      captions: join(dir, 'runs', 'medical_captions_train.csv'),
      bertscoreBaseline: '/abs/baseline.tsv',
      model: join(dir, 'models', 'x'),
      // `name/x` could be a Hub id: a path because the folder exists beside the file
      bertscoreModel: join(dir, 'models', 'local'),
      prompt: `@${join(dir, 'prompts', 'radiology.txt')}`,
    });

    // Hub ids, `~/` and a prompt text stay as written; so do other options' values.
    await writeFile(
      file,
      JSON.stringify({
        model: 'onnx-community/Qwen2-VL-2B-Instruct',
        bertscoreModel: '~/models/bert',
        prompt: 'Describe the image.',
        split: 'valid',
      }),
    );
    expect(loadConfig({ specs: all, flags: { config: file }, env: {}, cwd })).toMatchObject({
      model: 'onnx-community/Qwen2-VL-2B-Instruct',
      bertscoreModel: '~/models/bert',
      prompt: 'Describe the image.',
      split: 'valid',
    });

    // A flag or a variable wins and is left relative, for the command to take from its cwd.
    await writeFile(file, JSON.stringify(values));
    const over = loadConfig({
      specs: all,
      flags: { config: file, data: 'flag-data' },
      env: { MEDCAP_OUT: 'env-out', MEDCAP_MODEL: './env-model' },
      cwd,
    });
    expect(over).toMatchObject({ data: 'flag-data', out: 'env-out', model: './env-model' });
    // Defaults are not from the file: `--out` defaults to results_medical in the cwd.
    expect(loadConfig({ specs, flags: {}, env: {}, cwd: dir }).out).toBe('results_medical');
  });

  it('a medcap.config.json found in the working directory: its folder is the working directory', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'medcap-config-'));
    await writeFile(join(cwd, 'medcap.config.json'), JSON.stringify({ data: 'd', out: 'o' }));
    expect(loadConfig({ specs, flags: {}, env: {}, cwd })).toMatchObject({
      data: join(cwd, 'd'),
      out: join(cwd, 'o'),
    });
  });
});
