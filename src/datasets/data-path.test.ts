import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.js';
import { checkDataPath, DATA_PATHS } from './data-path.js';
import { DATASET_LOADERS } from './registry.js';
import type { DatasetFormat } from './types.js';

let root: string;
let file: string;
let folder: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-data-path-'));
  file = join(root, 'scan.jpg');
  folder = join(root, 'images');
  await writeFile(file, 'not looked at');
  await mkdir(folder);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The error `work` fails with (undefined when it does not fail). */
async function failure(work: () => Promise<unknown>): Promise<Error | undefined> {
  return work().then(
    () => undefined,
    (e: unknown) => e as Error,
  );
}

/** The error the loader of `format` fails with when it reads `path` (a library caller). */
async function loaderFailure(format: DatasetFormat, path: string): Promise<Error | undefined> {
  return failure(async () => {
    for await (const _ of DATASET_LOADERS[format]!.load({ path, split: 'train' }));
  });
}

describe('checkDataPath: what --data must be for each --format', () => {
  it('takes the kind each format reads, and refuses the other kind naming --data, the path and the format', async () => {
    const wrong: [DatasetFormat, string, string][] = [
      ['rocov2', file, 'is a file, not a folder'],
      ['roco', file, 'is a file, not a folder'],
      ['folder', file, 'is a file, not a folder'],
      ['manifest', folder, 'is a folder, not a file'],
    ];
    for (const [format, path, problem] of wrong) {
      const error = await failure(() => checkDataPath(path, format));
      expect(error, format).toBeInstanceOf(ConfigError);
      expect(error?.message).toBe(
        `--data ${path}: ${problem} (--format ${format} reads ${DATA_PATHS[format].reads})`,
      );
      expect((error as ConfigError).code).toBe('INPUT_PATH');
      // The loader says the same to a library caller that did not check first.
      expect((await loaderFailure(format, path))?.message, format).toBe(error?.message);
    }
    for (const format of Object.keys(DATA_PATHS) as (DatasetFormat | 'auto')[]) {
      const { kind } = DATA_PATHS[format];
      if (kind !== 'folder') await expect(checkDataPath(file, format)).resolves.toBeDefined();
      if (kind !== 'file') await expect(checkDataPath(folder, format)).resolves.toBeDefined();
    }
  });

  it('says "no such file or folder" for a path that is not there, whatever the format', async () => {
    const nope = join(root, 'nope');
    for (const format of Object.keys(DATA_PATHS) as (DatasetFormat | 'auto')[]) {
      await expect(checkDataPath(nope, format)).rejects.toThrow(
        `--data ${nope}: no such file or folder`,
      );
    }
  });
});
