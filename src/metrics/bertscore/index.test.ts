import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeWithExternalData } from '../../../test/support/external-data.js';
import { ConfigError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { hasVulkanLoader } from '../../engines/transformers/devices.js';
import { rowsOf } from '../../testing/metric-rows.js';
import type { MetricInput, MetricResult } from '../types.js';
import { loadEncoder } from './encoder.js';
import { type BertScoreOptions, createBertScoreMetric } from './index.js';
import { bestOf, idfWeights, scorePair, uniformWeights } from './scoring.js';

/**
 * BERTScore on the tiny test models against the PyTorch reference written by
 * tools/make_tiny_bert.py (which equals the bert_score package run with batch_size=1 to 3e-7;
 * see the `log` in the reference file).
 */

const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/bertscore');

interface Pair {
  id: string;
  candidate: string;
  references: string[];
}
interface Result {
  layer: number;
  idf: boolean;
  P: number[];
  R: number[];
  F: number[];
}
interface Reference {
  pairs: Pair[];
  models: Record<string, { path: string; results: Result[]; token_ids: Record<string, number[]> }>;
}

let reference: Reference;
let cacheDir: string;
const TINY_ROBERTA = join(ROOT, 'test/fixtures/bertscore/tiny-roberta');

/** The tiny RoBERTa offline, idf on, layer 1, in this file's cache, with `options` on top. */
const tinyRoberta = (options: Partial<BertScoreOptions> = {}) =>
  createBertScoreMetric({
    model: TINY_ROBERTA,
    idf: true,
    layer: 1,
    offline: true,
    logger: silentLogger,
    cacheDir,
    ...options,
  });

function perItem(result: MetricResult, pairs: Pair[]): Map<string, Record<string, number>> {
  return rowsOf(
    result.values,
    pairs.map((p) => p.id),
  );
}

function inputOf(pairs: Pair[]): MetricInput {
  return {
    ids: pairs.map((p) => p.id),
    candidates: pairs.map((p) => p.candidate),
    references: pairs.map((p) => p.references),
    candidateTokens: pairs.map((p) => p.candidate.split(/\s+/)),
    referenceTokens: pairs.map((p) => p.references.map((r) => r.split(/\s+/))),
  };
}

beforeAll(async () => {
  reference = JSON.parse(await readFile(join(FIXTURES, 'reference.json'), 'utf8')) as Reference;
  cacheDir = await mkdtemp(join(tmpdir(), 'medcap-bertscore-'));
});

afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('createBertScoreMetric on the tiny models', () => {
  const cases: [string, number, boolean][] = [];
  for (const model of ['tiny-bert', 'tiny-roberta']) {
    for (const layer of [0, 1, 2]) for (const idf of [false, true]) cases.push([model, layer, idf]);
  }

  it.each(cases)(
    '%s, layer %i, idf %s equals the PyTorch reference to 1e-5',
    async (name, layer, idf) => {
      const model = reference.models[name]!;
      const expected = model.results.find((r) => r.layer === layer && r.idf === idf)!;
      const metric = await createBertScoreMetric({
        model: join(ROOT, model.path),
        idf,
        layer,
        offline: true,
        logger: silentLogger,
        cacheDir,
      });
      try {
        const result = await metric.score(inputOf(reference.pairs));
        reference.pairs.forEach((pair, i) => {
          const got = perItem(result, reference.pairs).get(pair.id)!;
          const want = [expected.P[i]!, expected.R[i]!, expected.F[i]!];
          const have = [got.bertscore_precision!, got.bertscore_recall!, got.bertscore_f1!];
          have.forEach((value, k) => {
            expect(Math.abs(value - want[k]!), `${pair.id} ${'PRF'[k]}`).toBeLessThan(1e-5);
          });
        });
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        expect(result.corpus.bertscore_precision).toBeCloseTo(mean(expected.P), 6);
        expect(result.corpus.bertscore_recall).toBeCloseTo(mean(expected.R), 6);
        expect(result.corpus.bertscore_f1).toBeCloseTo(mean(expected.F), 6);
        expect(metric.corpusDependent).toBe(idf);
      } finally {
        await metric.dispose?.();
      }
    },
  );

  it('scores an empty or blank candidate 0, and several references by the best of each', async () => {
    const metric = await createBertScoreMetric({
      model: join(ROOT, 'models/tiny-bert'),
      idf: false,
      offline: true,
      logger: silentLogger,
      cacheDir,
    });
    try {
      const pairs = reference.pairs;
      const result = await metric.score(inputOf(pairs));
      for (const id of ['p04', 'p05']) {
        expect(perItem(result, pairs).get(id)).toEqual({
          bertscore_precision: 0,
          bertscore_recall: 0,
          bertscore_f1: 0,
        });
      }
      // p03 has three references: its score is the best of scoring each alone, per column
      const p03 = pairs.find((p) => p.id === 'p03')!;
      const alone = await metric.score(
        inputOf(
          p03.references.map((r, k) => ({
            id: `r${k}`,
            candidate: p03.candidate,
            references: [r],
          })),
        ),
      );
      const best = (col: string) => Math.max(...alone.values[col]!);
      const got = perItem(result, pairs).get('p03')!;
      for (const col of metric.columns) expect(got[col]).toBeCloseTo(best(col), 12);
      // an identical reference scores 1
      const same = perItem(result, pairs).get('p32')!;
      expect(same.bertscore_f1).toBeCloseTo(1, 6);
    } finally {
      await metric.dispose?.();
    }
  });

  it('gives the same scores whatever the batch size (padding is masked)', async () => {
    const make = (batchSize: number) => tinyRoberta({ batchSize });
    const [one, many] = await Promise.all([make(1), make(64)]);
    try {
      const input = inputOf(reference.pairs);
      const [a, b] = await Promise.all([one.score(input), many.score(input)]);
      for (const col of one.columns) {
        a.values[col]!.forEach((value, k) => {
          expect(value).toBeCloseTo(b.values[col]![k]!, 6);
        });
      }
    } finally {
      await Promise.all([one.dispose?.(), many.dispose?.()]);
    }
  });

  it('stops between batches once the signal is aborted (Ctrl-C during `medcap run`)', async () => {
    const controller = new AbortController();
    const scored: string[] = [];
    const metric = await createBertScoreMetric({
      model: join(ROOT, 'test/fixtures/bertscore/tiny-roberta'),
      idf: false,
      layer: 1,
      offline: true,
      logger: {
        ...silentLogger,
        debug: (m) => {
          if (!m.includes('items scored')) return;
          scored.push(m);
          controller.abort();
        },
      },
      cacheDir,
      batchSize: 1,
      itemsPerChunk: 2,
    });
    try {
      const input = { ...inputOf(reference.pairs), signal: controller.signal };
      expect(input.ids.length).toBeGreaterThan(6);
      await expect(metric.score(input)).rejects.toMatchObject({ name: 'AbortError' });
      expect(scored).toHaveLength(1); // the first chunk of 2 items, then nothing
    } finally {
      await metric.dispose?.();
    }
  });

  it('rejects an item without references, naming it', async () => {
    const metric = await createBertScoreMetric({
      model: join(ROOT, 'models/tiny-bert'),
      idf: false,
      offline: true,
      logger: silentLogger,
      cacheDir,
    });
    try {
      await expect(
        metric.score(inputOf([{ id: 'img-7', candidate: 'a mass', references: [] }])),
      ).rejects.toThrow(/img-7 has no reference/);
    } finally {
      await metric.dispose?.();
    }
  });
});

describe('createBertScoreMetric offline', () => {
  it('names the model and the folder it looked in when a Hub model is not cached', async () => {
    const error = await createBertScoreMetric({
      model: 'example-org/missing-bert',
      idf: false,
      offline: true,
      logger: silentLogger,
      cacheDir,
    }).catch((e: unknown) => e);
    // a configuration problem (exit 1), as for the captioning model
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('example-org/missing-bert');
    expect(message).toContain(join(cacheDir, 'example-org', 'missing-bert'));
    expect(message).toMatch(/offline/);
  });

  it('honours HF_HUB_OFFLINE=1 without the offline option', async () => {
    const before = process.env.HF_HUB_OFFLINE;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      await expect(
        createBertScoreMetric({
          model: 'example-org/missing-bert',
          idf: false,
          offline: false,
          logger: silentLogger,
          cacheDir,
        }),
      ).rejects.toThrow(join(cacheDir, 'example-org', 'missing-bert'));
    } finally {
      if (before === undefined) delete process.env.HF_HUB_OFFLINE;
      else process.env.HF_HUB_OFFLINE = before;
    }
  });

  it('names a missing local folder', async () => {
    const missing = join(cacheDir, 'no-such-model');
    await expect(
      createBertScoreMetric({
        model: missing,
        idf: false,
        offline: true,
        logger: silentLogger,
        cacheDir,
      }),
    ).rejects.toThrow(`--bertscore-model ${missing}: no such folder`);
  });

  it('rejects a layer the model does not have', async () => {
    await expect(
      createBertScoreMetric({
        model: join(ROOT, 'models/tiny-bert'),
        idf: false,
        layer: 3,
        offline: true,
        logger: silentLogger,
        cacheDir,
      }),
    ).rejects.toThrow(/layer 3 is out of range: .* has layers 0\.\.2/);
  });
});

