import { type Stats, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CaptionToolError, ConfigError } from './errors.js';

/**
 * Paths the user names (an option such as `--data`, or a command's argument) and that medcap
 * reads. One that does not exist, or is not the kind of thing asked for (a file where a
 * folder is needed), is a wrong value like any other: a ConfigError, exit 1, naming the
 * option and the path (SPEC §2). A path that exists but cannot be read is a runtime failure
 * (exit 2), and so is one that goes missing while the run reads it.
 */

export type InputKind = 'file' | 'folder' | 'file or folder';

/** `what` names the option or argument: `--data`, `report: run folder`. */
export function inputPathError(what: string, path: string, problem: string): ConfigError {
  return new ConfigError(`${what} ${path}: ${problem}`, { code: 'INPUT_PATH' });
}

/** Codes with which a path that is not there fails, as stat, open and readdir give them. */
const MISSING = new Set(['ENOENT', 'ENOTDIR']);

/** True when a file-system error says the path does not exist. */
function isMissingPathError(error: unknown): boolean {
  return MISSING.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** Checks that `path` exists and is of `kind`; returns its stats (links followed). */
export async function checkInputPath(what: string, path: string, kind: InputKind): Promise<Stats> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (error) {
    throw statFailure(what, path, kind, error);
  }
  checkKind(what, path, kind, info);
  return info;
}

/** checkInputPath, for the few callers that cannot wait (the config file). */
export function checkInputPathSync(what: string, path: string, kind: InputKind): Stats {
  let info: Stats;
  try {
    info = statSync(path);
  } catch (error) {
    throw statFailure(what, path, kind, error);
  }
  checkKind(what, path, kind, info);
  return info;
}

function statFailure(what: string, path: string, kind: InputKind, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (isMissingPathError(error)) return inputPathError(what, path, `no such ${kind}`);
  if (code === 'ELOOP') return inputPathError(what, path, 'is a symbolic link loop');
  return new CaptionToolError(`${what} ${path}: cannot read it (${code ?? String(error)})`, {
    code: 'INPUT_READ',
    cause: error,
  });
}

function checkKind(what: string, path: string, kind: InputKind, info: Stats): void {
  if (info.isFile() && kind !== 'folder') return;
  if (info.isDirectory() && kind !== 'file') return;
  const is = info.isDirectory()
    ? 'a folder'
    : info.isFile()
      ? 'a file'
      : info.isFIFO()
        ? 'a FIFO'
        : info.isSocket()
          ? 'a socket'
          : 'a device';
  throw inputPathError(what, path, `is ${is}, not a ${kind}`);
}

/**
 * checkInputPath for a file whose content is configuration (`--config`, `--prompt @FILE`,
 * `--bertscore-baseline`): one that cannot be read is a configuration error too.
 */
export async function checkSettingsFile(what: string, path: string): Promise<void> {
  await checkInputPath(what, path, 'file').catch((error: unknown) => {
    throw asConfigError(error);
  });
}

/** checkSettingsFile, for the config file (read before anything else, synchronously). */
export function checkSettingsFileSync(what: string, path: string): void {
  try {
    checkInputPathSync(what, path, 'file');
  } catch (error) {
    throw asConfigError(error);
  }
}

function asConfigError(error: unknown): ConfigError {
  if (error instanceof ConfigError) return error;
  return new ConfigError((error as Error).message, { code: 'INPUT_PATH', cause: error });
}
