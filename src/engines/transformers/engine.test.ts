import { describe, expect, it } from 'vitest';
import {
  loadReference,
  referenceImage,
  TINY_MODEL_DIR,
  TINY_MODEL_SETTINGS,
} from '../../../test/fixtures/tiny-qwen2-vl/reference.js';
import { EngineError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { runEngineContract } from '../../testing/engine-contract.js';
import { createEngineFromModel, toEngineError } from './engine.js';
import { createTransformersEngine } from './index.js';
import { loadTransformersModel } from './load.js';

const ref = loadReference();
const settings = TINY_MODEL_SETTINGS;

runEngineContract({
  name: 'transformers (tiny Qwen2-VL)',
  create: () => createTransformersEngine(settings, { logger: silentLogger }),
  images: () => [0, 1, 2, 3].map((i) => referenceImage(ref.images[i]!, `img-${i}`)),
  options: { prompt: ref.prompt, maxNewTokens: 12 },
});

describe('transformers engine', () => {
  it('reports the model as given and the device in use', async () => {
    const engine = await createTransformersEngine(
      { ...settings, device: 'auto' },
      { logger: silentLogger },
    );
    expect(engine.model).toBe(TINY_MODEL_DIR);
    // No GPU here: auto falls back to the CPU.
    expect(['cpu', 'webgpu', 'cuda']).toContain(engine.device);
    await engine.dispose();
  });

  it('marks ONNX Runtime allocation failures as out-of-memory and keeps other errors plain', () => {
    const oom = toEngineError(
      new Error('Failed to allocate memory for requested buffer of size 1073741824'),
      8,
    );
    expect(oom).toBeInstanceOf(EngineError);
    expect((oom as EngineError).outOfMemory).toBe(true);
    expect(oom.message).toMatch(/batch of 8/);
    const other = toEngineError(new Error('Non-zero status code returned while running Gather'), 2);
    expect((other as EngineError).outOfMemory).toBe(false);
  });

  it('turns an allocation failure inside generate into an out-of-memory EngineError', async () => {
    const loaded = await loadTransformersModel(settings, { logger: silentLogger });
    const real = loaded.model;
    const engine = createEngineFromModel(
      {
        ...loaded,
        model: {
          config: real.config,
          generation_config: real.generation_config ?? null,
          dispose: () => real.dispose(),
          generate: async () => {
            throw new Error('Failed to allocate memory for requested buffer of size 99');
          },
        },
      },
      settings,
      { logger: silentLogger },
    );
    const batch = [0, 1].map((i) => referenceImage(ref.images[i]!));
    await expect(
      engine.generate(batch, { prompt: ref.prompt, maxNewTokens: 4 }),
    ).rejects.toMatchObject({ name: 'EngineError', outOfMemory: true });
    await engine.dispose();
  });

  it('refuses a batch that mixes image sizes, and says it blocks the thread (the run watches it for hangs)', async () => {
    const engine = await createTransformersEngine(settings, { logger: silentLogger });
    expect(engine.blocksThread).toBe(true);
    const batch = [referenceImage(ref.images[0]!), referenceImage(ref.images[4]!)];
    await expect(engine.generate(batch, { prompt: ref.prompt, maxNewTokens: 4 })).rejects.toThrow(
      /one size/,
    );
    await engine.dispose();
  });
});

describe('MEDCAP_PROFILE=1', () => {
  it('logs vision, prefill and one decode run per new token after the first, and changes no token', async () => {
    const batch = [0, 1].map((i) => referenceImage(ref.images[i]!));
    const options = { prompt: ref.prompt, maxNewTokens: 6 };
    const lines: string[] = [];
    const logger = { ...silentLogger, info: (message: string) => lines.push(message) };
    const plain = createEngineFromModel(
      await loadTransformersModel(settings, { logger: silentLogger }),
      settings,
      { logger: silentLogger },
      {},
    );
    const expected = await plain.generate(batch, options);
    await plain.dispose();
    const profiled = createEngineFromModel(
      await loadTransformersModel(settings, { logger: silentLogger }),
      settings,
      { logger },
      { MEDCAP_PROFILE: '1' },
    );
    const captions = await profiled.generate(batch, options);
    await profiled.dispose();
    expect(captions).toEqual(expected);
    const profile = lines.find((l) => l.startsWith('profile: '));
    expect(profile).toMatch(/vision 1 runs [0-9.]+ s/);
    expect(profile).toMatch(/prefill 1 runs/);
    expect(profile).toMatch(/peak RSS [0-9]+ MiB/);
    // generate stops at the end-of-sequence token or after maxNewTokens: the first token
    // comes from the prefill, each later one from one decode run.
    const decodeRuns = Number(/decode ([0-9]+) runs/.exec(profile ?? '')?.[1] ?? 0);
    expect(decodeRuns).toBeLessThanOrEqual(options.maxNewTokens - 1);
  });
});
