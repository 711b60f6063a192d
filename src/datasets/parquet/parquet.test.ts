import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HfRow, hfShard, type ShardOptions } from '../../../test/fixtures/parquet/write.js';
import { captionConfig } from '../../../test/support/config.js';
import { jpeg } from '../../../test/support/datasets.js';
import { FakeEngine } from '../../../test/support/fake-engine.js';
import { ConfigError, ImageError } from '../../core/errors.js';
import { readCaptionsCsv } from '../../formats/captions-csv.js';
import { caption } from '../../pipeline/run.js';
import type { Sample } from '../types.js';
import { parquetColumns } from './columns.js';
import { ParquetImages, rowBlocks } from './images.js';
import { parquetLoader } from './index.js';
import { inSplit, parquetShards } from './shards.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-parquet-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function shard(path: string, rows: HfRow[], options?: ShardOptions): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, hfShard(rows, options));
  return path;
}

async function collect(path: string, split = 'train'): Promise<Sample[]> {
  const samples: Sample[] = [];
  for await (const sample of parquetLoader.load({ path, split })) samples.push(sample);
  return samples;
}

async function rocoRows(prefix: string, count: number): Promise<HfRow[]> {
  const rows: HfRow[] = [];
  for (let i = 0; i < count; i++) {
    rows.push({
      id: `${prefix}_${String(i).padStart(3, '0')}`,
      caption: `Caption ${prefix} ${i}, with "quotes" and ünïcode.`,
      cuis: i % 2 === 0 ? ['C0040405', `C00000${i}`] : [],
      image: await jpeg(24 + i, 16, i + 1),
    });
  }
  return rows;
}

