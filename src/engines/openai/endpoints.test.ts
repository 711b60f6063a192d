import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { normalizeErrorBody } from './client.js';
import { EndpointPool, normalizeEndpoint } from './endpoints.js';
import {
  answerBody,
  CUT_SHORT_WARNING,
  captionFromCompletion,
  FILTERED_WARNING,
} from './request.js';

describe('normalizeEndpoint', () => {
  it('keeps a base URL and adds /v1 to a bare server address', () => {
    expect(normalizeEndpoint('http://gpu1:8000/v1')).toEqual({ url: 'http://gpu1:8000/v1' });
    expect(normalizeEndpoint('http://gpu1:8000/v1/')).toEqual({ url: 'http://gpu1:8000/v1' });
    expect(normalizeEndpoint('http://gpu1:8000').url).toBe('http://gpu1:8000/v1');
    expect(normalizeEndpoint('http://gpu1:8000').note).toMatch(/using http:\/\/gpu1:8000\/v1/);
    expect(normalizeEndpoint('https://api.example.com/v1/chat/completions').url).toBe(
      'https://api.example.com/v1',
    );
    expect(normalizeEndpoint('http://127.0.0.1:11434/v1').url).toBe('http://127.0.0.1:11434/v1');
  });

  it('refuses what is not an http URL, and credentials in the URL', () => {
    expect(() => normalizeEndpoint('localhost:8000')).toThrow(ConfigError);
    expect(() => normalizeEndpoint('gpu1')).toThrow(/--endpoint: 'gpu1' is not a URL/);
    expect(() => normalizeEndpoint('ftp://gpu1/v1')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => normalizeEndpoint('http://user:pw@gpu1/v1')).toThrow(/OPENAI_API_KEY/);
  });
});

describe('EndpointPool', () => {
  it('picks the endpoint with the fewest requests in flight, ties round robin', () => {
    const pool = new EndpointPool(['a', 'b', 'c'], () => 0);
    const picks = Array.from({ length: 6 }, () => pool.acquire().url);
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    const [a] = pool.endpoints;
    pool.release(a!, 'answered');
    pool.release(a!, 'answered');
    expect(pool.acquire().url).toBe('a');
    expect(pool.acquire().url).toBe('a');
    expect(pool.endpoints.map((e) => e.inFlight)).toEqual([2, 2, 2]);
  });

  it('skips an endpoint after a network failure until its down time is over', () => {
    let now = 1000;
    const pool = new EndpointPool(['a', 'b'], () => now);
    const a = pool.acquire();
    pool.release(a, 'network');
    expect([pool.acquire().url, pool.acquire().url, pool.acquire().url]).toEqual(['b', 'b', 'b']);
    now += 1000;
    expect(pool.acquire().url).toBe('a');
  });

  it('uses the endpoint that comes back first when all are down', () => {
    let now = 0;
    const pool = new EndpointPool(['a', 'b'], () => now);
    pool.markDown('a');
    pool.markDown('a');
    pool.markDown('b');
    now = 100;
    expect(pool.acquire().url).toBe('b');
  });

  it('needs at least one endpoint', () => {
    expect(() => new EndpointPool([])).toThrow(/--endpoint is required/);
  });
});

describe('normalizeErrorBody', () => {
  const message = (text: string) =>
    JSON.parse(normalizeErrorBody(text, 'Bad Request')).error.message;

  it("brings each server's error shape to OpenAI's", () => {
    expect(message('{"error":{"message":"bad","type":"x"}}')).toBe('bad');
    expect(message('{"object":"error","message":"vllm says no","code":400}')).toBe('vllm says no');
    expect(message('{"error":"tgi says no","error_type":"validation"}')).toBe('tgi says no');
    expect(message('{"detail":"fastapi says no"}')).toBe('fastapi says no');
    expect(message('<html><body><h1>502 Bad Gateway</h1></body></html>')).toBe('502 Bad Gateway');
    expect(message('')).toBe('Bad Request');
    expect(message('x'.repeat(2000))).toHaveLength(501);
  });
});

describe('captionFromCompletion', () => {
  it('takes the first choice, trimmed; an empty one is a caption, a missing one is not', () => {
    expect(
      captionFromCompletion({ choices: [{ message: { content: '  CT of the chest.\n' } }] }),
    ).toEqual({ ok: true, caption: 'CT of the chest.' });
    expect(
      captionFromCompletion({
        choices: [{ message: { content: [{ type: 'text', text: 'MRI.' }] } }],
      }),
    ).toEqual({ ok: true, caption: 'MRI.' });
    expect(
      captionFromCompletion({ choices: [{ message: { content: ' \n' }, finish_reason: 'stop' }] }),
    ).toEqual({ ok: true, caption: '' });
    expect(
      captionFromCompletion({ choices: [{ message: { content: null }, finish_reason: 'length' }] }),
    ).toEqual({ ok: false, error: 'server answered without a caption (finish_reason: length)' });
    expect(captionFromCompletion({ choices: [{ message: {} }] })).toEqual({
      ok: false,
      error: 'server answered without a caption (finish_reason: unknown)',
    });
    expect(captionFromCompletion({ choices: [] })).toMatchObject({ ok: false });
  });
});

