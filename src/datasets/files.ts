import { constants, type Dirent, type Stats } from 'node:fs';
import { lstat, open, opendir, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative } from 'node:path';
import { ImageError } from '../core/errors.js';
import { GIT_LFS_POINTER_START } from '../core/git-lfs.js';
import { inputPathError } from '../core/input-path.js';
import {
  DICOM_EXTENSIONS,
  DICOM_MAGIC_BYTES,
  hasDicomMagic,
  mediaStorageClass,
  nonImageObject,
} from '../images/dicom/index.js';

/** Image file extensions sharp decodes. */
export const RASTER_IMAGE_EXTENSIONS = Object.freeze([
  '.jpg',
  '.jpeg',
  '.jfif',
  '.jpe',
  '.jfi',
  '.pjpeg',
  '.pjp',
  '.png',
  '.apng',
  '.webp',
  '.tif',
  '.tiff',
  '.gif',
  '.avif',
]);

/**
 * Image formats medcap does not decode. A folder dataset lists them anyway, so each becomes
 * an error row saying so, instead of vanishing from the run.
 */
export const UNREAD_IMAGE_EXTENSIONS = Object.freeze([
  '.bmp',
  '.dib',
  '.jp2',
  '.j2k',
  '.j2c',
  '.jpc',
  '.jpf',
  '.jpx',
  '.jxl',
  '.heic',
  '.heif',
  '.hif',
  '.pbm',
  '.pgm',
  '.ppm',
  '.pnm',
  '.tga',
  '.ico',
  '.psd',
  '.svg',
]);

/** Image file extensions medcap decodes: sharp's, and DICOM's. */
export const IMAGE_EXTENSIONS = Object.freeze([...RASTER_IMAGE_EXTENSIONS, ...DICOM_EXTENSIONS]);

/**
 * A name that may be a DICOM file without a DICOM extension: no extension (`IM000001`), a
 * numeric one (`1.2.840.113619.2.55.3.1.320`, a SOP Instance UID), as PACS exports name
 * them, or Siemens' `.IMA`. `DICOMDIR` (the index of a DICOM medium, no pixels) is not one.
 */
export function mayBeUnnamedDicom(name: string): boolean {
  return /^\.(\d*|ima)$/i.test(extname(name) || '.') && basename(name).toUpperCase() !== 'DICOMDIR';
}

/**
 * The id a file name gives: the name without its extension, except a numeric one (the last
 * part of a UID-named DICOM file, which would make every file of a series the same id).
 */
export function fileStem(path: string): string {
  const extension = extname(path);
  return /^\.\d+$/.test(extension) ? path : path.slice(0, path.length - extension.length);
}

/** The first `bytes` bytes of a regular file; undefined when it is not one or cannot be read. */
async function readHead(path: string, bytes: number): Promise<Uint8Array | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!(await handle.stat()).isFile()) return undefined;
    const head = new Uint8Array(bytes);
    const { bytesRead } = await handle.read(head, 0, bytes, 0);
    return head.subarray(0, bytesRead);
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/**
 * True when `path` is a regular file with the DICOM Part 10 marker (`DICM` at byte 128).
 * Reads 132 bytes; anything unreadable is simply not DICOM.
 */
export async function hasDicomMagicFile(path: string): Promise<boolean> {
  const head = await readHead(path, DICOM_MAGIC_BYTES);
  return head !== undefined && hasDicomMagic(head);
}

/** Bytes read to find a DICOM file's Media Storage SOP Class: its meta group fits in them. */
const DICOM_META_BYTES = 4096;

/**
 * What a DICOM file is when its meta header says it is no image (`a Structured Report …`,
 * images/dicom/non-image.ts); undefined for an image, or a file that does not say.
 */
export async function nonImageDicomFile(path: string): Promise<string | undefined> {
  const head = await readHead(path, DICOM_META_BYTES);
  const sopClass = head && mediaStorageClass(head);
  return sopClass === undefined ? undefined : nonImageObject(sopClass);
}

/** True when `path` is a Git LFS pointer (a small text file) instead of the file it names. */
export async function isGitLfsPointerFile(path: string): Promise<boolean> {
  const head = await readHead(path, GIT_LFS_POINTER_START.length);
  return head !== undefined && new TextDecoder().decode(head) === GIT_LFS_POINTER_START;
}

export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds the image file an index names in one folder, from one listing of the folder instead
 * of one stat per image (60,000 failed stats cost seconds). `name` is the file name the
 * index implies (`{ID}.jpg`); when no file has that name, the same name in another case
 * (`{ID}.JPG`), the ID itself when it already ends in an image extension (an ID column that
 * holds `x.jpg`), or the ID with another image extension (`{ID}.png`) is taken. Returns the
 * path found, or undefined.
 */
export function folderImages(
  dir: string,
): (id: string, name: string) => Promise<string | undefined> {
  let listing: Promise<FolderListing> | undefined;
  return async (id, name) => {
    // An ID with a folder in it (`sub/x`) is not in this folder's listing.
    if (dirname(join(dir, name)) !== dir) {
      const path = join(dir, name);
      return (await isFile(path)) ? path : undefined;
    }
    listing ??= readdir(dir).then(listFolder, () => listFolder([]));
    const { names, byLowerName, byLowerStem } = await listing;
    const named = IMAGE_EXTENSIONS.includes(extname(id).toLowerCase()) ? id : undefined;
    const found =
      (names.has(name) ? name : undefined) ??
      (named && names.has(named) ? named : undefined) ??
      byLowerName.get(name.toLowerCase()) ??
      (named ? byLowerName.get(named.toLowerCase()) : undefined) ??
      byLowerStem.get(idWithoutImageExtension(id).toLowerCase());
    return found === undefined ? undefined : join(dir, found);
  };
}

