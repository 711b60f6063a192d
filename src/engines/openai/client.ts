import OpenAI from 'openai';

/** Key sent to servers that need none (vLLM, llama.cpp, Ollama ignore it; the SDK wants one). */
export const PLACEHOLDER_API_KEY = 'medcap-no-key';

/**
 * API key from the environment: OPENAI_API_KEY, else MEDCAP_API_KEY, else the placeholder.
 * The key is only ever handed to the SDK, which puts it in the Authorization header.
 */
export function apiKeyFromEnv(env: NodeJS.ProcessEnv): { key: string; source: string } {
  for (const name of ['OPENAI_API_KEY', 'MEDCAP_API_KEY']) {
    const value = env[name]?.trim();
    if (value) return { key: value, source: name };
  }
  return { key: PLACEHOLDER_API_KEY, source: 'none' };
}

/**
 * Removes the key from a text that may end up in a row or a log line, in case a server or
 * proxy echoes it in an error message. The placeholder key is no secret and is left alone.
 */
export function keyRedactor(key: string): (text: string) => string {
  if (key === PLACEHOLDER_API_KEY || key.length < 4) return (text) => text;
  return (text) => text.split(key).join('[API key redacted]');
}

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * An SDK client for one endpoint. The SDK retries nothing (`maxRetries: 0`: medcap's own
 * loop does, see retry.ts), logs nothing (nothing it prints can carry the key), and reads
 * nothing from the environment that medcap did not pass.
 */
export function createClient(options: {
  baseURL: string;
  apiKey: string;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  fetch: FetchLike;
}): OpenAI {
  return new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    organization: options.env.OPENAI_ORG_ID ?? null,
    project: options.env.OPENAI_PROJECT_ID ?? null,
    adminAPIKey: null,
    webhookSecret: null,
    timeout: options.timeoutMs,
    maxRetries: 0,
    logLevel: 'off',
    fetch: errorBodyNormalizer(options.fetch),
  });
}

/** Longest server message kept in an error row. */
const MAX_MESSAGE = 500;

/**
 * Wraps fetch so that every error response reaches the SDK in OpenAI's shape,
 * `{"error": {"message": ...}}`. Servers word errors differently (vLLM's older
 * `{"object": "error", "message"}`, TGI's `{"error": "text"}`, FastAPI's `{"detail"}`,
 * an HTML page from a proxy), and the SDK keeps the message only in OpenAI's shape.
 */
export function errorBodyNormalizer(fetchImpl: FetchLike): FetchLike {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    if (response.status < 400) return response;
    const text = await response.text().catch(() => '');
    const normalized = normalizeErrorBody(text, response.statusText);
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    headers.delete('content-encoding');
    headers.set('content-type', 'application/json');
    return new Response(normalized, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  };
}

export function normalizeErrorBody(text: string, statusText: string): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const record = json && typeof json === 'object' ? (json as Record<string, unknown>) : undefined;
  const error = record?.error;
  if (error && typeof error === 'object') {
    const inner = error as Record<string, unknown>;
    if (typeof inner.message === 'string' && inner.message !== '') {
      return JSON.stringify({ error: { ...inner, message: truncate(inner.message) } });
    }
  }
  let message: string | undefined;
  if (typeof error === 'string') message = error;
  else if (typeof record?.message === 'string') message = record.message;
  else if (record?.detail !== undefined)
    message = typeof record.detail === 'string' ? record.detail : JSON.stringify(record.detail);
  else if (record !== undefined) message = JSON.stringify(record);
  else message = plainText(text);
  if (!message) message = statusText || 'no message from the server';
  return JSON.stringify({ error: { message: truncate(message) } });
}

function plainText(text: string): string {
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function truncate(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}
