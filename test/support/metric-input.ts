import type { MetricInput } from '../../src/metrics/types.js';

/** A metric input from captions already split into tokens (joined by spaces as their text). */
export function tokenizedInput(candidates: string[][], references: string[][][]): MetricInput {
  return {
    ids: candidates.map((_, k) => `i${k}`),
    candidates: candidates.map((c) => c.join(' ')),
    references: references.map((refs) => refs.map((r) => r.join(' '))),
    candidateTokens: candidates,
    referenceTokens: references,
  };
}

/**
 * A caption of `shortest` to `shortest + spread - 1` words drawn from `words` with `random`
 * (the length first, then each word).
 */
export function randomCaption(
  random: () => number,
  words: readonly string[],
  shortest: number,
  spread: number,
): string[] {
  return Array.from(
    { length: shortest + Math.floor(random() * spread) },
    () => words[Math.floor(random() * words.length)]!,
  );
}
