import type { InferenceSession } from 'onnxruntime-node';
import { opsetImportField } from '../../formats/onnx/half-precision.js';
import { encodeVarint, lengthDelimited } from '../../formats/onnx/protobuf.js';
import type { Embedded } from './scoring.js';

/**
 * Greedy cosine matching of many candidate/reference pairs at once: the pairs' unit token
 * vectors are padded into two [pairs, tokens, dim] blocks and one batched matrix product in
 * ONNX Runtime (multi-threaded, vectorised) gives every cosine; the maxima over the real
 * (unpadded) tokens are taken here. A plain JS loop does about 0.2 G multiply-adds a second,
 * which at 60,000 pairs of roberta-large (about 80 G) would take longer than the encoder.
 */

export interface Matches {
  /** Best cosine of each candidate token with a reference token. */
  candidate: Float32Array;
  /** Best cosine of each reference token with a candidate token. */
  reference: Float32Array;
}

export interface Matcher {
  match(pairs: readonly (readonly [Embedded, Embedded])[]): Promise<Matches[]>;
  dispose(): Promise<void>;
}

export interface MatcherOptions {
  /** Most pairs per matrix product. @default 512 */
  maxPairs?: number;
  /** Most floats in one padded input block (bounds memory). @default 2^25 (128 MB) */
  maxFloats?: number;
}

const FLOAT = 1;

function valueInfo(name: string, dims: readonly string[]): Buffer {
  const shape = Buffer.concat(
    dims.map((d) => lengthDelimited(1, lengthDelimited(2, Buffer.from(d, 'utf8')))),
  );
  const tensorType = Buffer.concat([
    encodeVarint(1 * 8),
    encodeVarint(FLOAT),
    lengthDelimited(2, shape),
  ]);
  return Buffer.concat([
    lengthDelimited(1, Buffer.from(name, 'utf8')),
    lengthDelimited(2, lengthDelimited(1, tensorType)),
  ]);
}

function node(op: string, inputs: string[], output: string, attributes: Buffer[] = []): Buffer {
  return Buffer.concat([
    ...inputs.map((i) => lengthDelimited(1, Buffer.from(i, 'utf8'))),
    lengthDelimited(2, Buffer.from(output, 'utf8')),
    lengthDelimited(3, Buffer.from(`/${op}`, 'utf8')),
    lengthDelimited(4, Buffer.from(op, 'utf8')),
    ...attributes.map((a) => lengthDelimited(5, a)),
  ]);
}

/** ONNX model: sim[p, i, j] = candidates[p, i, :] · references[p, j, :]. */
export function similarityModel(): Uint8Array {
  const perm = Buffer.concat([
    lengthDelimited(1, Buffer.from('perm', 'utf8')),
    ...[0, 2, 1].map((v) => Buffer.concat([encodeVarint(8 * 8), encodeVarint(v)])),
    Buffer.concat([encodeVarint(20 * 8), encodeVarint(7)]), // AttributeType INTS
  ]);
  const graph = Buffer.concat([
    lengthDelimited(1, node('Transpose', ['references'], 'references_t', [perm])),
    lengthDelimited(1, node('MatMul', ['candidates', 'references_t'], 'sim')),
    lengthDelimited(2, Buffer.from('bertscore_similarity', 'utf8')),
    lengthDelimited(11, valueInfo('candidates', ['pairs', 'candidate_tokens', 'dim'])),
    lengthDelimited(11, valueInfo('references', ['pairs', 'reference_tokens', 'dim'])),
    lengthDelimited(12, valueInfo('sim', ['pairs', 'candidate_tokens', 'reference_tokens'])),
  ]);
  return new Uint8Array(
    Buffer.concat([
      encodeVarint(1 * 8),
      encodeVarint(8), // ir_version
      lengthDelimited(2, Buffer.from('medcap', 'utf8')),
      lengthDelimited(7, graph),
      opsetImportField('', 14),
    ]),
  );
}

