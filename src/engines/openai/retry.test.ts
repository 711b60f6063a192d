import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  InternalServerError,
  RateLimitError,
} from 'openai';
import { describe, expect, it } from 'vitest';
import {
  BASE_DELAY_MS,
  backoffBudget,
  backoffDelay,
  classifyError,
  MAX_DELAY_MS,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  retryDelay,
  withRetries,
} from './retry.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', NOW)).toBe(3000);
    expect(parseRetryAfter(' 1.5 ', NOW)).toBe(1500);
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Sat, 01 Mar 2025 11:00:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });
});

describe('backoff', () => {
  it('is equal jitter under a doubling ceiling: at least half of it, never all', () => {
    expect(backoffDelay(0, () => 0)).toBe(BASE_DELAY_MS / 2);
    expect(backoffDelay(0, () => 0.999)).toBe(Math.floor(0.9995 * BASE_DELAY_MS));
    expect(backoffDelay(3, () => 0.5)).toBe(0.75 * BASE_DELAY_MS * 8);
    expect(backoffDelay(30, () => 0)).toBe(MAX_DELAY_MS / 2);
  });

  it('with the default 8 retries, waits out a one-minute outage before giving up', () => {
    expect(backoffBudget(8)).toEqual({ minMs: 60_500, maxMs: 121_000 });
    let least = 0;
    for (let n = 0; n < 8; n += 1) least += backoffDelay(n, () => 0);
    expect(least).toBe(backoffBudget(8).minMs);
    expect(least).toBeGreaterThan(60_000);
  });

  it('waits what Retry-After asks, capped, plus a little jitter', () => {
    expect(retryDelay({ retryable: true, reason: '', retryAfterMs: 2000 }, 5, () => 0)).toBe(2000);
    expect(retryDelay({ retryable: true, reason: '', retryAfterMs: 2000 }, 0, () => 0.5)).toBe(
      2000 + BASE_DELAY_MS / 2,
    );
    expect(
      retryDelay(
        { retryable: true, reason: '', retryAfterMs: 10 * MAX_RETRY_AFTER_MS },
        0,
        () => 0,
      ),
    ).toBe(MAX_RETRY_AFTER_MS);
  });
});