/**
 * The unbatched computation: every sentence embedded alone (no padding), every pair matched
 * by the plain loop of scorePair.
 */
async function unbatched(
  modelPath: string,
  layer: number,
  idf: boolean,
  pairs: Pair[],
): Promise<number[][]> {
  const encoder = await loadEncoder({
    model: modelPath,
    layer,
    device: 'cpu',
    offline: true,
    cacheDir,
    cwd: ROOT,
    batchSize: 1,
    maxBatchTokens: 1_000_000,
    logger: silentLogger,
  });
  try {
    const references = pairs.flatMap((p) => p.references.map((r) => encoder.encode(r)));
    const weights = idf ? idfWeights(references) : uniformWeights(encoder.clsId, encoder.sepId);
    const rows: number[][] = [];
    for (const pair of pairs) {
      const [candidate] = await encoder.embed([encoder.encode(pair.candidate)]);
      const scores = [];
      for (const r of pair.references) {
        const [reference] = await encoder.embed([encoder.encode(r)]);
        scores.push(scorePair(candidate!, reference!, weights));
      }
      const best = bestOf(scores);
      rows.push([best.precision, best.recall, best.f1]);
    }
    return rows;
  } finally {
    await encoder.dispose();
  }
}

describe('batched BERTScore equals the unbatched computation', () => {
  // The reference pairs (empty and blank candidates, captions past the 64-token limit, up to
  // three references), then the same pairs again in another order with swapped roles, so that
  // sentences recur across chunks and some are a candidate in one item and a reference in
  // another.
  const corpus = (): Pair[] => {
    const base = reference.pairs;
    const again = [...base].reverse().map((p, k) => ({
      id: `again-${k}`,
      candidate: p.references[0]!,
      references: [p.candidate, ...p.references.slice(1)],
    }));
    return [...base, ...again];
  };
  const cases: [string, string, number, boolean][] = [
    ['tiny-bert', 'models/tiny-bert', 2, false],
    ['tiny-bert', 'models/tiny-bert', 1, true],
    ['tiny-roberta', 'test/fixtures/bertscore/tiny-roberta', 1, false],
    ['tiny-roberta', 'test/fixtures/bertscore/tiny-roberta', 2, true],
  ];

  it.each(cases)(
    '%s (%s), layer %i, idf %s: batch sizes 1, 3, 64 and small chunks, to 1e-5',
    async (_name, path, layer, idf) => {
      const pairs = corpus();
      const want = await unbatched(join(ROOT, path), layer, idf, pairs);
      expect(pairs.some((p) => p.references.length > 1)).toBe(true);
      for (const [batchSize, itemsPerChunk] of [
        [1, 512],
        [3, 7],
        [64, 5],
      ] as const) {
        const metric = await createBertScoreMetric({
          model: join(ROOT, path),
          idf,
          layer,
          offline: true,
          logger: silentLogger,
          cacheDir,
          batchSize,
          itemsPerChunk,
        });
        try {
          const result = await metric.score(inputOf(pairs));
          const got = perItem(result, pairs);
          pairs.forEach((pair, i) => {
            const row = got.get(pair.id)!;
            const have = [row.bertscore_precision!, row.bertscore_recall!, row.bertscore_f1!];
            have.forEach((value, k) => {
              expect(
                Math.abs(value - want[i]![k]!),
                `${pair.id} ${'PRF'[k]} batch ${batchSize}`,
              ).toBeLessThan(1e-5);
            });
          });
        } finally {
          await metric.dispose?.();
        }
      }
    },
  );
});

