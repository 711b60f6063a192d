import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { CaptionConfig } from '../../config/types.js';
import { ConfigError } from '../../core/errors.js';
import { caption } from '../../pipeline/run.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';

export async function captionCommand(
  config: Record<string, unknown>,
  _args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const settings = await captionSettings(config, ctx);
  const result = await withInterrupt(ctx, (signal) =>
    caption(settings, {
      logger: ctx.logger,
      interactive: ctx.interactive,
      signal,
      ...(ctx.engine ? { engine: ctx.engine } : {}),
    }),
  );
  if (result.interrupted) return EXIT.interrupted;
  return result.failed > 0 ? EXIT.partial : EXIT.ok;
}

/**
 * The first Ctrl-C finishes the batch in flight, writes the outputs and stops (the journal
 * makes `--resume` pick up from there); a second one stops at once.
 */
export async function withInterrupt<T>(
  ctx: CommandContext,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) {
      process.off('SIGINT', onSignal);
      process.kill(process.pid, 'SIGINT');
      return;
    }
    ctx.logger.warn(
      'interrupt: finishing the current batch and writing outputs (Ctrl-C again to stop at once)',
    );
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
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
  const offline =
    settings.offline || ['1', 'true', 'yes'].includes((ctx.env.HF_HUB_OFFLINE ?? '').toLowerCase());
  let prompt = settings.prompt;
  if (prompt.startsWith('@')) {
    const path = resolve(ctx.cwd, prompt.slice(1));
    try {
      prompt = (await readFile(path, 'utf8')).trim();
    } catch {
      throw new ConfigError(`--prompt: cannot read prompt file ${path}`);
    }
    if (prompt === '') throw new ConfigError(`--prompt: prompt file ${path} is empty`);
  }
  return {
    ...settings,
    model: localModelPath(settings.model, ctx.cwd),
    data: resolve(ctx.cwd, settings.data),
    out: resolve(ctx.cwd, settings.out),
    offline,
    prompt,
  };
}

/** A model given as a path (`./models/x`, `/abs/x`, or an existing folder) is resolved against cwd. */
function localModelPath(model: string, cwd: string): string {
  const looksLikePath =
    model.startsWith('.') || isAbsolute(model) || existsSync(resolve(cwd, model));
  return looksLikePath ? resolve(cwd, model) : model;
}
