import type { Logger } from '../core/logger.js';

/** One dataset item, as read from the dataset's index. Images are read later, lazily. */
export interface Sample {
  /** Stable item id (ROCOv2 `ID`, manifest `id`, file stem for folders). */
  id: string;
  /** Position in dataset order, starting at 0. */
  index: number;
  /** Path of the image file, as a user would recognise it (or `file.parquet#row` for parquet). */
  imagePath: string;
  /** Reference captions; empty when the dataset has none (folder) or the row had none. */
  references: string[];
  /** UMLS CUIs where the dataset gives them. */
  concepts?: string[];
  /** Reads the image's encoded bytes. Not called until the image is preprocessed. */
  readImage(): Promise<Uint8Array>;
  /**
   * A problem found while reading the index (duplicate id, missing file, missing caption).
   * An item with a problem that prevents captioning has `fatal: true` and becomes an error row.
   */
  problem?: { message: string; fatal: boolean };
}

export type DatasetFormat = 'rocov2' | 'roco' | 'manifest' | 'parquet' | 'folder' | 'dicom';

export interface DatasetSource {
  path: string;
  split: string;
}

export interface DatasetLoader {
  readonly format: DatasetFormat;
  /** True when this loader recognises the layout at `source.path` (used by `auto`). */
  detect(source: DatasetSource): Promise<boolean>;
  /**
   * Throws what `load` would throw at its start for a path that is not this layout (a
   * ConfigError naming --data), without listing the items; resolves when `load` can begin.
   * selectLoader calls it, so that a wrong --data is said before --out is made. What it chose
   * among several candidates (a Hugging Face cache's snapshot, a split's other name) is told
   * to `logger`.
   */
  check(source: DatasetSource, logger?: Logger): Promise<void>;
  /** Items in dataset order, streamed; files it leaves out on purpose are told to `notes`. */
  load(source: DatasetSource, notes?: LoadNotes): AsyncIterable<Sample>;
}

/** What a loader tells besides its items. */
export interface LoadNotes {
  /** A file listed but left out on purpose (not an item): a DICOM report among images. */
  skipped(path: string, reason: string): void;
}