describe('parquet: Hugging Face ROCOv2 shards', () => {
  it('reads the shards of --split in order, row group by row group, with concepts', async () => {
    const dir = join(root, 'hub');
    const train0 = await rocoRows('train0', 7);
    const train1 = await rocoRows('train1', 3);
    await shard(join(dir, 'data', 'train-00001-of-00002.parquet'), train1, { rowGroupSize: 2 });
    await shard(join(dir, 'data', 'train-00000-of-00002.parquet'), train0, { rowGroupSize: 3 });
    await shard(join(dir, 'data', 'validation-00000-of-00001.parquet'), await rocoRows('v', 2));
    await writeFile(join(dir, 'README.md'), '---\ndataset_info: x\n---\n');

    const samples = await collect(dir, 'train');
    expect(samples.map((s) => s.id)).toEqual([...train0, ...train1].map((r) => r.id));
    expect(samples.map((s) => s.index)).toEqual([...Array(10).keys()]);
    expect(samples[8]!.imagePath).toBe(join(dir, 'data', 'train-00001-of-00002.parquet#1'));
    expect(samples[1]!.references).toEqual(['Caption train0 1, with "quotes" and ünïcode.']);
    expect(samples[4]!.concepts).toEqual(['C0040405', 'C000004']);
    expect(samples[5]!.concepts).toEqual([]);
    expect(samples.every((s) => s.problem === undefined)).toBe(true);

    // Bytes come back exactly, from any row group, in any order.
    for (const i of [9, 0, 4, 3, 8]) {
      const expected = [...train0, ...train1][i]!.image!;
      expect(Buffer.from(await samples[i]!.readImage()).equals(Buffer.from(expected))).toBe(true);
    }
    const meta = await sharp(await samples[6]!.readImage()).metadata();
    expect([meta.format, meta.width]).toEqual(['jpeg', 30]);

    // `--split valid` finds `data/validation-*` (another name of the split).
    expect((await collect(dir, 'valid')).map((s) => s.id)).toEqual(['v_000', 'v_001']);
    await expect(collect(dir, 'test')).rejects.toThrow(
      /--data .*hub: parquet: no shard of --split test in it \(expected \{split\}-\*\.parquet, .*found: data\/train-00000/,
    );
    // The options name shards that are not there: a wrong value (exit 1), not a runtime failure.
    await expect(collect(dir, 'test')).rejects.toBeInstanceOf(ConfigError);
  });

  it('reads the id/text/binary variant, CUIs in one string, and gzip pages', async () => {
    const file = join(root, 'plain', 'radiology.parquet');
    const rows: HfRow[] = [
      { id: 17, caption: 'CT abdomen', cuis: 'C0040405;C1306645', image: await jpeg(8, 8, 1) },
      { id: 18, caption: null, cuis: "['C0024485', 'C0817096']", image: await jpeg(8, 8, 2) },
    ];
    await shard(file, rows, { layout: 'plain', codec: 'GZIP' });
    expect(await parquetLoader.detect({ path: file, split: 'whatever' })).toBe(true);
    const samples = await collect(file, 'whatever');
    expect(samples.map((s) => [s.id, s.references, s.concepts])).toEqual([
      ['17', ['CT abdomen'], ['C0040405', 'C1306645']],
      ['18', [], ['C0024485', 'C0817096']],
    ]);
    expect(samples[0]!.problem).toBeUndefined();
    expect(samples[1]!.problem).toEqual({
      message: expect.stringMatching(/radiology\.parquet#1: no reference caption for '18'/),
      fatal: false,
    });
    expect(Buffer.from(await samples[1]!.readImage()).equals(Buffer.from(rows[1]!.image!))).toBe(
      true,
    );
  });

  it('turns missing or empty image bytes into an error naming the file and row', async () => {
    const file = join(root, 'bad-images', 'train-0.parquet');
    await shard(
      file,
      [
        { id: 'ok', caption: 'fine', image: await jpeg(8, 8, 1) },
        { id: 'null', caption: 'no image', image: null },
        { id: 'empty', caption: 'zero bytes', image: new Uint8Array(0) },
        { id: 'path', caption: 'path only', image: null, pathOnly: 'images/elsewhere.jpg' },
        { id: 'ok', caption: 'duplicate', image: await jpeg(8, 8, 2) },
        { id: null, caption: 'no id', image: await jpeg(8, 8, 3) },
      ],
      { rowGroupSize: 4 },
    );
    const samples = await collect(join(root, 'bad-images'));
    expect((await samples[0]!.readImage()).byteLength).toBeGreaterThan(100);
    const failure = async (i: number) => {
      const error = await samples[i]!.readImage().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ImageError);
      return (error as Error).message;
    };
    expect(await failure(1)).toMatch(/train-0\.parquet#1: no image bytes in column 'image'$/);
    expect(await failure(2)).toMatch(/train-0\.parquet#2: empty image bytes in column 'image'/);
    expect(await failure(3)).toMatch(
      /train-0\.parquet#3: no image bytes in column 'image' \(path 'images\/elsewhere\.jpg'\)/,
    );
    expect(samples[4]!.problem).toEqual({
      message: expect.stringMatching(/#4: duplicate id 'ok' \(first at .*train-0\.parquet#0\)/),
      fatal: true,
    });
    expect(samples[5]!.id).toBe('train-0-5');
    expect(samples[5]!.problem).toEqual({
      message: expect.stringMatching(/#5: empty 'image_id', using 'train-0-5'/),
      fatal: false,
    });
  });

  it('names the file when it is not parquet or has no image column', async () => {
    const dir = join(root, 'broken');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'train-0.parquet'), 'PAR1 this is not a parquet file PAR1');
    await expect(collect(dir)).rejects.toThrow(/train-0\.parquet: not a readable parquet file/);
    const other = join(root, 'no-image');
    await shard(join(other, 'train.parquet'), [{ id: 1, caption: 'b', image: null }], {
      layout: 'plain',
    });
    const file = join(other, 'train.parquet');
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(file));
    // A text column called `image` is not image bytes.
    metadata.schema = metadata.schema.map((e) =>
      e.name === 'image' ? { ...e, converted_type: 'UTF8' } : e,
    );
    expect(() => parquetColumns(metadata, file)).toThrow(
      /train\.parquet: column 'image' does not hold image bytes/,
    );
    metadata.schema = metadata.schema.map((e) => (e.name === 'image' ? { ...e, name: 'x' } : e));
    expect(() => parquetColumns(metadata, file)).toThrow(
      /train\.parquet: no image column \(looked for image, .*found: id, text, x, cui\)/,
    );
    await expect(collect(join(root, 'nowhere'))).rejects.toThrow(
      /--data .*nowhere: no such file or folder/,
    );
  });
});

describe('parquet: image bytes are read one block at a time', () => {
  /** ParquetImages over a file, counting the bytes it fetches after the footer. */
  async function imagesOf(file: string, blockBytes?: number) {
    const inner = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(inner);
    const fetched = { bytes: 0 };
    const buffer = {
      byteLength: inner.byteLength,
      slice(start: number, end?: number) {
        fetched.bytes += (end ?? inner.byteLength) - start;
        return inner.slice(start, end);
      },
    };
    const columns = parquetColumns(metadata, file);
    return Object.assign(new ParquetImages(file, buffer, metadata, columns.image, blockBytes), {
      fetched,
    });
  }

  it('reads each row group once when rows are asked for in order, and keeps only one', async () => {
    const file = await shard(join(root, 'blocks', 'a.parquet'), await rocoRows('b', 10), {
      rowGroupSize: 4,
    });
    const images = await imagesOf(file);
    // Concurrent requests in dataset order, as the run's prefetch makes them.
    await Promise.all([...Array(10).keys()].map((row) => images.read(row)));
    expect(images.reads).toBe(3);
    // Going back to a block already dropped reads it again: nothing else is retained.
    await images.read(0);
    await images.read(5);
    await images.read(1);
    expect(images.reads).toBe(6);
    await expect(images.read(10)).rejects.toThrow(/a\.parquet#10: no such row/);
  });

  it('cuts a large row group into slices when the file has an offset index', async () => {
    const rows = await rocoRows('big', 12);
    const indexed = await shard(join(root, 'blocks', 'indexed.parquet'), rows, {
      rowGroupSize: 12,
      pageSize: 256,
    });
    const plain = await shard(join(root, 'blocks', 'no-index.parquet'), rows, {
      rowGroupSize: 12,
      pageSize: 256,
      offsetIndex: false,
    });
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(indexed));
    const size = Number(
      metadata.row_groups[0]!.columns.find((c) => c.meta_data?.path_in_schema[1] === 'bytes')!
        .meta_data!.total_compressed_size,
    );
    expect(rowBlocks(metadata, 'image', Math.ceil(size / 3))).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 12 },
    ]);
    const sliced = await imagesOf(indexed, Math.ceil(size / 3));
    const whole = await imagesOf(plain, Math.ceil(size / 3));
    await sliced.read(5);
    await whole.read(5);
    // The slice's pages (plus the small path chunk and the offset index), not the whole chunk.
    expect(sliced.fetched.bytes).toBeLessThan(size * 0.6);
    expect(whole.fetched.bytes).toBeGreaterThanOrEqual(size);
    for (let row = 0; row < 12; row++) {
      const a = await sliced.read(row);
      const b = await whole.read(row);
      expect(Buffer.from(a).equals(Buffer.from(rows[row]!.image!))).toBe(true);
      expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    }
    expect([sliced.reads, whole.reads]).toEqual([4, 1]);
  });
});

