import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError, EngineError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { PROXY_HEADER } from '../../src/engines/openai/http-fetch.js';
import { createOpenAIEngine, type OpenAIEngineHooks } from '../../src/engines/openai/index.js';
import { DEFAULT_MODEL_ID } from '../../src/engines/openai/models.js';
import { refusalsToStop } from '../../src/engines/openai/refusals.js';
import type { EngineSettings, PreparedImage } from '../../src/engines/types.js';
import { runEngineContract } from '../../src/testing/engine-contract.js';
import { LLAMACPP_NO_VISION } from '../faults/server-replies.js';
import { FakeOpenAIServer, type FakeServerOptions } from '../support/fake-openai-server.js';

const SECRET = 'sk-test-0123456789-very-secret';
const PROMPT = 'Describe this radiograph.';

const servers: FakeOpenAIServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(options: FakeServerOptions = {}) {
  const s = await FakeOpenAIServer.start(options);
  servers.push(s);
  return s;
}

/** Log lines, all levels, for checks. */
function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    lines.push(`${level} ${message} ${fields ? JSON.stringify(fields) : ''}`);
  return {
    lines,
    debug: push('debug'),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
  };
}

function settings(endpoints: string[], overrides: Partial<EngineSettings> = {}): EngineSettings {
  return {
    model: 'fake-vlm',
    device: 'cpu',
    dtype: undefined,
    offline: false,
    endpoints,
    concurrency: 4,
    timeoutSeconds: 5,
    retries: 3,
    ...overrides,
  };
}

/** An image whose first pixel is `value`, so the server can tell images apart. */
function image(id: string, value: number, width = 56, height = 84, grey = false): PreparedImage {
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i += 1) {
    const v = (value + i) % 256;
    pixels[i * 3] = i === 0 ? value : v;
    pixels[i * 3 + 1] = grey ? pixels[i * 3]! : (v * 7) % 256;
    pixels[i * 3 + 2] = grey ? pixels[i * 3]! : (v * 13) % 256;
  }
  return {
    id,
    pixels,
    width,
    height,
    gridThw: [1, height / 14, width / 14],
    originalWidth: width * 2,
    originalHeight: height * 2,
  };
}

/** Retry hooks that do not wait, and remember each requested delay. */
function instantRetries(random = 0): OpenAIEngineHooks['retry'] & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms: number) => {
      delays.push(ms);
    },
    random: () => random,
  };
}

function hooks(extra: OpenAIEngineHooks = {}): OpenAIEngineHooks {
  return { env: { OPENAI_API_KEY: SECRET }, ...extra };
}

