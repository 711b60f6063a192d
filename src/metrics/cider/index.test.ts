import { runMetricContract } from '../../testing/metric-contract.js';
import { createCiderMetric } from './index.js';

runMetricContract('cider', () => createCiderMetric());
