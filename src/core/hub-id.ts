import { isAbsolute } from 'node:path';

/**
 * True when a model value cannot be a Hugging Face Hub id (`name` or `owner/name`), so it can
 * only name a local folder: `./x`, `../x`, `/x`, `~/x`, a Windows path, or more than one `/`
 * (`a/b/c`).
 */
export function cannotBeHubId(value: string): boolean {
  return (
    value.startsWith('.') ||
    value.startsWith('~') ||
    isAbsolute(value) ||
    value.includes('\\') ||
    value.split('/').length > 2
  );
}
