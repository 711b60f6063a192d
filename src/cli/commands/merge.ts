import { resolve } from 'node:path';
import { mergeRuns } from '../../pipeline/merge.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';

export async function mergeCommand(
  config: Record<string, unknown>,
  args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const result = await mergeRuns(
    args.map((dir) => resolve(ctx.cwd, dir)),
    resolve(ctx.cwd, String(config.out)),
    String(config.split),
    ctx.logger,
  );
  // Failed rows, or images that may be missing (an unfinished run, a shard not given): 3.
  return result.failed > 0 || result.incomplete.length > 0 ? EXIT.partial : EXIT.ok;
}
