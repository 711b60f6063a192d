import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomFile } from '../../test/fixtures/dicom/write.js';
import { hfShard } from '../../test/fixtures/parquet/write.js';
import { jpeg } from '../../test/support/datasets.js';
import { silentLogger } from '../core/logger.js';
import { preprocessImage } from '../images/preprocess.js';
import { dicomLoader } from './dicom/index.js';
import { folderLoader } from './folder/index.js';
import { manifestLoader } from './manifest/index.js';
import { DATASET_LOADERS, selectLoader } from './registry.js';
import { rocoLoader } from './roco/index.js';
import { rocov2Loader } from './rocov2/index.js';
import type { DatasetFormat, DatasetLoader, DatasetSource, Sample } from './types.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-datasets-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function collect(loader: DatasetLoader, source: DatasetSource): Promise<Sample[]> {
  const samples: Sample[] = [];
  for await (const sample of loader.load(source)) samples.push(sample);
  return samples;
}

async function images(dir: string, names: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [i, name] of names.entries()) await writeFile(join(dir, name), await jpeg(32, 32, i));
}

describe('rocov2', () => {
  it('reads quotes, commas, newlines, BOM and CRLF in captions, and concepts', async () => {
    const dir = join(root, 'rocov2');
    await images(join(dir, 'valid'), ['A.jpg', 'B.jpg', 'C.jpg', 'D.jpg']);
    const csv =
      '\uFEFFID,Caption\r\n' +
      'A,"Axial CT, contrast-enhanced, shows a ""ring"" lesion."\r\n' +
      'B,"First line\r\nsecond line, with comma"\r\n' +
      'C,Plain caption without quotes\r\n' +
      'D,"Ünïcödé — 5 mm × 3 mm"\r\n';
    await writeFile(join(dir, 'valid_captions.csv'), csv);
    await writeFile(join(dir, 'valid_concepts.csv'), 'ID,CUIs\nA,C0040405;C1306645\nC,C0024485\n');
    const samples = await collect(rocov2Loader, { path: dir, split: 'valid' });
    expect(samples.map((s) => s.id)).toEqual(['A', 'B', 'C', 'D']);
    expect(samples[0]!.references).toEqual(['Axial CT, contrast-enhanced, shows a "ring" lesion.']);
    expect(samples[1]!.references).toEqual(['First line\r\nsecond line, with comma']);
    expect(samples[3]!.references).toEqual(['Ünïcödé — 5 mm × 3 mm']);
    expect(samples[0]!.concepts).toEqual(['C0040405', 'C1306645']);
    expect(samples[1]!.concepts).toEqual([]);
    expect(samples.every((s) => s.problem === undefined)).toBe(true);
    expect(samples.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    expect((await samples[2]!.readImage()).byteLength).toBeGreaterThan(100);
  });

  it('reports duplicate IDs, missing images and missing captions on the row', async () => {
    const dir = join(root, 'rocov2-bad');
    await images(join(dir, 'train'), ['A.jpg', 'B.jpg']);
    await writeFile(
      join(dir, 'train_captions.csv'),
      'ID,Caption\nA,one\nB,\nA,again\nZ,no image\n',
    );
    const samples = await collect(rocov2Loader, { path: dir, split: 'train' });
    expect(samples).toHaveLength(4);
    expect(samples[0]!.problem).toBeUndefined();
    expect(samples[1]!.problem).toEqual({
      message: expect.stringMatching(/train_captions\.csv:3: no reference caption for 'B'/),
      fatal: false,
    });
    expect(samples[2]!.problem?.fatal).toBe(true);
    expect(samples[2]!.problem?.message).toMatch(
      /train_captions\.csv:4: duplicate ID 'A' \(first at .*train_captions\.csv:2\)/,
    );
    expect(samples[3]!.problem?.fatal).toBe(true);
    expect(samples[3]!.problem?.message).toMatch(
      /train_captions\.csv:5: image file not found: .*Z\.jpg/,
    );
  });

  it('names the file when a column is missing or the CSV is malformed', async () => {
    const dir = join(root, 'rocov2-columns');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'train_captions.csv'), 'Id,Text\nA,b\n');
    await expect(collect(rocov2Loader, { path: dir, split: 'train' })).rejects.toThrow(
      /train_captions\.csv:1: missing columns 'ID', 'Caption' \(the header has: Id, Text\); 'Id' must be spelled 'ID'/,
    );
    await writeFile(join(dir, 'test_captions.csv'), 'ID,Caption\nA,"unterminated\n');
    await expect(collect(rocov2Loader, { path: dir, split: 'test' })).rejects.toThrow(
      /test_captions\.csv:2: unbalanced quote/,
    );
  });

  it('finds images whose name differs from {ID}.jpg: .JPG, another extension, an ID with its extension', async () => {
    const dir = join(root, 'rocov2-names');
    await images(join(dir, 'train'), [
      'upper.JPG',
      'other.png',
      'named.jpg',
      'both.jpg',
      'both.png',
    ]);
    await images(join(dir, 'train'), ['ignored-extra.jpg']);
    await writeFile(
      join(dir, 'train_captions.csv'),
      'ID,Caption\nupper,a\nother,b\nnamed.jpg,c\nboth,d\ngone,e\n',
    );
    // The concepts file may write the ID with or without the extension.
    await writeFile(join(dir, 'train_concepts.csv'), 'ID,CUIs\nnamed,C1;C2\nupper.jpg,C3\n');
    const samples = await collect(rocov2Loader, { path: dir, split: 'train' });
    const file = (s: Sample) => s.imagePath.slice(join(dir, 'train').length + 1);
    expect(samples.map((s) => [s.id, file(s), s.concepts])).toEqual([
      ['upper', 'upper.JPG', ['C3']],
      ['other', 'other.png', []],
      ['named.jpg', 'named.jpg', ['C1', 'C2']],
      ['both', 'both.jpg', []],
      ['gone', 'gone.jpg', []],
    ]);
    expect(samples.slice(0, 4).every((s) => s.problem === undefined)).toBe(true);
    expect(samples[4]!.problem?.message).toMatch(/train_captions\.csv:6: image file not found/);
    expect((await samples[0]!.readImage()).byteLength).toBeGreaterThan(100);
  });

  it('captions a split without a captions file (test images) from its folder, without references', async () => {
    const dir = join(root, 'rocov2-test-split');
    await images(join(dir, 'train'), ['T1.jpg']);
    await writeFile(join(dir, 'train_captions.csv'), 'ID,Caption\nT1,a\n');
    await images(join(dir, 'test'), ['X2.jpg', 'X1.JPG', 'notes.txt']);
    const logger = silentLogger;
    const source = { path: dir, split: 'test' };
    expect((await selectLoader('auto', source, logger)).format).toBe('rocov2');
    const samples = await collect(rocov2Loader, source);
    expect(samples.map((s) => [s.id, s.references, s.problem])).toEqual([
      ['X1', [], undefined],
      ['X2', [], undefined],
    ]);
    // A split with neither captions nor a folder is still an error naming the file.
    await expect(collect(rocov2Loader, { path: dir, split: 'valid' })).rejects.toThrow(
      /--data .*rocov2-test-split: rocov2: no valid_captions\.csv in it/,
    );
    // Captions without the images folder: each row says the folder is missing.
    await writeFile(join(dir, 'valid_captions.csv'), 'ID,Caption\nV1,a\n');
    const [valid] = await collect(rocov2Loader, { path: dir, split: 'valid' });
    expect(valid!.problem?.message).toMatch(
      /valid_captions\.csv:2: image file not found \(there is no folder .*valid\): .*V1\.jpg/,
    );
  });

  it('streams a 60,000-row caption file without holding it', async () => {
    const dir = join(root, 'rocov2-big');
    await mkdir(join(dir, 'train'), { recursive: true });
    const rows = ['ID,Caption'];
    for (let i = 0; i < 60_000; i++)
      rows.push(`ROCOv2_2023_train_${String(i).padStart(6, '0')},"Caption, number ${i}."`);
    await writeFile(join(dir, 'train_captions.csv'), `${rows.join('\n')}\n`);
    let count = 0;
    let last: Sample | undefined;
    for await (const sample of rocov2Loader.load({ path: dir, split: 'train' })) {
      count += 1;
      last = sample;
    }
    expect(count).toBe(60_000);
    expect(last?.id).toBe('ROCOv2_2023_train_059999');
    expect(last?.references).toEqual(['Caption, number 59999.']);
  }, 60_000);
});

