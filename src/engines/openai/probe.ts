import type OpenAI from 'openai';
import type { EncodedImage } from '../types.js';
import { encodePixels } from './image-uri.js';
import { chatRequestBytes, postChat } from './request.js';
import { type RequestFailure, type RetryHooks, withRetries } from './retry.js';

/** The probe's blank image: 56 x 56, the least Qwen2-VL's processor takes (min_pixels). */
const PROBE_SIDE = 56;
const PROBE_PROMPT = 'Say OK.';

let blank: Promise<EncodedImage> | undefined;

/** A black PNG, made once. */
function blankImage(): Promise<EncodedImage> {
  blank ??= encodePixels(
    {
      id: 'probe',
      pixels: new Uint8Array(PROBE_SIDE * PROBE_SIDE * 3),
      width: PROBE_SIDE,
      height: PROBE_SIDE,
      gridThw: [1, PROBE_SIDE / 14, PROBE_SIDE / 14],
      originalWidth: PROBE_SIDE,
      originalHeight: PROBE_SIDE,
    },
    'png',
  );
  return blank;
}

/**
 * Whether the server still answers a chat request: a blank image, one token asked for,
 * sent once. Any answer (a caption, a 400) says it works, and gives undefined; a failure
 * that would be retried (5xx, 429, a timeout, a network error) says it does not, and comes
 * back, as does an abort.
 */
export async function probeServer(
  client: OpenAI,
  model: string,
  options: {
    timeoutSeconds: number;
    hooks: RetryHooks;
    redact: (text: string) => string;
    signal: AbortSignal;
  },
): Promise<RequestFailure | undefined> {
  const body = chatRequestBytes(model, PROBE_PROMPT, await blankImage(), 1);
  const result = await withRetries(() => postChat(client, body, options.signal), {
    ...options,
    retries: 0,
  });
  const { failure } = result;
  return failure && (failure.retryable || failure.aborted) ? failure : undefined;
}
