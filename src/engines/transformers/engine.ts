import { InterruptableStoppingCriteria } from '@huggingface/transformers';
import {
  CaptionToolError,
  describeError,
  EngineError,
  looksLikeOutOfMemory,
} from '../../core/errors.js';
import type {
  CaptionEngine,
  CaptionOutcome,
  EngineDeps,
  EngineSettings,
  GenerateOptions,
  PreparedImage,
} from '../types.js';
import { assembleBatch, imageTokenCount, newTokens } from './batch-inputs.js';
import type { LoadedModel } from './load.js';
import { PromptIds } from './prompt.js';
import type { IdTensor } from './runtime.js';
import { SessionTimings, timeSessions } from './session-timing.js';

/** An ONNX Runtime failure as an EngineError; allocation failures are marked out-of-memory. */
export function toEngineError(error: unknown, images: number): Error {
  if (error instanceof CaptionToolError) return error;
  const message = describeError(error).split('\n')[0] ?? '';
  if (looksLikeOutOfMemory(error)) {
    return new EngineError(`out of memory on a batch of ${images} images: ${message}`, {
      outOfMemory: true,
      cause: error,
    });
  }
  return new EngineError(`generate failed on a batch of ${images} images: ${message}`, {
    cause: error,
  });
}

/**
 * One greedy `generate` call for a batch of images of one size; returns each image's new
 * tokens (up to and including the end-of-sequence token). This is the engine's whole model
 * path; `generate` below only decodes its result.
 */
export async function generateTokens(
  loaded: LoadedModel,
  prompts: PromptIds,
  batch: readonly PreparedImage[],
  options: GenerateOptions,
  signal?: AbortSignal,
): Promise<number[][]> {
  signal?.throwIfAborted();
  const first = batch[0];
  if (!first) return [];
  const promptIds = prompts.ids(options.prompt, imageTokenCount(first, loaded.pixelConfig));
  const inputs = assembleBatch(batch, promptIds, loaded.pixelConfig);
  const stop = new InterruptableStoppingCriteria();
  const onAbort = () => stop.interrupt();
  signal?.addEventListener('abort', onAbort, { once: true });
  let output: unknown;
  try {
    output = await loaded.model.generate({
      ...inputs.feeds,
      max_new_tokens: options.maxNewTokens,
      do_sample: false,
      num_beams: 1,
      stopping_criteria: stop,
    });
  } catch (error) {
    throw toEngineError(error, batch.length);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  signal?.throwIfAborted();
  const rows = (output as IdTensor).tolist() as (bigint | number)[][];
  if (rows.length !== batch.length) {
    throw new EngineError(`generate returned ${rows.length} rows for ${batch.length} images`);
  }
  return newTokens(rows, inputs.promptLength, loaded.eosTokenIds);
}

/**
 * The embedded engine over a loaded Qwen2-VL: one greedy `generate` call per batch, with the
 * batch's inputs assembled here (shared prompt row, concatenated pixel values and grids).
 */
export function createEngineFromModel(
  loaded: LoadedModel,
  settings: EngineSettings,
  deps: EngineDeps,
  env: NodeJS.ProcessEnv = process.env,
): CaptionEngine {
  const prompts = new PromptIds(loaded.processor, loaded.tokenizer, loaded.imageTokenId);
  const timings = env.MEDCAP_PROFILE === '1' ? profileSessions(loaded) : undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let disposed = false;

  const run = async (
    batch: readonly PreparedImage[],
    options: GenerateOptions,
    signal: AbortSignal | undefined,
  ): Promise<CaptionOutcome[]> => {
    if (disposed) throw new EngineError('the transformers engine was disposed');
    const tokens = await generateTokens(loaded, prompts, batch, options, signal);
    return tokens.map((ids) => ({
      ok: true,
      caption: loaded.tokenizer.decode(ids, { skip_special_tokens: true }).trim(),
    }));
  };

  return {
    id: 'transformers',
    model: settings.model,
    device: loaded.device,
    blocksThread: true,
    async generate(batch, options, signal) {
      if (batch.length === 0) return [];
      // One generate at a time: ONNX Runtime sessions are shared by every call.
      const result = queue.then(() => run(batch, options, signal));
      queue = result.catch(() => undefined);
      return result;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await queue;
      if (timings) {
        const peakRss = (process.resourceUsage().maxRSS / 1024).toFixed(0);
        deps.logger.info(`profile: ${timings.describe()}; peak RSS ${peakRss} MiB`);
      }
      await loaded.model.dispose();
    },
  };
}

/** MEDCAP_PROFILE=1: times every session run of the loaded model (see session-timing.ts). */
function profileSessions(loaded: LoadedModel): SessionTimings | undefined {
  const sessions = (loaded.model as { sessions?: Parameters<typeof timeSessions>[0] }).sessions;
  if (!sessions) return undefined;
  const timings = new SessionTimings();
  timeSessions(sessions, timings);
  return timings;
}
