import { CAPTION_OPTIONS } from '../../config/schema.js';
import { defaultPathWorks, formatChecks, runChecks } from '../../doctor/checks.js';
import { systemProbe } from '../../doctor/probe.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';

/** `medcap doctor`: what this machine can run, and the fix for what is missing. */
export async function doctorCommand(
  config: Record<string, unknown>,
  _args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const defaultModel = CAPTION_OPTIONS.find((o) => o.key === 'model')?.default;
  const checks = await runChecks(systemProbe(ctx.env), {
    out: String(config.out),
    cwd: ctx.cwd,
    defaultModel: String(defaultModel),
  });
  ctx.writeOut(formatChecks(checks));
  return defaultPathWorks(checks) ? EXIT.ok : EXIT.fatal;
}
