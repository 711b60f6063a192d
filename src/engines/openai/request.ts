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

/**
 * The caption from a chat completion body, or why there is none. A caption that the token
 * limit cut short is kept, with a warning for its row.
 */
export function captionFromCompletion(
  body: unknown,
): { ok: true; caption: string; warning?: string } | { ok: false; error: string } {
  const record = body as { choices?: unknown; error?: unknown } | null;
  const choices = record?.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    const message = errorBodyMessage(record?.error);
    return {
      ok: false,
      error:
        typeof message === 'string'
          ? `server answered with an error instead of a caption: ${message}`
          : 'server answered without any choices',
    };
  }
  const choice = choices[0] as {
    message?: { content?: unknown; reasoning_content?: unknown; reasoning?: unknown };
    finish_reason?: unknown;
  };
  const content = choice?.message?.content;
  const text = typeof content === 'string' ? content : textOfParts(content);
  const reason = typeof choice?.finish_reason === 'string' ? choice.finish_reason : 'unknown';
  const thought = choice?.message?.reasoning_content ?? choice?.message?.reasoning;
  if (!text?.trim() && typeof thought === 'string' && thought.trim() !== '') {
    // A reasoning model (vLLM / SGLang with a reasoning parser) that never got to the answer.
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
  // An empty string is the model saying nothing: an ok row with the "empty caption" warning,
  // as the embedded engine gives (SPEC §2).
  const caption = text.trim();
  return reason === 'length' && caption !== ''
    ? { ok: true, caption, warning: CUT_SHORT_WARNING }
    : { ok: true, caption };
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
