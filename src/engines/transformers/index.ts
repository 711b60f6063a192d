import { ConfigError } from '../../core/errors.js';
import type { CaptionEngine, EngineDeps, EngineSettings } from '../types.js';

export async function createTransformersEngine(
  _settings: EngineSettings,
  _deps: EngineDeps,
): Promise<CaptionEngine> {
  throw new ConfigError('--engine transformers is not yet available in this version');
}