describe('roco', () => {
  it('reads captions.txt with tabs, a BOM and CRLF', async () => {
    const dir = join(root, 'roco');
    await images(join(dir, 'test', 'radiology', 'images'), ['ROCO_00001.jpg', 'ROCO_00002.jpg']);
    await writeFile(
      join(dir, 'test', 'radiology', 'captions.txt'),
      '\uFEFFROCO_00001\t Chest X-ray, PA view.\r\n\r\nROCO_00002\tCT head\r\n',
    );
    const samples = await collect(rocoLoader, { path: dir, split: 'test' });
    expect(samples.map((s) => [s.id, s.references])).toEqual([
      ['ROCO_00001', ['Chest X-ray, PA view.']],
      ['ROCO_00002', ['CT head']],
    ]);
    expect(samples.every((s) => s.problem === undefined)).toBe(true);
  });

  it('reads the ROCO repository layout: data/, validation/, images named by dlinks.txt', async () => {
    const repo = join(root, 'roco-dataset');
    const dir = join(repo, 'data', 'validation', 'radiology');
    await images(join(dir, 'images'), ['PMC3970251_CRIONM2014-931546.003.jpg', 'ROCO_00030.jpg']);
    await writeFile(
      join(dir, 'captions.txt'),
      'ROCO_00020\t Axial CT.\nROCO_00027\t Chest X-ray.\nROCO_00030\t No link.\n',
    );
    await writeFile(
      join(dir, 'dlinks.txt'),
      'ROCO_00020\twget -r ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_package/1e/ed/PMC3970251.tar.gz -P /path/to/Dir\tCRIONM2014-931546.003.jpg\n' +
        'ROCO_00027\twget -r ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_package/d9/4e/PMC2766744.tar.gz -P /path/to/Dir\tcios-1-176-g005.jpg\n',
    );
    const source = { path: repo, split: 'valid' };
    expect(await rocoLoader.detect(source)).toBe(true);
    const samples = await collect(rocoLoader, source);
    expect(samples.map((s) => [s.id, s.imagePath.slice(dir.length + 1)])).toEqual([
      ['ROCO_00020', join('images', 'PMC3970251_CRIONM2014-931546.003.jpg')],
      ['ROCO_00027', join('images', 'PMC2766744_cios-1-176-g005.jpg')],
      ['ROCO_00030', join('images', 'ROCO_00030.jpg')],
    ]);
    expect(samples.map((s) => s.problem?.fatal)).toEqual([undefined, true, undefined]);
    expect(samples[1]!.problem?.message).toMatch(
      /captions\.txt:2: image file not found: .*PMC2766744_cios-1-176-g005\.jpg/,
    );
  });
});

