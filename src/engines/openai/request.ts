import type OpenAI from 'openai';
import { InternalServerError } from 'openai';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { EncodedImage } from '../types.js';

/**
 * The chat-completions request for one image, shared by the live engine and the batch
 * files so that both send the same thing.
 */
export interface ChatRequestBody {
  model: string;
  messages: [
    {
      role: 'user';
      content: [{ type: 'image_url'; image_url: { url: string } }, { type: 'text'; text: string }];
    },
  ];
  max_tokens: number;
  temperature: 0;
}

/**
 * One user message: the image first, then the instruction (the order Qwen2-VL's chat
 * template and model cards use). Greedy decoding (`temperature: 0`) so captions are
 * reproducible; `max_tokens` rather than `max_completion_tokens` because every
 * OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, Ollama, LM Studio) accepts it.
 */
export function chatRequestBody(
  model: string,
  prompt: string,
  imageUri: string,
  maxNewTokens: number,
): ChatRequestBody {
  return {
    model,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: imageUri } },
          { type: 'text', text: prompt },
        ],
      },
    ],
    max_tokens: maxNewTokens,
    temperature: 0,
  };
}

/**
 * `chatRequestBody` for an encoded image, serialized: byte for byte what `JSON.stringify`
 * makes of it, built straight into one buffer. The image's base64 is written into the
 * buffer once, instead of into a data URI string that `JSON.stringify` then scans for
 * characters to escape (base64 has none) and copies, and the result is encoded to UTF-8
 * again: at 200 KB an image, those copies were most of the client's main-thread time.
 */
export function chatRequestBytes(
  model: string,
  prompt: string,
  image: EncodedImage,
  maxNewTokens: number,
): Buffer {
  const { head, tail } = requestFrame(model, prompt, image.mime, maxNewTokens);
  const { bytes } = image;
  const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const out = Buffer.allocUnsafe(head.byteLength + base64.length + tail.byteLength);
  head.copy(out, 0);
  // Base64 is ASCII: one byte a character.
  out.write(base64, head.byteLength, 'latin1');
  tail.copy(out, head.byteLength + base64.length);
  return out;
}

interface RequestFrame {
  /** The serialized request up to and including `"url":"data:<mime>;base64,`. */
  head: Buffer;
  /** The rest, from the URL's closing quote. */
  tail: Buffer;
}

/** Frames of the last few (model, prompt, type, max tokens): a run uses one or two. */
const frames = new Map<string, RequestFrame>();

function requestFrame(
  model: string,
  prompt: string,
  mime: string,
  maxNewTokens: number,
): RequestFrame {
  const key = JSON.stringify([model, prompt, mime, maxNewTokens]);
  let frame = frames.get(key);
  if (frame) return frame;
  const prefix = `data:${mime};base64,`;
  const text = JSON.stringify(chatRequestBody(model, prompt, prefix, maxNewTokens));
  // The first `"url":` outside a string is the image's (strings escape their quotes), and
  // the model comes before it; the prefix needs no escaping.
  const marker = `"url":"${prefix}`;
  const at = text.indexOf(marker) + marker.length;
  frame = { head: Buffer.from(text.slice(0, at)), tail: Buffer.from(text.slice(at)) };
  if (frames.size >= 4) frames.delete(frames.keys().next().value!);
  frames.set(key, frame);
  return frame;
}

/**
 * A 200 answer's body as JSON. The SDK parses a body only when it is labelled JSON; one
 * labelled `text/plain` or nothing (some proxies and small servers) comes as text, and so
 * does a stream of server-sent events from a server that streams although no stream was
 * asked for: both are read here. Text that is neither throws a SyntaxError, retried as a
 * garbled answer is (see retry.ts).
 */
export function answerBody(answer: unknown): unknown {
  if (typeof answer !== 'string') return answer;
  if (/^\s*(data|event|id):/.test(answer)) return completionFromEvents(answer);
  try {
    return JSON.parse(answer);
  } catch {
    throw new SyntaxError(`expected JSON, got '${preview(answer)}'`);
  }
}

/**
 * `chat.completions.create` with the body already serialized (the SDK sends bytes as they
 * are: see chatRequestBytes): the answer's body, or a throw that retry.ts classifies.
 */
export async function postChat(
  client: OpenAI,
  body: Buffer,
  signal: AbortSignal,
): Promise<unknown> {
  const answer = await client.post<ChatCompletion>('/chat/completions', {
    body,
    headers: { 'content-type': 'application/json' },
    stream: false,
    signal,
  });
  const value = answerBody(answer);
  throwIfServerError(value);
  return value;
}

/**
 * A 200 whose body is a server error (`{"error":{"message":"CUDA out of memory","code":500}}`,
 * as some servers and proxies send) is thrown as the HTTP error it stands for, so that it is
 * retried like one; an error body with a lower code stays an answer (captionFromCompletion).
 */
function throwIfServerError(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  const record = value as { error?: unknown; object?: unknown; choices?: unknown };
  if (Array.isArray(record.choices) && record.choices.length > 0) return;
  const error = record.error ?? (record.object === 'error' ? record : undefined);
  if (typeof error !== 'object' || error === null) return;
  const code = Number((error as { code?: unknown }).code);
  if (Number.isInteger(code) && code >= 500 && code <= 599) {
    throw new InternalServerError(code, error as object, undefined, new Headers());
  }
}

