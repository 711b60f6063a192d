import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TINY_MODEL_DIR,
  TINY_MODEL_SETTINGS,
} from '../../../test/fixtures/tiny-qwen2-vl/reference.js';
import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { cudaProviderPath, hasVulkanLoader } from './devices.js';
import { loadTransformersModel } from './load.js';

const settings = TINY_MODEL_SETTINGS;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-load-'));
  // A Hub model already in the download cache: <cache>/<owner>/<name>/...
  await cp(TINY_MODEL_DIR, join(root, 'cache', 'acme', 'tiny-vl'), { recursive: true });
  await cp(TINY_MODEL_DIR, join(root, 'cache', 'acme', 'partial'), { recursive: true });
  await rm(join(root, 'cache', 'acme', 'partial', 'onnx', 'decoder_model_merged.onnx'));
  await mkdir(join(root, 'bert'));
  await writeFile(join(root, 'bert', 'config.json'), JSON.stringify({ model_type: 'bert' }));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loading the model', () => {
  it('loads a Hub id from the download cache offline, and logs where from', async () => {
    const lines: string[] = [];
    const logger: Logger = { ...silentLogger, info: (m) => lines.push(m) };
    const loaded = await loadTransformersModel(
      { ...settings, model: 'acme/tiny-vl' },
      { logger },
      { cacheDir: join(root, 'cache') },
    );
    expect(loaded.source.kind).toBe('hub');
    expect(loaded.device).toBe('cpu');
    expect(loaded.modelType).toBe('qwen2_vl');
    expect(loaded.imageTokenId).toBe(6);
    expect([...loaded.eosTokenIds].sort()).toEqual([0, 2]);
    expect(lines.join('\n')).toContain(join(root, 'cache', 'acme', 'tiny-vl'));
    await loaded.model.dispose();
  });

  it('offline, an incomplete cached copy is one error naming the missing file', async () => {
    const error = await loadTransformersModel(
      { ...settings, model: 'acme/partial' },
      { logger: silentLogger },
      { cacheDir: join(root, 'cache') },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('acme/partial');
    expect(error.message).toContain(
      join(root, 'cache', 'acme', 'partial', 'onnx', 'decoder_model_merged.onnx'),
    );
  });

  it('names the missing file when the folder has no weights for the --dtype asked', async () => {
    const error = await loadTransformersModel(
      { ...settings, dtype: 'vision=fp16' },
      { logger: silentLogger },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(join(TINY_MODEL_DIR, 'onnx', 'vision_encoder_fp16.onnx'));
    expect(error.message).toMatch(/--dtype/);
  });

  it('refuses a model that is not Qwen2-VL-shaped, listing what is supported', async () => {
    await expect(
      loadTransformersModel({ ...settings, model: join(root, 'bert') }, { logger: silentLogger }),
    ).rejects.toThrow(/model type 'bert' is not supported .*qwen2_vl, qwen2_5_vl/);
  });

  it('explains a device that cannot be used here', async () => {
    if (!cudaProviderPath()) {
      await expect(
        loadTransformersModel({ ...settings, device: 'cuda' }, { logger: silentLogger }),
      ).rejects.toThrow(/--device cuda: .*CUDA provider is not installed/);
    }
    if (!hasVulkanLoader()) {
      await expect(
        loadTransformersModel({ ...settings, device: 'webgpu' }, { logger: silentLogger }),
      ).rejects.toThrow(/--device webgpu: .*docs\/GPU\.md/);
    }
    const auto = await loadTransformersModel(
      { ...settings, device: 'auto' },
      { logger: silentLogger },
    );
    expect(['cpu', 'webgpu', 'cuda']).toContain(auto.device);
    await auto.model.dispose();
  });
});
