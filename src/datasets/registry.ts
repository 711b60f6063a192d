import { existsSync } from 'node:fs';
import { ConfigError, DatasetError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { dicomLoader } from './dicom/index.js';
import { folderLoader } from './folder/index.js';
import { manifestLoader } from './manifest/index.js';
import { parquetLoader } from './parquet/index.js';
import { rocoLoader } from './roco/index.js';
import { rocov2Loader } from './rocov2/index.js';
import type { DatasetFormat, DatasetLoader, DatasetSource } from './types.js';

/** Loaders in `auto` detection order: the most specific layouts first. */
export const DATASET_LOADERS: Readonly<Partial<Record<DatasetFormat, DatasetLoader>>> =
  Object.freeze({
    rocov2: rocov2Loader,
    roco: rocoLoader,
    manifest: manifestLoader,
    parquet: parquetLoader,
    dicom: dicomLoader,
    folder: folderLoader,
  });

export async function selectLoader(
  format: DatasetFormat | 'auto',
  source: DatasetSource,
  logger: Logger,
): Promise<DatasetLoader> {
  if (format !== 'auto') {
    const loader = DATASET_LOADERS[format];
    if (!loader) {
      throw new ConfigError(
        `--format: '${format}' is not available (allowed: auto, ${Object.keys(DATASET_LOADERS).join(', ')})`,
      );
    }
    return loader;
  }
  // Else each detector would miss it, and the error would be that the layout is unknown.
  if (!existsSync(source.path))
    throw new DatasetError(`--data ${source.path}: no such file or folder`);
  for (const loader of Object.values(DATASET_LOADERS)) {
    if (await loader.detect(source)) {
      logger.info(`dataset: detected ${loader.format} layout in ${source.path}`);
      return loader;
    }
  }
  throw new DatasetError(
    `--data ${source.path}: cannot tell the dataset layout (looked for ${source.split}_captions.csv (rocov2), ` +
      `${source.split}/radiology/captions.txt (roco), a .csv/.jsonl manifest, .parquet shards, .dcm files, or a folder of images); ` +
      `use --format to say which`,
  );
}