interface FolderListing {
  names: Set<string>;
  byLowerName: Map<string, string>;
  /** Image files by their name without extension, in lower case (the first in sorted order). */
  byLowerStem: Map<string, string>;
}

function listFolder(list: string[]): FolderListing {
  const byLowerName = new Map<string, string>();
  const byLowerStem = new Map<string, string>();
  for (const name of [...list].sort()) {
    const lower = name.toLowerCase();
    if (!byLowerName.has(lower)) byLowerName.set(lower, name);
    const extension = extname(lower);
    const stem = lower.slice(0, lower.length - extension.length);
    if (IMAGE_EXTENSIONS.includes(extension) && !byLowerStem.has(stem)) byLowerStem.set(stem, name);
  }
  return { names: new Set(list), byLowerName, byLowerStem };
}

/** An image ID without a trailing image extension (`x.jpg` → `x`), to match ID columns. */
export function idWithoutImageExtension(id: string): string {
  const extension = extname(id);
  return IMAGE_EXTENSIONS.includes(extension.toLowerCase()) ? id.slice(0, -extension.length) : id;
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
      // A listed name that was not UTF-8 comes back with U+FFFD in it, which names no file.
      if (basename(path).includes('\uFFFD'))
        return 'its file name is not valid UTF-8, so it cannot be opened by name: rename it (convmv -f latin1 -t utf8, say)';
      const link = (await lstat(path).catch(() => undefined))?.isSymbolicLink();
      if (link) return 'is a dangling symbolic link (its target does not exist)';
      // Every image of a split is missing when its folder is: say so on each row.
      return (await isDirectory(dirname(path)))
        ? 'not found'
        : `not found (there is no folder ${dirname(path)})`;
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

/** Which files of a folder are images: by extension, and (optionally) DICOM by content. */
export interface ImageFileFilter {
  extensions: readonly string[];
  /**
   * Also take files named like an extension-less DICOM (`mayBeUnnamedDicom`) that have the
   * DICOM marker: reads 132 bytes of each such file while listing.
   */
  unnamedDicom?: boolean;
}

/**
 * Files under `dir` (recursive, hidden entries skipped) that `filter` takes. Symbolic links
 * and special files with an image extension are listed too, so a broken one becomes an
 * error row instead of silently vanishing. Linked folders are followed after the real ones,
 * and each real folder is listed once: a link to a folder inside the tree adds nothing, and
 * a link back up the tree does not list forever.
 */
export async function* imageFiles(dir: string, filter: ImageFileFilter): AsyncGenerator<string> {
  const seen = new Set<string>();
  const links: string[] = [];
  yield* walkFolder(dir, filter, seen, links);
  // `links` grows while linked folders are walked.
  for (let i = 0; i < links.length; i++) yield* walkFolder(links[i]!, filter, seen, links);
}

async function* walkFolder(
  dir: string,
  filter: ImageFileFilter,
  seen: Set<string>,
  links: string[],
): AsyncGenerator<string> {
  const real = await realpath(dir).catch(() => dir);
  if (seen.has(real)) return;
  seen.add(real);
  const entries: Dirent[] = [];
  for await (const entry of await opendir(dir))
    if (!entry.name.startsWith('.')) entries.push(entry);
  // Sorted, so that links are queued (and a folder reached twice is named) the same way everywhere.
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walkFolder(path, filter, seen, links);
    // An image name first: a cache of links to images (the Hub's) costs no stat per image.
    else if (filter.extensions.includes(extname(entry.name).toLowerCase())) yield path;
    else if (entry.isSymbolicLink() && (await isDirectory(path))) links.push(path);
    else if (
      filter.unnamedDicom &&
      mayBeUnnamedDicom(entry.name) &&
      (await hasDicomMagicFile(path))
    )
      yield path;
  }
}

/**
 * A ConfigError naming --data when `dir` holds no file that `filter` takes: an empty dataset
 * is a wrong --data, said before --out is made, not a run of nothing that exits 0.
 */
export async function checkHasImageFiles(
  dir: string,
  filter: ImageFileFilter,
  problem: string,
): Promise<void> {
  for await (const _ of imageFiles(dir, filter)) return;
  throw inputPathError('--data', dir, problem);
}

/**
 * The files of a folder dataset, sorted by relative path (the same order on every machine),
 * each with its id: the relative path without extension (see `fileStem`), with `/`
 * separators.
 */
export async function sortedFolderItems(
  dir: string,
  filter: ImageFileFilter,
): Promise<{ id: string; path: string }[]> {
  const relativePaths: string[] = [];
  for await (const path of imageFiles(dir, filter)) relativePaths.push(relative(dir, path));
  relativePaths.sort();
  return relativePaths.map((path) => ({
    id: fileStem(path).split('\\').join('/'),
    path: join(dir, path),
  }));
}
