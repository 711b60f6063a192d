/**
 * Parity with the reference toolkits on test/fixtures/parity/corpus.jsonl (800 caption
 * items made by tools/parity/make_corpus.py). Expected values were computed by
 * tools/parity/reference.py with the real pycocoevalcap (PTBTokenizer with the Stanford
 * CoreNLP 3.4.1 tokenizer, Bleu, Rouge, Cider) and Google's rouge_score.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createBleuMetric } from './bleu/index.js';
import { createCiderMetric } from './cider/index.js';
import { createRougeMetric } from './rouge/index.js';
import { tokenizeCocoBatch, tokenizeWhitespace } from './tokenize.js';
import type { MetricInput, MetricResult } from './types.js';

const dir = fileURLToPath(new URL('../../test/fixtures/parity/', import.meta.url));

interface Item {
  id: string;
  candidate: string;
  references: string[];
}

interface Scores {
  bleu: { corpus: number[]; items: number[][] };
  rouge_l?: { corpus: number; items: number[] };
  cider: { corpus: number; items: number[] };
}

interface Expected {
  ids: string[];
  tokens: { candidates: string[]; references: string[][] };
  coco: Scores;
  whitespace: Scores;
  rouge_score: Record<'plain' | 'stemmed', { rouge_1: number[]; rouge_2: number[] }>;
}

const items: Item[] = readFileSync(`${dir}corpus.jsonl`, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line) as Item);
const expected = JSON.parse(readFileSync(`${dir}expected.json`, 'utf8')) as Expected;

function cocoInput(): MetricInput {
  const refsFlat = items.flatMap((item) => item.references);
  const refTokensFlat = tokenizeCocoBatch(refsFlat);
  const referenceTokens: string[][][] = [];
  let at = 0;
  for (const item of items) {
    referenceTokens.push(refTokensFlat.slice(at, at + item.references.length));
    at += item.references.length;
  }
  return {
    ids: items.map((item) => item.id),
    candidates: items.map((item) => item.candidate),
    references: items.map((item) => item.references),
    candidateTokens: tokenizeCocoBatch(items.map((item) => item.candidate)),
    referenceTokens,
  };
}

function whitespaceInput(): MetricInput {
  return {
    ids: items.map((item) => item.id),
    candidates: items.map((item) => item.candidate),
    references: items.map((item) => item.references),
    candidateTokens: items.map((item) => tokenizeWhitespace(item.candidate)),
    referenceTokens: items.map((item) => item.references.map(tokenizeWhitespace)),
  };
}

const TOLERANCE = 1e-9;

const itemIndex = new Map(items.map((item, k) => [item.id, k]));

function valueAt(result: MetricResult, column: string, id: string): number | undefined {
  const k = itemIndex.get(id);
  return k === undefined ? undefined : result.values[column]?.[k];
}

function expectClose(actual: number | undefined, wanted: number, what: string): void {
  if (actual === undefined || !(Math.abs(actual - wanted) <= TOLERANCE)) {
    throw new Error(`${what}: got ${actual}, expected ${wanted}`);
  }
}

function checkScores(result: Record<string, MetricResult>, want: Scores, label: string): void {
  const bleu = result.bleu!;
  ['bleu_1', 'bleu_2', 'bleu_3', 'bleu_4'].forEach((column, n) => {
    expectClose(bleu.corpus[column], want.bleu.corpus[n]!, `${label} corpus ${column}`);
    expected.ids.forEach((id, k) => {
      expectClose(valueAt(bleu, column, id), want.bleu.items[k]![n]!, `${label} ${id} ${column}`);
    });
  });
  const cider = result.cider!;
  expectClose(cider.corpus.cider, want.cider.corpus, `${label} corpus cider`);
  expected.ids.forEach((id, k) => {
    expectClose(valueAt(cider, 'cider', id), want.cider.items[k]!, `${label} ${id} cider`);
  });
  if (want.rouge_l) {
    const rouge = result.rouge!;
    expectClose(rouge.corpus.rouge_l, want.rouge_l.corpus, `${label} corpus rouge_l`);
    expected.ids.forEach((id, k) => {
      expectClose(valueAt(rouge, 'rouge_l', id), want.rouge_l!.items[k]!, `${label} ${id} rouge_l`);
    });
  }
}

async function scoreAll(
  input: MetricInput,
  stemmer = false,
): Promise<Record<string, MetricResult>> {
  return {
    bleu: await createBleuMetric().score(input),
    rouge: await createRougeMetric({ stemmer }).score(input),
    cider: await createCiderMetric().score(input),
  };
}

describe('parity with pycocoevalcap and rouge_score', () => {
  it('uses an item set worth testing', () => {
    expect(items.length).toBeGreaterThanOrEqual(500);
    expect(items.some((item) => item.candidate.trim() === '')).toBe(true);
    expect(items.some((item) => item.references.length > 1)).toBe(true);
    expect(expected.ids).toEqual(items.map((item) => item.id));
  });

  it('tokenizes the corpus as pycocoevalcap does (references and candidates as two runs)', () => {
    const input = cocoInput();
    expect(input.candidateTokens.map((t) => t.join(' '))).toEqual(expected.tokens.candidates);
    expect(input.referenceTokens.map((refs) => refs.map((t) => t.join(' ')))).toEqual(
      expected.tokens.references,
    );
  });

  it('BLEU-1..4, ROUGE-L and CIDEr-D equal pycocoevalcap (coco tokens) to 1e-9', async () => {
    checkScores(await scoreAll(cocoInput()), expected.coco, 'coco');
  });

  it('BLEU-1..4 and CIDEr-D equal pycocoevalcap on whitespace-split captions to 1e-9', async () => {
    checkScores(await scoreAll(whitespaceInput()), expected.whitespace, 'whitespace');
  });

  it.each(['plain', 'stemmed'] as const)(
    'ROUGE-1/2 equal rouge_score score_multi F-measure (%s) to 1e-9',
    async (mode) => {
      const result = await createRougeMetric({ stemmer: mode === 'stemmed' }).score(cocoInput());
      const want = expected.rouge_score[mode];
      expected.ids.forEach((id, k) => {
        expectClose(valueAt(result, 'rouge_1', id), want.rouge_1[k]!, `${mode} ${id} rouge_1`);
        expectClose(valueAt(result, 'rouge_2', id), want.rouge_2[k]!, `${mode} ${id} rouge_2`);
      });
      const mean = want.rouge_1.reduce((a, b) => a + b, 0) / want.rouge_1.length;
      expectClose(result.corpus.rouge_1, mean, `${mode} corpus rouge_1`);
    },
  );
});
