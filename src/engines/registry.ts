import { ConfigError } from '../core/errors.js';
import type { EngineFactory } from './types.js';

/** Engine id → factory. Each engine module is loaded only when used. */
export const ENGINE_FACTORIES: Readonly<Record<string, EngineFactory>> = Object.freeze({
  transformers: async (settings, deps) =>
    (await import('./transformers/index.js')).createTransformersEngine(settings, deps),
  openai: async (settings, deps) =>
    (await import('./openai/index.js')).createOpenAIEngine(settings, deps),
});

export function engineFactory(id: string): EngineFactory {
  const factory = ENGINE_FACTORIES[id];
  if (!factory) {
    throw new ConfigError(
      `--engine: unknown engine '${id}' (allowed: ${Object.keys(ENGINE_FACTORIES).join(', ')})`,
    );
  }
  return factory;
}