describe('manifest', () => {
  it('reads CSV with a references JSON array and JSONL with captions', async () => {
    const dir = join(root, 'manifest');
    await images(join(dir, 'img'), ['a.png', 'b.png']);
    await writeFile(
      join(dir, 'm.csv'),
      'image,id,references\nimg/a.png,first,"[""one"", ""two, with comma""]"\nimg/b.png,,single caption\n',
    );
    const csv = await collect(manifestLoader, { path: join(dir, 'm.csv'), split: 'train' });
    expect(csv.map((s) => [s.id, s.references])).toEqual([
      ['first', ['one', 'two, with comma']],
      ['b', ['single caption']],
    ]);
    await writeFile(
      join(dir, 'm.jsonl'),
      '{"image":"img/a.png","id":"x","caption":"c1"}\n\n{"image":"img/b.png","references":["r1","r2"]}\n{not json\n{"id":"y"}\n',
    );
    const jsonl = await collect(manifestLoader, { path: join(dir, 'm.jsonl'), split: 'train' });
    expect(jsonl.map((s) => s.id)).toEqual(['x', 'b', 'row-3', 'y']);
    expect(jsonl[1]!.references).toEqual(['r1', 'r2']);
    expect(jsonl[2]!.problem?.message).toMatch(/m\.jsonl:4: not valid JSON/);
    expect(jsonl[3]!.problem?.message).toMatch(/m\.jsonl:5: missing 'image'/);
  });
});

