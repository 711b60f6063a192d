import type { CaptionEngine, EngineDeps, EngineSettings } from '../types.js';
import { createEngineFromModel } from './engine.js';
import { loadTransformersModel } from './load.js';

export { createEngineFromModel, generateTokens, toEngineError } from './engine.js';
export { type LoadedModel, loadTransformersModel, SUPPORTED_MODEL_TYPES } from './load.js';
export { defaultModelCacheDir } from './model-source.js';
export { PromptIds } from './prompt.js';

/**
 * The default engine (SPEC §4): Qwen2-VL inside the medcap process with Transformers.js and
 * ONNX Runtime for Node. Loads the model (a local folder, or a Hub id downloaded once into
 * the cache; offline, nothing is fetched), then captions whole batches per `generate` call.
 */
export async function createTransformersEngine(
  settings: EngineSettings,
  deps: EngineDeps,
): Promise<CaptionEngine> {
  return createEngineFromModel(await loadTransformersModel(settings, deps), settings, deps);
}