describe('BERTScore models laid out as on the Hub', () => {
  it('loads a repo with model.onnx at its root (FacebookAI/roberta-large style) offline from a filled cache', async () => {
    const fixture = join(ROOT, 'test/fixtures/bertscore/tiny-roberta');
    const repo = join(cacheDir, 'example-org', 'roberta-root');
    await mkdir(repo, { recursive: true });
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      await copyFile(join(fixture, file), join(repo, file));
    }
    await copyFile(join(fixture, 'onnx', 'model.onnx'), join(repo, 'model.onnx'));
    const expected = reference.models['tiny-roberta']!.results.find(
      (r) => r.layer === 1 && !r.idf,
    )!;
    const metric = await createBertScoreMetric({
      model: 'example-org/roberta-root',
      idf: false,
      layer: 1,
      offline: true,
      logger: silentLogger,
      cacheDir,
    });
    try {
      const result = await metric.score(inputOf(reference.pairs));
      reference.pairs.forEach((pair, i) => {
        const got = perItem(result, reference.pairs).get(pair.id)!;
        expect(Math.abs(got.bertscore_f1! - expected.F[i]!), pair.id).toBeLessThan(1e-5);
      });
    } finally {
      await metric.dispose?.();
    }
  });
});

describe('--bertscore-device', () => {
  it('auto settles on a device that works here and scores as on the CPU', async () => {
    const pairs = reference.pairs.slice(0, 6);
    const make = (device: 'auto' | 'cpu') =>
      createBertScoreMetric({
        model: join(ROOT, 'models/tiny-bert'),
        idf: false,
        device,
        offline: true,
        logger: silentLogger,
        cacheDir,
      });
    const [auto, cpu] = [await make('auto'), await make('cpu')];
    try {
      const [a, b] = [await auto.score(inputOf(pairs)), await cpu.score(inputOf(pairs))];
      a.values.bertscore_f1!.forEach((value, k) => {
        expect(Math.abs(value - b.values.bertscore_f1![k]!)).toBeLessThan(1e-4);
      });
    } finally {
      await Promise.all([auto.dispose?.(), cpu.dispose?.()]);
    }
  });

  it.runIf(!hasVulkanLoader())(
    'names the option and what is missing when WebGPU cannot be used',
    async () => {
      await expect(
        createBertScoreMetric({
          model: join(ROOT, 'models/tiny-bert'),
          idf: false,
          device: 'webgpu',
          offline: true,
          logger: silentLogger,
          cacheDir,
        }),
      ).rejects.toThrow(/--bertscore-device webgpu: cannot run BERTScore model .*docs\/GPU\.md/);
    },
  );
});

