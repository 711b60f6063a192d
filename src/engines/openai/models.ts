import type OpenAI from 'openai';
import { CAPTION_OPTIONS } from '../../config/schema.js';
import { ConfigError, EngineError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { answerBody } from './request.js';
import { type RequestFailure, type RetryHooks, START_UP_RETRIES, withRetries } from './retry.js';

/** `--model`'s default (the embedded engine's ONNX model): with openai, ask the server. */
export const DEFAULT_MODEL_ID = String(CAPTION_OPTIONS.find((o) => o.key === 'model')?.default);

/** Model ids shown in an error before "and N more". */
const MAX_LISTED = 20;

export interface ServedModels {
  url: string;
  /** Ids from `GET /models`; undefined when the server did not say. */
  models?: string[];
  failure?: RequestFailure;
}

/**
 * Asks one endpoint which models it serves (`GET {base}/models`): a server still starting
 * (a 503 such as llama.cpp's "Loading model", a 429, not listening yet) is waited for over
 * `retries`, other retryable failures are retried START_UP_RETRIES times at most.
 */
export async function servedModels(
  url: string,
  client: OpenAI,
  options: {
    retries: number;
    timeoutSeconds: number;
    hooks: RetryHooks;
    redact: (text: string) => string;
    onRetry?: (failure: RequestFailure, delayMs: number, attemptIndex: number) => void;
  },
): Promise<ServedModels> {
  const result = await withRetries(async () => answerBody(await client.get('/models')), {
    ...options,
    retryIf: (failure, index) => startingUp(failure) || index < START_UP_RETRIES,
  });
  if (result.failure) return { url, failure: result.failure };
  const data = (result.value as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) {
    return {
      url,
      failure: { retryable: false, reason: 'its answer to GET /models is not a model list' },
    };
  }
  return { url, models: data.map((m) => String((m as { id?: unknown } | null)?.id)) };
}

/** A failure a server sends while it starts: it is loading, busy, or not listening yet. */
export function startingUp(failure: RequestFailure): boolean {
  return failure.network === true || failure.status === 503 || failure.status === 429;
}

/** True when `model` is among `served` (Ollama also answers to a name without `:latest`). */
export function isServed(model: string, served: readonly string[]): boolean {
  return served.includes(model) || served.includes(`${model}:latest`);
}

/**
 * Checks what the endpoints said against `--model` and returns the model to request:
 * - every endpoint unreachable: EngineError (every request would fail);
 * - the proxy refused (407, 403 to CONNECT): ConfigError naming the proxy;
 * - the key refused (401): ConfigError naming the environment variables;
 * - listing refused (403) with `--model` left at its default: ConfigError asking for --model;
 * - `--model` left at the embedded engine's default: the single model the servers serve;
 * - `--model` given but not in an endpoint's list: ConfigError listing what it serves.
 * Endpoints that cannot list their models (404, unreachable while others answer, 403 with
 * `--model` given) are not held against the run. A 403 to /models alone does not say the key
 * is refused: restricted OpenAI keys without the model-read scope, and some gateways, refuse
 * the listing but serve chat completions; if they refuse those too, RefusalTracker stops
 * the run at the first chat requests.
 */
export function chooseModel(
  requested: string,
  answers: readonly ServedModels[],
  keySource: string,
  logger: Logger,
): string {
  const unreachable = answers.filter((a) => a.failure?.network);
  if (unreachable.length === answers.length) {
    throw new EngineError(
      `cannot reach the OpenAI-compatible server: ${answers
        .map((a) => `${a.url} (${a.failure?.reason})`)
        .join('; ')}; is it running, and is --endpoint right?`,
      { code: 'ENGINE_UNREACHABLE' },
    );
  }
  // Still loading, or busy, after every retry: no chat request would be answered either.
  const unanswered = answers.filter((a) => a.failure && startingUp(a.failure));
  if (unanswered.length === answers.length) {
    throw new EngineError(
      `the OpenAI-compatible server did not answer within the retries: ${answers
        .map((a) => `${a.url}/models (${a.failure?.reason})`)
        .join(
          '; ',
        )}; wait until it has started (or raise --retries to wait longer), then run again`,
      { code: 'ENGINE_UNREACHABLE' },
    );
  }
  for (const answer of unanswered) {
    logger.warn(
      `openai: ${answer.url} is not ${answer.failure?.network ? 'reachable' : 'answering'} now ` +
        `(${answer.failure?.reason}); requests go to the other endpoints while it is down`,
    );
  }
  const proxyRefused = answers.find((a) => a.failure?.proxy && !a.failure.retryable);
  if (proxyRefused) {
    throw new ConfigError(`cannot reach ${proxyRefused.url}: ${proxyRefused.failure?.reason}`);
  }
  const keyAdvice =
    'set the API key in OPENAI_API_KEY or MEDCAP_API_KEY ' +
    `(${keySource === 'none' ? 'neither is set' : `using ${keySource}`})`;
  const keyRefused = answers.find((a) => a.failure?.status === 401);
  if (keyRefused) {
    throw new ConfigError(
      `${keyRefused.url} refused the request (${keyRefused.failure?.reason}); ${keyAdvice}`,
    );
  }
  const listingRefused = answers.filter((a) => a.failure?.status === 403);
  const lists = answers.filter((a): a is ServedModels & { models: string[] } => !!a.models);
  // With --model at its default, the endpoints that list their models choose it.
  if (listingRefused.length > 0 && requested === DEFAULT_MODEL_ID && lists.length === 0) {
    const [first] = listingRefused;
    throw new ConfigError(
      `--model: ${first!.url} refused to list its models (GET /models: ${first!.failure?.reason}), ` +
        'so medcap cannot choose one; pass --model with the model to ask for ' +
        `(if the key is what it refuses: ${keyAdvice})`,
    );
  }
  for (const answer of listingRefused) {
    logger.warn(
      `openai: ${answer.url} refused to list its models (GET /models: ${answer.failure?.reason}); ` +
        (requested === DEFAULT_MODEL_ID
          ? 'going ahead with the model the other endpoints list: the chat requests will tell whether it serves it'
          : `going ahead with --model ${requested}: the chat requests will tell whether it serves them`),
    );
  }
  for (const answer of answers) {
    if (!answer.models && !unanswered.includes(answer) && answer.failure?.status !== 403) {
      logger.debug(
        `openai: ${answer.url} did not list its models (${answer.failure?.reason ?? 'no answer'})`,
      );
    }
  }

  if (requested === DEFAULT_MODEL_ID) {
    if (lists.length === 0) {
      const why = answers.map((a) => `${a.url}: ${a.failure?.reason ?? 'no list'}`).join('; ');
      throw new ConfigError(
        `--model: name the model the server serves (it did not list its models: ${why})`,
      );
    }
    const common = lists[0]!.models.filter((id) => lists.every((l) => l.models.includes(id)));
    if (common.length === 1) {
      logger.info(`openai: --model not given; using ${common[0]}, the model the server serves`);
      return common[0]!;
    }
    if (common.length === 0) {
      throw new ConfigError(
        `--model: the endpoints serve no model in common (${lists
          .map((l) => `${l.url}: ${listed(l.models)}`)
          .join('; ')}); give one with --model`,
      );
    }
    throw new ConfigError(
      `--model: ${lists[0]!.url} serves several models (${listed(common)}); pick one with --model`,
    );
  }

  for (const list of lists) {
    if (!isServed(requested, list.models)) {
      throw new ConfigError(
        `--model ${requested} is not served by ${list.url}; it serves: ${listed(list.models)}`,
      );
    }
  }
  return requested;
}

/** Model ids for a message, at most MAX_LISTED of them. */
export function listed(models: readonly string[]): string {
  if (models.length === 0) return 'no models';
  const shown = models.slice(0, MAX_LISTED).join(', ');
  return models.length > MAX_LISTED ? `${shown} and ${models.length - MAX_LISTED} more` : shown;
}