describe('classifyError', () => {
  const headers = (entries: Record<string, string>) => new Headers(entries);

  it('retries 429 and 5xx with their Retry-After, not other 4xx', () => {
    const limited = classifyError(
      new RateLimitError(429, { message: 'slow down' }, undefined, headers({ 'retry-after': '7' })),
      60,
      NOW,
    );
    expect(limited).toEqual({
      retryable: true,
      status: 429,
      reason: 'HTTP 429: slow down',
      retryAfterMs: 7000,
    });
    const ms = classifyError(
      new InternalServerError(
        503,
        { message: 'busy' },
        undefined,
        headers({ 'retry-after-ms': '250' }),
      ),
      60,
      NOW,
    );
    expect(ms.retryAfterMs).toBe(250);
    expect(ms.retryable).toBe(true);
    const bad = classifyError(
      APIError.generate(400, { error: { message: 'bad image' } }, undefined, headers({})),
      60,
      NOW,
    );
    expect(bad).toEqual({ retryable: false, status: 400, reason: 'HTTP 400: bad image' });
    expect(classifyError(APIError.generate(404, {}, undefined, headers({})), 60).retryable).toBe(
      false,
    );
    expect(classifyError(APIError.generate(408, {}, undefined, headers({})), 60).retryable).toBe(
      true,
    );
    expect(classifyError(APIError.generate(502, {}, undefined, headers({})), 60)).toMatchObject({
      retryable: true,
      reason: 'HTTP 502: no message from the server',
    });
  });

  it("waits for OpenAI's x-ratelimit reset of a used-up limit when a 429 has no Retry-After", () => {
    const limited = (extra: Record<string, string>) =>
      classifyError(
        APIError.generate(429, { error: { message: 'Rate limit' } }, undefined, headers(extra)),
        60,
        NOW,
      ).retryAfterMs;
    expect(
      limited({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '6m0s' }),
    ).toBe(360_000);
    expect(
      limited({
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '20ms',
        'x-ratelimit-remaining-tokens': '0',
        'x-ratelimit-reset-tokens': '1.5s',
        'x-ratelimit-reset-requests-unused': '9s',
      }),
    ).toBe(1500);
    // A limit with room left, an unreadable reset, or a Retry-After: not used.
    expect(
      limited({ 'x-ratelimit-remaining-tokens': '10', 'x-ratelimit-reset-tokens': '5s' }),
    ).toBeUndefined();
    expect(
      limited({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': 'soon' }),
    ).toBeUndefined();
    expect(
      limited({
        'retry-after': '2',
        'x-ratelimit-remaining-tokens': '0',
        'x-ratelimit-reset-tokens': '5s',
      }),
    ).toBe(2000);
  });

  it("does not retry OpenAI's 429 for an account out of quota, and keeps the error code", () => {
    const body = {
      error: {
        message: 'You exceeded your current quota',
        type: 'insufficient_quota',
        code: 'insufficient_quota',
      },
    };
    expect(classifyError(APIError.generate(429, body, undefined, headers({})), 60)).toEqual({
      retryable: false,
      status: 429,
      code: 'insufficient_quota',
      reason: 'HTTP 429: You exceeded your current quota',
    });
    const limited = { error: { message: 'Rate limit reached', code: 'rate_limit_exceeded' } };
    expect(
      classifyError(APIError.generate(429, limited, undefined, headers({})), 60),
    ).toMatchObject({
      retryable: true,
      code: 'rate_limit_exceeded',
    });
  });

  it('retries timeouts and network errors, never an abort', () => {
    expect(classifyError(new APIConnectionTimeoutError(), 12)).toEqual({
      retryable: true,
      network: true,
      timedOut: true,
      reason: 'timed out after 12 s',
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
    });
    const network = classifyError(
      new APIConnectionError({
        cause: Object.assign(new TypeError('fetch failed'), { cause: refused }),
      }),
      12,
    );
    expect(network).toEqual({
      retryable: true,
      network: true,
      reason: 'network error: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:9)',
    });
    expect(classifyError(new APIUserAbortError(), 12)).toMatchObject({
      retryable: false,
      aborted: true,
    });
    expect(classifyError(new Error('weird'), 12)).toEqual({ retryable: false, reason: 'weird' });
  });

  it('retries an answer whose JSON does not parse', () => {
    let parseError: unknown;
    try {
      JSON.parse('{"choices": [');
    } catch (error) {
      parseError = error;
    }
    expect(classifyError(parseError, 12)).toMatchObject({
      retryable: true,
      reason: expect.stringMatching(/^the server's answer is not valid JSON \(/),
    });
  });
});

describe('withRetries', () => {
  const hooks = (delays: number[]) => ({
    sleep: async (ms: number) => {
      delays.push(ms);
    },
    random: () => 1 - Number.EPSILON,
    now: () => NOW,
  });
  const overloaded = () =>
    APIError.generate(503, { error: { message: 'overloaded' } }, undefined, new Headers());

  it('makes retries + 1 attempts, backing off each time', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetries(
      async () => {
        calls += 1;
        throw overloaded();
      },
      { retries: 4, timeoutSeconds: 1, hooks: hooks(delays) },
    );
    expect(calls).toBe(5);
    expect(result).toMatchObject({ attempts: 5, failure: { reason: 'HTTP 503: overloaded' } });
    expect(delays).toEqual([999, 1999, 3999, 7999]);
  });

  it('returns the value once an attempt succeeds', async () => {
    const delays: number[] = [];
    const result = await withRetries(
      async (i) => {
        if (i < 2) throw overloaded();
        return 'ok';
      },
      { retries: 4, timeoutSeconds: 1, hooks: hooks(delays) },
    );
    expect(result).toEqual({ value: 'ok', attempts: 3 });
    expect(delays).toHaveLength(2);
  });

  it('stops at a non-retryable error and when the signal aborts', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetries(
      async () => {
        calls += 1;
        throw APIError.generate(400, { error: { message: 'no' } }, undefined, new Headers());
      },
      { retries: 4, timeoutSeconds: 1, hooks: hooks(delays) },
    );
    expect(calls).toBe(1);
    expect(result.failure?.retryable).toBe(false);

    const controller = new AbortController();
    const aborted = await withRetries(
      async () => {
        controller.abort();
        throw overloaded();
      },
      {
        retries: 4,
        timeoutSeconds: 1,
        signal: controller.signal,
        hooks: {
          ...hooks(delays),
          sleep: (_ms: number, signal?: AbortSignal) =>
            signal?.aborted ? Promise.reject(new Error('aborted')) : Promise.resolve(),
        },
      },
    );
    expect(aborted.failure).toMatchObject({ aborted: true });
    expect(aborted.attempts).toBe(1);
  });
});