describe('--bertscore-dtype', () => {
  it('auto stays fp32 on the CPU; fp16 (asked for) scores within 1e-2 of fp32', async () => {
    const pairs = reference.pairs;
    const warnings: Record<string, string[]> = { auto: [], fp16: [] };
    const make = (dtype: 'auto' | 'fp16') =>
      tinyRoberta({
        layer: 2,
        dtype,
        logger: { ...silentLogger, warn: (m) => warnings[dtype]!.push(m) },
      });
    const expected = reference.models['tiny-roberta']!.results.find((r) => r.layer === 2 && r.idf)!;
    const [auto, half] = [await make('auto'), await make('fp16')];
    try {
      const [a, h] = [await auto.score(inputOf(pairs)), await half.score(inputOf(pairs))];
      let differs = false;
      pairs.forEach((pair, i) => {
        expect(Math.abs(a.values.bertscore_f1![i]! - expected.F[i]!), pair.id).toBeLessThan(1e-5);
        expect(Math.abs(h.values.bertscore_f1![i]! - expected.F[i]!), pair.id).toBeLessThan(1e-2);
        if (h.values.bertscore_f1![i] !== a.values.bertscore_f1![i]) differs = true;
      });
      expect(differs).toBe(true);
      // fp16 says its numbers are not bert_score's; fp32 (auto on the CPU) says nothing
      expect(warnings.fp16!.join('\n')).toMatch(
        /use --bertscore-dtype fp32 for numbers to publish/,
      );
      expect(warnings.auto!.join('\n')).not.toMatch(/fp16/);
    } finally {
      await Promise.all([auto.dispose?.(), half.dispose?.()]);
    }
  });

  it('q8 (8-bit weights) scores within 2e-2 of fp32, says so, and records it', async () => {
    const pairs = reference.pairs;
    const warnings: string[] = [];
    const q8 = await tinyRoberta({
      layer: 2,
      dtype: 'q8',
      logger: { ...silentLogger, warn: (m) => warnings.push(m) },
    });
    const expected = reference.models['tiny-roberta']!.results.find((r) => r.layer === 2 && r.idf)!;
    try {
      const q = await q8.score(inputOf(pairs));
      let differs = false;
      pairs.forEach((pair, i) => {
        const f1 = q.values.bertscore_f1![i]!;
        expect(Math.abs(f1 - expected.F[i]!), pair.id).toBeLessThan(2e-2);
        if (Math.abs(f1 - expected.F[i]!) > 1e-5) differs = true;
      });
      expect(differs).toBe(true); // the 8-bit weights really ran
      expect(q8.setup.dtype).toBe('q8');
      expect(warnings.join('\n')).toMatch(/BERTScore in q8: .*use --bertscore-dtype fp32/);
    } finally {
      await q8.dispose?.();
    }
  });
});

