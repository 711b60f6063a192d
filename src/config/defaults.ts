import { ConfigError } from '../core/errors.js';
import { loadConfig } from './load.js';
import { CAPTION_OPTIONS, COMMON_OPTIONS, EVALUATE_OPTIONS, type OptionSpec } from './schema.js';
import { didYouMean } from './suggest.js';
import type { CaptionConfig, EvaluateConfig } from './types.js';

/**
 * A complete CaptionConfig for library use: the given options (camelCase, the same values
 * the flags take) over the defaults, validated like the CLI's. No environment variable or
 * config file is read.
 */
export function captionConfig(options: Record<string, unknown> & { data: string }): CaptionConfig {
  const specs = [...COMMON_OPTIONS, ...CAPTION_OPTIONS];
  refuseUnknownKeys('captionConfig', options, specs);
  return loadConfig({
    specs,
    flags: options,
    env: {},
    cwd: process.cwd(),
  }) as unknown as CaptionConfig;
}

/** A complete EvaluateConfig for library use (see {@link captionConfig}). */
export function evaluateConfig(
  options: Record<string, unknown> & { captions: string },
): EvaluateConfig {
  const specs = [...COMMON_OPTIONS, ...EVALUATE_OPTIONS];
  refuseUnknownKeys('evaluateConfig', options, specs);
  return loadConfig({
    specs,
    flags: options,
    env: {},
    cwd: process.cwd(),
  }) as unknown as EvaluateConfig;
}

/** A misspelt option (`batchSzie`) would otherwise leave its default in place without a word. */
function refuseUnknownKeys(
  what: string,
  options: Record<string, unknown>,
  specs: readonly OptionSpec[],
): void {
  const keys = specs.map((spec) => spec.key);
  const unknown = Object.keys(options).filter((key) => !keys.includes(key));
  if (unknown.length === 0) return;
  throw new ConfigError(
    `${what}: unknown option${unknown.length === 1 ? '' : 's'} ` +
      `${unknown.map((key) => `'${key}'${didYouMean(key, keys)}`).join(', ')}`,
  );
}
