import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * `~/x` as the home folder's `x`, as a shell expands it: a `~` that was quoted
 * (`MEDCAP_MODEL_CACHE='~/models'`, a config file) reaches medcap as it is.
 */
export function expandHome(path: string): string {
  return path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}