export async function createMatcher(options: MatcherOptions = {}): Promise<Matcher> {
  const maxPairs = options.maxPairs ?? 512;
  const maxFloats = options.maxFloats ?? 2 ** 25;
  const ort = await import('onnxruntime-node');
  const session: InferenceSession = await ort.InferenceSession.create(similarityModel(), {
    executionProviders: ['cpu'],
    logSeverityLevel: 3,
  });

  // Input blocks reused from batch to batch (fresh 100 MB arrays cost more in page faults than
  // the product itself). Padding is left as it is: a padded row or column only reaches cosines
  // that are never read.
  let candidateBlock = new Float32Array(0);
  let referenceBlock = new Float32Array(0);
  const block = (current: Float32Array<ArrayBuffer>, size: number): Float32Array<ArrayBuffer> =>
    current.length >= size ? current : new Float32Array(Math.max(size, 2 * current.length));

  const matchBatch = async (
    pairs: readonly (readonly [Embedded, Embedded])[],
    batch: readonly number[],
    out: Matches[],
  ): Promise<void> => {
    const dim = pairs[batch[0]!]![0].dim;
    let lc = 1;
    let lr = 1;
    for (const p of batch) {
      lc = Math.max(lc, pairs[p]![0].ids.length);
      lr = Math.max(lr, pairs[p]![1].ids.length);
    }
    candidateBlock = block(candidateBlock, batch.length * lc * dim);
    referenceBlock = block(referenceBlock, batch.length * lr * dim);
    const candidates = candidateBlock.subarray(0, batch.length * lc * dim);
    const references = referenceBlock.subarray(0, batch.length * lr * dim);
    batch.forEach((p, row) => {
      const [c, r] = pairs[p]!;
      if (c.dim !== dim || r.dim !== dim) throw new RangeError('embeddings of different sizes');
      candidates.set(c.vectors, row * lc * dim);
      references.set(r.vectors, row * lr * dim);
    });
    const result = await session.run({
      candidates: new ort.Tensor('float32', candidates, [batch.length, lc, dim]),
      references: new ort.Tensor('float32', references, [batch.length, lr, dim]),
    });
    const sim = result.sim!.data as Float32Array;
    batch.forEach((p, row) => {
      const nc = pairs[p]![0].ids.length;
      const nr = pairs[p]![1].ids.length;
      const candidate = new Float32Array(nc).fill(Number.NEGATIVE_INFINITY);
      const reference = new Float32Array(nr).fill(Number.NEGATIVE_INFINITY);
      const base = row * lc * lr;
      for (let i = 0; i < nc; i++) {
        const at = base + i * lr;
        let best = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < nr; j++) {
          const s = sim[at + j]!;
          if (s > best) best = s;
          if (s > reference[j]!) reference[j] = s;
        }
        candidate[i] = best;
      }
      out[p] = { candidate, reference };
    });
  };

  let queue: Promise<unknown> = Promise.resolve();
  const matchAll = async (pairs: readonly (readonly [Embedded, Embedded])[]) => {
    const out: Matches[] = new Array(pairs.length);
    if (pairs.length === 0) return out;
    const longest = (p: number) => Math.max(pairs[p]![0].ids.length, pairs[p]![1].ids.length);
    const order = pairs.map((_, i) => i).sort((a, b) => longest(b) - longest(a));
    const dim = pairs[0]![0].dim;
    let next = 0;
    while (next < order.length) {
      const fit = Math.max(1, Math.floor(maxFloats / (longest(order[next]!) * dim)));
      const batch = order.slice(next, next + Math.min(maxPairs, fit));
      next += batch.length;
      await matchBatch(pairs, batch, out);
    }
    return out;
  };

  return {
    // one call at a time: the input blocks are shared
    match(pairs) {
      const result = queue.then(() => matchAll(pairs));
      queue = result.catch(() => undefined);
      return result;
    },
    dispose: () => session.release(),
  };
}
