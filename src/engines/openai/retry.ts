import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { describeError } from '../../core/errors.js';
import { PROXY_HEADER } from './http-fetch.js';

/** First backoff ceiling: retry n waits between half of BASE * 2^n and all of it. */
export const BASE_DELAY_MS = 1000;
/** Backoff ceiling never grows past this. */
export const MAX_DELAY_MS = 30_000;
/**
 * Retries of the start-up model check for an error that a server starting up does not
 * send (a 500, a 502, an answer that does not parse): a broken --endpoint is an error
 * within seconds. A server that is loading (503, 429, not listening yet) gets --retries.
 */
export const START_UP_RETRIES = 2;

/**
 * The least and most time the backoff waits in total over `retries` retries (without
 * Retry-After): with the default 8, 60.5 s to 121 s, so a server that goes away for a
 * minute is waited for before any image fails.
 */
export function backoffBudget(retries: number): { minMs: number; maxMs: number } {
  let maxMs = 0;
  for (let n = 0; n < retries; n += 1) maxMs += Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** n);
  return { minMs: maxMs / 2, maxMs };
}
/** A `Retry-After` longer than this is cut down to it (and said so). */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Status codes worth another try: request timeout, conflict, rate limit, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || (status >= 500 && status !== 501);
}

/** What went wrong with one request, in words for an error row. */
export interface RequestFailure {
  retryable: boolean;
  /** e.g. `HTTP 400: image could not be decoded`, `timed out after 120 s`. */
  reason: string;
  /** HTTP status, when the server answered. */
  status?: number;
  /** From `Retry-After` / `retry-after-ms`, when the server sent one. */
  retryAfterMs?: number;
  /** True when the caller's signal aborted the request: never retried. */
  aborted?: boolean;
  /** Network-level failure (refused, reset, timeout): the endpoint may be down. */
  network?: boolean;
  /** No answer within `--timeout`. */
  timedOut?: boolean;
  /** The proxy (`http://host:port`) answered this, not the server (e.g. its 407). */
  proxy?: string;
  /** The error's `code` (or `type`) in the server's body, e.g. `insufficient_quota`. */
  code?: string;
}

/** OpenAI's 429 for an account out of credit: no wait makes it pass. */
export const OUT_OF_QUOTA = 'insufficient_quota';

/** Classifies an error thrown by the OpenAI SDK (with `maxRetries: 0`). */
export function classifyError(
  error: unknown,
  timeoutSeconds: number,
  nowMs: number = Date.now(),
): RequestFailure {
  if (error instanceof APIUserAbortError) {
    return { retryable: false, aborted: true, reason: 'aborted' };
  }
  if (error instanceof APIConnectionTimeoutError) {
    return {
      retryable: true,
      network: true,
      timedOut: true,
      reason: `timed out after ${timeoutSeconds} s`,
    };
  }
  if (error instanceof APIConnectionError) {
    const cause = error.cause === undefined ? '' : networkCause(error.cause);
    return {
      retryable: true,
      network: true,
      reason: `network error${cause ? `: ${cause}` : ''}`,
    };
  }
  if (error instanceof SyntaxError) {
    // The SDK parses a JSON answer itself: a body cut short or garbled on the way.
    return {
      retryable: true,
      reason: `the server's answer is not valid JSON (${error.message})`,
    };
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const status = error.status;
    const code = typeof error.code === 'string' ? error.code : error.type;
    const failure: RequestFailure = {
      retryable: isRetryableStatus(status) && code !== OUT_OF_QUOTA,
      status,
      reason: `HTTP ${status}: ${serverMessage(error)}`,
    };
    if (typeof code === 'string' && code !== '') failure.code = code;
    const retryAfterMs =
      retryAfterFromHeaders(error.headers, nowMs) ??
      (status === 429 ? rateLimitResetMs(error.headers) : undefined);
    if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
    const proxy = error.headers?.get(PROXY_HEADER);
    if (proxy) failure.proxy = proxy;
    return failure;
  }
  return { retryable: false, reason: describeError(error) };
}

/** The server's own words from an SDK APIError (its message starts with the status). */
function serverMessage(error: APIError): string {
  const body = error.error as { message?: unknown } | string | undefined;
  if (typeof body === 'string' && body) return body;
  if (body && typeof body === 'object' && typeof body.message === 'string' && body.message) {
    return body.message;
  }
  const text = error.message.replace(/^\d{3}\s*/, '').trim();
  return text === '' || text === 'status code (no body)' ? 'no message from the server' : text;
}

/** `ECONNREFUSED 127.0.0.1:8000`-like text from a fetch failure's cause chain. */
function networkCause(cause: unknown): string {
  let current: unknown = cause;
  let text = '';
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as Error & { code?: unknown }).code;
    text = typeof code === 'string' ? `${code} (${current.message})` : current.message;
    current = (current as Error & { cause?: unknown }).cause;
  }
  return text;
}

/**
 * Delay asked for by the server: `retry-after-ms` (milliseconds, an OpenAI extension), or
 * `Retry-After` as seconds or as an HTTP date. Undefined when absent or unreadable.
 */
