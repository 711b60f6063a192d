import { loadConfig } from '../../src/config/load.js';
import { CAPTION_OPTIONS, COMMON_OPTIONS } from '../../src/config/schema.js';
import type { CaptionConfig } from '../../src/config/types.js';

/** A fully defaulted CaptionConfig, as the CLI would build it, with the given flags. */
export function captionConfig(flags: Record<string, unknown>): CaptionConfig {
  return loadConfig({
    specs: [...COMMON_OPTIONS, ...CAPTION_OPTIONS],
    flags,
    env: {},
    cwd: '/nonexistent',
  }) as unknown as CaptionConfig;
}