describe('manifest: fields that would be lost', () => {
  it('refuses a CSV column in another case and names file_name as ImageFolder metadata', async () => {
    const dir = join(root, 'manifest-case');
    await images(join(dir, 'img'), ['a.png']);
    await writeFile(join(dir, 'm.csv'), 'image,ID,Caption\nimg/a.png,A,one\n');
    await expect(collect(manifestLoader, { path: join(dir, 'm.csv'), split: 'x' })).rejects.toThrow(
      /m\.csv:1: column 'ID' must be spelled 'id'/,
    );
    await writeFile(join(dir, 'metadata.csv'), 'file_name,text\nimg/a.png,one\n');
    await expect(
      collect(manifestLoader, { path: join(dir, 'metadata.csv'), split: 'x' }),
    ).rejects.toThrow(
      /missing column 'image'.*rename 'file_name' to 'image' and 'text' to 'caption'/,
    );
  });

  it('takes a JSONL caption array, and says only the real reason of a fatal line', async () => {
    const dir = join(root, 'manifest-jsonl-keys');
    await images(join(dir, 'img'), ['a.png', 'b.png']);
    const lines = [
      { image: 'img/a.png', id: 'arr', caption: ['one', 'two'] },
      { image: 'img/b.png', id: 'case', Caption: 'lost' },
      [1, 2],
      { file_name: 'img/a.png', text: 'hf' },
      { image: 'img/a.png', id: 'empty-refs', caption: 'c', references: [] },
      { image: 'img/b.png', id: 'number', caption: 5 },
    ];
    await writeFile(join(dir, 'm.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
    const samples = await collect(manifestLoader, { path: join(dir, 'm.jsonl'), split: 'x' });
    expect(samples.map((s) => [s.id, s.references, s.problem?.fatal])).toEqual([
      ['arr', ['one', 'two'], undefined],
      ['case', [], true],
      ['row-3', [], true],
      ['row-4', [], true],
      ['empty-refs', ['c'], undefined],
      ['number', [], true],
    ]);
    const messages = samples.map((s) => s.problem?.message ?? '');
    expect(messages[1]).toMatch(/m\.jsonl:2: key 'Caption' must be spelled 'caption'/);
    expect(messages[2]).toMatch(/^[^;]*m\.jsonl:3: expected a JSON object$/);
    expect(messages[3]).toMatch(
      /^[^;]*m\.jsonl:4: missing 'image' \(.*rename 'file_name' to 'image' and 'text' to 'caption'\)$/,
    );
    expect(messages[5]).toMatch(/m\.jsonl:6: 'caption' must be a string or an array of strings/);
  });

  it('tells images of the same file name apart by their path, and keeps the file name otherwise', async () => {
    const dir = join(root, 'manifest-ids');
    await images(join(dir, 'img', 'p1'), ['image.png']);
    await images(join(dir, 'img', 'p2'), ['image.png']);
    await images(join(dir, 'img'), ['a.png']);
    await writeFile(
      join(dir, 'm.csv'),
      'image,caption\nimg/p1/image.png,one\nimg/a.png,two\nimg/p2/image.png,three\n',
    );
    const samples = await collect(manifestLoader, { path: join(dir, 'm.csv'), split: 'x' });
    expect(samples.map((s) => [s.id, s.problem])).toEqual([
      ['img/p1/image', undefined],
      ['a', undefined],
      ['img/p2/image', undefined],
    ]);
  });
});

describe('folder', () => {
  it('lists images recursively in sorted order, without references', async () => {
    const dir = join(root, 'folder');
    await images(join(dir, 'sub'), ['z.jpg']);
    await images(dir, ['b.png', 'a.jpg']);
    await writeFile(join(dir, 'notes.txt'), 'ignore me');
    const samples = await collect(folderLoader, { path: dir, split: 'train' });
    expect(samples.map((s) => s.id)).toEqual(['a', 'b', 'sub/z']);
    expect(samples.every((s) => s.references.length === 0 && s.problem === undefined)).toBe(true);
  });
});

describe('folder: a file name that is not UTF-8', () => {
  it('is an error row saying so, not "not found"', async () => {
    const dir = join(root, 'folder-latin1');
    await images(dir, ['a.jpg']);
    const latin1 = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from('caf\xe9.jpg', 'latin1')]);
    await writeFile(latin1, await readFile(join(dir, 'a.jpg')));
    const samples = await collect(folderLoader, { path: dir, split: 'train' });
    expect(samples).toHaveLength(2);
    const bad = samples.find((s) => s.id !== 'a')!;
    const reason =
      bad.problem?.message ??
      (await bad.readImage().then(
        () => '',
        (e: Error) => e.message,
      ));
    expect(reason).toMatch(/file name is not valid UTF-8, so it cannot be opened by name/);
  });
});

