import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, MetricError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { defaultModelCache, isOffline, resolveModelFolder } from './model-source.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const TINY = join(ROOT, 'models/tiny-bert');

let cacheDir: string;
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'medcap-source-'));
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

const base = () => ({ offline: false, cacheDir, cwd: ROOT, logger: silentLogger });

describe('resolveModelFolder', () => {
  it('takes a local folder as it is, relative to cwd', async () => {
    const download = vi.fn();
    expect(await resolveModelFolder('models/tiny-bert', { ...base(), download })).toBe(TINY);
    expect(download).not.toHaveBeenCalled();
  });

  it('names what a local folder lacks: a wrong --bertscore-model (exit 1)', async () => {
    const folder = join(cacheDir, 'half');
    await mkdir(folder);
    await writeFile(join(folder, 'config.json'), '{}');
    const half = resolveModelFolder(folder, { ...base(), download: vi.fn() });
    await expect(half).rejects.toThrow(
      `--bertscore-model ${folder}: the folder lacks tokenizer.json, onnx/model.onnx`,
    );
    await expect(half).rejects.toBeInstanceOf(ConfigError);
  });

  it('refuses a path that is not there, or a file, without trying the Hub', async () => {
    const download = vi.fn();
    const missing = resolveModelFolder('./no-such-model', { ...base(), download });
    await expect(missing).rejects.toThrow(
      `--bertscore-model ${join(ROOT, 'no-such-model')}: no such folder (and './no-such-model' is not a Hugging Face model id)`,
    );
    await expect(missing).rejects.toBeInstanceOf(ConfigError);
    await expect(resolveModelFolder('./package.json', { ...base(), download })).rejects.toThrow(
      `--bertscore-model ${join(ROOT, 'package.json')}: is a file, not a model folder`,
    );
    expect(download).not.toHaveBeenCalled();
  });

  it('downloads a Hub id into <cache>/owner/name once, then uses the cache', async () => {
    const download = vi.fn(async (id: string, dir: string) => {
      await cp(TINY, join(dir, ...id.split('/')), { recursive: true });
    });
    const want = join(cacheDir, 'some-org', 'bert');
    expect(await resolveModelFolder('some-org/bert', { ...base(), download })).toBe(want);
    expect(await resolveModelFolder('some-org/bert', { ...base(), download })).toBe(want);
    expect(download).toHaveBeenCalledTimes(1);
    // offline now works from the cache
    expect(
      await resolveModelFolder('some-org/bert', { ...base(), offline: true, download: vi.fn() }),
    ).toBe(want);
  });

  it('turns a failed download into one MetricError naming the model and the folder', async () => {
    const download = vi.fn(async () => {
      throw new Error('HTTP 404');
    });
    const error = await resolveModelFolder('some-org/nothing', { ...base(), download }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MetricError);
    expect((error as Error).message).toContain('some-org/nothing');
    expect((error as Error).message).toContain(join(cacheDir, 'some-org', 'nothing'));
    expect((error as Error).message).toContain('HTTP 404');
  });

  it('says why a download could not reach the Hub (the cause of fetch failed)', async () => {
    const download = vi.fn(async () => {
      throw new TypeError('fetch failed', {
        cause: new Error(
          'connect ECONNREFUSED 10.0.0.1:3128 (the proxy http://10.0.0.1:3128 from HTTPS_PROXY)',
        ),
      });
    });
    const error = await resolveModelFolder('some-org/bert', { ...base(), download }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(
      /: fetch failed: connect ECONNREFUSED 10\.0\.0\.1:3128 \(the proxy http:\/\/10\.0\.0\.1:3128 from HTTPS_PROXY\)$/,
    );
  });

  it('never downloads offline', async () => {
    const download = vi.fn();
    await expect(
      resolveModelFolder('some-org/bert', { ...base(), offline: true, download }),
    ).rejects.toThrow(/not available offline .*looked in/);
    expect(download).not.toHaveBeenCalled();
  });
});

describe('settings', () => {
  it('reads HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE', () => {
    expect(isOffline(false, {})).toBe(false);
    expect(isOffline(true, {})).toBe(true);
    expect(isOffline(false, { HF_HUB_OFFLINE: '1' })).toBe(true);
    expect(isOffline(false, { TRANSFORMERS_OFFLINE: 'true' })).toBe(true);
    expect(isOffline(false, { HF_HUB_OFFLINE: '0' })).toBe(false);
  });

  it('caches models in MEDCAP_MODEL_CACHE, else under XDG_CACHE_HOME', () => {
    expect(defaultModelCache({ MEDCAP_MODEL_CACHE: '/data/models' })).toBe('/data/models');
    expect(defaultModelCache({ XDG_CACHE_HOME: '/c' })).toBe('/c/medcap/models');
  });
});