describe('--bertscore-dtype q8 with weights in external data', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medcap-q8-external-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // The pruned copy of a model with external data once linked that data symbolically, which ONNX
  // Runtime 1.30 refuses ("External data path escapes model directory"): every such model failed.
  it('loads the pruned copy (its data placed beside it), says no weight could be lowered, and scores as exported', async () => {
    const model = join(dir, 'tiny-roberta');
    await mkdir(join(model, 'onnx'), { recursive: true });
    for (const file of [
      'config.json',
      'merges.txt',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.json',
    ]) {
      await copyFile(join(TINY_ROBERTA, file), join(model, file));
    }
    const moved = await writeWithExternalData(
      join(TINY_ROBERTA, 'onnx/model.onnx'),
      join(model, 'onnx'),
      'model.onnx',
      'model.onnx_data',
      1024,
    );
    expect(moved).toBeGreaterThan(0);
    const warnings: string[] = [];
    const metric = await tinyRoberta({
      model,
      layer: 2,
      dtype: 'q8',
      logger: { ...silentLogger, warn: (m) => warnings.push(m) },
    });
    const expected = reference.models['tiny-roberta']!.results.find((r) => r.layer === 2 && r.idf)!;
    try {
      const result = await metric.score(inputOf(reference.pairs));
      reference.pairs.forEach((pair, i) => {
        expect(Math.abs(result.values.bertscore_f1![i]! - expected.F[i]!), pair.id).toBeLessThan(
          1e-5,
        );
      });
      expect(warnings.join('\n')).toMatch(
        /none of .*model\.onnx's matrix weights could be written in q8 \(they are kept in external data/,
      );
    } finally {
      await metric.dispose?.();
    }
  });
});

