import { constants, createReadStream, type Stats } from 'node:fs';
import { lstat, open, opendir, readdir, readFile, stat } from 'node:fs/promises';
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

/**
 * Reads an image file's bytes; a missing, unreadable or special file is an ImageError naming
 * it. Opened without blocking and checked to be a regular file first: reading a FIFO named
 * `x.jpg` would wait forever for a writer.
 */
export async function readImageFile(path: string): Promise<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile())
      throw new ImageError(`${path}: not a regular file (${fileKind(info)})`, {
        code: 'IMAGE_READ',
      });
    return await handle.readFile();
  } catch (error) {
    if (error instanceof ImageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImageError(`${path}: ${readFailure(code, error)}`, {
      code: code === 'ENOENT' ? 'IMAGE_MISSING' : 'IMAGE_READ',
      cause: error,
    });
  } finally {
    await handle?.close();
  }
}

function readFailure(code: string | undefined, error: unknown): string {
  if (code === 'ENOENT') return 'file not found';
  if (code === 'ELOOP') return 'symbolic link loop (ELOOP)';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return `cannot read file (${code ?? String(error)})`;
}

/** What a path that is not a regular file is, in words: "a directory", "a FIFO", … */
function fileKind(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  return 'not a file';
}

/**
 * Why an image path that a dataset names is not a readable regular file, to follow "image
 * file": `not found`, `is a symbolic link loop`, `is not a regular file (a FIFO)`, …
 */
export async function missingFileReason(path: string): Promise<string> {
  try {
    const info = await stat(path);
    // A file that exists now was missing from the folder listing taken earlier.
    return info.isFile()
      ? 'not found when the folder was listed'
      : `is not a regular file (${fileKind(info)})`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const link = (await lstat(path).catch(() => undefined))?.isSymbolicLink();
      return link ? 'is a dangling symbolic link (its target does not exist)' : 'not found';
    }
    if (code === 'ELOOP') return 'is a symbolic link loop';
    return `cannot be read (${code ?? String(error)})`;
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

/**
 * Files under `dir` (recursive, hidden entries skipped) whose extension is one of
 * `extensions`. Symbolic links and special files with such a name are listed too, so a
 * broken one becomes an error row instead of silently vanishing; linked folders are not
 * followed.
 */
export async function* filesWithExtensions(
  dir: string,
  extensions: readonly string[],
): AsyncGenerator<string> {
  for await (const entry of await opendir(dir)) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesWithExtensions(path, extensions);
    else if (extensions.includes(extname(entry.name).toLowerCase())) yield path;
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
