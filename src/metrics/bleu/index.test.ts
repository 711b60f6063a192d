import { runMetricContract } from '../../testing/metric-contract.js';
import { createBleuMetric } from './index.js';

runMetricContract('bleu', () => createBleuMetric());
