import type { Stats } from 'node:fs';
import { checkInputPath, type InputKind, inputPathError } from '../core/input-path.js';
import type { DatasetFormat } from './types.js';

/** What `--data` must be for each `--format`: the kind of path, and what the format reads. */
export const DATA_PATHS: Readonly<
  Record<DatasetFormat | 'auto', { kind: InputKind; reads: string }>
> = Object.freeze({
  auto: { kind: 'file or folder', reads: 'a dataset folder or file' },
  rocov2: { kind: 'folder', reads: 'a folder with {split}_captions.csv and {split}/' },
  roco: { kind: 'folder', reads: 'a folder with {split}/radiology/captions.txt' },
  manifest: { kind: 'file', reads: 'a .csv or .jsonl manifest file' },
  parquet: { kind: 'file or folder', reads: 'a .parquet file or a folder of them' },
  folder: { kind: 'folder', reads: 'a folder of images' },
  dicom: { kind: 'file or folder', reads: 'a .dcm file or a folder of them' },
});

/**
 * Checks that `--data` exists and is the kind of path `format` reads: a ConfigError (exit 1)
 * naming --data, the path and what the format needs. The commands call it before they make
 * --out, and each loader again for library callers, so both say the same.
 */
export async function checkDataPath(path: string, format: DatasetFormat | 'auto'): Promise<Stats> {
  // A path that is not there is "no such file or folder" whatever the format.
  const info = await checkInputPath('--data', path, 'file or folder');
  const need = DATA_PATHS[format];
  if (!need) return info; // not a format: selectLoader names the allowed ones
  const is = info.isDirectory() ? 'folder' : 'file';
  if (need.kind === 'file or folder' || need.kind === is) return info;
  throw inputPathError(
    '--data',
    path,
    `is a ${is}, not a ${need.kind} (--format ${format} reads ${need.reads})`,
  );
}
