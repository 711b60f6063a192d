import { basename, resolve } from 'node:path';
import { resolveModelValue } from '../../config/paths.js';
import type { EvaluateConfig } from '../../config/types.js';
import { ConfigError } from '../../core/errors.js';
import { splitOfEvaluatedFile } from '../../core/paths.js';
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
  const captions = resolve(ctx.cwd, options.captions);
  const result = await evaluate(
    {
      ...options,
      split: evaluationSplit(captions, options.split, ctx),
      captions,
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

/**
 * The split whose files evaluate writes: the one the captions file is named for unless
 * --split says otherwise, so that scoring the valid captions never overwrites train's files.
 */
function evaluationSplit(captions: string, split: string, ctx: CommandContext): string {
  const named = splitOfEvaluatedFile(basename(captions));
  if (named === undefined || named === split) return split;
  if (ctx.given?.has('split')) {
    throw new ConfigError(
      `--split ${split}: the captions file ${captions} is named for split '${named}'; ` +
        `pass --split ${named} (or leave --split out), or rename the file`,
    );
  }
  ctx.logger.info(
    `evaluate: split '${named}', from the name of ${basename(captions)} (--split to choose another)`,
  );
  return named;
}
