/**
 * The small slice of Transformers.js this engine uses, typed structurally so the rest of the
 * engine does not depend on the library's (loose) declaration files.
 */
export interface VlTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skip_special_tokens?: boolean }): string;
}

export interface VlProcessor {
  tokenizer?: VlTokenizer;
  image_processor?: { config?: Record<string, unknown> };
  apply_chat_template(messages: unknown[], options?: Record<string, unknown>): unknown;
}

/** A tensor as Transformers.js returns it from `generate` (int64 token ids). */
export interface IdTensor {
  dims: number[];
  tolist(): unknown[];
}

export interface VlModel {
  config: Record<string, unknown>;
  generation_config?: Record<string, unknown> | null;
  generate(options: Record<string, unknown>): Promise<unknown>;
  dispose(): Promise<unknown>;
}