export function retryAfterFromHeaders(
  headers: Headers | undefined,
  nowMs: number,
): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Number(ms);
  return parseRetryAfter(headers.get('retry-after'), nowMs);
}

/**
 * For a 429 without `Retry-After`: when the used-up limit resets, from OpenAI's
 * `x-ratelimit-remaining-{requests,tokens}` = 0 and `x-ratelimit-reset-…` (`20ms`, `1.5s`,
 * `6m0s`); the later of the two when both are used up.
 */
export function rateLimitResetMs(headers: Headers | undefined): number | undefined {
  let wait: number | undefined;
  for (const kind of ['requests', 'tokens']) {
    if (headers?.get(`x-ratelimit-remaining-${kind}`)?.trim() !== '0') continue;
    const ms = durationMs(headers.get(`x-ratelimit-reset-${kind}`));
    if (ms !== undefined) wait = Math.max(wait ?? 0, ms);
  }
  return wait;
}

/** `6m0s`, `1.5s`, `20ms`, `1h2m3.5s` as OpenAI writes its x-ratelimit-reset-* times. */
const DURATION = (() => {
  const number = '(\\d+(?:\\.\\d+)?)';
  return new RegExp(`^(?:${number}h)?(?:${number}m)?(?:${number}s)?(?:${number}ms)?$`);
})();

function durationMs(text: string | null): number | undefined {
  const match = DURATION.exec(text?.trim() ?? '');
  if (!match || match[0] === '') return undefined;
  const [h, m, s, ms] = match.slice(1).map((part) => Number(part ?? 0));
  return ((h! * 60 + m!) * 60 + s!) * 1000 + ms!;
}

export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * Equal jitter: a random delay in [c/2, c) with c = min(MAX, BASE * 2^attempt); `attempt`
 * starts at 0. Half the ceiling is a floor, so the retries together always wait at least
 * `backoffBudget(retries).minMs`; the random half spreads requests that failed together.
 */
export function backoffDelay(attempt: number, random: () => number): number {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * How long to wait before retry number `attempt + 1`: what `Retry-After` asked for (capped
 * at MAX_RETRY_AFTER_MS) plus a little jitter so that requests told the same time do not
 * all come back at once; otherwise exponential backoff with full jitter.
 */
export function retryDelay(failure: RequestFailure, attempt: number, random: () => number): number {
  if (failure.retryAfterMs !== undefined) {
    return (
      Math.min(failure.retryAfterMs, MAX_RETRY_AFTER_MS) + Math.floor(random() * BASE_DELAY_MS)
    );
  }
  return backoffDelay(attempt, random);
}

export interface RetryHooks {
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  now: () => number;
}

export interface RetryResult<T> {
  value?: T;
  failure?: RequestFailure;
  attempts: number;
}

/**
 * Runs `attempt` up to `retries + 1` times. Retries retryable failures after `retryDelay`;
 * stops at once on a non-retryable failure or an aborted signal. Never throws: the last
 * failure comes back as a value.
 */
export async function withRetries<T>(
  attempt: (attemptIndex: number) => Promise<T>,
  options: {
    retries: number;
    timeoutSeconds: number;
    hooks: RetryHooks;
    signal?: AbortSignal | undefined;
    onRetry?: (failure: RequestFailure, delayMs: number, attemptIndex: number) => void;
    onFailure?: (failure: RequestFailure) => void;
    /** Applied to every failure reason (removes the API key should a server echo it). */
    redact?: (text: string) => string;
    /** Whether a retryable failure is retried once more (default: always, up to `retries`). */
    retryIf?: (failure: RequestFailure, attemptIndex: number) => boolean;
  },
): Promise<RetryResult<T>> {
  const { retries, hooks, signal } = options;
  let failure: RequestFailure | undefined;
  for (let index = 0; index <= retries; index += 1) {
    if (signal?.aborted)
      return { failure: { retryable: false, aborted: true, reason: 'aborted' }, attempts: index };
    try {
      return { value: await attempt(index), attempts: index + 1 };
    } catch (error) {
      failure = classifyError(error, options.timeoutSeconds, hooks.now());
      if (options.redact) failure.reason = options.redact(failure.reason);
      options.onFailure?.(failure);
      if (
        !failure.retryable ||
        failure.aborted ||
        index === retries ||
        options.retryIf?.(failure, index) === false
      ) {
        return { failure, attempts: index + 1 };
      }
      const delay = retryDelay(failure, index, hooks.random);
      options.onRetry?.(failure, delay, index);
      try {
        await hooks.sleep(delay, signal);
      } catch {
        return {
          failure: { retryable: false, aborted: true, reason: 'aborted' },
          attempts: index + 1,
        };
      }
    }
  }
  // Unreachable: the loop returns on its last pass.
  return { failure: failure ?? { retryable: false, reason: 'no attempt made' }, attempts: 0 };
}

/** setTimeout as a promise that an AbortSignal can cut short (it then rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const realRetryHooks: RetryHooks = Object.freeze({
  sleep,
  random: Math.random,
  now: Date.now,
});
