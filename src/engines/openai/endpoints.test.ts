import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { normalizeErrorBody } from './client.js';
import { EndpointPool, normalizeEndpoint } from './endpoints.js';
import { captionFromCompletion } from './request.js';

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
