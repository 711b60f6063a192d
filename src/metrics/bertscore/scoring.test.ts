import { describe, expect, it } from 'vitest';
import {
  bestOf,
  type Embedded,
  idfWeights,
  scorePair,
  uniformWeights,
  unitRows,
} from './scoring.js';

const CLS = 101;
const SEP = 102;

/** A sentence [CLS] tokens... [SEP] with the given 2-d vectors, rows scaled to unit length. */
function sentence(tokens: number[], vectors: [number, number][]): Embedded {
  const flat = Float32Array.from(vectors.flat());
  return { ids: tokens, vectors: unitRows(flat, 0, vectors.length, 2), dim: 2 };
}

const deg = (d: number): [number, number] => [
  Math.cos((d * Math.PI) / 180),
  Math.sin((d * Math.PI) / 180),
];

describe('unitRows', () => {
  it('scales each row to length 1 from an offset', () => {
    const rows = unitRows(Float32Array.from([9, 9, 3, 4, 0, 2]), 2, 2, 2);
    expect(Array.from(rows)).toEqual([0.6000000238418579, 0.800000011920929, 0, 1]);
  });
});

describe('scorePair', () => {
  // [CLS] and [SEP] point at 90°; the words at 0° and 60° (candidate) vs 0° and 30° (reference)
  const cand = sentence([CLS, 1, 2, SEP], [deg(90), deg(0), deg(60), deg(90)]);
  const ref = sentence([CLS, 1, 3, SEP], [deg(90), deg(0), deg(30), deg(90)]);

  it('matches each token greedily and weighs [CLS]/[SEP] 0', () => {
    const s = scorePair(cand, ref, uniformWeights(CLS, SEP));
    // candidate word 0° -> 0° (1); 60° -> max(cos 60°, cos 30° with 30°, cos 30° with [SEP] at 90°) = cos 30°
    const p = (1 + Math.cos(Math.PI / 6)) / 2;
    // reference word 0° -> 1; 30° -> max(cos 30° (to 0°), cos 30° (to 60°)) = cos 30°
    const r = (1 + Math.cos(Math.PI / 6)) / 2;
    expect(s.precision).toBeCloseTo(p, 6);
    expect(s.recall).toBeCloseTo(r, 6);
    expect(s.f1).toBeCloseTo((2 * p * r) / (p + r), 6);
    expect(s.undefinedCleared).toBe(false);
  });

  it('lets [CLS]/[SEP] be matched to: a word nearest to [SEP] takes its cosine', () => {
    const c = sentence([CLS, 5, SEP], [deg(90), deg(80), deg(90)]);
    const r = sentence([CLS, 6, SEP], [deg(90), deg(0), deg(90)]);
    const s = scorePair(c, r, uniformWeights(CLS, SEP));
    expect(s.precision).toBeCloseTo(Math.cos((10 * Math.PI) / 180), 6);
    expect(s.recall).toBeCloseTo(Math.cos((80 * Math.PI) / 180), 6);
  });

  it('weighs tokens by idf', () => {
    const weights = { weight: (id: number) => (id === 1 ? 3 : id === 2 || id === 3 ? 1 : 0) };
    const s = scorePair(cand, ref, weights);
    expect(s.precision).toBeCloseTo((3 * 1 + 1 * Math.cos(Math.PI / 6)) / 4, 6);
  });

  it('scores an empty candidate or reference ([CLS] [SEP] only) 0', () => {
    const empty = sentence([CLS, SEP], [deg(90), deg(90)]);
    expect(scorePair(empty, ref, uniformWeights(CLS, SEP))).toEqual({
      precision: 0,
      recall: 0,
      f1: 0,
      undefinedCleared: false,
    });
    expect(scorePair(cand, empty, uniformWeights(CLS, SEP))).toMatchObject({
      precision: 0,
      recall: 0,
      f1: 0,
    });
  });

  it('reports an undefined precision (every candidate token weighs 0) as 0', () => {
    const weights = { weight: (id: number) => (id === 3 ? 1 : 0) };
    const s = scorePair(cand, ref, weights);
    expect(s.precision).toBe(0);
    expect(s.recall).toBeCloseTo(Math.cos(Math.PI / 6), 6);
    expect(s.f1).toBe(0);
    expect(s.undefinedCleared).toBe(true);
  });

  it('can be negative, as cosines are', () => {
    const c = sentence([CLS, 1, SEP], [deg(0), deg(180), deg(0)]);
    const r = sentence([CLS, 2, SEP], [deg(0), deg(135), deg(0)]);
    const s = scorePair(c, r, uniformWeights(CLS, SEP));
    expect(s.precision).toBeCloseTo(Math.cos(Math.PI / 4), 6);
  });
});

describe('idfWeights', () => {
  it('is ln((N+1)/(c+1)) per reference containing the token, ln(N+1) when none does', () => {
    const w = idfWeights([
      [CLS, 1, 1, 2, SEP],
      [CLS, 1, SEP],
      [CLS, 3, SEP],
    ]);
    expect(w.documents).toBe(3);
    expect(w.weight(1)).toBeCloseTo(Math.log(4 / 3), 12); // in 2 references (counted once each)
    expect(w.weight(2)).toBeCloseTo(Math.log(4 / 2), 12);
    expect(w.weight(99)).toBeCloseTo(Math.log(4), 12);
    expect(w.weight(CLS)).toBe(0);
    expect(w.weight(SEP)).toBe(0);
  });
});

describe('bestOf', () => {
  it('takes the maximum of each column separately', () => {
    expect(
      bestOf([
        { precision: 0.9, recall: 0.1, f1: 0.18 },
        { precision: 0.5, recall: 0.6, f1: 0.545 },
      ]),
    ).toEqual({ precision: 0.9, recall: 0.6, f1: 0.545 });
  });
});
