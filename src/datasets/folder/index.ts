import { DatasetError } from '../../core/errors.js';
import { filesWithExtensions, IMAGE_EXTENSIONS, isDirectory, sortedFolderItems } from '../files.js';
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
    for await (const _ of filesWithExtensions(source.path, IMAGE_EXTENSIONS)) return true;
    return false;
  },

  async *load(source) {
    if (!(await isDirectory(source.path)))
      throw new DatasetError(`folder: ${source.path} is not a folder`);
    let index = 0;
    for (const { id, path } of await sortedFolderItems(source.path, IMAGE_EXTENSIONS)) {
      yield await finishSample(
        { index, id, imagePath: path, references: [], place: path, problems: [] },
        false,
      );
      index += 1;
    }
  },
};
