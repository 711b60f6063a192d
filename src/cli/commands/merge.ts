import { mergeRuns } from '../../pipeline/merge.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';

export async function mergeCommand(
  config: Record<string, unknown>,
  args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const result = await mergeRuns(args, String(config.out), String(config.split), ctx.logger);
  return result.failed > 0 ? EXIT.partial : EXIT.ok;
}
