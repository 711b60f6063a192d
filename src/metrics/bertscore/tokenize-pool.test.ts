import { join, resolve } from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { type SentenceTokenizer, sentenceEncoder } from './sentence-ids.js';
import { encodeSentences, SENTENCES_PER_WORKER, tokenizeWorkers } from './tokenize-pool.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const MODELS = [
  { folder: join(ROOT, 'test/fixtures/bertscore/tiny-roberta'), prefixSpace: true },
  { folder: join(ROOT, 'models/tiny-bert'), prefixSpace: false },
];

const SENTENCES = [
  'Chest X-ray shows a right lower lobe consolidation.',
  '',
  '   ',
  ' \u3000Axial CT of the abdomen\u00a0',
  'Ultrasound: échogénicité normale du foie; 心脏正常.',
  `${'Very long caption with many words '.repeat(12)}end.`,
  'Chest X-ray shows a right lower lobe consolidation.',
  'MRI T2 FLAIR, hyperintense lesion (arrow) 12 mm 😀',
];

describe('encodeSentences (tokenizing on worker threads)', () => {
  it.each(MODELS)(
    '$folder: the ids of each sentence, in order, as this thread encodes them',
    async ({ folder, prefixSpace }) => {
      const tokenizer = (await AutoTokenizer.from_pretrained(folder, {
        local_files_only: true,
      })) as unknown as SentenceTokenizer;
      // a small maxLength, so that the long caption is truncated in every share
      const settings = { prefixSpace, maxLength: 16 };
      const encode = sentenceEncoder(tokenizer, settings);
      const sentences = Array.from({ length: 5 }, () => SENTENCES).flat();
      const expected = sentences.map(encode);
      expect(expected.some((ids) => ids.length === 16)).toBe(true);
      for (const workers of [1, 3]) {
        expect(await encodeSentences(sentences, encode, { folder, settings }, workers)).toEqual(
          expected,
        );
      }
    },
  );

  it('encodes a share here when its worker cannot load the tokenizer', async () => {
    const { folder, prefixSpace } = MODELS[0]!;
    const tokenizer = (await AutoTokenizer.from_pretrained(folder, {
      local_files_only: true,
    })) as unknown as SentenceTokenizer;
    const settings = { prefixSpace, maxLength: 512 };
    const encode = sentenceEncoder(tokenizer, settings);
    const errors: unknown[] = [];
    const remote = {
      folder: join(ROOT, 'no-such-model'),
      settings,
      onWorkerError: (e: unknown) => errors.push(e),
    };
    expect(await encodeSentences(SENTENCES, encode, remote, 2)).toEqual(SENTENCES.map(encode));
    expect(errors).toHaveLength(2);
  });

  it('uses workers only for enough sentences, and leaves a core to this thread', () => {
    expect(tokenizeWorkers(SENTENCES_PER_WORKER - 1, 16)).toBe(0);
    expect(tokenizeWorkers(3 * SENTENCES_PER_WORKER, 16)).toBe(3);
    expect(tokenizeWorkers(100 * SENTENCES_PER_WORKER, 16)).toBe(8);
    expect(tokenizeWorkers(100 * SENTENCES_PER_WORKER, 2)).toBe(1);
    expect(tokenizeWorkers(100 * SENTENCES_PER_WORKER, 1)).toBe(0);
  });
});
