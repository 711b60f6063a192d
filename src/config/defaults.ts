import { loadConfig } from './load.js';
import { CAPTION_OPTIONS, COMMON_OPTIONS, EVALUATE_OPTIONS } from './schema.js';
import type { CaptionConfig, EvaluateConfig } from './types.js';

/**
 * A complete CaptionConfig for library use: the given options (camelCase, the same values
 * the flags take) over the defaults, validated like the CLI's. No environment variable or
 * config file is read.
 */
export function captionConfig(options: Record<string, unknown> & { data: string }): CaptionConfig {
  return loadConfig({
    specs: [...COMMON_OPTIONS, ...CAPTION_OPTIONS],
    flags: options,
    env: {},
    cwd: process.cwd(),
  }) as unknown as CaptionConfig;
}

/** A complete EvaluateConfig for library use (see {@link captionConfig}). */
export function evaluateConfig(
  options: Record<string, unknown> & { captions: string },
): EvaluateConfig {
  return loadConfig({
    specs: [...COMMON_OPTIONS, ...EVALUATE_OPTIONS],
    flags: options,
    env: {},
    cwd: process.cwd(),
  }) as unknown as EvaluateConfig;
}
