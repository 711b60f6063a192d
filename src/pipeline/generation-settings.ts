import type { CaptionConfig } from '../config/types.js';
import type { GenerationSettings } from '../formats/journal-types.js';

/** The settings of `config` that change the captions, as the journal's start line records them. */
export function generationSettings(config: CaptionConfig): GenerationSettings {
  return {
    prompt: config.prompt,
    maxNewTokens: config.maxNewTokens,
    imageSize: config.imageSize ?? null,
    minPixels: config.minPixels,
    maxPixels: config.maxPixels,
    window: config.window ? [config.window[0], config.window[1]] : null,
    frame: config.frame ?? 'middle',
    imageEncoding: config.imageEncoding,
  };
}

/** Each setting that differs, as `--option: BEFORE in the journal, NOW now` (or as labelled). */
export function generationDifferences(
  before: GenerationSettings,
  now: GenerationSettings,
  labels = { before: 'in the journal', now: 'now' },
): string[] {
  const fixedSize = before.imageSize !== null && now.imageSize !== null;
  const compared: [string, unknown, unknown][] = [
    ['--prompt', before.prompt, now.prompt],
    ['--max-new-tokens', before.maxNewTokens, now.maxNewTokens],
    ['--image-size', before.imageSize, now.imageSize],
    // A fixed --image-size leaves min/max pixels unused.
    ...(fixedSize
      ? []
      : ([
          ['--min-pixels', before.minPixels, now.minPixels],
          ['--max-pixels', before.maxPixels, now.maxPixels],
        ] as [string, unknown, unknown][])),
    ['--window', before.window?.join(',') ?? null, now.window?.join(',') ?? null],
    ['--frame', before.frame, now.frame],
    ['--image-encoding', before.imageEncoding, now.imageEncoding],
  ];
  return compared
    .filter(([, a, b]) => a !== b)
    .map(([option, a, b]) => `${option}: ${shown(a)} ${labels.before}, ${shown(b)} ${labels.now}`);
}

function shown(value: unknown): string {
  return value === null ? '(not set)' : JSON.stringify(value);
}
