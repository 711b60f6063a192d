import type { MetricId } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import type { BertScoreOptions } from './bertscore/index.js';
import { createBleuMetric } from './bleu/index.js';
import { createCiderMetric } from './cider/index.js';
import { METRIC_COLUMNS } from './columns.js';
import { createMeteorMetric } from './meteor/index.js';
import { createRougeMetric } from './rouge/index.js';
import type { Metric, MetricRecipe } from './types.js';

/** What the factories may need; each takes only its own part. */
export interface MetricFactoryOptions {
  /** Porter stemming in ROUGE-1/2. */
  rougeStemmer?: boolean;
  bertscoreModel?: string;
  bertscoreIdf?: boolean;
  bertscoreLayer?: number;
  bertscoreBaseline?: string;
  bertscoreDevice?: BertScoreOptions['device'];
  bertscoreDtype?: BertScoreOptions['dtype'];
  bertscoreBatchSize?: number;
  offline?: boolean;
  logger?: Logger;
}

export type MetricFactory = (options: MetricFactoryOptions) => Metric | Promise<Metric>;

export const METRIC_FACTORIES: Readonly<Record<MetricId, MetricFactory>> = Object.freeze({
  bleu: () => createBleuMetric(),
  rouge: (o: MetricFactoryOptions) => createRougeMetric({ stemmer: o.rougeStemmer ?? false }),
  meteor: () => createMeteorMetric(),
  cider: () => createCiderMetric(),
  // Loaded only when asked for: its modules (the model code and ONNX graph editing) are
  // most of what an evaluation without BERTScore would load for nothing, in both threads.
  bertscore: async (o: MetricFactoryOptions) => {
    const { createBertScoreMetric, DEFAULT_BERTSCORE_MODEL } = await import('./bertscore/index.js');
    const options: BertScoreOptions & { layer?: number } = {
      model: o.bertscoreModel ?? DEFAULT_BERTSCORE_MODEL,
      idf: o.bertscoreIdf ?? false,
      device: o.bertscoreDevice ?? 'cpu',
      dtype: o.bertscoreDtype ?? 'fp32',
      offline: o.offline ?? false,
      logger: o.logger ?? silentLogger,
    };
    if (o.bertscoreLayer !== undefined) options.layer = o.bertscoreLayer;
    if (o.bertscoreBaseline !== undefined) options.baseline = o.bertscoreBaseline;
    if (o.bertscoreBatchSize !== undefined) options.batchSize = o.bertscoreBatchSize;
    return createBertScoreMetric(options);
  },
});

export const METRIC_REGISTRY_IDS: readonly MetricId[] = Object.freeze(
  Object.keys(METRIC_FACTORIES) as MetricId[],
);

export function isMetricId(id: string): id is MetricId {
  return Object.hasOwn(METRIC_FACTORIES, id);
}

/** Creates a metric by id; an unknown id is a ConfigError that lists the valid ones. */
export async function createMetric(
  id: string,
  options: MetricFactoryOptions = {},
): Promise<Metric> {
  if (!isMetricId(id)) {
    throw new ConfigError(`unknown metric '${id}' (valid: ${METRIC_REGISTRY_IDS.join(', ')})`);
  }
  const metric = await METRIC_FACTORIES[id](options);
  if (!PURE_METRICS.has(id)) return metric;
  const recipe: MetricRecipe =
    id === 'rouge' ? { id, rougeStemmer: options.rougeStemmer ?? false } : { id };
  return { ...metric, recipe };
}

/** Metrics that compute on the input alone (no model or device), so a worker can run them. */
const PURE_METRICS: ReadonlySet<MetricId> = new Set(['bleu', 'rouge', 'meteor', 'cider']);

/** The same metric as `recipe` describes, built anew (in a worker thread). */
export function metricFromRecipe(recipe: MetricRecipe): Promise<Metric> {
  return createMetric(recipe.id, { rougeStemmer: recipe.rougeStemmer ?? false });
}

/** Sorts columns into file order; unknown columns go last, in their given order. */
export function orderColumns(columns: Iterable<string>): string[] {
  const list = [...new Set(columns)];
  const rank = (c: string) => {
    const i = (METRIC_COLUMNS as readonly string[]).indexOf(c);
    return i < 0 ? METRIC_COLUMNS.length : i;
  };
  return list
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i)
    .map((x) => x.c);
}