describe('--bertscore-baseline (bert_score rescale_with_baseline)', () => {
  // Made-up baselines in bert_score's file format, one row per layer of the tiny models.
  const BASELINE = 'LAYER,P,R,F\n0,0.3,0.35,0.32\n1,0.6,0.55,0.575\n2,0.7,0.65,0.66\n';
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medcap-baseline-'));
    await writeFile(join(dir, 'tiny.tsv'), BASELINE);
    await writeFile(
      join(dir, 'layers-0-1.tsv'),
      'LAYER,P,R,F\n0,0.3,0.35,0.32\n1,0.6,0.55,0.575\n',
    );
    await writeFile(join(dir, 'bad.tsv'), 'layer;p;r;f\n0;0.1;0.2;0.3\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rescales each of P, R and F1 after the idf-weighted means and the best of the references', async () => {
    const make = (baseline?: string) =>
      tinyRoberta({ cwd: dir, ...(baseline ? { baseline } : {}) });
    const [raw, rescaled] = [await make(), await make('tiny.tsv')];
    try {
      expect(rescaled.setup).toEqual({
        model: TINY_ROBERTA,
        layer: 1,
        idf: true,
        dtype: 'fp32',
        baseline: {
          file: join(dir, 'tiny.tsv'),
          layer: 1,
          precision: Math.fround(0.6),
          recall: Math.fround(0.55),
          f1: Math.fround(0.575),
        },
      });
      expect(raw.setup.baseline).toBeNull();
      const pairs = reference.pairs;
      const [r, s] = [await raw.score(inputOf(pairs)), await rescaled.score(inputOf(pairs))];
      const expected = reference.models['tiny-roberta']!.results.find(
        (x) => x.layer === 1 && x.idf,
      )!;
      const b = rescaled.setup.baseline!;
      const columns = [
        ['bertscore_precision', b.precision, expected.P],
        ['bertscore_recall', b.recall, expected.R],
        ['bertscore_f1', b.f1, expected.F],
      ] as const;
      for (const [column, base, bertScore] of columns) {
        pairs.forEach((pair, i) => {
          const want = (r.values[column]![i]! - base) / (1 - base);
          expect(s.values[column]![i], `${pair.id} ${column}`).toBe(want);
          // and bert_score's raw value rescaled the same way, to its 1e-5 / (1 - b)
          const fromBertScore = (bertScore[i]! - base) / (1 - base);
          expect(Math.abs(s.values[column]![i]! - fromBertScore)).toBeLessThan(3e-5);
        });
        const mean = s.values[column]!.reduce((a, v) => a + v, 0) / pairs.length;
        expect(s.corpus[column]).toBeCloseTo(mean, 12);
      }
      // F1 is the raw F1 rescaled, not the harmonic mean of the rescaled P and R
      const k = pairs.findIndex((p) => p.id === 'p02');
      const [p, rc] = [s.values.bertscore_precision![k]!, s.values.bertscore_recall![k]!];
      expect(Math.abs(s.values.bertscore_f1![k]! - (2 * p * rc) / (p + rc))).toBeGreaterThan(1e-4);
      // an empty candidate (raw 0) lands below 0, as in bert_score
      const empty = pairs.findIndex((x) => x.id === 'p04');
      expect(s.values.bertscore_f1![empty]).toBeCloseTo(-b.f1 / (1 - b.f1), 12);
    } finally {
      await Promise.all([raw.dispose?.(), rescaled.dispose?.()]);
    }
  });

  it('refuses a file without a row for the layer in use, naming the file and the layer', async () => {
    await expect(
      createBertScoreMetric({
        model: join(ROOT, 'models/tiny-bert'),
        idf: false,
        offline: true,
        logger: silentLogger,
        cacheDir,
        baseline: join(dir, 'layers-0-1.tsv'),
      }),
    ).rejects.toThrow(
      new RegExp(
        `--bertscore-baseline ${join(dir, 'layers-0-1.tsv')} has no row for layer 2, the layer in use \\(it has layers 0, 1\\)`,
      ),
    );
  });

  it('refuses a malformed file before it looks for the model', async () => {
    await expect(
      createBertScoreMetric({
        model: 'someone/not-cached-anywhere',
        idf: false,
        offline: true,
        logger: silentLogger,
        cacheDir,
        cwd: dir,
        baseline: 'bad.tsv',
      }),
    ).rejects.toThrow(/--bertscore-baseline .*bad\.tsv: its header is 'layer;p;r;f'/);
  });
});

describe('a caption longer than the model takes', () => {
  it('is cut to the model limit (special tokens kept), as bert_score truncates', async () => {
    const metric = await createBertScoreMetric({
      model: join(ROOT, 'models/tiny-bert'),
      idf: true,
      offline: true,
      logger: silentLogger,
      cacheDir,
    });
    const encoder = await loadEncoder({
      model: join(ROOT, 'models/tiny-bert'),
      device: 'cpu',
      offline: true,
      cacheDir,
      cwd: ROOT,
      maxBatchTokens: 4096,
      logger: silentLogger,
    });
    try {
      // about 600 word pieces, ten times the 64 positions of the tiny model
      const long = Array.from(
        { length: 60 },
        () => 'axial ct of the chest shows a mass in the lung',
      ).join(' ');
      const ids = encoder.encode(long);
      expect(encoder.maxLength).toBe(64);
      expect(ids).toHaveLength(64);
      expect([ids[0], ids[63]]).toEqual([encoder.clsId, encoder.sepId]);
      // words past the cut change nothing, in the candidate or in a reference (nor in idf)
      const pairs: Pair[] = [
        { id: 'a', candidate: long, references: [long, 'a mass in the lung'] },
        {
          id: 'b',
          candidate: `${long} with pleural effusion`,
          references: [`${long} kidney`, 'a mass in the lung'],
        },
        { id: 'c', candidate: 'a mass', references: ['chest ct'] },
      ];
      const result = await metric.score(inputOf(pairs));
      for (const column of metric.columns) {
        expect(result.values[column]![1], column).toBe(result.values[column]![0]);
      }
      expect(result.values.bertscore_f1![0]).toBeCloseTo(1, 6);
    } finally {
      await Promise.all([metric.dispose?.(), encoder.dispose()]);
    }
  });
});
