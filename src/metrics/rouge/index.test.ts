import { runMetricContract } from '../../testing/metric-contract.js';
import { createRougeMetric } from './index.js';

runMetricContract('rouge', () => createRougeMetric());
