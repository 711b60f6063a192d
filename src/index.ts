export type * from './config/types.js';
export * from './core/errors.js';
export type { Logger } from './core/logger.js';
export { createStreamLogger, silentLogger } from './core/logger.js';
export type * from './datasets/types.js';
export type * from './engines/types.js';
export * from './reports/captions-csv.js';
