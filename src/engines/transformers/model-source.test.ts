import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { defaultModelCacheDir, resolveModelSource } from './model-source.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-model-source-'));
  await mkdir(join(root, 'models', 'mine'), { recursive: true });
  await writeFile(join(root, 'models', 'mine', 'config.json'), '{}');
  await mkdir(join(root, 'empty-folder'));
  await mkdir(join(root, 'cache', 'acme', 'vlm'), { recursive: true });
  await writeFile(join(root, 'cache', 'acme', 'vlm', 'config.json'), '{}');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('--model resolution', () => {
  const options = () => ({ offline: false, cacheDir: join(root, 'cache'), cwd: root });

  it('takes an existing folder, relative or absolute, as a local model', async () => {
    const expected = { kind: 'folder', path: join(root, 'models', 'mine') };
    expect(await resolveModelSource('./models/mine', options())).toEqual(expected);
    expect(await resolveModelSource('models/mine', options())).toEqual(expected);
    expect(await resolveModelSource(join(root, 'models', 'mine'), options())).toEqual(expected);
  });

  it('refuses a folder without config.json, naming it', async () => {
    await expect(resolveModelSource('./empty-folder', options())).rejects.toThrow(
      new RegExp(`--model ${join(root, 'empty-folder')}: the folder has no config\\.json`),
    );
  });

  it('refuses a path that does not exist', async () => {
    const error = await resolveModelSource('./models/nope', options()).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(join(root, 'models', 'nope'));
  });

  it('treats anything else as a Hub id, cached under the cache folder', async () => {
    expect(await resolveModelSource('onnx-community/Qwen2-VL-2B-Instruct', options())).toEqual({
      kind: 'hub',
      id: 'onnx-community/Qwen2-VL-2B-Instruct',
      cacheDir: join(root, 'cache'),
      cachedPath: join(root, 'cache', 'onnx-community', 'Qwen2-VL-2B-Instruct'),
    });
  });

  it('offline, accepts a cached Hub model and refuses a missing one naming model and folder', async () => {
    const offline = { ...options(), offline: true };
    expect((await resolveModelSource('acme/vlm', offline)).kind).toBe('hub');
    const error = await resolveModelSource('onnx-community/Qwen2-VL-2B-Instruct', offline).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('onnx-community/Qwen2-VL-2B-Instruct');
    expect(error.message).toContain(join(root, 'cache', 'onnx-community', 'Qwen2-VL-2B-Instruct'));
    expect(error.message).toMatch(/offline/);
  });

  it('puts the download cache in MEDCAP_MODEL_CACHE, XDG_CACHE_HOME or ~/.cache', () => {
    expect(defaultModelCacheDir({ MEDCAP_MODEL_CACHE: '/data/models' })).toBe('/data/models');
    expect(defaultModelCacheDir({ XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/medcap/models');
    expect(defaultModelCacheDir({})).toBe(join(homedir(), '.cache', 'medcap', 'models'));
  });
});