describe('parquet: shard selection', () => {
  it('matches Hugging Face shard names to splits', () => {
    expect(inSplit('data/train-00000-of-00012.parquet', 'train')).toBe(true);
    expect(inSplit('data/train-00000-of-00012.parquet', 'test')).toBe(false);
    expect(inSplit('data/validation-00000-of-00001.parquet', 'validation')).toBe(true);
    expect(inSplit('data/validation-00000-of-00001.parquet', 'valid')).toBe(false);
    expect(inSplit('validation-00000.parquet', 'valid')).toBe(false);
    expect(inSplit('data/rocov2-valid-0.parquet', 'valid')).toBe(true);
    // Another split's Hub shard name, and a word that holds the split's name.
    expect(inSplit('data/test_unlabeled-00000-of-00001.parquet', 'test')).toBe(false);
    expect(inSplit('data/latest-00000.parquet', 'test')).toBe(false);
    expect(inSplit('default/test/0000.parquet', 'test')).toBe(true);
    expect(inSplit('train.parquet', 'train')).toBe(true);
    expect(inSplit('Train_part2.parquet', 'train')).toBe(true);
    expect(inSplit('trainee.parquet', 'train')).toBe(false);
  });

  it('reads every shard of a folder whose names give no split, in sorted order', async () => {
    const dir = join(root, 'unnamed');
    for (const name of ['b.parquet', 'a.parquet', join('sub', 'c.parquet')])
      await shard(join(dir, name), [{ id: name, caption: 'x', image: new Uint8Array([1]) }]);
    expect(await parquetShards(dir, 'train')).toEqual(
      ['a.parquet', 'b.parquet', join('sub', 'c.parquet')].map((n) => join(dir, n)),
    );
    expect(await parquetLoader.detect({ path: dir, split: 'train' })).toBe(true);
    expect(await parquetLoader.detect({ path: join(root, 'blocks', 'x.csv'), split: 'a' })).toBe(
      false,
    );
  });

  it('finds shards that are symbolic links, as in the Hugging Face cache (snapshots → blobs)', async () => {
    const repo = join(root, 'datasets--eltorio--ROCOv2-radiology');
    const data = join(repo, 'snapshots', '0123abc', 'data');
    await mkdir(data, { recursive: true });
    for (const [k, name] of ['train-00000-of-00001', 'test-00000-of-00001'].entries()) {
      await shard(join(repo, 'blobs', `blob${k}`), await rocoRows(name, 2));
      await symlink(join(repo, 'blobs', `blob${k}`), join(data, `${name}.parquet`));
    }
    await symlink(join(repo, 'blobs', 'gone'), join(data, 'train-00001-of-00001.parquet'));
    const snapshot = join(repo, 'snapshots', '0123abc');
    expect(await parquetLoader.detect({ path: snapshot, split: 'train' })).toBe(true);
    expect(await parquetShards(repo, 'train')).toEqual([
      join(data, 'train-00000-of-00001.parquet'),
    ]);
    expect((await collect(snapshot, 'test')).map((s) => s.id)).toEqual([
      'test-00000-of-00001_000',
      'test-00000-of-00001_001',
    ]);
  });
});

