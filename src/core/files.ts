import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError, OutputError } from './errors.js';

/** What the user can do something about when a write fails, by errno code. */
const WRITE_FAILURES: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EFBIG: 'the file size limit is reached (ulimit -f)',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file of that name is in the way',
};

/** Why writing failed, in words, or undefined for an error that is not about the disk. */
export function writeFailureReason(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === undefined ? undefined : WRITE_FAILURES[code];
  return reason === undefined ? undefined : `${reason} (${code})`;
}

/** An OutputError naming `path` for disk errors; any other error unchanged. */
export function asOutputError(error: unknown, path: string): unknown {
  const reason = writeFailureReason(error);
  if (reason === undefined || error instanceof OutputError) return error;
  return new OutputError(`cannot write ${path}: ${reason}`, { cause: error });
}

/** Temp files of `writeFileAtomic` (`.NAME.1234abcd.tmp`, beside NAME): NAME. */
const TEMP_NAME = /^\.(.+)\.[0-9a-f]{8}\.tmp$/;
const PROBE_NAME = 'medcap-write-test';

/**
 * A fresh name beside `path` for a file or folder being built, renamed to `path` once whole:
 * the process id and a random part, so two builds never share one, even in one millisecond.
 */
export function temporarySibling(path: string): string {
  return `${path}.tmp-${process.pid}-${randomUUID()}`;
}

/**
 * Write a file atomically: write a temp file in the same folder, fsync it, rename it over
 * the target. A reader never sees a half-written file, even after kill -9. A failed write
 * (disk full) leaves no temp file behind and throws an OutputError naming the file.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | readonly Uint8Array[],
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'w');
    try {
      if (Array.isArray(data)) await writeParts(handle, data);
      else await handle.writeFile(data as string | Uint8Array);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw asOutputError(error, path);
  }
}

/** Writes the pieces in order with as few system calls as the kernel allows. */
async function writeParts(handle: FileHandle, parts: readonly Uint8Array[]): Promise<void> {
  let pending = parts.filter((part) => part.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await handle.writev(pending);
    // A short write (file size limit, nearly full disk): go on after what was written.
    while (pending.length > 0 && bytesWritten >= pending[0]!.length) {
      bytesWritten -= pending[0]!.length;
      pending = pending.slice(1);
    }
    if (bytesWritten > 0) pending = [pending[0]!.subarray(bytesWritten), ...pending.slice(1)];
  }
}

/**
 * Removes temp files that writes cut short by a kill -9 left in `dir`, for the files this
 * command writes (`ownsFile(NAME)`) only: another command may be writing into the folder.
 */
export async function removeStaleTempFiles(
  dir: string,
  ownsFile: (name: string) => boolean,
): Promise<void> {
  for (const name of await readdir(dir)) {
    const target = TEMP_NAME.exec(name)?.[1];
    if (target !== undefined && (target === PROBE_NAME || ownsFile(target)))
      await rm(join(dir, name), { force: true });
  }
}

/**
 * `mkdir -p`, one level at a time: a recursive mkdir reports ENOENT when a folder cannot be
 * created on a read-only file system, and in Node 20 loops forever where a folder is there
 * but nothing can be made in it (`/proc/x`).
 */
async function makeFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    if (await isThereAlready(error, dir)) return;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw error;
    await makeFolder(dirname(dir));
    try {
      await mkdir(dir);
    } catch (again) {
      if (await isThereAlready(again, dir)) return;
      throw again;
    }
  }
  madeFolders.getStore()?.push(dir);
}

/** mkdir failed because the folder is there (made meanwhile by another process, perhaps). */
async function isThereAlready(error: unknown, dir: string): Promise<boolean> {
  if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether the first missing folder on the way to `dir` can be made (it is made and removed
 * again): some file systems (`/proc`) refuse it where access() allows writing.
 */
export function folderCanBeMade(dir: string): boolean {
  let missing = dir;
  while (!existsSync(dirname(missing)) && dirname(missing) !== missing) missing = dirname(missing);
  if (existsSync(missing)) return true;
  try {
    mkdirSync(missing);
    rmdirSync(missing);
    return true;
  } catch {
    return false;
  }
}

/** The folders ensureWritableDir created, outer ones first, per command (withFolderCleanup). */
const madeFolders = new AsyncLocalStorage<string[]>();

/**
 * Runs a command; when it fails (`failed` of its result), the folders ensureWritableDir
 * created for it that are still empty are removed, inner ones first, so that a job stopped
 * by bad input before any work leaves no empty --out behind. A folder that holds anything
 * stays. Each command counts only its own folders, even with several running at once.
 */
export async function withFolderCleanup<T>(
  run: () => Promise<T>,
  failed: (result: T) => boolean,
): Promise<T> {
  const made: string[] = [];
  const result = await madeFolders.run(made, run);
  if (failed(result)) {
    for (const dir of made.reverse()) {
      try {
        await rmdir(dir);
      } catch {
        // Not empty (or gone): it stays as it is.
      }
    }
  }
  return result;
}

/**
 * Creates `dir` if needed and proves it writable by writing and removing a small file, so
 * a bad output folder stops the job before any work, with a message naming the option.
 */
export async function ensureWritableDir(dir: string, option: string): Promise<void> {
  try {
    await makeFolder(dir);
    const probe = join(dir, `.${PROBE_NAME}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(probe, 'wx');
    try {
      await handle.write('ok\n');
      await handle.sync();
    } finally {
      await handle.close();
      await rm(probe, { force: true });
    }
  } catch (error) {
    const reason = writeFailureReason(error) ?? folderRefused(error);
    if (reason === undefined) throw error;
    throw new ConfigError(`${option} ${dir}: the output folder is not writable: ${reason}`, {
      cause: error,
    });
  }
}

/** ENOENT though every folder above is there: the file system allows no folder there (`/proc`). */
function folderRefused(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
    ? 'no folder can be made there (ENOENT)'
    : undefined;
}

/**
 * The file's bytes in shared memory, which a worker thread can read without a copy. Like
 * readFile, it reads as many bytes as the file had when opened.
 */
export async function readFileShared(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const bytes = new Uint8Array(new SharedArrayBuffer(size));
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return bytes.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
