import { resolve } from 'node:path';
import { resolveModelValue } from '../../config/paths.js';
import type { CaptionConfig, EvaluateConfig } from '../../config/types.js';
import type { Logger } from '../../core/logger.js';
import { type OutputLock, withOutputLock } from '../../core/out-lock.js';
import type { CaptionEngine } from '../../engines/types.js';
import { checkScoringFiles, evaluate } from '../../metrics/evaluate.js';
import { type CaptionRunResult, caption } from '../../pipeline/run.js';
import { type SelectedDataset, selectDataset } from '../../pipeline/selection.js';
import { writeReport } from '../../reports/html/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../main.js';
import { captionSettings, interruptedExit, withInterrupt } from './caption.js';

export async function runCommand(
  config: Record<string, unknown>,
  _args: string[],
  ctx: CommandContext,
): Promise<ExitCode> {
  const settings = await captionSettings(config, ctx);
  const scoring = evaluateSettings(config, settings, ctx.cwd);
  // A wrong BERTScore model or baseline file is said before any image is captioned.
  await checkScoringFiles(scoring, ctx.logger, ctx.cwd);
  const { value: result, stoppedBy } = await withInterrupt(ctx, (signal) =>
    runPipeline(settings, scoring, {
      logger: ctx.logger,
      interactive: ctx.interactive,
      signal,
      ...(ctx.engine ? { engine: ctx.engine } : {}),
    }),
  );
  if (result.caption.interrupted || result.evaluationStopped) return interruptedExit(stoppedBy);
  return result.caption.failed > 0 ? EXIT.partial : EXIT.ok;
}

export interface PipelineResult {
  caption: CaptionRunResult;
  /** Undefined when no item had a reference caption (nothing to score). */
  aggregatePath?: string;
  reportPath: string;
  /** Ctrl-C or SIGTERM came after the captions were complete, during the evaluation. */
  evaluationStopped?: boolean;
}

interface PipelineDeps {
  logger: Logger;
  interactive?: boolean;
  engine?: CaptionEngine;
  signal?: AbortSignal;
}

/** caption → evaluate → report, each writing its files into the same folder (SPEC §1). */
export async function runPipeline(
  captionConfig: CaptionConfig,
  evaluateConfig: EvaluateConfig,
  deps: PipelineDeps,
): Promise<PipelineResult> {
  const out = resolve(captionConfig.out);
  // Before --out is made (a --data that holds no dataset leaves no folder), and only once.
  const dataset = await selectDataset(captionConfig, deps.logger);
  // One lock from caption to report: another run must not rewrite the captions being scored.
  return withOutputLock(out, captionConfig.split, deps.logger, (outputLock) =>
    captionEvaluateReport(captionConfig, evaluateConfig, { ...deps, outputLock, dataset }),
  );
}

async function captionEvaluateReport(
  captionConfig: CaptionConfig,
  evaluateConfig: EvaluateConfig,
  deps: PipelineDeps & { outputLock: OutputLock; dataset: SelectedDataset },
): Promise<PipelineResult> {
  const { logger } = deps;
  const captioned = await caption(captionConfig, deps);
  if (captioned.interrupted) return { caption: captioned, reportPath: '' };
  const pipeline: PipelineResult = { caption: captioned, reportPath: '' };
  const scorable = captioned.rows.some((row) => row.status === 'ok' && row.references.length > 0);
  if (scorable) {
    try {
      deps.signal?.throwIfAborted();
      const evaluation = await evaluate(
        { ...evaluateConfig, captions: captioned.captionsPath },
        { logger, ...(deps.signal ? { signal: deps.signal } : {}) },
      );
      pipeline.aggregatePath = evaluation.paths.aggregate;
    } catch (error) {
      if (!deps.signal?.aborted) throw error;
      // The captions are complete and on disk; only the scoring is left undone.
      logger.warn(
        `evaluation stopped; the captions are complete in ${captioned.captionsPath}: ` +
          `score them with medcap evaluate --captions ${captioned.captionsPath} --out ${captioned.out}`,
      );
      return { ...pipeline, evaluationStopped: true };
    }
  } else {
    logger.warn('evaluate: no captioned image has a reference caption; skipping evaluation');
  }
  const report = await writeReport({ dir: captioned.out, split: captionConfig.split, logger });
  pipeline.reportPath = report.path;
  logger.info(
    `done: ${captioned.rows.length} images, ${captioned.failed} failed, ` +
      `${captioned.emptyCaptions} with an empty caption; report: ${report.path}`,
  );
  return pipeline;
}

/**
 * The evaluate options of a `run` (already validated by the CLI), sharing --out and --split;
 * a relative --bertscore-baseline or --bertscore-model folder is taken from `cwd`.
 */
export function evaluateSettings(
  config: Record<string, unknown>,
  captionSettings: CaptionConfig,
  cwd = process.cwd(),
): EvaluateConfig {
  const options = config as unknown as EvaluateConfig;
  return {
    ...options,
    ...(options.bertscoreBaseline === undefined
      ? {}
      : { bertscoreBaseline: resolve(cwd, options.bertscoreBaseline) }),
    ...(options.bertscoreModel === undefined
      ? {}
      : { bertscoreModel: resolveModelValue(options.bertscoreModel, cwd) }),
    out: captionSettings.out,
    split: captionSettings.split,
    captions: '',
  };
}
