// The committed tiny BERT (models/tiny-bert) and one fixed input for it: tests that rewrite its
// graph compare the last_hidden_state of their copy with the original's.
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';

export const TINY_BERT_ONNX = join(
  resolve(import.meta.dirname, '../..'),
  'models/tiny-bert/onnx/model.onnx',
);

/** last_hidden_state of the model at `path` for one padded sentence of six tokens. */
export async function tinyBertHidden(path: string): Promise<Float32Array> {
  const ids = [2n, 40n, 41n, 42n, 43n, 3n, 0n];
  const mask = [1n, 1n, 1n, 1n, 1n, 1n, 0n];
  const feeds = {
    input_ids: new Tensor('int64', BigInt64Array.from(ids), [1, 7]),
    attention_mask: new Tensor('int64', BigInt64Array.from(mask), [1, 7]),
    token_type_ids: new Tensor('int64', new BigInt64Array(7), [1, 7]),
  };
  const session = await InferenceSession.create(path);
  try {
    return (await session.run(feeds)).last_hidden_state!.data as Float32Array;
  } finally {
    await session.release();
  }
}
