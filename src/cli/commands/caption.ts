import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { resolveModelValue } from '../../config/paths.js';
import type { CaptionConfig } from '../../config/types.js';
import { ConfigError, describeError } from '../../core/errors.js';
import { runHardStopHooks } from '../../core/hard-stop.js';
import { checkSettingsFile } from '../../core/input-path.js';
import { checkDataPath } from '../../datasets/data-path.js';
import { fixedSide } from '../../images/resize.js';
import { caption } from '../../pipeline/run.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';

export async function captionCommand(
  config: Record<string, unknown>,
  _args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const settings = await captionSettings(config, ctx);
  const { value: result, stoppedBy } = await withInterrupt(ctx, (signal) =>
    caption(settings, {
      logger: ctx.logger,
      interactive: ctx.interactive,
      signal,
      ...(ctx.engine ? { engine: ctx.engine } : {}),
    }),
  );
  if (result.interrupted) return interruptedExit(stoppedBy);
  return result.failed > 0 ? EXIT.partial : EXIT.ok;
}

type StopSignal = 'SIGINT' | 'SIGTERM';

/** 130 after Ctrl-C (SIGINT), 143 after SIGTERM: 128 + the signal's number, as shells report. */
export function interruptedExit(stoppedBy: StopSignal | undefined): ExitCode {
  return stoppedBy === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted;
}

/**
 * The first Ctrl-C (or SIGTERM, as schedulers send before killing a job) lets the batches
 * in flight finish for a few seconds, writes the outputs and stops; the journal makes
 * `--resume` pick up from there. A second signal stops at once (the journal stays valid).
 */
export async function withInterrupt<T>(
  ctx: CommandContext,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T; stoppedBy: StopSignal | undefined }> {
  const controller = new AbortController();
  let stoppedBy: StopSignal | undefined;
  const remove = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const onSignal = (signal: StopSignal) => {
    if (controller.signal.aborted) {
      remove();
      runHardStopHooks();
      process.kill(process.pid, signal);
      return;
    }
    stoppedBy = signal;
    ctx.logger.warn(
      `${signal === 'SIGINT' ? 'interrupt (Ctrl-C)' : 'SIGTERM'}: finishing the batches in flight and writing outputs ` +
        '(send it again to stop at once)',
    );
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return { value: await work(controller.signal), stoppedBy };
  } finally {
    remove();
  }
}

/**
 * `--image-size` and `--min-pixels`/`--max-pixels` are alternatives (one would be ignored);
 * a size off Qwen2-VL's 28-px grid is said, with the size used.
 */
function checkImageSize(settings: CaptionConfig, ctx: CommandContext): void {
  if (settings.imageSize === undefined) return;
  const bounds = ['minPixels', 'maxPixels'].filter((key) => ctx.given?.has(key));
  if (bounds.length > 0) {
    throw new ConfigError(
      `--image-size ${settings.imageSize} and ${bounds.map((k) => (k === 'minPixels' ? '--min-pixels' : '--max-pixels')).join(' and ')}: ` +
        "give one or the other (a fixed square, or the pixel bounds of Qwen2-VL's resizing)",
    );
  }
  const side = fixedSide(settings.imageSize);
  if (side !== settings.imageSize) {
    ctx.logger.info(
      `--image-size ${settings.imageSize}: images are ${side}x${side} (Qwen2-VL works in multiples of 28 px)`,
    );
  }
}

/** Checks what the schema cannot (required --data, --prompt @FILE) and applies HF_HUB_OFFLINE. */
export async function captionSettings(
  config: Record<string, unknown>,
  ctx: CommandContext,
): Promise<CaptionConfig> {
  const settings = config as unknown as CaptionConfig;
  if (!settings.data)
    throw new ConfigError('--data is required: a dataset folder or a manifest file');
  const data = resolve(ctx.cwd, settings.data);
  // There, and the kind --format reads, before the command makes --out (the dataset loaders
  // say it too, for library callers).
  await checkDataPath(data, settings.format);
  checkImageSize(settings, ctx);
  const offline =
    settings.offline || ['1', 'true', 'yes'].includes((ctx.env.HF_HUB_OFFLINE ?? '').toLowerCase());
  let prompt = settings.prompt;
  if (prompt.startsWith('@')) {
    const path = resolve(ctx.cwd, prompt.slice(1));
    await checkSettingsFile('--prompt', path);
    try {
      prompt = (await readFile(path, 'utf8')).trim();
    } catch (error) {
      throw new ConfigError(
        `--prompt ${path}: cannot read the prompt file (${describeError(error)})`,
      );
    }
    if (prompt === '') throw new ConfigError(`--prompt ${path}: the prompt file is empty`);
  }
  return {
    ...settings,
    model: resolveModelValue(settings.model, ctx.cwd),
    data,
    out: resolve(ctx.cwd, settings.out),
    offline,
    prompt,
    // The server engine's batch is the requests in flight (SPEC §6): the journal, the summary
    // and the report then say what the CSV's batch_size column says.
    batchSize: settings.engine === 'openai' ? settings.concurrency : settings.batchSize,
  };
}
