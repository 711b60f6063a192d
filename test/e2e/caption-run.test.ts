import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { silentLogger } from '../../src/core/logger.js';
import { CAPTION_COLUMNS, readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { readJournal } from '../../src/pipeline/journal.js';
import { caption } from '../../src/pipeline/run.js';
import { captionConfig } from '../support/config.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { FakeEngine } from '../support/fake-engine.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-run-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const MIXED: [number, number][] = [
  [64, 48],
  [120, 40],
  [64, 48],
  [200, 200],
];

function withoutTiming(rows: Awaited<ReturnType<typeof readCaptionsCsv>>) {
  return rows.map(({ processingTimeS, batchSize, ...rest }) => rest);
}

describe('caption run', () => {
  it('writes the same file format in sequential mode and in batched, cached mode', async () => {
    const data = await writeRocov2(join(root, 'same'), imageSpecs(20, MIXED));
    const sequential = await caption(
      captionConfig({ data, out: join(root, 'seq'), batchSize: 1, cache: false }),
      { engine: new FakeEngine() },
    );
    const engine = new FakeEngine();
    const batched = await caption(
      captionConfig({ data, out: join(root, 'batched'), batchSize: 8, cache: true }),
      { engine },
    );

    const header = (path: string) => readFile(path, 'utf8').then((text) => text.split('\n')[0]);
    expect(await header(sequential.captionsPath)).toBe(CAPTION_COLUMNS.join(','));
    expect(await header(batched.captionsPath)).toBe(CAPTION_COLUMNS.join(','));
    const a = await readCaptionsCsv(sequential.captionsPath);
    const b = await readCaptionsCsv(batched.captionsPath);
    expect(withoutTiming(b)).toEqual(withoutTiming(a));
    expect(a.map((r) => r.batchSize)).toEqual(Array(20).fill(1));
    expect(b.map((r) => r.batchSize)).toEqual(Array(20).fill(8));
    expect(a.map((r) => r.imageId)).toEqual(imageSpecs(20).map((s) => s.id));
    expect(Math.max(...engine.batches)).toBeGreaterThan(1);
    // every batch held one grid (the fake engine throws otherwise) and all 20 were captioned
    expect(engine.batches.reduce((x, y) => x + y, 0)).toBe(20);
    expect(b.every((r) => r.status === 'ok' && r.generatedCaption.length > 0)).toBe(true);
  });

  it('turns a corrupt, an empty and a missing image into one error row each and exits 3', async () => {
    const specs = imageSpecs(6);
    specs[1]!.kind = 'corrupt';
    specs[3]!.kind = 'empty';
    specs[4]!.kind = 'missing';
    const data = await writeRocov2(join(root, 'bad'), specs);
    const out = join(root, 'bad-out');
    const errors: string[] = [];
    const code = await main(['caption', '--data', data, '--out', out, '--batch-size', '4'], {
      engine: new FakeEngine(),
      writeErr: (t) => errors.push(t),
      env: {},
    });
    expect(code).toBe(3);
    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows.map((r) => r.status)).toEqual(['ok', 'error', 'ok', 'error', 'error', 'ok']);
    expect(rows[1]!.error).toMatch(/IMG_0002\.jpg: cannot decode image/);
    expect(rows[3]!.error).toMatch(/IMG_0004\.jpg: empty file/);
    expect(rows[4]!.error).toMatch(/IMG_0005\.jpg/);
    expect(rows[4]!.error).toMatch(/not found/);
    expect(rows.filter((r) => r.status === 'error').every((r) => r.generatedCaption === '')).toBe(
      true,
    );
    expect(errors.join('')).toMatch(/image file not found/);
  });

  it('keeps the cache within its budget, stops caching when it is reached, and still finishes', async () => {
    const data = await writeRocov2(join(root, 'budget'), imageSpecs(40, MIXED));
    const budget = 150_000; // a few prepared images (64x56x3 ≈ 11 KB, 224x224x3 ≈ 150 KB)
    const logs: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (m: string) => logs.push(m),
      error: (m: string) => logs.push(m),
    };
    const result = await caption(
      captionConfig({
        data,
        out: join(root, 'budget-out'),
        batchSize: 8,
        cache: true,
        cacheMemory: budget,
      }),
      { engine: new FakeEngine(), logger },
    );
    expect(result.cachingStopped).toBe(true);
    expect(result.peakCacheBytes).toBeGreaterThan(0);
    expect(result.peakCacheBytes).toBeLessThanOrEqual(budget);
    expect(logs.filter((m) => /caching stops/.test(m))).toHaveLength(1);
    expect(result.rows).toHaveLength(40);
    expect(result.rows.every((r) => r.status === 'ok')).toBe(true);
  });

  it('halves the batch on out-of-memory and loses no image', async () => {
    const data = await writeRocov2(join(root, 'oom'), imageSpecs(19));
    const engine = new FakeEngine({ oomAbove: 3 });
    const result = await caption(
      captionConfig({ data, out: join(root, 'oom-out'), batchSize: 8 }),
      { engine },
    );
    expect(result.rows).toHaveLength(19);
    expect(result.rows.every((r) => r.status === 'ok')).toBe(true);
    expect(Math.max(...engine.batches)).toBeLessThanOrEqual(3);
    expect(result.batchSize).toBe(2);

    const auto = await caption(
      captionConfig({ data, out: join(root, 'oom-auto'), batchSize: 'auto' }),
      {
        engine: new FakeEngine({ oomAbove: 5 }),
      },
    );
    expect(auto.rows.map((r) => r.status)).toEqual(Array(19).fill('ok'));
    // 19 → 10 → 5 (halving rounds up), and the rows record the size in force
    expect(auto.batchSize).toBe(5);
    expect(auto.rows.at(-1)!.batchSize).toBe(5);
  });

  it('writes checkpoints every N images and keeps the newest ones', async () => {
    const data = await writeRocov2(join(root, 'ckpt'), imageSpecs(25));
    const out = join(root, 'ckpt-out');
    await caption(
      captionConfig({ data, out, batchSize: 4, checkpointEvery: 5, keepCheckpoints: 2 }),
      {
        engine: new FakeEngine(),
      },
    );
    const names = (await readdir(out)).filter((n) => n.startsWith('checkpoint_')).sort();
    expect(names).toEqual(['checkpoint_20.csv', 'checkpoint_25.csv']);
    const rows = await readCaptionsCsv(join(out, 'checkpoint_20.csv'));
    expect(rows).toHaveLength(20);
  });

  it('splits a dataset into disjoint shards whose union is the whole', async () => {
    const data = await writeRocov2(join(root, 'shard'), imageSpecs(30));
    const ids: string[][] = [];
    for (const index of [0, 1, 2]) {
      const result = await caption(
        captionConfig({ data, out: join(root, `shard-${index}`), shard: `${index}/3` }),
        { engine: new FakeEngine() },
      );
      ids.push(result.rows.map((r) => r.imageId));
    }
    const all = ids.flat();
    expect(new Set(all).size).toBe(30);
    expect(all).toHaveLength(30);
    expect(ids.every((part) => part.length > 0)).toBe(true);
  });

  it('checks the dataset layout before making --out, and run looks for it once', async () => {
    const empty = join(root, 'no-layout');
    await mkdir(empty, { recursive: true });
    for (const format of ['rocov2', 'roco', 'parquet', 'auto']) {
      const out = join(root, `no-layout-out-${format}`);
      await expect(
        caption(captionConfig({ data: empty, out, format }), { engine: new FakeEngine() }),
      ).rejects.toThrow(`--data ${empty}: `);
      expect(existsSync(out), format).toBe(false);
    }
    const data = await writeRocov2(join(root, 'detect-once'), imageSpecs(3));
    const out = join(root, 'detect-once-out');
    const detected: boolean[] = [];
    const code = await main(
      ['run', '--data', data, '--out', out, '--metrics', 'bleu', '--bootstrap', '0'],
      {
        engine: new FakeEngine(),
        // whether --out was there when the layout was told
        writeErr: (text) => {
          if (text.includes('dataset: detected rocov2 layout')) detected.push(existsSync(out));
        },
        env: {},
      },
    );
    expect(code).toBe(0);
    expect(detected).toEqual([false]);
  });

  it('refuses to overwrite a finished journal without --resume or --overwrite', async () => {
    const data = await writeRocov2(join(root, 'again'), imageSpecs(3));
    const out = join(root, 'again-out');
    await caption(captionConfig({ data, out }), { engine: new FakeEngine() });
    await expect(
      caption(captionConfig({ data, out }), { engine: new FakeEngine() }),
    ).rejects.toThrow(/--resume/);
    const again = await caption(captionConfig({ data, out, overwrite: true }), {
      engine: new FakeEngine(),
    });
    expect(again.rows).toHaveLength(3);
  });

  it('resumes without captioning finished images again', async () => {
    const data = await writeRocov2(join(root, 'resume'), imageSpecs(12));
    const out = join(root, 'resume-out');
    await caption(captionConfig({ data, out, limit: 5 }), { engine: new FakeEngine() });
    await unlink(join(out, 'medical_captions_train.csv'));
    const engine = new FakeEngine();
    const result = await caption(captionConfig({ data, out, resume: true }), { engine });
    expect(result.resumed).toBe(5);
    expect(result.processed).toBe(7);
    expect(engine.batches.reduce((a, b) => a + b, 0)).toBe(7);
    expect(result.rows.map((r) => r.imageId)).toEqual(imageSpecs(12).map((s) => s.id));
  });

  it('resumes with the references, concepts and image paths of the dataset as it is now', async () => {
    const dir = join(root, 'corrected');
    const specs = imageSpecs(4);
    const data = await writeRocov2(dir, specs, { concepts: { IMG_0001: 'C0001' } });
    const out = join(root, 'corrected-out');
    const first = await caption(captionConfig({ data, out, limit: 2 }), {
      engine: new FakeEngine(),
    });
    const corrected = specs.map((s) => ({ ...s, caption: `${s.caption} Corrected.` }));
    await writeRocov2(dir, corrected, { concepts: { IMG_0001: 'C0002' } });
    const warnings: string[] = [];
    const infos: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (m: string) => warnings.push(m),
      info: (m: string) => infos.push(m),
    };
    const result = await caption(captionConfig({ data, out, resume: true }), {
      engine: new FakeEngine(),
      logger,
    });
    expect(result.resumed).toBe(2);
    // The last line's counts are of every row, and it says so.
    expect(infos.find((m) => m.startsWith('done: '))).toMatch(
      /^done: 2 images in .* \(and 2 done before: 4 rows\), 0 failed, /,
    );
    const rows = await readCaptionsCsv(result.captionsPath);
    expect(rows.map((r) => r.references)).toEqual(corrected.map((s) => [s.caption]));
    expect(rows[0]!.concepts).toEqual(['C0002']);
    // What the engine made for the journaled images stays.
    expect(rows.slice(0, 2).map((r) => r.generatedCaption)).toEqual(
      first.rows.map((r) => r.generatedCaption),
    );
    expect(warnings.filter((w) => w.includes('dataset'))).toEqual([]);
    // The journal says so too (merge reads it): the last line of each image wins.
    const journal = await readJournal(join(out, 'medical_captions_train.journal.jsonl'));
    expect([...journal.items.values()].map((item) => item.references)).toEqual(
      corrected.map((s) => [s.caption]),
    );
  });

  it('warns on --resume from another --data, naming both', async () => {
    const data = await writeRocov2(join(root, 'moved-a'), imageSpecs(3));
    const copy = await writeRocov2(join(root, 'moved-b'), imageSpecs(3));
    const out = join(root, 'moved-out');
    await caption(captionConfig({ data, out, limit: 2 }), { engine: new FakeEngine() });
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    await caption(captionConfig({ data: copy, out, resume: true }), {
      engine: new FakeEngine(),
      logger,
    });
    expect(warnings).toContainEqual(
      expect.stringContaining(`written from the dataset ${data}; this run reads --data ${copy}`),
    );
  });

  it('refuses to resume over a dataset whose order changed since the journal, naming the images', async () => {
    const dir = join(root, 'changed');
    const data = await writeRocov2(dir, imageSpecs(6).slice(1));
    const out = join(root, 'changed-out');
    await caption(captionConfig({ data, out, limit: 3 }), { engine: new FakeEngine() });
    // An image added that sorts first: every position moves by one.
    await writeRocov2(dir, imageSpecs(6));
    const engine = new FakeEngine();
    await expect(caption(captionConfig({ data, out, resume: true }), { engine })).rejects.toThrow(
      /^--resume: --data .* is not the dataset the journal was written from \(image 1 is IMG_0001 now, IMG_0002 in the journal; image 2 is IMG_0002 now, IMG_0003 in the journal; image 3 is IMG_0003 now, IMG_0004 in the journal\)/,
    );
    expect(engine.batches).toEqual([]);
  });

  it('--resume --retry-failed captions the failed images again, and only those', async () => {
    const data = await writeRocov2(join(root, 'retry'), imageSpecs(10));
    const out = join(root, 'retry-out');
    const failIds = ['IMG_0002', 'IMG_0007'];
    const first = await caption(captionConfig({ data, out, batchSize: 4 }), {
      engine: new FakeEngine({ failIds }),
    });
    expect(first.rows.filter((r) => r.status === 'error').map((r) => r.imageId)).toEqual(failIds);

    // Plain --resume keeps the error rows: they are done.
    const plain = new FakeEngine();
    await caption(captionConfig({ data, out, resume: true }), { engine: plain });
    expect(plain.batches).toEqual([]);

    const engine = new FakeEngine();
    const retried = await caption(
      captionConfig({ data, out, batchSize: 4, resume: true, retryFailed: true }),
      { engine },
    );
    expect(engine.batches.reduce((a, b) => a + b, 0)).toBe(2);
    expect(retried.resumed).toBe(8);
    expect(retried.rows.map((r) => r.imageId)).toEqual(imageSpecs(10).map((s) => s.id));
    expect(retried.rows.every((r) => r.status === 'ok')).toBe(true);
    const csv = await readCaptionsCsv(retried.captionsPath);
    expect(csv.filter((r) => r.status === 'error')).toEqual([]);
    expect(csv).toHaveLength(10);

    // The journal keeps both lines of a retried image; a later reader takes the newer one.
    const again = await caption(captionConfig({ data, out, resume: true }), {
      engine: new FakeEngine(),
    });
    expect(again.rows.every((r) => r.status === 'ok')).toBe(true);
  });

  it('refuses --retry-failed without --resume', async () => {
    const data = await writeRocov2(join(root, 'retry-alone'), imageSpecs(2));
    await expect(
      caption(captionConfig({ data, out: join(root, 'retry-alone-out'), retryFailed: true }), {
        engine: new FakeEngine(),
      }),
    ).rejects.toThrow(/--retry-failed: only with --resume/);
  });

  it('stops after the batch in flight when interrupted, and --resume finishes the job', async () => {
    const data = await writeRocov2(join(root, 'interrupt'), imageSpecs(16));
    const out = join(root, 'interrupt-out');
    const controller = new AbortController();
    const engine = new FakeEngine();
    const generate = engine.generate.bind(engine);
    engine.generate = async (batch, options, signal) => {
      controller.abort();
      // an engine that honours its signal would fail the batch in flight: the run must not pass it
      if (signal?.aborted) throw new Error('aborted mid-batch');
      return generate(batch, options);
    };
    const first = await caption(captionConfig({ data, out, batchSize: 4 }), {
      engine,
      signal: controller.signal,
    });
    expect(first.interrupted).toBe(true);
    expect(first.rows).toHaveLength(4);
    expect(first.rows.every((r) => r.status === 'ok')).toBe(true);
    const second = await caption(captionConfig({ data, out, batchSize: 4, resume: true }), {
      engine: new FakeEngine(),
    });
    expect(second.interrupted).toBe(false);
    expect(second.rows.map((r) => r.imageId)).toEqual(imageSpecs(16).map((s) => s.id));
  });

  it('gives server engines full batches of mixed sizes, even without the cache', async () => {
    const data = await writeRocov2(join(root, 'server'), imageSpecs(12, MIXED));
    const engine = new FakeEngine({ serverBatchSize: 4 });
    const result = await caption(
      captionConfig({ data, out: join(root, 'server-out'), batchSize: 1, cache: false }),
      {
        engine,
      },
    );
    expect(engine.batches).toEqual([4, 4, 4]);
    expect(engine.grids[0]!.length).toBeGreaterThan(1);
    expect(result.rows.map((r) => r.batchSize)).toEqual(Array(12).fill(4));
  });

  it('keeps several server batches in flight, so one slow request does not hold up the rest', async () => {
    const data = await writeRocov2(join(root, 'slow'), imageSpecs(12));
    const engine = new FakeEngine({ serverBatchSize: 3, slowId: { id: 'IMG_0002', delayMs: 400 } });
    const out = join(root, 'slow-out');
    const result = await caption(captionConfig({ data, out }), { engine });
    const journal = (await readFile(join(out, 'medical_captions_train.journal.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; id: string })
      .filter((line) => line.kind === 'item')
      .map((line) => line.id);
    // the batch holding IMG_0002 finished last, after batches that started later
    expect(journal.slice(0, 3)).toEqual(['IMG_0004', 'IMG_0005', 'IMG_0006']);
    expect(journal.slice(-3)).toEqual(['IMG_0001', 'IMG_0002', 'IMG_0003']);
    // and the CSV is still in dataset order
    expect(result.rows.map((r) => r.imageId)).toEqual(imageSpecs(12).map((s) => s.id));
  });
});