describe('folder: links and formats medcap does not read', () => {
  it('follows linked folders once (outside the tree, not a link into it, no loop) and lists a BMP as an error row', async () => {
    const dir = join(root, 'folder-links');
    const outside = join(root, 'folder-links-outside');
    await images(join(dir, 'real'), ['a.jpg']);
    await images(outside, ['o.png']);
    await symlink(outside, join(dir, 'external'));
    await symlink(join(dir, 'real'), join(dir, 'alias')); // sorts before 'real'
    await symlink(dir, join(dir, 'real', 'up')); // a loop
    await writeFile(join(dir, 'scan.BMP'), Buffer.from('BM\x46\0\0\0\0\0\0\0', 'latin1'));
    const samples = await collect(folderLoader, { path: dir, split: 'train' });
    expect(samples.map((s) => s.id)).toEqual(['external/o', 'real/a', 'scan']);
    expect(samples.every((s) => s.problem === undefined)).toBe(true);
    const [bmp] = samples.filter((s) => s.id === 'scan');
    await expect(
      preprocessImage('scan', bmp!.imagePath, await bmp!.readImage(), {
        minPixels: 56 * 56,
        maxPixels: 448 * 448,
      }),
    ).rejects.toThrow(
      /scan\.BMP: cannot decode image \(.*\): it is a BMP image, which medcap does not read/,
    );
  });

  it('lists every image extension in the wild: JPEG and PNG aliases are read, HEIF, JPEG 2000 and SVG are rows to refuse', async () => {
    const dir = join(root, 'folder-extensions');
    const jpeg = join(dir, 'a.jpg');
    await images(dir, ['a.jpg']);
    const bytes = await readFile(jpeg);
    const others = ['b.jfif', 'c.jpe', 'd.apng', 'e.heif', 'f.jpf', 'g.jpx', 'h.j2c', 'i.svg'];
    for (const name of others) await writeFile(join(dir, name), bytes);
    await writeFile(join(dir, 'notes.txt'), 'not an image');
    const samples = await collect(folderLoader, { path: dir, split: 'train' });
    expect(samples.map((s) => s.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
  });
});

describe('auto detection', () => {
  it('picks the layout and says which', async () => {
    const logs: string[] = [];
    const logger = { ...silentLogger, info: (m: string) => logs.push(m) };
    expect(
      (await selectLoader('auto', { path: join(root, 'rocov2'), split: 'valid' }, logger)).format,
    ).toBe('rocov2');
    expect(
      (await selectLoader('auto', { path: join(root, 'roco'), split: 'test' }, logger)).format,
    ).toBe('roco');
    expect(
      (await selectLoader('auto', { path: join(root, 'manifest', 'm.jsonl'), split: 'x' }, logger))
        .format,
    ).toBe('manifest');
    expect(
      (await selectLoader('auto', { path: join(root, 'folder'), split: 'train' }, logger)).format,
    ).toBe('folder');
    expect(logs[0]).toMatch(/detected rocov2 layout/);
    const empty = join(root, 'empty');
    await mkdir(empty, { recursive: true });
    await expect(selectLoader('auto', { path: empty, split: 'train' }, logger)).rejects.toThrow(
      /--format/,
    );
  });

  it('picks parquet for a .parquet file or a folder of shards, before folder', async () => {
    const logs: string[] = [];
    const logger = { ...silentLogger, info: (m: string) => logs.push(m) };
    const dir = join(root, 'auto-parquet');
    await images(dir, ['cover.png']);
    await mkdir(join(dir, 'data'), { recursive: true });
    const shard = hfShard([{ id: 'a', caption: 'b', image: await jpeg(8, 8, 1) }]);
    await writeFile(join(dir, 'data', 'train-00000-of-00001.parquet'), shard);
    const detect = async (path: string) =>
      (await selectLoader('auto', { path, split: 'train' }, logger)).format;
    expect(await detect(dir)).toBe('parquet');
    expect(await detect(join(dir, 'data', 'train-00000-of-00001.parquet'))).toBe('parquet');
    expect(logs[0]).toMatch(/detected parquet layout in .*auto-parquet$/);
  });

  it('picks dicom for a DICOM file or a folder of DICOM files only, folder for a mixed folder', async () => {
    const dir = join(root, 'auto-dicom');
    await mkdir(join(dir, 'series', '1'), { recursive: true });
    const file = join(dir, 'series', '1', 'IM0001.dcm');
    await writeFile(file, dicomFile({ rows: 1, columns: 1, values: [1] }));
    const bare = join(root, 'auto-dicom-bare');
    await mkdir(bare, { recursive: true });
    const unnamed = join(bare, 'IM0002');
    await writeFile(unnamed, dicomFile({ rows: 1, columns: 1, values: [1] }));
    await writeFile(join(bare, 'README'), 'not an image');
    const detect = async (path: string) =>
      (await selectLoader('auto', { path, split: 'train' }, silentLogger)).format;
    expect(await detect(dir)).toBe('dicom');
    expect(await detect(file)).toBe('dicom');
    // Extension-less files with the DICM marker (PACS exports).
    expect(await detect(bare)).toBe('dicom');
    expect(await detect(unnamed)).toBe('dicom');
    // DICOM beside other images: the folder format reads both (the dicom format would drop
    // the others).
    await images(dir, ['preview.jpg']);
    expect(await detect(dir)).toBe('folder');
    // A folder of images with no .dcm or .parquet files is still a folder.
    expect(await detect(join(root, 'folder'))).toBe('folder');
  });
});

describe('layout check', () => {
  it('selectLoader refuses a --data without the layout of its --format, as load would', async () => {
    const empty = join(root, 'check-empty');
    await mkdir(empty, { recursive: true });
    const text = join(root, 'check.txt');
    await writeFile(text, 'not a dataset\n');
    const rocov2 = join(root, 'check-rocov2');
    await images(join(rocov2, 'train'), ['A.jpg']);
    await writeFile(join(rocov2, 'train_captions.csv'), 'ID,Caption\nA,one\n');
    const roco = join(root, 'check-roco');
    await mkdir(join(roco, 'train', 'radiology'), { recursive: true });
    await writeFile(join(roco, 'train', 'radiology', 'captions.txt'), 'ROCO_1\tone\n');
    const shards = join(root, 'check-parquet');
    await mkdir(shards, { recursive: true });
    const shard = hfShard([{ id: 'a', caption: 'b', image: await jpeg(8, 8, 1) }]);
    await writeFile(join(shards, 'train-00000-of-00001.parquet'), shard);
    const bad: [DatasetFormat, DatasetSource][] = [
      ['rocov2', { path: empty, split: 'train' }],
      ['rocov2', { path: rocov2, split: 'test' }],
      ['roco', { path: empty, split: 'train' }],
      ['roco', { path: roco, split: 'test' }],
      ['parquet', { path: empty, split: 'train' }],
      ['parquet', { path: text, split: 'train' }],
      ['parquet', { path: shards, split: 'test' }],
    ];
    for (const [format, source] of bad) {
      const loader = DATASET_LOADERS[format]!;
      const said = await collect(loader, source).then(
        () => 'loaded',
        (error: Error) => error.message,
      );
      expect(said, `${format} ${source.path}`).toMatch(/^--data /);
      // New sources: parquet keeps the shards it found per source.
      await expect(selectLoader(format, { ...source }, silentLogger)).rejects.toThrow(said);
      await expect(loader.check({ ...source })).rejects.toThrow(said);
    }
    const good: [DatasetFormat, DatasetSource][] = [
      ['rocov2', { path: rocov2, split: 'train' }],
      ['roco', { path: roco, split: 'train' }],
      ['parquet', { path: shards, split: 'train' }],
    ];
    for (const [format, source] of good)
      expect((await selectLoader(format, source, silentLogger)).format).toBe(format);
  });
});

describe('layout check: an empty dataset', () => {
  it('refuses a folder without images, and a dicom folder without DICOM files, before --out', async () => {
    const empty = join(root, 'empty-dataset');
    await mkdir(join(empty, 'sub'), { recursive: true });
    await writeFile(join(empty, 'notes.txt'), 'not an image');
    await expect(folderLoader.check({ path: empty, split: 'train' })).rejects.toThrow(
      /^--data .*empty-dataset: folder: no image files in it/,
    );
    const jpegs = join(root, 'empty-dicom');
    await images(jpegs, ['a.jpg']);
    await expect(
      selectLoader('dicom', { path: jpegs, split: 'train' }, silentLogger),
    ).rejects.toThrow(/^--data .*empty-dicom: dicom: no DICOM files in it/);
    expect(
      (await selectLoader('folder', { path: jpegs, split: 'train' }, silentLogger)).format,
    ).toBe('folder');
  });
});

describe('split names and ROCO halves', () => {
  it('rocov2 --split validation reads valid_captions.csv, and says so', async () => {
    const dir = join(root, 'rocov2-alias');
    await images(join(dir, 'valid'), ['A.jpg']);
    await writeFile(join(dir, 'valid_captions.csv'), 'ID,Caption\nA,one\n');
    const logs: string[] = [];
    const logger = { ...silentLogger, info: (m: string) => logs.push(m) };
    const source = { path: dir, split: 'validation' };
    await selectLoader('rocov2', source, logger);
    expect(logs).toEqual([
      'dataset: --split validation: no validation_captions.csv, reading valid_captions.csv',
    ]);
    const samples = await collect(rocov2Loader, source);
    expect(samples.map((s) => [s.id, s.references, s.problem])).toEqual([
      ['A', ['one'], undefined],
    ]);
  });

  it('roco reads a non-radiology folder given as --data, or a split that has only that half', async () => {
    const repo = join(root, 'roco-nonrad');
    const half = join(repo, 'data', 'train', 'non-radiology');
    await images(join(half, 'images'), ['ROCO_1.jpg']);
    await writeFile(join(half, 'captions.txt'), 'ROCO_1\tA photograph.\n');
    const logs: string[] = [];
    const logger = { ...silentLogger, info: (m: string) => logs.push(m) };
    const given = { path: half, split: 'train' };
    expect((await selectLoader('auto', given, logger)).format).toBe('roco');
    expect((await collect(rocoLoader, given)).map((s) => [s.id, s.references])).toEqual([
      ['ROCO_1', ['A photograph.']],
    ]);
    logs.length = 0;
    const whole = { path: repo, split: 'train' };
    expect((await selectLoader('roco', whole, logger)).format).toBe('roco');
    expect(logs).toEqual([
      expect.stringMatching(
        /^dataset: no train\/radiology\/captions\.txt, reading .*non-radiology\/captions\.txt$/,
      ),
    ]);
    expect((await collect(rocoLoader, whole)).map((s) => s.id)).toEqual(['ROCO_1']);
  });
});

describe('dicom: a study export', () => {
  it('leaves out the objects that are no image (SR, PR, PDF), telling the notes, and keeps the images in order', async () => {
    const dir = join(root, 'study');
    await mkdir(join(dir, 'SE1'), { recursive: true });
    const image = (value: number) => dicomFile({ rows: 1, columns: 1, values: [value] });
    const object = (sopClass: string, modality: string) =>
      dicomFile({ rows: 1, columns: 1, sopClass, modality, noPixelData: true });
    await writeFile(join(dir, 'SE1', 'IM1.dcm'), image(1));
    await writeFile(join(dir, 'SE1', 'IM2'), image(2));
    await writeFile(join(dir, 'SR1.dcm'), object('1.2.840.10008.5.1.4.1.1.88.22', 'SR'));
    await writeFile(join(dir, 'PR1'), object('1.2.840.10008.5.1.4.1.1.11.1', 'PR'));
    await writeFile(join(dir, 'DOC.dcm'), object('1.2.840.10008.5.1.4.1.1.104.1', 'DOC'));
    const skipped: [string, string][] = [];
    const samples: Sample[] = [];
    for await (const sample of dicomLoader.load(
      { path: dir, split: 'train' },
      { skipped: (path, reason) => skipped.push([path.slice(dir.length + 1), reason]) },
    ))
      samples.push(sample);
    expect(samples.map((s) => [s.index, s.id])).toEqual([
      [0, 'SE1/IM1'],
      [1, 'SE1/IM2'],
    ]);
    expect(skipped).toEqual([
      ['DOC.dcm', 'an encapsulated document (PDF, CDA, …)'],
      ['PR1', 'a Presentation State'],
      ['SR1.dcm', 'a Structured Report or Key Object Selection'],
    ]);
  });
});