/** The chat completion that a stream of `chat.completion.chunk` events adds up to. */
function completionFromEvents(text: string): unknown {
  let content = '';
  let reasoning = '';
  let finishReason: unknown = null;
  let events = 0;
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '' || data === '[DONE]') continue;
    let chunk: {
      error?: unknown;
      choices?: { delta?: Record<string, unknown>; finish_reason?: unknown }[];
    };
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new SyntaxError(`a streamed event is not JSON: '${preview(data)}'`);
    }
    events += 1;
    // A server that fails part way through a stream says so in an event of its own.
    if (chunk.error !== undefined) return { error: chunk.error };
    const choice = chunk.choices?.[0];
    const delta = choice?.delta ?? {};
    if (typeof delta.content === 'string') content += delta.content;
    const thought = delta.reasoning_content ?? delta.reasoning;
    if (typeof thought === 'string') reasoning += thought;
    if (choice?.finish_reason) finishReason = choice.finish_reason;
  }
  if (events === 0) throw new SyntaxError(`a stream without any event: '${preview(text)}'`);
  return {
    choices: [{ message: { content, reasoning_content: reasoning }, finish_reason: finishReason }],
  };
}

function preview(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

/** Said on an `ok` row whose caption the token limit cut short. */
export const CUT_SHORT_WARNING =
  'caption cut short by the token limit (finish_reason: length); raise --max-new-tokens';

/**
 * The message of an error body as servers write it: a plain string, `{message}` (vLLM's
 * ErrorResponse), or `{error: string | {message}}` (OpenAI, newer vLLM). Undefined if none.
 */
export function errorBodyMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return body || undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  const { error, message } = body as { error?: unknown; message?: unknown };
  const inner = error === undefined || error === null ? undefined : errorBodyMessage(error);
  return inner ?? (typeof message === 'string' ? message : undefined);
}

/** Said on an `ok` row whose caption the server's content filter cut short. */
export const FILTERED_WARNING =
  "caption cut short by the server's content filter (finish_reason: content_filter)";

type CaptionResult = { ok: true; caption: string; warning?: string } | { ok: false; error: string };

interface Choice {
  message?: {
    content?: unknown;
    reasoning_content?: unknown;
    reasoning?: unknown;
    refusal?: unknown;
  };
  finish_reason?: unknown;
}

/**
 * The caption from a chat completion body, or why there is none. A caption that the token
 * limit or a content filter cut short is kept, with a warning for its row.
 */
export function captionFromCompletion(body: unknown): CaptionResult {
  const choices = (body as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    // `{"error": …}`, or vLLM's older `{"object": "error", "message": …}`, sent with a 200.
    const message = errorBodyMessage(body);
    return {
      ok: false,
      error:
        typeof message === 'string'
          ? `server answered with an error instead of a caption: ${message}`
          : 'server answered without any choices',
    };
  }
  const choice = choices[0] as Choice | null;
  const content = choice?.message?.content;
  const reason = typeof choice?.finish_reason === 'string' ? choice.finish_reason : 'unknown';
  const { text, thought } = splitThinking(
    typeof content === 'string' ? content : textOfParts(content),
    choice?.message?.reasoning_content ?? choice?.message?.reasoning,
  );
  const refusal = choice?.message?.refusal;
  if (!text?.trim() && typeof refusal === 'string' && refusal.trim() !== '') {
    return {
      ok: false,
      error: `the model refused: "${refusal.trim()}" (finish_reason: ${reason})`,
    };
  }
  if (!text?.trim() && thought) {
    // A reasoning model that never got to the answer.
    return {
      ok: false,
      error:
        `server answered with reasoning only, no caption (finish_reason: ${reason}); ` +
        'raise --max-new-tokens or turn reasoning off on the server',
    };
  }
  if (text === undefined) {
    return { ok: false, error: `server answered without a caption (finish_reason: ${reason})` };
  }
  return withFinishWarning(text.trim(), reason);
}

/**
 * The caption without the reasoning that servers without a reasoning parser leave in
 * `content` (llama.cpp, Ollama, vLLM, LM Studio): a leading `<think>…</think>` block, or
 * text up to a `</think>` whose `<think>` was in the chat template's prompt. A `<think>`
 * never closed (cut short by the token limit) is all reasoning. `thought` says whether
 * there was any, there or in `reasoning_content` / `reasoning`.
 */
function splitThinking(
  text: string | undefined,
  reasoning: unknown,
): { text: string | undefined; thought: boolean } {
  const reasoned = typeof reasoning === 'string' && reasoning.trim() !== '';
  if (text === undefined) return { text, thought: reasoned };
  const open = /^\s*<think>/.exec(text);
  const close = text.indexOf('</think>');
  if (close >= 0 && !text.slice(open ? open[0].length : 0, close).includes('<think>')) {
    return { text: text.slice(close + '</think>'.length), thought: true };
  }
  if (open) return { text: '', thought: true };
  return { text, thought: reasoned };
}

/** An `ok` caption, with the warning its finish reason calls for. */
function withFinishWarning(caption: string, reason: string): CaptionResult {
  // An empty string is the model saying nothing: an ok row with the "empty caption" warning,
  // as the embedded engine gives (SPEC §2); unless a content filter withheld it.
  if (caption === '') {
    return reason === 'content_filter'
      ? {
          ok: false,
          error: "the server's content filter withheld the caption (finish_reason: content_filter)",
        }
      : { ok: true, caption };
  }
  if (reason === 'length') return { ok: true, caption, warning: CUT_SHORT_WARNING };
  if (reason === 'content_filter') return { ok: true, caption, warning: FILTERED_WARNING };
  return { ok: true, caption };
}

/** Some servers answer with content parts instead of a string. */
function textOfParts(content: unknown): string | undefined {
  if (!Array.isArray(content)) return undefined;
  return content
    .map((part) =>
      part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string'
        ? (part as { text: string }).text
        : '',
    )
    .join('');
}
