import { resolve } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { ensureWritableDir } from '../../core/files.js';
import { checkInputPath } from '../../core/input-path.js';
import { findSplits, writeReport } from '../../reports/html/index.js';
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
  const folder = resolve(ctx.cwd, dir);
  await checkInputPath('run folder', folder, 'folder');
  const requested = typeof config.split === 'string' ? config.split : 'train';
  const split = ctx.given?.has('split') ? requested : await onlySplit(folder, requested);
  // The report goes into the run folder: one it cannot go into is a wrong argument.
  await ensureWritableDir(folder, 'run folder');
  const result = await writeReport({ dir: folder, split, logger: ctx.logger, cwd: ctx.cwd });
  ctx.writeOut(`${result.path}\n`);
  return EXIT.ok;
}

/** Without --split, a folder of several splits is refused rather than one picked silently. */
async function onlySplit(folder: string, fallback: string): Promise<string> {
  const splits = await findSplits(folder);
  if (splits.length > 1) {
    throw new ConfigError(
      `run folder ${folder}: splits found: ${splits.join(', ')} (pick one with --split)`,
    );
  }
  return fallback;
}
