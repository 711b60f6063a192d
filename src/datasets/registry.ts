import { ConfigError } from '../core/errors.js';
import { inputPathError } from '../core/input-path.js';
import type { Logger } from '../core/logger.js';
import { checkDataPath } from './data-path.js';
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

/**
 * The loader of `format` (with `auto`, the first whose `detect` knows the layout), once its
 * `check` found the layout there: a wrong --data is a ConfigError before any item is read.
 */
export async function selectLoader(
  format: DatasetFormat | 'auto',
  source: DatasetSource,
  logger: Logger,
): Promise<DatasetLoader> {
  const named = format === 'auto' ? undefined : DATASET_LOADERS[format];
  if (format !== 'auto' && !named) {
    throw new ConfigError(
      `--format: '${format}' is not available (allowed: auto, ${Object.keys(DATASET_LOADERS).join(', ')})`,
    );
  }
  // Said once here, for every format: else each loader (or, with `auto`, each detector)
  // would say it in its own words, or that the layout is unknown.
  await checkDataPath(source.path, format);
  if (named) {
    await named.check(source, logger);
    return named;
  }
  for (const loader of Object.values(DATASET_LOADERS)) {
    if (await loader.detect(source)) {
      logger.info(`dataset: detected ${loader.format} layout in ${source.path}`);
      // A parquet folder can lack the --split's shards.
      await loader.check(source, logger);
      return loader;
    }
  }
  // A folder that holds no dataset medcap knows: the wrong --data (or a --format to give).
  throw inputPathError(
    '--data',
    source.path,
    `cannot tell the dataset layout (looked for ${source.split}_captions.csv (rocov2), ` +
      `${source.split}/radiology/captions.txt (roco), a .csv/.jsonl manifest, .parquet shards, .dcm files, or a folder of images); ` +
      `use --format to say which`,
  );
}
