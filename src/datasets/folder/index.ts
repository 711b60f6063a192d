import { checkDataPath } from '../data-path.js';
import {
  checkHasImageFiles,
  DuplicateTracker,
  IMAGE_EXTENSIONS,
  type ImageFileFilter,
  imageFiles,
  isDirectory,
  sortedFolderItems,
  UNREAD_IMAGE_EXTENSIONS,
} from '../files.js';
import { finishSample } from '../sample.js';
import type { DatasetLoader, Sample } from '../types.js';

/**
 * Images by extension (DICOM's included, and formats medcap does not read, which become
 * error rows), and DICOM files without a DICOM extension.
 */
const FOLDER_IMAGES: ImageFileFilter = Object.freeze({
  extensions: [...IMAGE_EXTENSIONS, ...UNREAD_IMAGE_EXTENSIONS],
  unnamedDicom: true,
});

/**
 * A folder of images (searched recursively), no references: caption only. Order is the
 * sorted relative path, so it is the same on every machine. The id is the relative path
 * without extension. DICOM files (`.dcm`, `.dicom`, or no extension with the `DICM` marker)
 * sit among the other images and decode as in a `dicom` dataset.
 */
export const folderLoader: DatasetLoader = {
  format: 'folder',

  async detect(source) {
    if (!(await isDirectory(source.path))) return false;
    for await (const _ of imageFiles(source.path, FOLDER_IMAGES)) return true;
    return false;
  },

  async check(source) {
    await checkDataPath(source.path, 'folder');
    await checkHasImageFiles(
      source.path,
      FOLDER_IMAGES,
      'folder: no image files in it, in any subfolder (looked for .jpg, .png, .webp, .tif, .gif, .avif and DICOM files)',
    );
  },

  async *load(source) {
    await checkDataPath(source.path, 'folder');
    yield* folderSamples(source.path, FOLDER_IMAGES);
  },
};

/**
 * The images of `dir` that `filter` takes, in sorted relative-path order, without references.
 * `a.png` and `a.jpg` both have the id `a`: the second is an error row, not a silent twin.
 */
export async function* folderSamples(dir: string, filter: ImageFileFilter): AsyncGenerator<Sample> {
  let index = 0;
  const duplicates = new DuplicateTracker();
  for (const { id, path } of await sortedFolderItems(dir, filter)) {
    const first = duplicates.check(id, path);
    const problems = first
      ? [{ message: `${path}: duplicate id '${id}' (first at ${first})`, fatal: true }]
      : [];
    yield await finishSample(
      { index, id, imagePath: path, references: [], place: path, problems },
      false,
    );
    index += 1;
  }
}
