import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../config/load.js';
import { CAPTION_OPTIONS, COMMON_OPTIONS, EVALUATE_OPTIONS } from '../../config/schema.js';
import type { CaptionConfig, EvaluateConfig } from '../../config/types.js';
import { PACKAGE_ROOT } from '../../core/package-root.js';
import { writeDemoDataset } from '../../demo/sample-data.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';
import { runPipeline } from './run.js';

/** The bundled tiny random-weight models (made by tools/, committed under models/). */
export const DEMO_CAPTION_MODEL = join(PACKAGE_ROOT, 'models', 'tiny-qwen2-vl');
export const DEMO_BERTSCORE_MODEL = join(PACKAGE_ROOT, 'models', 'tiny-bert');

/**
 * `medcap demo`: writes the bundled sample dataset into `<out>/sample_data` and runs the
 * whole pipeline on it with the bundled tiny model, offline. The captions are nonsense (the
 * model's weights are random); the point is that every stage runs and every file is written.
 */
export async function demoCommand(
  config: Record<string, unknown>,
  _args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const out = resolve(ctx.cwd, String(config.out));
  const data = join(out, 'sample_data');
  const dataset = await writeDemoDataset(data);
  ctx.logger.info(`demo: wrote ${dataset.count} synthetic images with captions to ${data}`);
  const withBertScore = existsSync(join(DEMO_BERTSCORE_MODEL, 'config.json'));
  const flags = {
    data,
    out,
    split: 'train',
    format: 'rocov2',
    model: DEMO_CAPTION_MODEL,
    offline: true,
    limit: 'all',
    batchSize: 8,
    maxNewTokens: 24,
    checkpointEvery: 8,
    overwrite: true,
    metrics: withBertScore ? 'bleu,rouge,meteor,cider,bertscore' : 'bleu,rouge,meteor,cider',
    bertscoreModel: DEMO_BERTSCORE_MODEL,
    bootstrap: 200,
    logFormat: config.logFormat,
    quiet: config.quiet,
  };
  const specs = [
    ...COMMON_OPTIONS,
    ...CAPTION_OPTIONS,
    ...EVALUATE_OPTIONS.filter((o) => o.key !== 'captions'),
  ];
  const settings = loadConfig({ specs, flags, env: {}, cwd: ctx.cwd });
  const result = await runPipeline(
    settings as unknown as CaptionConfig,
    { ...(settings as unknown as EvaluateConfig), captions: '' },
    {
      logger: ctx.logger,
      interactive: ctx.interactive,
      ...(ctx.engine ? { engine: ctx.engine } : {}),
    },
  );
  ctx.writeOut(`${result.reportPath}\n`);
  return result.caption.failed > 0 ? EXIT.partial : EXIT.ok;
}
