import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { COMMON_OPTIONS, EVALUATE_OPTIONS } from '../../src/config/schema.js';
import type { EvaluateConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { evaluate } from '../../src/metrics/evaluate.js';
import { caption } from '../../src/pipeline/run.js';
import { captionConfig } from '../support/config.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { FakeEngine } from '../support/fake-engine.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-resume-settings-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('resume with other generation settings', () => {
  it('records the settings in the start line and aggregate.json, and refuses to mix others in', async () => {
    const data = await writeRocov2(join(root, 'data'), imageSpecs(8));
    const out = join(root, 'out');
    await caption(captionConfig({ data, out, limit: 4 }), { engine: new FakeEngine() });
    const start = JSON.parse(
      (await readFile(join(out, 'medical_captions_train.journal.jsonl'), 'utf8')).split('\n')[0]!,
    );
    expect(start.generation.maxNewTokens).toBeGreaterThan(3);
    const engine = new FakeEngine();
    const other = { data, out, limit: 8, resume: true, prompt: 'Write a haiku.', maxNewTokens: 3 };
    await expect(caption(captionConfig(other), { engine })).rejects.toThrow(
      /--prompt: .* in the journal, "Write a haiku\." now; --max-new-tokens: \d+ in the journal, 3 now/,
    );
    expect(engine.batches).toEqual([]);
    const notes: string[] = [];
    const logger = { ...silentLogger, info: (m: string) => notes.push(m) };
    const same = await caption(captionConfig({ data, out, limit: 8, resume: true }), {
      engine,
      logger,
    });
    expect(same.rows).toHaveLength(8);
    // a trial run grown to more images: allowed, and said
    expect(notes.join('\n')).toMatch(
      /resume: the journal was started with --limit 4, and this run has --limit 8; the 4 image\(s\) it holds are kept/,
    );
    const config = loadConfig({
      specs: [...COMMON_OPTIONS, ...EVALUATE_OPTIONS],
      flags: { captions: same.captionsPath, out, metrics: ['bleu'] },
      env: {},
      cwd: root,
    }) as unknown as EvaluateConfig;
    const { aggregate } = await evaluate(config, { logger: silentLogger });
    expect(aggregate.run.generation).toEqual(start.generation);
  });
});

describe('resume with nothing left to caption', () => {
  it('rewrites the files from the journal without starting the engine (a model that cannot load now)', async () => {
    const data = await writeRocov2(join(root, 'data-done'), imageSpecs(4));
    const out = join(root, 'out-done');
    const first = await caption(captionConfig({ data, out }), { engine: new FakeEngine() });
    const csv = await readFile(first.captionsPath, 'utf8');
    await rm(first.captionsPath);
    const again = await caption(
      captionConfig({ data, out, resume: true, model: join(root, 'no-such-model'), offline: true }),
    );
    expect(again.processed).toBe(0);
    expect(again.resumed).toBe(4);
    expect(await readFile(again.captionsPath, 'utf8')).toBe(csv);
  });
});

describe('resume into a shard of another number, or over captions without a journal', () => {
  it('refuses --resume with another --shard, or none, naming both', async () => {
    const data = await writeRocov2(join(root, 'data-shards'), imageSpecs(8));
    const out = join(root, 'out-shard');
    await caption(captionConfig({ data, out, shard: '1/4' }), { engine: new FakeEngine() });
    const engine = new FakeEngine();
    await expect(
      caption(captionConfig({ data, out, shard: '2/4', resume: true }), { engine }),
    ).rejects.toThrow(
      /--resume: the journal .* was written for shard 1\/4, and this run asks for shard 2\/4: .*Resume with --shard 1\/4, or give this one another --out/,
    );
    await expect(caption(captionConfig({ data, out, resume: true }), { engine })).rejects.toThrow(
      /written for shard 1\/4, and this run asks for the whole split \(no --shard\)/,
    );
    expect(engine.batches).toEqual([]);
    const same = await caption(captionConfig({ data, out, shard: '1/4', resume: true }), {
      engine,
    });
    expect(same.rows).toHaveLength(2);
  });

  it('refuses to caption over a captions CSV that has no journal beside it, unless --overwrite', async () => {
    const data = await writeRocov2(join(root, 'data-csv-only'), imageSpecs(4));
    const out = join(root, 'out-csv-only');
    const first = await caption(captionConfig({ data, out }), { engine: new FakeEngine() });
    const csv = await readFile(first.captionsPath, 'utf8');
    await rm(first.journalPath);
    for (const resume of [false, true]) {
      await expect(
        caption(captionConfig({ data, out, resume }), { engine: new FakeEngine() }),
      ).rejects.toThrow(
        /medical_captions_train\.csv holds captioned images but there is no journal beside it .*Pass --overwrite to replace them/,
      );
      expect(await readFile(first.captionsPath, 'utf8')).toBe(csv);
    }
    const replaced = await caption(captionConfig({ data, out, overwrite: true }), {
      engine: new FakeEngine(),
    });
    expect(replaced.rows).toHaveLength(4);
  });
});

describe('checkpoints of two splits in one --out', () => {
  it('warns that checkpoint_{n}.csv names no split, so the two runs share those files', async () => {
    const root2 = join(root, 'splits');
    await writeRocov2(root2, imageSpecs(4), { split: 'train' });
    await writeRocov2(root2, imageSpecs(4), { split: 'valid' });
    const out = join(root, 'out-splits');
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    const run = (split: string, checkpointEvery: number) =>
      caption(captionConfig({ data: root2, out, split, checkpointEvery, overwrite: true }), {
        engine: new FakeEngine(),
        logger,
      });
    await run('train', 2);
    expect(warnings.join('\n')).not.toMatch(/checkpoint/);
    await run('valid', 0); // no checkpoints: nothing to say
    expect(warnings.join('\n')).not.toMatch(/checkpoint/);
    await run('valid', 2);
    expect(warnings.join('\n')).toMatch(
      /--checkpoint-every: --out .*out-splits also holds the run of split train, and checkpoint_\{n\}\.csv names no split/,
    );
  });
});
