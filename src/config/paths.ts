import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { cannotBeHubId } from '../core/hub-id.js';

/**
 * Options whose values name files or folders, and the base a relative one is taken from: a
 * value in the config file is relative to that file's folder (as tsconfig, ESLint and Docker
 * Compose do); a flag or an environment variable to the current directory.
 *
 * - `path`: always a path (`--data`, `--out`, `--captions`, `--bertscore-baseline`).
 * - `model`: a local folder or a Hugging Face Hub id (`--model`, `--bertscore-model`); see
 *   resolveModelValue.
 * - `prompt`: a path only after `@` (`--prompt @FILE`); other values are the prompt itself.
 */
export type PathKind = 'path' | 'model' | 'prompt';

/**
 * A model value with a relative folder made absolute against `base`. A value that cannot be a
 * Hub id is a folder; one that could (`models/x`, `tiny`) is a folder when a file or folder of
 * that name exists under `base`, and otherwise stays a Hub id as given. `~/x` is left for the
 * model loader, which expands it to the home folder.
 */
export function resolveModelValue(value: string, base: string): string {
  if (value.startsWith('~')) return value;
  if (cannotBeHubId(value) || existsSync(resolve(base, value))) return resolve(base, value);
  return value;
}

/** `value` of an option of `kind`, its relative path made absolute against `base`. */
export function resolvePathValue(kind: PathKind, value: string, base: string): string {
  switch (kind) {
    case 'path':
      return resolve(base, value);
    case 'model':
      return resolveModelValue(value, base);
    case 'prompt':
      return value.startsWith('@') ? `@${resolve(base, value.slice(1))}` : value;
  }
}
