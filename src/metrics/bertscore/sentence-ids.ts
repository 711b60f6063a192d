/**
 * bert_score's sent_encode: a sentence stripped as Python strips it, a prefix space for the
 * byte-level BPE tokenizers bert_score gives one, special tokens added, and a sentence longer
 * than the model's limit truncated inside its special tokens (transformers' truncation=True).
 */

export interface SentenceTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
}

export interface SentenceIdsSettings {
  /** Give the text a leading space (RoBERTa, GPT-2, Longformer in bert_score). */
  prefixSpace: boolean;
  /** Longest token sequence, special tokens included. */
  maxLength: number;
}

/** Python's str.strip(): the characters Python calls whitespace (JS trim differs on a few). */
const PY_SPACE =
  '[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');
export function pythonStrip(text: string): string {
  return text.replace(PY_STRIP, '');
}

export function sentenceEncoder(
  tokenizer: SentenceTokenizer,
  { prefixSpace, maxLength }: SentenceIdsSettings,
): (sentence: string) => number[] {
  const empty = tokenizer.encode('', { add_special_tokens: true });
  return (sentence) => {
    const text = pythonStrip(sentence);
    if (text === '') return [...empty];
    const input = prefixSpace ? ` ${text}` : text;
    const full = tokenizer.encode(input, { add_special_tokens: true });
    if (full.length <= maxLength) return full;
    // Truncate the text, keep the special tokens (as transformers' truncation=True does).
    const plain = tokenizer.encode(input, { add_special_tokens: false });
    const specials = full.length - plain.length;
    let start = 0;
    while (start + plain.length <= full.length) {
      if (plain.every((id, i) => full[start + i] === id)) break;
      start++;
    }
    if (start + plain.length > full.length || maxLength <= specials) {
      return full.slice(0, maxLength);
    }
    return [
      ...full.slice(0, start),
      ...plain.slice(0, maxLength - specials),
      ...full.slice(start + plain.length),
    ];
  };
}
