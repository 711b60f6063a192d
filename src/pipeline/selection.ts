import type { CaptionConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { selectLoader } from '../datasets/registry.js';
import type { DatasetLoader, DatasetSource, LoadNotes, Sample } from '../datasets/types.js';
import type { PreprocessOptions } from '../images/preprocess.js';
import { inShard } from './shard.js';

/** Where the dataset is, as the loaders take it. */
export function datasetSource(config: CaptionConfig): DatasetSource {
  return { path: config.data, split: config.split };
}

/** The dataset of a run: its loader, chosen and checked, and the source it reads. */
export interface SelectedDataset {
  loader: DatasetLoader;
  source: DatasetSource;
}

/**
 * Chooses the loader of `--format` (detecting it for `auto`) and checks the layout, without
 * listing the items. Done before --out is made, so a wrong --data leaves no folder behind.
 */
export async function selectDataset(
  config: CaptionConfig,
  logger: Logger,
): Promise<SelectedDataset> {
  const source = datasetSource(config);
  return { loader: await selectLoader(config.format, source, logger), source };
}

/** The items `--limit` and `--shard` select, in dataset order (the same for every command). */
export async function* selectedSamples(
  loader: DatasetLoader,
  source: DatasetSource,
  config: Pick<CaptionConfig, 'limit' | 'shard'>,
  notes?: LoadNotes,
): AsyncGenerator<Sample> {
  for await (const sample of loader.load(source, notes)) {
    if (sample.index >= config.limit) break;
    if (!inShard(sample.id, config.shard)) continue;
    yield sample;
  }
}

/** Collects the files a loader leaves out on purpose, to say them once, by reason. */
export class SkippedFiles implements LoadNotes {
  private readonly byReason = new Map<string, string[]>();

  skipped(path: string, reason: string): void {
    this.byReason.set(reason, [...(this.byReason.get(reason) ?? []), path]);
  }

  /** One warning per reason, naming the first few files. */
  report(logger: Logger): void {
    for (const [reason, paths] of this.byReason) {
      const shown =
        paths.slice(0, 3).join(', ') + (paths.length > 3 ? `, … (${paths.length - 3} more)` : '');
      const count = paths.length === 1 ? '1 file that is' : `${paths.length} files that are each`;
      logger.warn(`dataset: left out ${count} ${reason}, not an image: ${shown}`);
    }
  }
}

/**
 * How images are opened for the model: a fixed square or Qwen2-VL's min/max pixels, and the
 * `--window` and `--frame` for DICOM images (in any dataset format).
 */
export function preprocessOptions(config: CaptionConfig): PreprocessOptions {
  return {
    minPixels: config.minPixels,
    maxPixels: config.maxPixels,
    ...(config.imageSize !== undefined ? { imageSize: config.imageSize } : {}),
    ...(config.window ? { window: config.window } : {}),
    ...(config.frame !== undefined && config.frame !== 'middle' ? { frame: config.frame } : {}),
  };
}
