import { ConfigError } from '../../core/errors.js';
import type { CaptionEngine, EngineDeps, EngineSettings } from '../types.js';

export async function createOpenAIEngine(
  _settings: EngineSettings,
  _deps: EngineDeps,
): Promise<CaptionEngine> {
  throw new ConfigError('--engine openai is not yet available in this version');
}
