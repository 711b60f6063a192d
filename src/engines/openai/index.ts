import { setMaxListeners } from 'node:events';
import type OpenAI from 'openai';
import { APIConnectionError, APIUserAbortError } from 'openai';
import { ConfigError, describeError, EngineError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { hasProxyVariable, proxyFor } from '../../core/proxy.js';
import type {
  CaptionEngine,
  CaptionOutcome,
  EngineDeps,
  EngineSettings,
  GenerateOptions,
  ImageEncoding,
  PreparedImage,
} from '../types.js';
import { apiKeyFromEnv, createClient, type FetchLike, keyRedactor } from './client.js';
import { EndpointPool, type EndpointState, normalizeEndpoint } from './endpoints.js';
import { createHttpFetch } from './http-fetch.js';
import { encodePixels } from './image-uri.js';
import { InFlightGauge } from './in-flight.js';
import { chooseModel, isServed, listed, servedModels, startingUp } from './models.js';
import { probeServer } from './probe.js';
import { RefusalTracker, type RefusalVerdict, refusalsToStop } from './refusals.js';
import { captionFromCompletion, chatRequestBytes, postChat } from './request.js';
import {
  backoffBudget,
  classifyError,
  OUT_OF_QUOTA,
  type RequestFailure,
  type RetryHooks,
  type RetryResult,
  realRetryHooks,
  withRetries,
} from './retry.js';
import { Semaphore } from './semaphore.js';

export { chatRequestBody } from './request.js';

/**
 * How long no image is asked for before a 403 waiting for its verdict gets one from what
 * was seen: long enough for the run to start its next batch, short at the run's end.
 */
const IDLE_GRACE_MS = 1000;

const ABORTED: CaptionOutcome = { ok: false, error: 'aborted before the server answered' };

/** What tests and embedders may swap: the environment, the clock and sleep, fetch. */
export interface OpenAIEngineHooks {
  /** Where the API key is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  retry?: Partial<RetryHooks>;
  fetch?: FetchLike;
}

/** Counts for the end-of-run summary and for tests. */
export interface OpenAIEngineStats {
  requests: number;
  retries: number;
  failedImages: number;
  /** Requests answered per endpoint URL. */
  answeredBy: Record<string, number>;
  /** Most requests ever in flight at once. */
  maxInFlight: number;
  /** Requests in flight on average, weighted by time, from the first sent to the last answered. */
  meanInFlight: number;
}

export interface OpenAIEngine extends CaptionEngine {
  readonly id: 'openai';
  readonly device: 'server';
  readonly batchSize: number;
  readonly imageEncoding: ImageEncoding;
  readonly endpoints: readonly string[];
  stats(): OpenAIEngineStats;
}

/**
 * The `openai` engine (SPEC §4): one chat-completion request per image against any
 * OpenAI-compatible server. A batch's requests go out together, at most `concurrency` in
 * flight, spread over the endpoints by least outstanding requests. 429, 5xx, timeouts and
 * network errors are retried with exponential backoff and full jitter, honouring
 * `Retry-After`; any other HTTP error fails that image only, unless no image can get past it
 * (then the run stops: see `stopReason`, RefusalTracker for a 403, and `outageReason` for
 * retries used up while nothing else was answered).
 */
export async function createOpenAIEngine(
  settings: EngineSettings,
  deps: EngineDeps,
  hooks: OpenAIEngineHooks = {},
): Promise<OpenAIEngine> {
  const { logger } = deps;
  const env = hooks.env ?? process.env;
  const retryHooks: RetryHooks = { ...realRetryHooks, ...hooks.retry };
  checkSettings(settings);

  const urls: string[] = [];
  for (const value of settings.endpoints) {
    const { url, note } = normalizeEndpoint(value);
    if (note) logger.info(`openai: ${note}`);
    if (!urls.includes(url)) urls.push(url);
  }
  const key = apiKeyFromEnv(env);
  const redact = keyRedactor(key.key);
  logger.info(
    key.source === 'none'
      ? 'openai: no API key in OPENAI_API_KEY or MEDCAP_API_KEY; sending a placeholder (fine for a local server)'
      : `openai: API key from ${key.source}`,
  );
  if (hasProxyVariable(env)) {
    // Decided once per endpoint (a proxy URL that cannot be used is a ConfigError here).
    for (const url of urls) {
      const proxy = proxyFor(new URL(url), env);
      if (proxy)
        logger.info(`openai: ${url} through the proxy ${proxy.label} (from ${proxy.variable})`);
      else logger.info(`openai: ${url} directly (a loopback address or in NO_PROXY)`);
    }
  }
  const httpFetch = hooks.fetch ? undefined : createHttpFetch({ env });
  const fetchImpl = hooks.fetch ?? httpFetch!;
  const clients = new Map<string, OpenAI>(
    urls.map((url) => [
      url,
      createClient({
        baseURL: url,
        apiKey: key.key,
        timeoutMs: settings.timeoutSeconds * 1000,
        env,
        fetch: fetchImpl,
      }),
    ]),
  );

  const answers = await Promise.all(
    urls.map((url) =>
      servedModels(url, clients.get(url)!, {
        retries: settings.retries,
        timeoutSeconds: settings.timeoutSeconds,
        hooks: retryHooks,
        redact,
        onRetry: onceStartingUp(url, settings.retries, logger),
      }),
    ),
  );
  const model = chooseModel(settings.model, answers, key.source, logger);
  const pool = new EndpointPool(urls, retryHooks.now);
  for (const answer of answers) if (answer.failure?.network) pool.markDown(answer.url);
  logger.info(
    `openai: ${model} on ${urls.length === 1 ? urls[0] : `${urls.length} endpoints (${urls.join(', ')})`}, ` +
      `${settings.concurrency} requests in flight, timeout ${settings.timeoutSeconds} s, ${settings.retries} retries`,
  );

  return new OpenAIChatEngine({
    model,
    settings,
    pool,
    clients,
    hooks: retryHooks,
    logger,
    redact,
    keySource: key.source,
    closeConnections: () => httpFetch?.close(),
  });
}

/** Says once that `url` is still starting and is waited for, with how long at most. */
function onceStartingUp(
  url: string,
  retries: number,
  logger: Logger,
): (failure: RequestFailure) => void {
  let said = false;
  return (failure) => {
    if (said || !startingUp(failure)) return;
    said = true;
    const { maxMs } = backoffBudget(retries);
    logger.warn(
      `openai: ${url} is not ready (${failure.reason}); waiting for it to start, ` +
        `up to about ${Math.round(maxMs / 1000)} s (--retries ${retries}; longer if it asks with Retry-After)`,
    );
  };
}

function checkSettings(settings: EngineSettings): void {
  if (settings.endpoints.length === 0) {
    throw new ConfigError(
      '--endpoint is required with --engine openai: the base URL of an OpenAI-compatible server, ' +
        'e.g. --endpoint http://localhost:8000/v1 (repeat it for several servers)',
    );
  }
  if (!Number.isInteger(settings.concurrency) || settings.concurrency < 1) {
    throw new ConfigError(
      `--concurrency: expected a positive whole number, got ${settings.concurrency}`,
    );
  }
  if (!(settings.timeoutSeconds > 0)) {
    throw new ConfigError(
      `--timeout: expected a positive number of seconds, got ${settings.timeoutSeconds}`,
    );
  }
  if (!Number.isInteger(settings.retries) || settings.retries < 0) {
    throw new ConfigError(`--retries: expected a whole number >= 0, got ${settings.retries}`);
  }
}

class OpenAIChatEngine implements OpenAIEngine {
  readonly id = 'openai' as const;
  readonly device = 'server' as const;
  readonly batchSize: number;
  readonly imageEncoding: ImageEncoding;
  readonly endpoints: readonly string[];
  private readonly slots: Semaphore;
  private readonly inFlight = new InFlightGauge();
  private readonly counts = { requests: 0, retries: 0, failedImages: 0 };
  private warnedRateLimit = false;
  /** When a request last got an answer that was not a retryable failure. */
  private lastAnswerAt = Number.NEGATIVE_INFINITY;
  /** The place in the send order of the latest-sent request that got such an answer. */
  private latestAnsweredPlace = 0;
  /** Probes in flight, by endpoint (see outageReason). */
  private readonly probes = new Map<string, Promise<{ failure?: RequestFailure }>>();
  /** Whether each 403 was about its image or about every image (per endpoint). */
  private readonly refusals: RefusalTracker;
  /**
   * Images waiting for a slot or for their answer. None left for IDLE_GRACE_MS: no request
   * is coming to settle a 403 waiting for its verdict, so the tracker gives it from what it
   * has seen.
   */
  private asking = 0;
  /** Set once a failure shows that no image can succeed: every batch then stops. */
  private stopped: EngineError | undefined;
  private stopping: Promise<void> | undefined;
  private readonly stopAll = new AbortController();
  /** When the requests in flight were last lowered (a server queueing past --timeout). */
  private loweredAt = Number.NEGATIVE_INFINITY;
  /** Images whose requests timed out in the server's queue since then. */
  private readonly queuedTimeouts = new Set<string>();

  readonly model: string;
  private readonly settings: EngineSettings;
  private readonly pool: EndpointPool;
  private readonly clients: Map<string, OpenAI>;
  private readonly hooks: RetryHooks;
  private readonly logger: Logger;
  private readonly redact: (text: string) => string;
  private readonly keySource: string;
  private readonly closeConnections: () => void;

  constructor(parts: {
    model: string;
    settings: EngineSettings;
    pool: EndpointPool;
    clients: Map<string, OpenAI>;
    hooks: RetryHooks;
    logger: Logger;
    redact: (text: string) => string;
    keySource: string;
    closeConnections: () => void;
  }) {
    this.model = parts.model;
    this.settings = parts.settings;
    this.pool = parts.pool;
    this.clients = parts.clients;
    this.hooks = parts.hooks;
    this.logger = parts.logger;
    this.redact = parts.redact;
    this.keySource = parts.keySource;
    this.closeConnections = parts.closeConnections;
    this.batchSize = parts.settings.concurrency;
    this.imageEncoding = parts.settings.imageEncoding ?? 'auto';
    this.endpoints = parts.pool.endpoints.map((e) => e.url);
    this.slots = new Semaphore(parts.settings.concurrency);
    this.refusals = new RefusalTracker(refusalsToStop(parts.settings.concurrency));
    setMaxListeners(0, this.stopAll.signal);
  }

  async generate(
    batch: readonly PreparedImage[],
    options: GenerateOptions,
    signal?: AbortSignal,
  ): Promise<CaptionOutcome[]> {
    signal?.throwIfAborted();
    if (this.stopped) throw this.stopped;
    // Each request in flight, and each of its retries and backoff waits, listens to the
    // caller's signal and to the engine's own stop: a child signal of our own, dropped with
    // the batch, takes them without Node warning about a leak on the caller's.
    const child = linkedController([this.stopAll.signal, ...(signal ? [signal] : [])]);
    try {
      const outcomes = await Promise.all(
        batch.map((image) => this.captionOne(image, options, child.signal)),
      );
      // Stopped part way: the outcomes are not captions of these images, so none is returned.
      signal?.throwIfAborted();
      if (this.stopped) throw this.stopped;
      return outcomes;
    } finally {
      child.dispose();
    }
  }

  private async captionOne(
    image: PreparedImage,
    options: GenerateOptions,
    signal: AbortSignal,
  ): Promise<CaptionOutcome> {
    this.asking += 1;
    let answer: CaptionOutcome | Refused;
    try {
      answer = await this.ask(image, options, signal);
    } finally {
      this.asking -= 1;
      if (this.asking === 0 && this.refusals.waiting) this.idleSoon();
    }
    return 'verdict' in answer ? this.judgeRefusal(image.id, answer, signal) : answer;
  }

  /**
   * One image's request, retried as the policy says, holding a slot throughout. A 403 comes
   * back as Refused: whether it is the image's own is known only from later requests, which
   * the slot, given back first, lets go out.
   */
  private async ask(
    image: PreparedImage,
    options: GenerateOptions,
    signal: AbortSignal,
  ): Promise<CaptionOutcome | Refused> {
    // The slot comes first, so that at most `concurrency` request bodies exist at once.
    await this.slots.acquire();
    if (signal.aborted) {
      this.slots.release();
      return ABORTED;
    }
    let body: Buffer;
    try {
      // Raw pixels (a caller that prepared none) are encoded here; `auto` is `png` then.
      const encoded = image.encoded ?? (await encodePixels(image, this.imageEncoding));
      body = chatRequestBytes(this.model, options.prompt, encoded, options.maxNewTokens);
    } catch (error) {
      this.slots.release();
      return { ok: false, error: `cannot encode the prepared image: ${describeError(error)}` };
    }
    let lastUrl = '';
    let lastPlace = 0;
    let failingSince = Number.POSITIVE_INFINITY;
    let sentAt = 0;
    try {
      const result = await withRetries(
        async () => {
          const endpoint = this.pool.acquire();
          lastUrl = endpoint.url;
          lastPlace = this.refusals.next();
          sentAt = this.hooks.now();
          this.counts.requests += 1;
          this.inFlight.start();
          try {
            const answer = await postChat(this.clients.get(endpoint.url)!, body, signal);
            this.release(endpoint, 'answered');
            this.refusals.passed(endpoint.url, lastPlace);
            return answer;
          } catch (error) {
            this.release(endpoint, releaseOutcome(error), error);
            throw error;
          } finally {
            this.inFlight.end();
          }
        },
        {
          retries: this.settings.retries,
          timeoutSeconds: this.settings.timeoutSeconds,
          hooks: this.hooks,
          redact: this.redact,
          signal,
          onFailure: (failure) => {
            failingSince = Math.min(failingSince, this.hooks.now());
            if (!failure.retryable && !failure.aborted) this.answered(lastPlace);
            if (failure.timedOut) this.timedOut(image.id, lastPlace, sentAt);
          },
          onRetry: (failure, delay, index) => this.noteRetry(image.id, failure, delay, index),
        },
      );
      if (result.value !== undefined) {
        this.answered(lastPlace);
        const outcome = captionFromCompletion(result.value);
        if (!outcome.ok) this.noteFailure(image.id, outcome.error);
        return outcome;
      }
      return await this.failed(image.id, result, lastUrl, lastPlace, failingSince, signal);
    } finally {
      this.slots.release();
    }
  }

  /** An image's request that got no caption: its error row, a 403 to judge, or the run stops. */
  private async failed(
    id: string,
    result: RetryResult<unknown>,
    lastUrl: string,
    lastPlace: number,
    failingSince: number,
    signal: AbortSignal,
  ): Promise<CaptionOutcome | Refused> {
    const failure = result.failure!;
    if (failure.aborted) return ABORTED;
    const gaveUp =
      failure.retryable && result.attempts > 1
        ? ` (gave up after ${result.attempts} attempts)`
        : '';
    const error = `${failure.reason} from ${lastUrl}${gaveUp}`;
    const stop =
      this.stopReason(failure, lastUrl) ??
      (failure.retryable && this.lastAnswerAt < failingSince
        ? await this.outageReason(id, error, lastUrl, failingSince, signal)
        : undefined);
    if (signal.aborted) return ABORTED;
    if (stop !== undefined) {
      await this.stopRun(stop);
      return { ok: false, error };
    }
    if (failure.status === 403) {
      this.logger.debug(
        `openai: ${id}: ${error}; the image fails alone once ${lastUrl} lets a request sent after it through`,
      );
      return { verdict: this.refusals.refused(lastUrl, lastPlace), failure, error, url: lastUrl };
    }
    this.noteFailure(id, error);
    return { ok: false, error };
  }

  /** The request sent `place`-th got an answer (a caption or an error that is not retried). */
  private answered(place: number): void {
    this.lastAnswerAt = this.hooks.now();
    this.latestAnsweredPlace = Math.max(this.latestAnsweredPlace, place);
  }

  /**
   * Whether a request that timed out waited in the server's queue: requests were answered
   * since it was sent, but only ones sent before it (a queue answers in order). A request
   * that hangs alone (one image the server chokes on) sees requests sent after it answered.
   */
  private queuedBehindOthers(place: number, sentAt: number): boolean {
    return this.lastAnswerAt > sentAt && this.latestAnsweredPlace < place;
  }

  /**
   * Why the run stops after `id` used up its retries while no other request was answered
   * since its first failure, or undefined when the server still answers a probe sent now
   * (the failure is then the image's own: the last image left, or one request at a time).
   */
  private async outageReason(
    id: string,
    error: string,
    url: string,
    failingSince: number,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const down = await unlessAborted(this.probe(url), signal);
    if (down === undefined || down.failure?.aborted) return undefined;
    if (down.failure === undefined) {
      this.logger.info(
        `openai: ${id} used up its retries while no other image was answered, but ${url} answers ` +
          "a test request (a blank image): the failure is this image's own",
      );
      return undefined;
    }
    const seconds = Math.round((this.hooks.now() - failingSince) / 1000);
    return (
      `no request got an answer for ${seconds} s: ${id} failed with ${error}, no other image was ` +
      `answered meanwhile, and a test request (a blank image) failed too (${down.failure.reason}) ` +
      '(raise --retries to wait longer for a server that restarts)'
    );
  }

  /** One probe of `url` at a time, shared by the images that wait for it. */
  private probe(url: string): Promise<{ failure?: RequestFailure }> {
    let probe = this.probes.get(url);
    if (probe) return probe;
    this.logger.debug(`openai: asking ${url} a test request (a blank image)`);
    probe = probeServer(this.clients.get(url)!, this.model, {
      timeoutSeconds: this.settings.timeoutSeconds,
      hooks: this.hooks,
      redact: this.redact,
      signal: this.stopAll.signal,
    })
      .then((failure) => {
        if (!failure) this.lastAnswerAt = this.hooks.now();
        return failure ? { failure } : {};
      })
      .finally(() => this.probes.delete(url));
    this.probes.set(url, probe);
    return probe;
  }

  /** Gives the 403s their verdicts if no image is asked for meanwhile (the run's end). */
  private idleSoon(): void {
    this.hooks.sleep(IDLE_GRACE_MS, this.stopAll.signal).then(
      () => {
        if (this.asking === 0) this.refusals.idle();
      },
      () => {},
    );
  }

  /** A 403 once its verdict is in: that image's error row, or the run stops. */
  private async judgeRefusal(
    id: string,
    refused: Refused,
    signal: AbortSignal,
  ): Promise<CaptionOutcome> {
    const { error } = refused;
    const verdict = await unlessAborted(refused.verdict, signal);
    // Stopped meanwhile (by another image, or the caller): the batch throws, nothing is kept.
    if (verdict === undefined) return { ok: false, error };
    if (verdict.stop) {
      await this.stopRun(this.refusalReason(verdict, refused));
      return { ok: false, error };
    }
    this.noteFailure(id, error);
    return { ok: false, error };
  }

  /** Why a 403 stops the run. */
  private refusalReason(verdict: RefusalVerdict & { stop: true }, refused: Refused): string {
    const { url, failure } = refused;
    if (verdict.why === 'never') {
      return `${url} refused the request (${failure.reason}) and let no request through; ${this.keyAdvice(url)}`;
    }
    return (
      `${url} refused the last ${verdict.count} requests sent to it (${failure.reason}) after ` +
      'answering earlier ones: the key may have been revoked, or a firewall or gateway in front ' +
      `of the server now refuses every request; ${this.keyAdvice(url)}`
    );
  }

  /** What to check when `url` refuses the key. */
  private keyAdvice(url: string): string {
    const advice =
      'set the API key in OPENAI_API_KEY or MEDCAP_API_KEY ' +
      `(${this.keySource === 'none' ? 'neither is set' : `using ${this.keySource}`})`;
    return this.endpoints.length > 1
      ? `${advice}; every --endpoint is sent this one key, so leave ${url} out if it wants another`
      : advice;
  }

  /**
   * Why no image can succeed after `failure`, or undefined when it may be this image's alone:
   * the key refused (401), the model or the API path not there (404), the account out of
   * credit (429 insufficient_quota), images not supported (501: llama.cpp without a vision
   * projector), a proxy that refuses (its 407, its 403 to CONNECT).
   * Failing every image of a long run over it would fill the journal with error rows that
   * `--resume` does not redo. A 403 from the server is often about one request (a firewall
   * or a content policy refusing one image): RefusalTracker judges it; a retryable failure
   * that outlasts the retries, outageReason.
   */
  private stopReason(
    failure: RequestFailure,
    url: string,
  ): string | (() => Promise<string>) | undefined {
    const { status } = failure;
    if (failure.proxy && !failure.retryable) return `cannot reach ${url}: ${failure.reason}`;
    if (status === 401)
      return `${url} refused the request (${failure.reason}); ${this.keyAdvice(url)}`;
    // Asked of the server only by the first image to fail so, not by each one in flight.
    if (status === 404) return () => this.notFoundReason(url, failure);
    if (failure.code === OUT_OF_QUOTA) {
      return `${url}: ${failure.reason} (the account is out of quota; no retry can pass)`;
    }
    if (status === 501) {
      return (
        `${url}/chat/completions answered ${failure.reason}: the server does not do what every ` +
        'image asks of it; serve a vision model there (llama-server needs --mmproj with the ' +
        "model's vision projector for image input)"
      );
    }
    return undefined;
  }

  /** A 404 to the chat request, with what the server says it serves. */
  private async notFoundReason(url: string, failure: RequestFailure): Promise<string> {
    const head = `${url}/chat/completions answered ${failure.reason.replace(/\.$/, '')}`;
    const answer = await servedModels(url, this.clients.get(url)!, {
      retries: 0,
      timeoutSeconds: this.settings.timeoutSeconds,
      hooks: this.hooks,
      redact: this.redact,
    });
    if (!answer.models) {
      return (
        `${head}, and ${url}/models lists no models (${answer.failure?.reason ?? 'no answer'}): ` +
        "check that --endpoint is the API's base URL (most servers serve it at /v1)"
      );
    }
    if (isServed(this.model, answer.models)) {
      return (
        `${head}, although ${url}/models lists ${this.model}: check that --endpoint is the ` +
        "API's base URL (most servers serve it at /v1)"
      );
    }
    return `${head}; --model ${this.model} is not served there, it serves: ${listed(answer.models)}`;
  }

  /** Stops every batch, now and to come, with the first reason found. */
  private stopRun(reason: string | (() => Promise<string>)): Promise<void> {
    this.stopping ??= Promise.resolve(typeof reason === 'string' ? reason : reason()).then(
      (message) => {
        this.stopped = new EngineError(message, { code: 'ENGINE_STOPPED', stopsRun: true });
        this.stopAll.abort(this.stopped);
      },
    );
    return this.stopping;
  }

  /**
   * A request timed out. When it waited in the server's queue (queuedBehindOthers), and so
   * did a request of another image since the last lowering, the server queues what it
   * cannot run (llama.cpp with one slot, Ollama) and each request waits for those ahead of
   * it longer than --timeout: halves the requests in flight. One image the server chokes on
   * times out alone, and lowers nothing.
   */
  private timedOut(id: string, place: number, sentAt: number): void {
    if (sentAt < this.loweredAt || !this.queuedBehindOthers(place, sentAt)) return;
    this.queuedTimeouts.add(id);
    if (this.queuedTimeouts.size >= 2) this.slowDown();
  }

  private slowDown(): void {
    const from = this.slots.limit;
    if (from === 1) return;
    this.slots.lower(Math.ceil(from / 2));
    this.loweredAt = this.hooks.now();
    this.queuedTimeouts.clear();
    this.logger.warn(
      `openai: requests time out after ${this.settings.timeoutSeconds} s while the server answers ` +
        `others (it queues them): lowering the requests in flight from ${from} to ${this.slots.limit} ` +
        '(a longer --timeout keeps more in flight)',
    );
  }

  /** Ends a request on an endpoint, saying when the endpoint stops or starts answering. */
  private release(
    endpoint: EndpointState,
    outcome: 'answered' | 'network' | 'aborted',
    error?: unknown,
  ): void {
    const wasDown = endpoint.consecutiveFailures > 0;
    this.pool.release(endpoint, outcome);
    if (outcome === 'network' && !wasDown) {
      const { reason } = classifyError(error, this.settings.timeoutSeconds);
      const { maxMs } = backoffBudget(this.settings.retries);
      this.logger.warn(
        `openai: ${endpoint.url} stopped answering (${this.redact(reason)}); each request is retried ` +
          `with backoff for up to ${Math.round(maxMs / 1000)} s before its image fails`,
      );
    } else if (outcome === 'answered' && wasDown) {
      this.logger.info(`openai: ${endpoint.url} answers again`);
    }
  }

  private noteRetry(id: string, failure: RequestFailure, delayMs: number, index: number): void {
    this.counts.retries += 1;
    if (failure.status === 429 && !this.warnedRateLimit) {
      this.warnedRateLimit = true;
      this.logger.warn(
        `openai: the server is rate limiting (HTTP 429); backing off${
          failure.retryAfterMs !== undefined ? ' for as long as the server asks' : ''
        }`,
      );
    }
    this.logger.debug(
      `openai: ${id}: ${failure.reason}; retry ${index + 1}/${this.settings.retries} in ${delayMs} ms`,
    );
  }

  private noteFailure(id: string, error: string): void {
    this.counts.failedImages += 1;
    this.logger.warn(`openai: ${id}: ${error}`);
  }

  stats(): OpenAIEngineStats {
    return {
      ...this.counts,
      maxInFlight: this.inFlight.max,
      meanInFlight: this.inFlight.mean,
      answeredBy: Object.fromEntries(this.pool.endpoints.map((e) => [e.url, e.answered])),
    };
  }

  async dispose(): Promise<void> {
    this.closeConnections();
    const { requests, retries, failedImages } = this.counts;
    if (requests === 0) return;
    const spread =
      this.pool.endpoints.length > 1
        ? `; answered per endpoint: ${this.pool.endpoints.map((e) => `${e.url} ${e.answered}`).join(', ')}`
        : '';
    this.logger.info(
      `openai: ${requests} requests, ${retries} retries, ${failedImages} images failed; ` +
        `requests in flight: at most ${this.inFlight.max}, ${this.inFlight.mean.toFixed(1)} on average${spread}`,
    );
  }
}

/**
 * An AbortController that follows its `parents`, with no listener limit: it lives for one
 * batch, whose listeners (requests, retries, backoff waits) it takes however many there are.
 */
function linkedController(parents: AbortSignal[]): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const follows = parents.map((parent) => {
    const follow = () => controller.abort(parent.reason);
    if (parent.aborted) follow();
    else parent.addEventListener('abort', follow, { once: true });
    return () => parent.removeEventListener('abort', follow);
  });
  return {
    signal: controller.signal,
    dispose: () => {
      for (const unfollow of follows) unfollow();
    },
  };
}

/** A request the server refused with 403, waiting for the verdict on it. */
interface Refused {
  verdict: Promise<RefusalVerdict>;
  failure: RequestFailure;
  /** The image's error row should the refusal be its own. */
  error: string;
  url: string;
}

/** `promise`'s value, or undefined as soon as `signal` aborts. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}

function releaseOutcome(error: unknown): 'answered' | 'network' | 'aborted' {
  if (error instanceof APIUserAbortError) return 'aborted';
  if (error instanceof APIConnectionError) return 'network';
  return 'answered';
}
