import { resolve } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { writeReport } from '../../reports/html/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';

/** `medcap report DIR`: writes medical_{split}_report.html into DIR and prints its path. */
export async function reportCommand(
  config: Record<string, unknown>,
  args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const [dir, ...rest] = args;
  if (dir === undefined || dir === '') {
    throw new ConfigError(
      'medcap report: give the run directory, e.g. medcap report results_medical',
    );
  }
  if (rest.length > 0) {
    throw new ConfigError(
      `medcap report takes one directory, got ${args.length}: ${args.join(' ')}`,
    );
  }
  const split = typeof config.split === 'string' ? config.split : 'train';
  const result = await writeReport({
    dir: resolve(ctx.cwd, dir),
    split,
    logger: ctx.logger,
    cwd: ctx.cwd,
  });
  ctx.writeOut(`${result.path}\n`);
  return EXIT.ok;
}
