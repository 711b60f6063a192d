import { opendir, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative } from 'node:path';
import { ImageError } from '../core/errors.js';

/** Image file extensions sharp decodes (plus DICOM, handled by its own loader). */
export const IMAGE_EXTENSIONS = Object.freeze([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.tif',
  '.tiff',
  '.gif',
  '.avif',
]);

export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Answers "does this file exist in that folder" from one listing of the folder, instead of
 * one stat per image (60,000 failed stats cost seconds).
 */
export function folderIndex(dir: string): (path: string) => Promise<boolean> {
  let names: Promise<Set<string>> | undefined;
  return async (path: string) => {
    names ??= readdir(dir).then(
      (list) => new Set(list),
      () => new Set<string>(),
    );
    if (dirname(path) !== dir) return isFile(path);
    return (await names).has(basename(path));
  };
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Reads an image file's bytes; a missing or unreadable file is an ImageError naming it. */
export async function readImageFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(error)})`;
    throw new ImageError(`${path}: ${reason}`, {
      code: code === 'ENOENT' ? 'IMAGE_MISSING' : 'IMAGE_READ',
      cause: error,
    });
  }
}

export { type CsvRecord, readCsvRecords } from '../formats/csv-records.js';

/** Tracks ids already seen so a duplicate is reported with the row of its first use. */
export class DuplicateTracker {
  private readonly seen = new Map<string, string>();

  /** Returns the place the id was first seen, or undefined (and remembers this place). */
  check(id: string, place: string): string | undefined {
    const first = this.seen.get(id);
    if (first !== undefined) return first;
    this.seen.set(id, place);
    return undefined;
  }
}

/** Files under `dir` (recursive, hidden entries skipped) whose extension is one of `extensions`. */
export async function* filesWithExtensions(
  dir: string,
  extensions: readonly string[],
): AsyncGenerator<string> {
  for await (const entry of await opendir(dir)) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesWithExtensions(path, extensions);
    else if (entry.isFile() && extensions.includes(extname(entry.name).toLowerCase())) yield path;
  }
}

/**
 * The files of a folder dataset, sorted by relative path (the same order on every machine),
 * each with its id: the relative path without extension, with `/` separators.
 */
export async function sortedFolderItems(
  dir: string,
  extensions: readonly string[],
): Promise<{ id: string; path: string }[]> {
  const relativePaths: string[] = [];
  for await (const path of filesWithExtensions(dir, extensions))
    relativePaths.push(relative(dir, path));
  relativePaths.sort();
  return relativePaths.map((path) => ({
    id: path
      .slice(0, path.length - extname(path).length)
      .split('\\')
      .join('/'),
    path: join(dir, path),
  }));
}
