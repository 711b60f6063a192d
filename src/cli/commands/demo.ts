import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../config/load.js';
import { CAPTION_OPTIONS, COMMON_OPTIONS, EVALUATE_OPTIONS } from '../../config/schema.js';
import type { CaptionConfig, EvaluateConfig } from '../../config/types.js';
import { ensureWritableDir } from '../../core/files.js';
import { PACKAGE_ROOT } from '../../core/package-root.js';
import { writeDemoDataset } from '../../demo/sample-data.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';
import { runPipeline } from './run.js';

/**
 * The bundled models (made by tools/, committed under models/): a small Qwen2-VL trained on the
 * demo generator's studies (tools/train_tiny_captioner.py, docs/DEMO-MODEL.md), the tiny
 * random-weight Qwen2-VL the tests and benchmarks use, and a tiny BERT for BERTScore.
 */
export const DEMO_CAPTION_MODEL = join(PACKAGE_ROOT, 'models', 'demo-captioner');
export const TINY_CAPTION_MODEL = join(PACKAGE_ROOT, 'models', 'tiny-qwen2-vl');
export const DEMO_BERTSCORE_MODEL = join(PACKAGE_ROOT, 'models', 'tiny-bert');

/**
 * `medcap demo`: writes the bundled sample dataset into `<out>/sample_data` and runs the
 * whole pipeline on it with the bundled demo captioner, offline. The 24 studies are held out
 * from the captioner's training data, so its scores are honest held-out scores for this toy
 * task; the same on every run.
 */
export async function demoCommand(
  config: Record<string, unknown>,
  _args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const out = resolve(ctx.cwd, String(config.out));
  // Before the sample data is written into it, as every command checks its --out.
  await ensureWritableDir(out, '--out');
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
