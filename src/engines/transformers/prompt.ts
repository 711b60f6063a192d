import { InternalError } from '../../core/errors.js';
import type { VlProcessor, VlTokenizer } from './runtime.js';

/** The placeholder Qwen2-VL's chat template writes for each image. */
export const IMAGE_PAD = '<|image_pad|>';

/** The conversation medcap sends: one user turn with the image, then the instruction. */
export function captionMessages(prompt: string) {
  return [
    {
      role: 'user',
      content: [{ type: 'image' }, { type: 'text', text: prompt }],
    },
  ];
}

/** Qwen2-VL's chat layout, for model folders that ship no chat template. */
export function fallbackChatText(prompt: string): string {
  return (
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
    `<|im_start|>user\n<|vision_start|>${IMAGE_PAD}<|vision_end|>${prompt}<|im_end|>\n` +
    '<|im_start|>assistant\n'
  );
}

/** The chat text for one image and the prompt, from the model's own template. */
export function chatText(processor: VlProcessor, prompt: string): string {
  let text: unknown;
  try {
    text = processor.apply_chat_template(captionMessages(prompt), {
      add_generation_prompt: true,
      tokenize: false,
    });
  } catch (error) {
    if (/chat_template/i.test(String((error as Error)?.message ?? error))) {
      return fallbackChatText(prompt);
    }
    throw error;
  }
  if (typeof text !== 'string') {
    throw new InternalError('the chat template did not return text');
  }
  if (text.split(IMAGE_PAD).length !== 2) {
    throw new InternalError(`the chat template must place exactly one ${IMAGE_PAD} for one image`);
  }
  return text;
}

/**
 * Token ids of the prompt row for an image of `imageTokens` visual tokens. Rows for images of
 * one grid are identical, which is why a batch needs no padding. Cached per (prompt, tokens).
 */
export class PromptIds {
  private readonly cache = new Map<string, readonly number[]>();

  constructor(
    private readonly processor: VlProcessor,
    private readonly tokenizer: VlTokenizer,
    private readonly imageTokenId: number,
  ) {}

  ids(prompt: string, imageTokens: number): readonly number[] {
    const key = `${imageTokens}\u0000${prompt}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const text = chatText(this.processor, prompt).replace(IMAGE_PAD, IMAGE_PAD.repeat(imageTokens));
    const ids = Object.freeze(this.tokenizer.encode(text, { add_special_tokens: true }));
    const found = ids.filter((id) => id === this.imageTokenId).length;
    if (found !== imageTokens) {
      throw new InternalError(
        `the tokenizer produced ${found} image tokens (id ${this.imageTokenId}) where ${imageTokens} were expected`,
      );
    }
    if (this.cache.size > 64) this.cache.clear();
    this.cache.set(key, ids);
    return ids;
  }
}
