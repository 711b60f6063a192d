/**
 * BERTScore arithmetic, as the bert_score package computes it (greedy_cos_idf, get_idf_dict,
 * the max over several references in score()), on token embeddings already computed.
 *
 * - Every token of a sentence takes part in the matching, [CLS] and [SEP] (<s>, </s>) too,
 *   but their weight is 0, so they count only as match targets.
 * - Precision: weighted mean over candidate tokens of the best cosine with a reference token;
 *   recall the other way round; F1 their harmonic mean.
 * - A sentence of exactly two tokens (an empty one: [CLS] [SEP]) gets precision and recall 0,
 *   and an undefined F1 becomes 0.
 * - Several references: the candidate is scored against each and each of P, R, F1 takes its
 *   maximum separately (as bert_score's `max(dim=0)` over the group).
 * One deviation, on purpose: a precision or recall that is undefined because every token
 * weighs 0 (bert_score returns NaN) is reported as 0.
 */

export interface Embedded {
  /** Token ids, special tokens included. */
  ids: readonly number[];
  /** ids.length rows of `dim` values, each row scaled to unit length. */
  vectors: Float32Array;
  dim: number;
}

export interface Prf {
  precision: number;
  recall: number;
  f1: number;
}

export interface PairScore extends Prf {
  /** Precision or recall was undefined (all weights 0) and was set to 0. */
  undefinedCleared: boolean;
}

/** Weight of a token id. */
export interface TokenWeights {
  weight(id: number): number;
}

/** No idf: every token weighs 1, except [CLS] and [SEP], which weigh 0. */
export function uniformWeights(clsId: number, sepId: number): TokenWeights {
  return { weight: (id) => (id === clsId || id === sepId ? 0 : 1) };
}

/**
 * idf from the references, as bert_score's get_idf_dict: with N references and c of them
 * containing the token, weight = ln((N + 1) / (c + 1)); a token no reference contains weighs
 * ln(N + 1). [CLS] and [SEP] occur in every reference, so they weigh ln(1) = 0.
 */
export function idfWeights(references: readonly (readonly number[])[]): TokenWeights & {
  documents: number;
} {
  const counts = new Map<number, number>();
  for (const ids of references) {
    for (const id of new Set(ids)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const n = references.length;
  const unseen = Math.log(n + 1);
  const table = new Map<number, number>();
  for (const [id, c] of counts) table.set(id, Math.log((n + 1) / (c + 1)));
  return { weight: (id) => table.get(id) ?? unseen, documents: n };
}

/** Scales each row of a row-major [rows, dim] block to unit length (a copy). */
export function unitRows(
  data: Float32Array,
  offset: number,
  rows: number,
  dim: number,
): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const base = offset + r * dim;
    let sum = 0;
    for (let k = 0; k < dim; k++) {
      const v = data[base + k]!;
      sum += v * v;
    }
    const norm = Math.sqrt(sum);
    for (let k = 0; k < dim; k++) out[r * dim + k] = data[base + k]! / norm;
  }
  return out;
}

function weightedMean(
  values: ArrayLike<number>,
  ids: readonly number[],
  weights: TokenWeights,
): number {
  let total = 0;
  let sum = 0;
  for (let i = 0; i < ids.length; i++) {
    const w = weights.weight(ids[i]!);
    total += w;
    sum += values[i]! * w;
  }
  return sum / total; // NaN when every weight is 0, as in bert_score
}

/** BERTScore of one candidate against one reference. */
export function scorePair(
  candidate: Embedded,
  reference: Embedded,
  weights: TokenWeights,
): PairScore {
  const { dim } = candidate;
  if (reference.dim !== dim) throw new RangeError('embeddings of different sizes');
  const nc = candidate.ids.length;
  const nr = reference.ids.length;
  const bestForCandidate = new Float64Array(nc).fill(Number.NEGATIVE_INFINITY);
  const bestForReference = new Float64Array(nr).fill(Number.NEGATIVE_INFINITY);
  const c = candidate.vectors;
  const r = reference.vectors;
  for (let i = 0; i < nc; i++) {
    const ci = i * dim;
    for (let j = 0; j < nr; j++) {
      const rj = j * dim;
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += c[ci + k]! * r[rj + k]!;
      if (dot > bestForCandidate[i]!) bestForCandidate[i] = dot;
      if (dot > bestForReference[j]!) bestForReference[j] = dot;
    }
  }
  return scoreFromMatches(
    candidate.ids,
    reference.ids,
    bestForCandidate,
    bestForReference,
    weights,
  );
}

/**
 * P, R and F1 from the greedy matches: the best cosine of each candidate token with a
 * reference token, and of each reference token with a candidate token.
 */
export function scoreFromMatches(
  candidateIds: readonly number[],
  referenceIds: readonly number[],
  bestForCandidate: ArrayLike<number>,
  bestForReference: ArrayLike<number>,
  weights: TokenWeights,
): PairScore {
  let precision = weightedMean(bestForCandidate, candidateIds, weights);
  let recall = weightedMean(bestForReference, referenceIds, weights);
  let f1 = (2 * precision * recall) / (precision + recall);
  if (candidateIds.length === 2 || referenceIds.length === 2) {
    // empty candidate or reference: bert_score sets its raw scores to 0
    precision = 0;
    recall = 0;
  }
  if (Number.isNaN(f1)) f1 = 0;
  let undefinedCleared = false;
  if (Number.isNaN(precision)) {
    precision = 0;
    undefinedCleared = true;
  }
  if (Number.isNaN(recall)) {
    recall = 0;
    undefinedCleared = true;
  }
  return { precision, recall, f1, undefinedCleared };
}

/** Best over references: each of P, R, F1 takes its own maximum. */
export function bestOf(scores: readonly Prf[]): Prf {
  if (scores.length === 0) throw new RangeError('no scores');
  return {
    precision: Math.max(...scores.map((s) => s.precision)),
    recall: Math.max(...scores.map((s) => s.recall)),
    f1: Math.max(...scores.map((s) => s.f1)),
  };
}