describe('parquet: which shards a split reads', () => {
  const names = (files: string[], dir: string) => files.map((f) => f.slice(dir.length + 1));

  it("reads {split}-*, not another split's shards that start with its name", async () => {
    const dir = join(root, 'splits-hub');
    for (const name of ['test', 'test_unlabeled', 'test_clean', 'train'])
      await shard(join(dir, 'data', `${name}-00000-of-00001.parquet`), await rocoRows(name, 1));
    expect(names(await parquetShards(dir, 'test'), dir)).toEqual([
      join('data', 'test-00000-of-00001.parquet'),
    ]);
    expect(names(await parquetShards(dir, 'test_unlabeled'), dir)).toEqual([
      join('data', 'test_unlabeled-00000-of-00001.parquet'),
    ]);
  });

  it('reads the split under its other name (valid, validation), and says so', async () => {
    const dir = join(root, 'splits-alias');
    await shard(join(dir, 'default', 'validation', '0000.parquet'), await rocoRows('v', 1));
    await shard(join(dir, 'default', 'train', '0000.parquet'), await rocoRows('t', 1));
    const told: string[] = [];
    expect(names(await parquetShards(dir, 'valid', (m) => told.push(m)), dir)).toEqual([
      join('default', 'validation', '0000.parquet'),
    ]);
    expect(told).toEqual([
      'dataset: --split valid: no valid shards, reading the validation shards',
    ]);
    const other = join(root, 'splits-alias-valid');
    await shard(join(other, 'valid.parquet'), await rocoRows('v', 1));
    await shard(join(other, 'train.parquet'), await rocoRows('t', 1));
    expect(names(await parquetShards(other, 'validation'), other)).toEqual(['valid.parquet']);
  });

  it('reads only the snapshot refs/main names in a Hugging Face cache folder, else the newest', async () => {
    const repo = join(root, 'cache', 'datasets--org--name');
    for (const [k, commit] of ['aaaa1111', 'bbbb2222'].entries()) {
      await shard(join(repo, 'blobs', commit), await rocoRows(commit, 1));
      await mkdir(join(repo, 'snapshots', commit, 'data'), { recursive: true });
      await symlink(
        join(repo, 'blobs', commit),
        join(repo, 'snapshots', commit, 'data', 'train-00000-of-00001.parquet'),
      );
      const time = new Date(Date.UTC(2024, 0, 1 + k));
      await utimes(join(repo, 'snapshots', commit), time, time);
    }
    await mkdir(join(repo, 'refs'), { recursive: true });
    await writeFile(join(repo, 'refs', 'main'), 'aaaa1111');
    const told: string[] = [];
    const shards = await parquetShards(repo, 'train', (m) => told.push(m));
    expect(names(shards, repo)).toEqual([
      join('snapshots', 'aaaa1111', 'data', 'train-00000-of-00001.parquet'),
    ]);
    expect(told).toEqual([
      expect.stringMatching(/holds 2 snapshots: reading aaaa1111, the one refs\/main names/),
    ]);
    await rm(join(repo, 'refs', 'main'));
    told.length = 0;
    expect(names(await parquetShards(repo, 'train', (m) => told.push(m)), repo)).toEqual([
      join('snapshots', 'bbbb2222', 'data', 'train-00000-of-00001.parquet'),
    ]);
    expect(told).toEqual([
      expect.stringMatching(/holds 2 snapshots and no refs\/main: reading the newest, bbbb2222/),
    ]);
  });

  it('says a Git LFS pointer is one, and how to fetch the file', async () => {
    const file = join(root, 'lfs', 'data', 'train-00000-of-00001.parquet');
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(
      file,
      'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 287345123\n',
    );
    await expect(collect(join(root, 'lfs'))).rejects.toThrow(
      /train-00000-of-00001\.parquet: is a Git LFS pointer, not the file: run `git lfs pull`/,
    );
  });
});

describe('parquet: a captioning run', () => {
  it('captions a shard in batches and turns a row without image bytes into an error row', async () => {
    const dir = join(root, 'run');
    const rows = await rocoRows('r', 9);
    rows[4] = { ...rows[4]!, image: null };
    await shard(join(dir, 'data', 'train-00000-of-00001.parquet'), rows, { rowGroupSize: 4 });
    const result = await caption(
      captionConfig({ data: dir, out: join(dir, 'out'), batchSize: 4, cache: true }),
      { engine: new FakeEngine() },
    );
    const csv = await readCaptionsCsv(result.captionsPath);
    expect(csv.map((r) => r.imageId)).toEqual(rows.map((r) => r.id));
    expect(csv.map((r) => r.status)).toEqual(
      [...Array(9).keys()].map((i) => (i === 4 ? 'error' : 'ok')),
    );
    expect(csv[4]!.error).toMatch(/train-00000-of-00001\.parquet#4: no image bytes/);
    expect(csv[2]!.imagePath).toMatch(/train-00000-of-00001\.parquet#2$/);
    expect(csv[2]!.references).toEqual([rows[2]!.caption]);
  });
});
