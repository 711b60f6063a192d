// Tokenizes a share of BERTScore's sentences in a worker thread (tokenize-pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { AutoTokenizer } from '@huggingface/transformers';
import { unpackStrings } from '../../core/packed-strings.js';
import { type SentenceTokenizer, sentenceEncoder } from './sentence-ids.js';
import type { TokenizeJob, TokenizeReply } from './tokenize-pool.js';

const job = workerData as TokenizeJob;
try {
  const tokenizer = (await AutoTokenizer.from_pretrained(job.folder, {
    local_files_only: true,
  })) as unknown as SentenceTokenizer;
  const encode = sentenceEncoder(tokenizer, job.settings);
  const ends = new Uint32Array(job.ends.length);
  const ids: number[] = [];
  unpackStrings(job).forEach((sentence, i) => {
    for (const id of encode(sentence)) ids.push(id);
    ends[i] = ids.length;
  });
  const flat = Int32Array.from(ids);
  const reply: TokenizeReply = { ok: true, ids: flat, ends };
  parentPort?.postMessage(reply, [flat.buffer, ends.buffer]);
} catch (error) {
  const reply: TokenizeReply = { ok: false, message: String(error) };
  parentPort?.postMessage(reply);
}
