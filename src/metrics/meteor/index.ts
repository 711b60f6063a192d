import { MetricError } from '../../core/errors.js';
import type { Metric } from '../types.js';

export function createMeteorMetric(): Metric {
  throw new MetricError('meteor is not yet available in this version');
}
