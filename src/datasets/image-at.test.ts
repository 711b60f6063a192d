import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomFile } from '../../test/fixtures/dicom/write.js';
import { hfShard } from '../../test/fixtures/parquet/write.js';
import { jpeg } from '../../test/support/datasets.js';
import { makeThumbnails } from '../reports/html/thumbnails.js';
import { readImageAt } from './image-at.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-image-at-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readImageAt', () => {
  it('reads plain files, DICOM files and parquet rows as the loaders name them', async () => {
    const plain = join(root, 'a.jpg');
    await writeFile(plain, await jpeg(40, 30, 1));
    const dicom = join(root, 'b.dcm');
    await writeFile(
      dicom,
      dicomFile({ rows: 20, columns: 30, values: Array.from({ length: 600 }, (_, i) => i) }),
    );
    const parquet = join(root, 'train-00000-of-00001.parquet');
    const rows = [1, 2, 3].map(async (i) => ({
      id: `p${i}`,
      caption: 'c',
      cuis: [],
      image: await jpeg(10 * i, 12, i),
    }));
    await writeFile(parquet, hfShard(await Promise.all(rows), { rowGroupSize: 2 }));

    const sizes = async (path: string) => {
      const meta = await sharp(await readImageAt(path)).metadata();
      return [meta.width, meta.height];
    };
    expect(await sizes(plain)).toEqual([40, 30]);
    expect(await sizes(dicom)).toEqual([30, 20]);
    expect(await sizes(`${parquet}#2`)).toEqual([30, 12]);
    await expect(readImageAt(`${parquet}#7`)).rejects.toThrow(/#7: no such row/);
    // A FIFO named like an image is refused, not waited on forever (the report reads these).
    const fifo = join(root, 'fifo.jpg');
    execFileSync('mkfifo', [fifo]);
    await expect(readImageAt(fifo)).rejects.toThrow(/fifo\.jpg: not a regular file \(a FIFO\)/);

    const thumbnails = await makeThumbnails(
      [
        { id: 'dicom', imagePath: dicom },
        { id: 'parquet', imagePath: `${parquet}#0` },
        { id: 'gone', imagePath: join(root, 'missing.jpg') },
      ],
      { cwd: root, dir: root },
    );
    expect([...thumbnails.keys()].sort()).toEqual(['dicom', 'parquet']);
    expect(thumbnails.get('parquet')).toMatch(/^data:image\/webp;base64,/);
  });
});
