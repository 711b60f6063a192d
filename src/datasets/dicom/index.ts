import { basename } from 'node:path';
import { DICOM_EXTENSIONS, hasDicomExtension } from '../../images/dicom/index.js';
import { checkDataPath } from '../data-path.js';
import {
  checkHasImageFiles,
  fileStem,
  hasDicomMagicFile,
  type ImageFileFilter,
  imageFiles,
  isDirectory,
  isFile,
  nonImageDicomFile,
  RASTER_IMAGE_EXTENSIONS,
  sortedFolderItems,
} from '../files.js';
import { finishSample } from '../sample.js';
import type { DatasetLoader, DatasetSource } from '../types.js';

/** `.dcm`/`.dicom` files, and DICOM files without a DICOM extension (PACS exports). */
const DICOM_FILES: ImageFileFilter = Object.freeze({
  extensions: DICOM_EXTENSIONS,
  unnamedDicom: true,
});

/**
 * DICOM files: a folder (searched recursively, sorted by relative path) or one file. No
 * references (caption only). In a folder, objects whose meta header says they are no image
 * (Structured Reports, Presentation States, documents: a study export holds them) are left
 * out and told to the notes, not made error rows. The id is the relative path without extension. The images
 * decode where every image is opened (`images/preprocess.ts`: modality LUT, VOI window or
 * `--window`, MONOCHROME1, middle frame, in the decoder pool), as DICOM files in a manifest
 * or a folder dataset do; a file that cannot be decoded becomes an error row naming it.
 * `auto` picks this format for a folder of DICOM files only; a folder that mixes DICOM with
 * other images is a `folder` dataset (which reads both).
 */
export const dicomLoader: DatasetLoader = {
  format: 'dicom',

  async detect(source) {
    if (await isFile(source.path))
      return hasDicomExtension(source.path) || (await hasDicomMagicFile(source.path));
    if (!(await isDirectory(source.path))) return false;
    for await (const _ of imageFiles(source.path, { extensions: RASTER_IMAGE_EXTENSIONS }))
      return false;
    for await (const _ of imageFiles(source.path, DICOM_FILES)) return true;
    return false;
  },

  async check(source) {
    if ((await checkDataPath(source.path, 'dicom')).isDirectory())
      await checkHasImageFiles(source.path, DICOM_FILES, 'dicom: no DICOM files in it');
  },

  async *load(source, notes) {
    if (await isFile(source.path)) {
      yield await dicomSample(source.path, fileStem(basename(source.path)), 0);
      return;
    }
    await checkDataPath(source.path, 'dicom');
    let index = 0;
    for (const { id, path } of await sortedFolderItems(source.path, DICOM_FILES)) {
      const nonImage = await nonImageVerdict(source, path);
      if (nonImage !== undefined) {
        notes?.skipped(path, nonImage);
        continue;
      }
      yield await dicomSample(path, id, index);
      index += 1;
    }
  },
};

/**
 * What a listed file is when it is no image, read once per file and dataset source: a run
 * lists its dataset more than once (the plan, then the stream), each time reading headers.
 */
const verdicts = new WeakMap<DatasetSource, Map<string, string | undefined>>();

async function nonImageVerdict(source: DatasetSource, path: string): Promise<string | undefined> {
  let known = verdicts.get(source);
  if (known === undefined) {
    known = new Map();
    verdicts.set(source, known);
  }
  if (!known.has(path)) known.set(path, await nonImageDicomFile(path));
  return known.get(path);
}

function dicomSample(path: string, id: string, index: number) {
  return finishSample(
    { index, id, imagePath: path, references: [], place: path, problems: [] },
    false,
  );
}