describe('openai engine: requests', () => {
  it('sends one chat request per image with the prepared image, prompt, max_tokens and temperature 0', async () => {
    const s = await server();
    const logger = captureLogger();
    const engine = await createOpenAIEngine(settings([s.url]), { logger }, hooks());
    expect(engine.id).toBe('openai');
    expect(engine.device).toBe('server');
    expect(engine.model).toBe('fake-vlm');
    expect(engine.batchSize).toBe(4);

    const colour = image('A', 17, 56, 84);
    const grey = image('B', 200, 112, 28, true);
    const outcomes = await engine.generate([colour, grey], { prompt: PROMPT, maxNewTokens: 77 });
    expect(outcomes).toEqual([
      { ok: true, caption: `a 56x84 image, first pixel 17, prompt of ${PROMPT.length} chars` },
      { ok: true, caption: `a 112x28 image, first pixel 200, prompt of ${PROMPT.length} chars` },
    ]);

    const chats = s.chatRequests;
    expect(chats).toHaveLength(2);
    for (const request of chats) {
      expect(request.headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(request.body.model).toBe('fake-vlm');
      expect(request.body.max_tokens).toBe(77);
      expect(request.body.temperature).toBe(0);
      expect(request.body.messages).toHaveLength(1);
      expect(request.body.messages[0]!.role).toBe('user');
      const parts = request.body.messages[0]!.content;
      expect(parts.map((p) => p.type)).toEqual(['image_url', 'text']);
      expect(parts[1]!.text).toBe(PROMPT);
      expect(parts[0]!.image_url!.url).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    }
    // the data URIs decode losslessly to the prepared pixels, at the prepared size
    const { decodeDataUri } = await import('../support/fake-openai-server.js');
    const decoded = await Promise.all(
      chats.map((r) => decodeDataUri(r.body.messages[0]!.content[0]!.image_url!.url)),
    );
    const byWidth = new Map(decoded.map((d) => [d.width, d]));
    expect(byWidth.get(56)!.height).toBe(84);
    expect(Buffer.compare(byWidth.get(56)!.rgb, Buffer.from(colour.pixels))).toBe(0);
    expect(byWidth.get(56)!.channels).toBe(3);
    expect(byWidth.get(112)!.height).toBe(28);
    expect(byWidth.get(112)!.channels).toBe(1); // grey images travel as one-channel PNG
    expect(Buffer.compare(byWidth.get(112)!.rgb, Buffer.from(grey.pixels))).toBe(0);

    await engine.dispose();
    expect(logger.lines.join('\n')).not.toContain(SECRET);
    expect(logger.lines.join('\n')).toContain('API key from OPENAI_API_KEY');
  });

  it('never has more requests in flight than --concurrency, even across overlapping calls', async () => {
    const s = await server({ delayMs: 25 });
    const engine = await createOpenAIEngine(
      settings([s.url], { concurrency: 3 }),
      { logger: captureLogger() },
      hooks(),
    );
    const batch = (offset: number) =>
      Array.from({ length: 7 }, (_, i) => image(`I${offset + i}`, offset + i));
    const [a, b] = await Promise.all([
      engine.generate(batch(0), { prompt: PROMPT, maxNewTokens: 8 }),
      engine.generate(batch(100), { prompt: PROMPT, maxNewTokens: 8 }),
    ]);
    expect([...a, ...b].every((o) => o.ok)).toBe(true);
    expect(s.chatRequests).toHaveLength(14);
    expect(s.maxInFlight).toBe(3);
  });

  it('spreads requests over two endpoints by least outstanding requests', async () => {
    const even1 = await server({ delayMs: 15 });
    const even2 = await server({ delayMs: 15 });
    const engine = await createOpenAIEngine(
      settings([even1.url, even2.url], { concurrency: 4 }),
      { logger: captureLogger() },
      hooks(),
    );
    const images = Array.from({ length: 24 }, (_, i) => image(`E${i}`, i));
    for (let i = 0; i < images.length; i += 4) {
      await engine.generate(images.slice(i, i + 4), { prompt: PROMPT, maxNewTokens: 8 });
    }
    expect(even1.chatRequests.length + even2.chatRequests.length).toBe(24);
    expect(Math.abs(even1.chatRequests.length - even2.chatRequests.length)).toBeLessThanOrEqual(2);
    expect(even1.maxInFlight).toBe(2);
    expect(even2.maxInFlight).toBe(2);
    expect(engine.stats().answeredBy).toEqual({
      [even1.url]: even1.chatRequests.length,
      [even2.url]: even2.chatRequests.length,
    });

    // a slow endpoint keeps its requests longer, so the fast one is given more
    const slow = await server({ delayMs: 120 });
    const fast = await server({ delayMs: 5 });
    const skewed = await createOpenAIEngine(
      settings([slow.url, fast.url], { concurrency: 4 }),
      { logger: captureLogger() },
      hooks(),
    );
    await skewed.generate(
      Array.from({ length: 40 }, (_, i) => image(`S${i}`, i)),
      { prompt: PROMPT, maxNewTokens: 8 },
    );
    expect(slow.chatRequests.length).toBeGreaterThan(0);
    expect(fast.chatRequests.length).toBeGreaterThan(2 * slow.chatRequests.length);
    expect(slow.maxInFlight + fast.maxInFlight).toBeLessThanOrEqual(4 + 4);
  });
});

describe('openai engine: retries', () => {
  it('honours Retry-After on 429, then succeeds', async () => {
    const s = await server({
      reply: (r) =>
        r.attempt === 0
          ? {
              status: 429,
              headers: { 'retry-after': '3' },
              body: { error: { message: 'slow down' } },
            }
          : {},
    });
    const retry = instantRetries(0);
    const logger = captureLogger();
    const engine = await createOpenAIEngine(settings([s.url]), { logger }, hooks({ retry }));
    const [outcome] = await engine.generate([image('R', 5)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(outcome).toMatchObject({ ok: true });
    expect(s.chatRequests).toHaveLength(2);
    expect(retry.delays).toEqual([3000]);
    expect(logger.lines.some((l) => l.startsWith('warn') && /rate limiting/.test(l))).toBe(true);
  });

  it('honours Retry-After given as an HTTP date', async () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    const s = await server({
      reply: (r) =>
        r.attempt === 0
          ? { status: 503, headers: { 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' } }
          : {},
    });
    const retry = { ...instantRetries(0), now: () => now };
    const engine = await createOpenAIEngine(
      settings([s.url]),
      { logger: captureLogger() },
      hooks({ retry }),
    );
    const [outcome] = await engine.generate([image('D', 5)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(outcome).toMatchObject({ ok: true });
    expect(retry.delays).toEqual([7000]);
  });

  it('retries a 500 with exponential backoff and equal jitter, then succeeds', async () => {
    const s = await server({
      reply: (r) => (r.attempt < 2 ? { status: 500, body: { error: { message: 'boom' } } } : {}),
    });
    const retry = instantRetries(0.5);
    const engine = await createOpenAIEngine(
      settings([s.url]),
      { logger: captureLogger() },
      hooks({ retry }),
    );
    const [outcome] = await engine.generate([image('F', 9)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(outcome).toMatchObject({ ok: true });
    expect(s.chatRequests).toHaveLength(3);
    // half of the ceilings 1000 ms and 2000 ms, plus random() = 0.5 of the other half
    expect(retry.delays).toEqual([750, 1500]);
  });

  it('gives up after --retries and writes the reason into the outcome', async () => {
    const s = await server({
      reply: (_r, img) =>
        img.rgb[0] === 1
          ? { status: 503, body: { error: { message: 'model is overloaded' } } }
          : {},
    });
    // The server answers another image while X waits to retry: X's trouble is its own.
    let other: Promise<unknown> | undefined;
    const engine = await createOpenAIEngine(
      settings([s.url], { retries: 2 }),
      { logger: captureLogger() },
      hooks({
        retry: {
          ...instantRetries(0),
          sleep: async () => {
            other ??= engine.generate([image('Y', 2)], { prompt: PROMPT, maxNewTokens: 8 });
            await other;
          },
        },
      }),
    );
    const [outcome] = await engine.generate([image('X', 1)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(outcome).toEqual({
      ok: false,
      error: `HTTP 503: model is overloaded from ${s.url} (gave up after 3 attempts)`,
    });
    expect(await other).toEqual([expect.objectContaining({ ok: true })]);
    expect(s.chatRequests).toHaveLength(4);
  });

  it('retries an error sent with status 200 whose code is a server error, like an HTTP 500', async () => {
    const s = await server({
      reply: (r) =>
        r.attempt === 0
          ? {
              body: {
                error: { message: 'CUDA out of memory', type: 'InternalServerError', code: 500 },
              },
            }
          : {},
    });
    const engine = await createOpenAIEngine(
      settings([s.url]),
      { logger: captureLogger() },
      hooks({ retry: instantRetries() }),
    );
    const [outcome] = await engine.generate([image('O', 4)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(outcome).toMatchObject({ ok: true });
    expect(s.chatRequests).toHaveLength(2);
  });

  it('fails only the image the server rejects with 400, with the server message, without retrying', async () => {
    const s = await server({
      // vLLM's older error shape: no "error" object
      reply: (_r, img) =>
        img.rgb[0] === 2
          ? {
              status: 400,
              body: { object: 'error', message: 'Image could not be decoded', code: 400 },
            }
          : {},
    });
    const engine = await createOpenAIEngine(
      settings([s.url]),
      { logger: captureLogger() },
      hooks({ retry: instantRetries() }),
    );
    const outcomes = await engine.generate([image('a', 1), image('b', 2), image('c', 3)], {
      prompt: PROMPT,
      maxNewTokens: 8,
    });
    expect(outcomes[0]).toMatchObject({ ok: true });
    expect(outcomes[1]).toEqual({
      ok: false,
      error: `HTTP 400: Image could not be decoded from ${s.url}`,
    });
    expect(outcomes[2]).toMatchObject({ ok: true });
    expect(s.chatRequests).toHaveLength(3);
  });

  it('retries a request that timed out, and one whose connection dropped', async () => {
    const s = await server({
      reply: (r, img) => {
        if (r.attempt > 0) return {};
        return img.rgb[0] === 1 ? 'hang' : 'drop';
      },
    });
    const retry = instantRetries(0);
    const engine = await createOpenAIEngine(
      settings([s.url], { timeoutSeconds: 0.3 }),
      { logger: captureLogger() },
      hooks({ retry }),
    );
    const started = performance.now();
    const outcomes = await engine.generate([image('slow', 1), image('dropped', 2)], {
      prompt: PROMPT,
      maxNewTokens: 8,
    });
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(s.chatRequests).toHaveLength(4);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    // The timeout is a retry. The drop is one too, unless it came on a connection kept alive
    // from another request: then it is sent again at once (http-fetch), not counted.
    expect(engine.stats().retries).toBeGreaterThanOrEqual(1);
  });

  it('reports a timeout that never clears while the server answers other images', async () => {
    const s = await server({ reply: (_r, img) => (img.rgb[0] === 1 ? 'hang' : {}) });
    let other: Promise<unknown> | undefined;
    const engine = await createOpenAIEngine(
      settings([s.url], { timeoutSeconds: 0.2, retries: 1 }),
      { logger: captureLogger() },
      hooks({
        retry: {
          ...instantRetries(),
          sleep: async () => {
            other ??= engine.generate([image('U', 2)], { prompt: PROMPT, maxNewTokens: 8 });
            await other;
          },
        },
      }),
    );
    const [outcome] = await engine.generate([image('T', 1)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(outcome).toEqual({
      ok: false,
      error: `timed out after 0.2 s from ${s.url} (gave up after 2 attempts)`,
    });
  });
});

describe('openai engine: one image that keeps failing is its own error row, not an outage', () => {
  const opts = { prompt: PROMPT, maxNewTokens: 8 };
  const CUDA_500 = {
    status: 500,
    body: { error: { message: 'CUDA error: illegal memory access' } },
  };
  /** The probes: the chat requests asking for one token. */
  const probes = (s: FakeOpenAIServer) =>
    s.chatRequests.filter((r) => (r.body as { max_tokens?: number }).max_tokens === 1);

  it('a 500 for one image, one request at a time: its error row once a test request is answered; the run goes on', async () => {
    const s = await server({ reply: (_r, img) => (img.rgb[0] === 2 ? CUDA_500 : {}) });
    const logger = captureLogger();
    const engine = await createOpenAIEngine(
      settings([s.url], { concurrency: 1, retries: 2 }),
      { logger },
      hooks({ retry: instantRetries(0) }),
    );
    expect(await engine.generate([image('a', 1)], opts)).toMatchObject([{ ok: true }]);
    expect(await engine.generate([image('b', 2)], opts)).toEqual([
      {
        ok: false,
        error: `HTTP 500: CUDA error: illegal memory access from ${s.url} (gave up after 3 attempts)`,
      },
    ]);
    expect(await engine.generate([image('c', 3)], opts)).toMatchObject([{ ok: true }]);
    expect(probes(s)).toHaveLength(1);
    expect(logger.lines.join('\n')).toContain(
      `but ${s.url} answers a test request (a blank image)`,
    );
  });

  it('a slow 500 for the last image, after its batch-mates were answered: its error row, the batch-mates kept', async () => {
    const s = await server({
      reply: (_r, img) => (img.rgb[0] === 3 ? { ...CUDA_500, delayMs: 50 } : {}),
    });
    const engine = await createOpenAIEngine(
      settings([s.url], { retries: 1 }),
      { logger: captureLogger() },
      hooks({ retry: instantRetries(0) }),
    );
    const outcomes = await engine.generate([image('a', 1), image('b', 2), image('c', 3)], opts);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false]);
    expect(outcomes[2]).toMatchObject({ error: expect.stringContaining('HTTP 500: CUDA error') });
  });

  it('a hang for one image while the others are answered: its error row, and the requests in flight are not lowered', async () => {
    const s = await server({ reply: (_r, img) => (img.rgb[0] === 1 ? 'hang' : {}) });
    const logger = captureLogger();
    const engine = await createOpenAIEngine(
      settings([s.url], { concurrency: 2, timeoutSeconds: 0.3, retries: 1 }),
      { logger },
      hooks({ retry: instantRetries(0) }),
    );
    const batch = [1, 2, 3, 4, 5, 6].map((v) => image(`i${v}`, v));
    const outcomes = await engine.generate(batch, opts);
    expect(outcomes.map((o) => o.ok)).toEqual([false, true, true, true, true, true]);
    expect(outcomes[0]).toEqual({
      ok: false,
      error: `timed out after 0.3 s from ${s.url} (gave up after 2 attempts)`,
    });
    expect(logger.lines.filter((line) => line.includes('lowering the requests'))).toEqual([]);
  });

  it('a server that answers no request, the test request included: the run stops, nothing returned', async () => {
    const s = await server({ reply: () => CUDA_500 });
    const engine = await createOpenAIEngine(
      settings([s.url], { concurrency: 1, retries: 1 }),
      { logger: captureLogger() },
      hooks({ retry: instantRetries(0) }),
    );
    const error = await engine.generate([image('a', 1)], opts).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).message).toContain(
      'a test request (a blank image) failed too (HTTP 500: CUDA error: illegal memory access)',
    );
    expect(probes(s)).toHaveLength(1);
  });
});

describe('openai engine: failures no image can get past stop every batch', () => {
  /** The EngineError that generate rejects with, checked to stop the run. */
  async function stopError(batch: Promise<unknown>): Promise<EngineError> {
    const error = await batch.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).stopsRun).toBe(true);
    return error as EngineError;
  }

  /** The error that stops a batch of `images` sent to `url` without retry backoff. */
  async function stopErrorOf(
    url: string,
    images: PreparedImage[],
    extra: Partial<EngineSettings> = {},
  ): Promise<EngineError> {
    const engine = await createOpenAIEngine(
      settings([url], extra),
      { logger: captureLogger() },
      hooks({ retry: instantRetries(0) }),
    );
    return stopError(engine.generate(images, { prompt: PROMPT, maxNewTokens: 8 }));
  }

  it('a server that answers nothing usable for the whole retry budget', async () => {
    const s = await server({
      reply: () => ({ status: 503, body: { error: { message: 'overloaded' } } }),
    });
    const engine = await createOpenAIEngine(
      settings([s.url], { retries: 2 }),
      { logger: captureLogger() },
      hooks({ retry: instantRetries(0) }),
    );
    const images = [image('A', 1), image('B', 2)];
    const error = await stopError(engine.generate(images, { prompt: PROMPT, maxNewTokens: 8 }));
    expect(error.message).toMatch(
      new RegExp(
        `^no request got an answer for \\d+ s: [AB] failed with HTTP 503: overloaded from ${s.url.replace(/[/.]/g, '\\$&')} \\(gave up after 3 attempts\\)`,
      ),
    );
    expect(error.message).toContain('raise --retries');
    // Later batches stop before sending anything.
    const sent = s.chatRequests.length;
    await stopError(engine.generate([image('C', 3)], { prompt: PROMPT, maxNewTokens: 8 }));
    expect(s.chatRequests).toHaveLength(sent);
  });

  it('a model the server no longer serves (404), naming what it serves; other requests stop', async () => {
    const s = await server({
      models: ['fake-vlm'],
      reply: (r, img) => {
        if (img.rgb[0] !== 1) return 'hang';
        s.options.models = ['other-vlm', 'third-vlm'];
        return { status: 404, body: vllmNotFound(r.body.model) };
      },
    });
    const error = await stopErrorOf(s.url, [image('A', 1), image('B', 2)], { retries: 2 });
    expect(error.message).toBe(
      `${s.url}/chat/completions answered HTTP 404: The model \`fake-vlm\` does not exist; ` +
        '--model fake-vlm is not served there, it serves: other-vlm, third-vlm',
    );
    expect(s.chatRequests).toHaveLength(2);
  });

  it('a 404 although the model is listed: the API path is wrong', async () => {
    const s = await server({ reply: () => ({ status: 404, body: 'Not Found' }) });
    const error = await stopErrorOf(s.url, [image('A', 1)]);
    expect(error.message).toContain(`although ${s.url}/models lists fake-vlm`);
    expect(error.message).toContain("check that --endpoint is the API's base URL");
  });

  it('a server that cannot take images (llama.cpp without --mmproj, 501): not retried, the run stops', async () => {
    const s = await server({
      reply: () => ({ status: LLAMACPP_NO_VISION.status, body: LLAMACPP_NO_VISION.body }),
    });
    const error = await stopErrorOf(s.url, [image('A', 1)]);
    expect(error.message).toContain(
      `${s.url}/chat/completions answered HTTP 501: image input is not supported`,
    );
    expect(error.message).toContain('--mmproj');
    expect(s.chatRequests).toHaveLength(1);
  });

  it('an account out of quota (429 insufficient_quota): not retried', async () => {
    const s = await server({
      reply: () => ({
        status: 429,
        body: {
          error: {
            message: 'You exceeded your current quota, please check your plan and billing details.',
            type: 'insufficient_quota',
            param: null,
            code: 'insufficient_quota',
          },
        },
      }),
    });
    const error = await stopErrorOf(s.url, [image('A', 1)]);
    expect(error.message).toContain('HTTP 429: You exceeded your current quota');
    expect(error.message).toContain('out of quota');
    expect(s.chatRequests).toHaveLength(1);
  });

  describe('a 403: the image fails alone unless the endpoint refuses every image', () => {
    const FORBIDDEN = { status: 403, body: { error: { message: 'Request blocked by policy' } } };
    const KEY = 'set the API key in OPENAI_API_KEY or MEDCAP_API_KEY (using OPENAI_API_KEY)';
    const opts = { prompt: PROMPT, maxNewTokens: 8 };
    const images = (prefix: string, n: number, from = 0) =>
      Array.from({ length: n }, (_, i) => image(`${prefix}${i}`, from + i));

    it('every request refused from the first: the run stops, naming the key', async () => {
      const s = await server({ reply: () => FORBIDDEN });
      const engine = await createOpenAIEngine(
        settings([s.url]),
        { logger: captureLogger() },
        hooks({ retry: instantRetries() }),
      );
      const error = await stopError(engine.generate(images('K', 12), opts));
      expect(error.message).toBe(
        `${s.url} refused the request (HTTP 403: Request blocked by policy) and let no request through; ${KEY}`,
      );
      // refusalsToStop(4) = 6 refusals stop it; at most 4 more were in flight by then.
      expect(s.chatRequests.length).toBeLessThanOrEqual(refusalsToStop(4) + 4);
      expect(engine.stats().failedImages).toBe(0);
      // A single image refused, nothing else to ask: stops too.
      const single = await server({ reply: () => FORBIDDEN });
      const alone = await createOpenAIEngine(
        settings([single.url]),
        { logger: captureLogger() },
        hooks({ retry: instantRetries() }),
      );
      await stopError(alone.generate([image('Z', 1)], opts));
    });

    it("an image a firewall refuses, first or later: that image's error row with the server's words, the others captioned", async () => {
      const s = await server({
        reply: (_r, img) => ([1, 5, 8].includes(img.rgb[0]!) ? FORBIDDEN : {}),
      });
      const engine = await createOpenAIEngine(
        settings([s.url], { concurrency: 1 }),
        { logger: captureLogger() },
        hooks({ retry: instantRetries() }),
      );
      const error = { ok: false, error: `HTTP 403: Request blocked by policy from ${s.url}` };
      // The very first request is refused; the next one, sent after it, is let through.
      const outcomes = await engine.generate(images('W', 7, 1), opts);
      expect(outcomes.map((o) => o.ok)).toEqual([false, true, true, true, false, true, true]);
      expect(outcomes[0]).toEqual(error);
      expect(outcomes[4]).toEqual(error);
      // The last image refused, none asked for after it: its own error row all the same.
      expect(await engine.generate([image('W7', 8)], opts)).toEqual([error]);
      expect(s.chatRequests).toHaveLength(8);
      expect(engine.stats().failedImages).toBe(3);
    });

    it('a server that starts refusing every request mid-run: stops after four refusals at 2 in flight, none of them an error row', async () => {
      let refusing = false;
      const s = await server({ reply: () => (refusing ? FORBIDDEN : {}) });
      const engine = await createOpenAIEngine(
        settings([s.url], { concurrency: 2 }),
        { logger: captureLogger() },
        hooks({ retry: instantRetries() }),
      );
      const first = await engine.generate(images('M', 4), opts);
      expect(first.every((o) => o.ok)).toBe(true);
      refusing = true;
      const error = await stopError(engine.generate(images('N', 8, 10), opts));
      expect(error.message).toBe(
        `${s.url} refused the last 4 requests sent to it (HTTP 403: Request blocked by policy) ` +
          'after answering earlier ones: the key may have been revoked, or a firewall or gateway ' +
          `in front of the server now refuses every request; ${KEY}`,
      );
      expect(s.chatRequests.length - 4).toBeLessThanOrEqual(6);
      expect(engine.stats().failedImages).toBe(0);
      const sent = s.chatRequests.length;
      await stopError(engine.generate([image('P', 99)], opts));
      expect(s.chatRequests).toHaveLength(sent);
    });

    it('two endpoints, one refusing every request: the run stops naming it', async () => {
      const good = await server();
      const bad = await server({ reply: () => FORBIDDEN });
      const engine = await createOpenAIEngine(
        settings([good.url, bad.url], { concurrency: 4 }),
        { logger: captureLogger() },
        hooks({ retry: instantRetries() }),
      );
      const error = await stopError(engine.generate(images('T', 24), opts));
      expect(error.message).toBe(
        `${bad.url} refused the request (HTTP 403: Request blocked by policy) and let no request ` +
          `through; ${KEY}; every --endpoint is sent this one key, so leave ${bad.url} out if ` +
          'it wants another',
      );
    });

    it('two endpoints refusing one image: only that image fails', async () => {
      const reply = (_r: unknown, img: { rgb: Buffer }) => (img.rgb[0] === 3 ? FORBIDDEN : {});
      const a = await server({ reply, delayMs: 5 });
      const b = await server({ reply, delayMs: 5 });
      const engine = await createOpenAIEngine(
        settings([a.url, b.url], { concurrency: 4 }),
        { logger: captureLogger() },
        hooks({ retry: instantRetries() }),
      );
      const outcomes = await engine.generate(images('U', 12), opts);
      expect(outcomes.filter((o) => !o.ok)).toHaveLength(1);
      expect(outcomes[3]).toMatchObject({
        ok: false,
        error: expect.stringMatching(/^HTTP 403: Request blocked by policy from /),
      });
    });

    it('a 401 still stops at once, after images were captioned', async () => {
      let refusing = false;
      const s = await server({
        reply: () => (refusing ? { status: 401, body: { error: { message: 'Invalid key' } } } : {}),
      });
      const engine = await createOpenAIEngine(
        settings([s.url]),
        { logger: captureLogger() },
        hooks({ retry: instantRetries() }),
      );
      expect(await engine.generate([image('A', 1)], opts)).toMatchObject([{ ok: true }]);
      refusing = true;
      const error = await stopError(engine.generate([image('B', 2)], opts));
      expect(error.message).toBe(`${s.url} refused the request (HTTP 401: Invalid key); ${KEY}`);
    });

    it('a proxy refusing the CONNECT (403) mid-run still stops at once', async () => {
      const s = await server();
      let chats = 0;
      const engine = await createOpenAIEngine(
        settings([s.url]),
        { logger: captureLogger() },
        hooks({
          retry: instantRetries(),
          fetch: async (input, init) => {
            if (!String(input).endsWith('/chat/completions') || chats++ === 0) {
              return fetch(input, init);
            }
            const message = `the proxy http://proxy.test:3128 (from HTTP_PROXY) refused to connect to ${new URL(s.url).host} (HTTP 403 Forbidden)`;
            return new Response(JSON.stringify({ error: { message } }), {
              status: 403,
              headers: {
                'content-type': 'application/json',
                [PROXY_HEADER]: 'http://proxy.test:3128',
              },
            });
          },
        }),
      );
      expect(await engine.generate([image('A', 1)], opts)).toMatchObject([{ ok: true }]);
      const error = await stopError(engine.generate([image('B', 2)], opts));
      expect(error.message).toBe(
        `cannot reach ${s.url}: HTTP 403: the proxy http://proxy.test:3128 (from HTTP_PROXY) ` +
          `refused to connect to ${new URL(s.url).host} (HTTP 403 Forbidden)`,
      );
    });
  });
});

describe('openai engine: set-up', () => {
  it('needs --endpoint', async () => {
    const attempt = createOpenAIEngine(settings([]), { logger: captureLogger() }, hooks());
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/--endpoint is required/);
  });

  it('rejects an endpoint that is not an http URL', async () => {
    await expect(
      createOpenAIEngine(settings(['localhost:8000']), { logger: captureLogger() }, hooks()),
    ).rejects.toThrow(/--endpoint.*http/);
  });

  it('picks the single served model when --model was left at the ONNX default', async () => {
    const s = await server({ models: ['Qwen/Qwen2-VL-7B-Instruct'] });
    const logger = captureLogger();
    const engine = await createOpenAIEngine(
      settings([s.url], { model: DEFAULT_MODEL_ID }),
      { logger },
      hooks(),
    );
    expect(engine.model).toBe('Qwen/Qwen2-VL-7B-Instruct');
    expect(logger.lines.join('\n')).toMatch(/using Qwen\/Qwen2-VL-7B-Instruct/);
    await engine.generate([image('M', 1)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(s.chatRequests[0]!.body.model).toBe('Qwen/Qwen2-VL-7B-Instruct');
  });

  it('asks for --model when the server serves several', async () => {
    const s = await server({ models: ['a-vlm', 'b-vlm'] });
    await expect(
      createOpenAIEngine(
        settings([s.url], { model: DEFAULT_MODEL_ID }),
        { logger: captureLogger() },
        hooks(),
      ),
    ).rejects.toThrow(/serves several models \(a-vlm, b-vlm\); pick one with --model/);
  });

  it('says which models the server serves when --model is not among them', async () => {
    const s = await server({ models: ['llava-hf/llava-1.5-7b-hf'] });
    const attempt = createOpenAIEngine(
      settings([s.url], { model: 'gpt-4o' }),
      { logger: captureLogger() },
      hooks(),
    );
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(
      `--model gpt-4o is not served by ${s.url}; it serves: llava-hf/llava-1.5-7b-hf`,
    );
  });

  it('goes ahead when the server does not list its models', async () => {
    const s = await server({ modelsStatus: 404 });
    const engine = await createOpenAIEngine(
      settings([s.url]),
      { logger: captureLogger() },
      hooks(),
    );
    const [outcome] = await engine.generate([image('N', 1)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(outcome).toMatchObject({ ok: true });
  });

  it('names the API key variables when the server refuses the key', async () => {
    const s = await server({ modelsStatus: 401 });
    const logger = captureLogger();
    const attempt = createOpenAIEngine(settings([s.url]), { logger }, hooks());
    await expect(attempt).rejects.toThrow(
      /OPENAI_API_KEY or MEDCAP_API_KEY \(using OPENAI_API_KEY\)/,
    );
    await expect(attempt).rejects.not.toThrow(SECRET);
    expect(logger.lines.join('\n')).not.toContain(SECRET);
  });

  describe('a 403 to /models: a key or gateway that may not list the models', () => {
    const opts = { prompt: PROMPT, maxNewTokens: 8 };

    it('with --model given: one warning naming the endpoint and its reason, then captions', async () => {
      const s = await server({ modelsStatus: 403 });
      const logger = captureLogger();
      const engine = await createOpenAIEngine(settings([s.url]), { logger }, hooks());
      expect(engine.model).toBe('fake-vlm');
      const warnings = logger.lines.filter((line) => line.startsWith('warn '));
      expect(warnings).toEqual([
        `warn openai: ${s.url} refused to list its models (GET /models: HTTP 403: no models for you); ` +
          'going ahead with --model fake-vlm: the chat requests will tell whether it serves them ',
      ]);
      const outcomes = await engine.generate([image('A', 1), image('B', 2)], opts);
      expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
      expect(s.chatRequests.map((r) => r.body.model)).toEqual(['fake-vlm', 'fake-vlm']);
    });

    it('with --model given, and every chat request refused too: the run stops at the first requests', async () => {
      const s = await server({
        modelsStatus: 403,
        reply: () => ({ status: 403, body: { error: { message: 'Forbidden for this key' } } }),
      });
      const engine = await createOpenAIEngine(
        settings([s.url]),
        { logger: captureLogger() },
        hooks({ retry: instantRetries() }),
      );
      const error = await engine
        .generate([image('A', 1), image('B', 2), image('C', 3), image('D', 4)], opts)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).stopsRun).toBe(true);
      expect((error as EngineError).message).toBe(
        `${s.url} refused the request (HTTP 403: Forbidden for this key) and let no request through; ` +
          'set the API key in OPENAI_API_KEY or MEDCAP_API_KEY (using OPENAI_API_KEY)',
      );
      expect(engine.stats().failedImages).toBe(0);
    });

    it('with --model left at its default: a ConfigError asking for --model', async () => {
      const s = await server({ models: ['fake-vlm'], modelsStatus: 403 });
      const attempt = createOpenAIEngine(
        settings([s.url], { model: DEFAULT_MODEL_ID }),
        { logger: captureLogger() },
        hooks(),
      );
      await expect(attempt).rejects.toBeInstanceOf(ConfigError);
      await expect(attempt).rejects.toThrow(
        `--model: ${s.url} refused to list its models (GET /models: HTTP 403: no models for you), ` +
          'so medcap cannot choose one; pass --model with the model to ask for ' +
          '(if the key is what it refuses: set the API key in OPENAI_API_KEY or MEDCAP_API_KEY (using OPENAI_API_KEY))',
      );
      expect(s.chatRequests).toHaveLength(0);
    });

    it('with --model left at its default and another endpoint listing one model: that model', async () => {
      const refusing = await server({ models: ['fake-vlm'], modelsStatus: 403 });
      const listing = await server({ models: ['fake-vlm'] });
      const logger = captureLogger();
      const engine = await createOpenAIEngine(
        settings([refusing.url, listing.url], { model: DEFAULT_MODEL_ID }),
        { logger },
        hooks(),
      );
      expect(engine.model).toBe('fake-vlm');
      expect(logger.lines.filter((line) => line.startsWith('warn '))).toEqual([
        `warn openai: ${refusing.url} refused to list its models (GET /models: HTTP 403: no models for you); ` +
          'going ahead with the model the other endpoints list: the chat requests will tell whether it serves it ',
      ]);
    });

    it('a 401 still stops at once with --model given, even when another endpoint answers 403', async () => {
      const listingRefused = await server({ modelsStatus: 403 });
      const keyRefused = await server({ modelsStatus: 401 });
      const attempt = createOpenAIEngine(
        settings([listingRefused.url, keyRefused.url]),
        { logger: captureLogger() },
        hooks(),
      );
      await expect(attempt).rejects.toBeInstanceOf(ConfigError);
      await expect(attempt).rejects.toThrow(
        `${keyRefused.url} refused the request (HTTP 401: no models for you); set the API key`,
      );
    });
  });

  it('waits for a server still loading its model (503 to /models) over --retries, then picks its model', async () => {
    const s = await server({
      models: ['Qwen/Qwen2-VL-7B-Instruct'],
      modelsStatus: 503,
      modelsBody: { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } },
    });
    let waits = 0;
    const logger = captureLogger();
    const engine = await createOpenAIEngine(
      settings([s.url], { model: DEFAULT_MODEL_ID, retries: 8 }),
      { logger },
      hooks({
        retry: {
          ...instantRetries(),
          sleep: async () => {
            // Loaded after four answers of 503: more than the two retries of a broken server.
            waits += 1;
            if (waits === 4) s.options.modelsStatus = undefined;
          },
        },
      }),
    );
    expect(engine.model).toBe('Qwen/Qwen2-VL-7B-Instruct');
    expect(logger.lines.join('\n')).toContain(
      `openai: ${s.url} is not ready (HTTP 503: Loading model); waiting for it to start`,
    );
  });

  it('a server still loading after every retry: an EngineError saying it did not answer, not a ConfigError', async () => {
    const s = await server({
      modelsStatus: 503,
      modelsBody: { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } },
    });
    const attempt = createOpenAIEngine(
      settings([s.url], { model: DEFAULT_MODEL_ID, retries: 3 }),
      { logger: captureLogger() },
      hooks({ retry: instantRetries() }),
    );
    await expect(attempt).rejects.toBeInstanceOf(EngineError);
    await expect(attempt).rejects.toThrow(
      `did not answer within the retries: ${s.url}/models (HTTP 503: Loading model)`,
    );
    expect(s.requests.filter((r) => r.path === '/v1/models')).toHaveLength(4);
  });

  it('fails at once, naming the URL, when no endpoint can be reached', async () => {
    const s = await server();
    const url = s.url;
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const attempt = createOpenAIEngine(
      settings([url], { retries: 1 }),
      { logger: captureLogger() },
      hooks({ retry: instantRetries() }),
    );
    await expect(attempt).rejects.toBeInstanceOf(EngineError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`cannot reach .*${url.replace(/[/.]/g, '\\$&')}.*ECONNREFUSED`),
    );
  });

  it('redacts the key should a server echo it in an error message', async () => {
    const s = await server({
      reply: () => ({
        status: 403,
        body: { error: { message: `key ${SECRET} may not use this model` } },
      }),
    });
    const logger = captureLogger();
    const engine = await createOpenAIEngine(settings([s.url]), { logger }, hooks());
    // A refused key fails every image alike: the run stops, naming the key's variable.
    const batch = engine.generate([image('Z', 1)], { prompt: PROMPT, maxNewTokens: 8 });
    await expect(batch).rejects.toThrow(
      `${s.url} refused the request (HTTP 403: key [API key redacted] may not use this model) and let no request through; ` +
        'set the API key in OPENAI_API_KEY or MEDCAP_API_KEY (using OPENAI_API_KEY)',
    );
    expect(logger.lines.join('\n')).not.toContain(SECRET);
  });

  it('works without any API key (placeholder) and takes MEDCAP_API_KEY too', async () => {
    const s = await server();
    const none = await createOpenAIEngine(
      settings([s.url]),
      { logger: captureLogger() },
      { env: {} },
    );
    await none.generate([image('K', 1)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(s.chatRequests[0]!.headers.authorization).toMatch(/^Bearer \S+$/);
    const medcap = await createOpenAIEngine(
      settings([s.url]),
      { logger: captureLogger() },
      { env: { MEDCAP_API_KEY: 'mk-other' } },
    );
    await medcap.generate([image('L', 2)], { prompt: PROMPT, maxNewTokens: 8 });
    expect(s.chatRequests[1]!.headers.authorization).toBe('Bearer mk-other');
  });
});

let contractServer: FakeOpenAIServer | undefined;
afterAll(async () => {
  await contractServer?.close();
});

runEngineContract({
  name: 'openai (fake server)',
  create: async () => {
    contractServer ??= await FakeOpenAIServer.start({ models: ['fake-vlm'] });
    return createOpenAIEngine(settings([contractServer.url]), { logger: captureLogger() }, hooks());
  },
  images: () => [image('c1', 10), image('c2', 90), image('c3', 170), image('c4', 250)],
  options: { prompt: PROMPT, maxNewTokens: 16 },
});

describe('openai engine: abort', () => {
  it('stops retrying and rejects with the reason when the signal aborts mid-batch', async () => {
    const s = await server({ reply: () => ({ status: 503 }) });
    const controller = new AbortController();
    const engine = await createOpenAIEngine(
      settings([s.url], { retries: 10 }),
      { logger: captureLogger() },
      hooks({
        retry: {
          sleep: async () => {
            controller.abort(new Error('user pressed ctrl-c'));
            throw new Error('aborted');
          },
          random: () => 0,
        },
      }),
    );
    await expect(
      engine.generate(
        [image('A', 1), image('B', 2)],
        { prompt: PROMPT, maxNewTokens: 8 },
        controller.signal,
      ),
    ).rejects.toThrow('user pressed ctrl-c');
    expect(s.chatRequests.length).toBeLessThanOrEqual(2);
  });
});

/** vLLM's 404 for a model it does not serve (see test/faults/server-replies.ts). */
function vllmNotFound(model: string) {
  return {
    error: {
      message: `The model \`${model}\` does not exist.`,
      type: 'NotFoundError',
      param: 'model',
      code: 404,
    },
  };
}
