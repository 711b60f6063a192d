import { basename, extname } from 'node:path';
import { DatasetError } from '../../core/errors.js';
import {
  filesWithExtensions,
  isDirectory,
  isFile,
  readImageFile,
  sortedFolderItems,
} from '../files.js';
import { finishSample } from '../sample.js';
import type { DatasetLoader, DatasetSource, Sample } from '../types.js';
import { dicomToPngInWorker } from './decode-pool.js';

const DICOM_EXTENSIONS = Object.freeze(['.dcm', '.dicom']);

/**
 * DICOM files: a folder (searched recursively, sorted by relative path) or one file. No
 * references (caption only). The id is the relative path without extension. `readImage`
 * decodes the file in a worker thread (modality LUT, VOI window or `--window`, MONOCHROME1,
 * middle frame) and returns a PNG, so the rest of the pipeline reads it like any image; a file that cannot be
 * decoded becomes an error row naming the file and the reason.
 */
export const dicomLoader: DatasetLoader = {
  format: 'dicom',

  async detect(source) {
    if (await isFile(source.path)) return isDicomName(source.path);
    if (!(await isDirectory(source.path))) return false;
    for await (const _ of filesWithExtensions(source.path, DICOM_EXTENSIONS)) return true;
    return false;
  },

  async *load(source) {
    if (await isFile(source.path)) {
      yield await dicomSample(source, source.path, basename(source.path, extname(source.path)), 0);
      return;
    }
    if (!(await isDirectory(source.path)))
      throw new DatasetError(`dicom: ${source.path} is not a .dcm file or a folder`);
    let index = 0;
    for (const { id, path } of await sortedFolderItems(source.path, DICOM_EXTENSIONS)) {
      yield await dicomSample(source, path, id, index);
      index += 1;
    }
  },
};

async function dicomSample(
  source: DatasetSource,
  path: string,
  id: string,
  index: number,
): Promise<Sample> {
  const sample = await finishSample(
    { index, id, imagePath: path, references: [], place: path, problems: [] },
    false,
  );
  const options = { window: source.window };
  sample.readImage = async () => dicomToPngInWorker(await readImageFile(path), path, options);
  return sample;
}

function isDicomName(path: string): boolean {
  return DICOM_EXTENSIONS.includes(extname(path).toLowerCase());
}
