import type { ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';
import { notYetAvailable } from './not-yet.js';

export async function compareCommand(
  _config: Record<string, unknown>,
  _args: string[],
  _ctx: CommandContext,
): Promise<ExitCode> {
  notYetAvailable('compare');
}
