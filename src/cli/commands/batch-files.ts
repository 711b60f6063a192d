import { ConfigError } from '../../core/errors.js';
import { exportBatch } from '../../pipeline/batch-files/batch-export.js';
import { importBatch } from '../../pipeline/batch-files/batch-import.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';
import { captionSettings } from './caption.js';

/** `medcap export-batch`: OpenAI batch JSONL; prints each written file on stdout. */
export async function exportBatchCommand(
  config: Record<string, unknown>,
  _args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const settings = await captionSettings(config, ctx);
  const result = await exportBatch(settings, { logger: ctx.logger });
  for (const file of result.files) ctx.writeOut(`${file.path}\n`);
  if (result.exported === 0) {
    ctx.logger.error('export-batch: no image could be exported; no batch file written');
    return EXIT.fatal;
  }
  return result.skipped.length > 0 ? EXIT.partial : EXIT.ok;
}

/** `medcap import-batch RESULTS.jsonl...`: batch output → `medical_captions_{split}.csv`. */
export async function importBatchCommand(
  config: Record<string, unknown>,
  args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const files = args.flat();
  if (files.length === 0) {
    throw new ConfigError('import-batch: give the batch results JSONL file(s) to import');
  }
  const settings = await captionSettings(config, ctx);
  const { resolve } = await import('node:path');
  const result = await importBatch(
    settings,
    files.map((file) => resolve(ctx.cwd, file)),
    { logger: ctx.logger },
  );
  ctx.writeOut(`${result.captionsPath}\n`);
  // Results left out (for images outside the selection) are work not imported: exit 3 too.
  return result.failed > 0 || result.unknown > 0 ? EXIT.partial : EXIT.ok;
}
