import { AutoProcessor } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadReference, TINY_MODEL_DIR } from '../../../test/fixtures/tiny-qwen2-vl/reference.js';
import { chatText, fallbackChatText, PromptIds } from './prompt.js';
import type { VlProcessor } from './runtime.js';

const ref = loadReference();
let processor: VlProcessor;
beforeAll(async () => {
  processor = (await AutoProcessor.from_pretrained(TINY_MODEL_DIR, {
    local_files_only: true,
  })) as unknown as VlProcessor;
});

describe('prompt', () => {
  it("renders the model's chat template as the Python side did", () => {
    expect(chatText(processor, ref.prompt)).toBe(ref.chatText);
  });

  it('falls back to the Qwen2-VL layout when the model has no template', () => {
    const bare: VlProcessor = {
      apply_chat_template() {
        throw new Error(
          'Cannot use apply_chat_template() because tokenizer.chat_template is not set',
        );
      },
    };
    expect(chatText(bare, ref.prompt)).toBe(fallbackChatText(ref.prompt));
    expect(fallbackChatText(ref.prompt)).toBe(ref.chatText);
  });

  it('gives the input ids of the reference for each grid', () => {
    const prompts = new PromptIds(processor, processor.tokenizer!, 6);
    for (const c of ref.cases) {
      const [, h, w] = c.gridThw[0]!;
      expect(prompts.ids(ref.prompt, (h! * w!) / 4)).toEqual(c.inputIds[0]);
    }
  });

  it('keeps a prompt with newlines, quotes and non-ASCII text intact around the image', () => {
    const prompts = new PromptIds(processor, processor.tokenizer!, 6);
    const prompt = 'Line one\n"quoted" — naïve <b>';
    const ids = prompts.ids(prompt, 4);
    expect(ids.filter((id) => id === 6)).toHaveLength(4);
    const text = processor.tokenizer!.decode(ids, { skip_special_tokens: false });
    expect(text).toContain(prompt);
  });
});
