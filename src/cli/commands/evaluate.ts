import { resolve } from 'node:path';
import { resolveModelValue } from '../../config/paths.js';
import type { EvaluateConfig } from '../../config/types.js';
import { ConfigError } from '../../core/errors.js';
import { evaluate } from '../../metrics/evaluate.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';

/** `medcap evaluate --captions FILE`: scores captions and writes the evaluation files. */
export async function evaluateCommand(
  config: Record<string, unknown>,
  _args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const options = config as unknown as EvaluateConfig;
  if (typeof options.captions !== 'string' || options.captions === '') {
    throw new ConfigError(
      '--captions is required: the captions CSV of `medcap caption` or a JSONL file of {"id", "candidate", "references"} lines',
    );
  }
  const result = await evaluate(
    {
      ...options,
      captions: resolve(ctx.cwd, options.captions),
      bertscoreModel: resolveModelValue(options.bertscoreModel, ctx.cwd),
      ...(options.bertscoreBaseline === undefined
        ? {}
        : { bertscoreBaseline: resolve(ctx.cwd, options.bertscoreBaseline) }),
      out: resolve(ctx.cwd, options.out),
      offline: ctx.env.HF_HUB_OFFLINE === '1' || config.offline === true,
    },
    { logger: ctx.logger },
  );
  for (const path of Object.values(result.paths)) ctx.logger.info(`wrote ${path}`);
  const summary = await import('node:fs/promises').then((fs) =>
    fs.readFile(result.paths.summary, 'utf8'),
  );
  ctx.writeOut(summary);
  return EXIT.ok;
}