describe('captionFromCompletion: what real servers send besides a plain caption', () => {
  it('keeps a caption the token limit cut short, with a warning for its row', () => {
    expect(
      captionFromCompletion({
        choices: [{ message: { content: 'CT of the' }, finish_reason: 'length' }],
      }),
    ).toEqual({ ok: true, caption: 'CT of the', warning: CUT_SHORT_WARNING });
  });

  it('says so when a reasoning model spent every token reasoning', () => {
    const outcome = captionFromCompletion({
      choices: [
        {
          message: { content: null, reasoning_content: 'Let me look at' },
          finish_reason: 'length',
        },
      ],
    });
    expect(outcome).toMatchObject({ ok: false });
    expect(!outcome.ok && outcome.error).toMatch(
      /^server answered with reasoning only.*--max-new-tokens/,
    );
  });

  it("gives the server's words for an error sent with status 200", () => {
    expect(captionFromCompletion({ error: { message: 'EngineCore died' } })).toEqual({
      ok: false,
      error: 'server answered with an error instead of a caption: EngineCore died',
    });
  });

  it("gives the server's words for vLLM's older error shape sent with status 200", () => {
    expect(
      captionFromCompletion({ object: 'error', message: 'The model is overloaded', code: 400 }),
    ).toEqual({
      ok: false,
      error: 'server answered with an error instead of a caption: The model is overloaded',
    });
  });

  const answer = (content: string, finish = 'stop') => ({
    choices: [{ message: { content }, finish_reason: finish }],
  });

  it('leaves out the reasoning a server without a reasoning parser keeps in content', () => {
    expect(
      captionFromCompletion(answer('<think>\nThe image shows…\n</think>\n\nCT of the chest.')),
    ).toEqual({
      ok: true,
      caption: 'CT of the chest.',
    });
    // The chat template put the <think> in the prompt: only its end is in the answer.
    expect(captionFromCompletion(answer('Looking at it…\n</think>\n\nMRI.'))).toEqual({
      ok: true,
      caption: 'MRI.',
    });
  });

  it('says "reasoning only" for content that is a <think> block cut short or with nothing after it', () => {
    for (const content of [
      '<think>\nOkay, the user wants a caption. It seems to be',
      '<think>a</think>\n',
    ]) {
      const outcome = captionFromCompletion(answer(content, 'length'));
      expect(outcome).toMatchObject({ ok: false });
      expect(!outcome.ok && outcome.error).toMatch(
        /^server answered with reasoning only, no caption \(finish_reason: length\)/,
      );
    }
  });

  it('warns on a caption a content filter cut short, fails one it withheld, and quotes a refusal', () => {
    expect(captionFromCompletion(answer('A partial', 'content_filter'))).toEqual({
      ok: true,
      caption: 'A partial',
      warning: FILTERED_WARNING,
    });
    expect(captionFromCompletion(answer('', 'content_filter'))).toMatchObject({ ok: false });
    const refusal = "I'm sorry, I can't help with identifying people in medical images.";
    expect(
      captionFromCompletion({
        choices: [{ message: { content: null, refusal }, finish_reason: 'stop' }],
      }),
    ).toEqual({ ok: false, error: `the model refused: "${refusal}" (finish_reason: stop)` });
  });
});

describe('answerBody', () => {
  const completion = { choices: [{ message: { content: 'MRI.' }, finish_reason: 'stop' }] };

  it('passes parsed JSON through and parses JSON sent as text', () => {
    expect(answerBody(completion)).toBe(completion);
    expect(answerBody(JSON.stringify(completion))).toEqual(completion);
  });

  it('adds up a stream of server-sent events that nobody asked for', () => {
    const event = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const stream = [
      event({ role: 'assistant', content: '' }),
      event({ content: 'Chest' }),
      event({ content: ' X-ray.' }, 'stop'),
      'data: [DONE]\n\n',
    ].join('');
    expect(captionFromCompletion(answerBody(stream))).toEqual({
      ok: true,
      caption: 'Chest X-ray.',
    });
    const cut = event({ content: 'Chest' }) + event({}, 'length');
    expect(captionFromCompletion(answerBody(cut))).toMatchObject({ warning: CUT_SHORT_WARNING });
    const failed = `${event({ content: 'Ch' })}data: {"error": {"message": "engine died"}}\n\n`;
    expect(captionFromCompletion(answerBody(failed))).toEqual({
      ok: false,
      error: 'server answered with an error instead of a caption: engine died',
    });
  });

  it('throws a SyntaxError (retried) quoting the start of an answer that is neither', () => {
    expect(() => answerBody('<!doctype html><html><title>Open WebUI</title>')).toThrow(
      new SyntaxError("expected JSON, got '<!doctype html><html><title>Open WebUI</title>'"),
    );
    expect(() => answerBody('data: {"choices": [')).toThrow(SyntaxError);
  });
});
