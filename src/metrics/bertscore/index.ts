import { MetricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Metric } from '../types.js';

export interface BertScoreOptions {
  /** Model id or local folder. */
  model: string;
  /** idf weights from the references. */
  idf: boolean;
  offline: boolean;
  logger: Logger;
}

export async function createBertScoreMetric(_options: BertScoreOptions): Promise<Metric> {
  throw new MetricError('bertscore is not yet available in this version');
}
