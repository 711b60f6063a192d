export { captionConfig, evaluateConfig } from './config/defaults.js';
export type * from './config/types.js';
export * from './core/errors.js';
export type { Logger } from './core/logger.js';
export { createStreamLogger, silentLogger } from './core/logger.js';
export {
  type LockOwner,
  lockOutput,
  type OutputLock,
  withOutputLock,
} from './core/out-lock.js';
export { DATASET_LOADERS } from './datasets/registry.js';
export type * from './datasets/types.js';
export type * from './engines/types.js';
export * from './formats/captions-csv.js';
export { type EvaluationResult, evaluate } from './metrics/evaluate.js';
export { createMetric, type MetricFactoryOptions } from './metrics/registry.js';
export {
  type CaptionItem,
  type ColumnSummary,
  type ScoredCaptions,
  type ScoreOptions,
  scoreCaptions,
} from './metrics/score.js';
export type { Metric, MetricInput, MetricRecipe, MetricResult } from './metrics/types.js';
export { mergeRuns } from './pipeline/merge.js';
export { type CaptionDeps, type CaptionRunResult, caption } from './pipeline/run.js';
