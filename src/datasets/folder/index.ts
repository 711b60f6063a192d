import { opendir } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { DatasetError } from '../../core/errors.js';
import { IMAGE_EXTENSIONS, isDirectory } from '../files.js';
import { finishSample } from '../sample.js';
import type { DatasetLoader } from '../types.js';

/**
 * A folder of images (searched recursively), no references: caption only. Order is the
 * sorted relative path, so it is the same on every machine. The id is the relative path
 * without extension.
 */
export const folderLoader: DatasetLoader = {
  format: 'folder',

  async detect(source) {
    if (!(await isDirectory(source.path))) return false;
    for await (const _ of imageFiles(source.path)) return true;
    return false;
  },

  async *load(source) {
    if (!(await isDirectory(source.path)))
      throw new DatasetError(`folder: ${source.path} is not a folder`);
    const paths: string[] = [];
    for await (const path of imageFiles(source.path)) paths.push(relative(source.path, path));
    paths.sort();
    let index = 0;
    for (const path of paths) {
      const id = path
        .slice(0, path.length - extname(path).length)
        .split('\\')
        .join('/');
      yield await finishSample(
        {
          index,
          id,
          imagePath: join(source.path, path),
          references: [],
          place: join(source.path, path),
          problems: [],
        },
        false,
      );
      index += 1;
    }
  },
};

async function* imageFiles(dir: string): AsyncGenerator<string> {
  const entries = await opendir(dir);
  for await (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* imageFiles(path);
    else if (entry.isFile() && IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase()))
      yield path;
  }
}
