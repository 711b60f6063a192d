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

/** The caption from a chat completion body, or why there is none. */
export function captionFromCompletion(
  body: unknown,
): { ok: true; caption: string } | { ok: false; error: string } {
  const choices = (body as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    return { ok: false, error: 'server answered without any choices' };
  }
  const choice = choices[0] as {
    message?: { content?: unknown };
    finish_reason?: unknown;
  };
  const content = choice?.message?.content;
  const text = typeof content === 'string' ? content : textOfParts(content);
  const caption = text?.trim() ?? '';
  if (caption === '') {
    const reason = typeof choice?.finish_reason === 'string' ? choice.finish_reason : 'unknown';
    return { ok: false, error: `server returned an empty caption (finish_reason: ${reason})` };
  }
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
