import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CaptionRow,
  formatCaptionsCsv,
  readCaptionsCsv,
} from '../../src/formats/captions-csv.js';
import { runMain } from '../support/main-in-process.js';

let dir: string;

function row(
  id: string,
  caption: string,
  refs: string[],
  status: 'ok' | 'error' = 'ok',
): CaptionRow {
  return {
    imageId: id,
    imagePath: `images/${id}.jpg`,
    references: refs,
    generatedCaption: caption,
    processingTimeS: 0.5,
    batchSize: 4,
    engine: 'transformers',
    model: 'tiny-qwen2-vl',
    status,
    error: status === 'error' ? 'corrupt JPEG' : '',
  };
}

function cli(args: string[]) {
  return runMain(args, { cwd: dir, env: {} });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-evaluate-'));
  const rows = [
    row('img1', 'Axial CT shows a mass (arrow) in the liver.', [
      'Axial CT showing a liver mass (arrow).',
    ]),
    row('img2', '', ['Chest X-ray with right pleural effusion.']),
    row('img3', 'MRI of the brain.', [
      'T2-weighted MRI of the brain, e.g. a glioma.',
      'Brain MRI.',
    ]),
    row('img4', '', ['Ultrasound of the kidney.'], 'error'),
    row('img5', 'no reference here', []),
  ];
  await writeFile(join(dir, 'medical_captions_val.csv'), formatCaptionsCsv(rows));
  const journal = [
    {
      kind: 'start',
      time: 1000,
      engine: 'transformers',
      model: 'tiny-qwen2-vl',
      device: 'cpu',
      dtype: 'fp32',
      batchSize: 4,
      split: 'val',
      dataset: 'x',
      format: 'rocov2',
      resumed: false,
      planned: 5,
      host: { platform: 'linux', cpus: 2, totalMemoryBytes: 1, node: '20' },
    },
    ...rows.map((r, i) => ({
      kind: 'item',
      id: r.imageId,
      index: i,
      path: r.imagePath,
      references: r.references,
      caption: r.generatedCaption,
      status: r.status,
      error: r.error,
      processingTimeS: 0.5,
      batchSize: 4,
      engine: 'transformers',
      model: 'tiny-qwen2-vl',
      time: 2000 + i,
    })),
    { kind: 'end', time: 6000, done: 5, failed: 1, wallTimeS: 5, peakRssBytes: 123456789 },
  ];
  await writeFile(
    join(dir, 'medical_captions_val.journal.jsonl'),
    `${journal.map((l) => JSON.stringify(l)).join('\n')}\n{"kind":"item","id":"torn`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('medcap evaluate', () => {
  it('writes the four files with the SPEC columns, skipping failed and unreferenced rows', async () => {
    const { code, out } = await cli([
      'evaluate',
      '--captions',
      'medical_captions_val.csv',
      '--split',
      'val',
      '--out',
      'res',
      '--bootstrap',
      '50',
      '--metrics',
      'bleu,rouge,cider,meteor',
    ]);
    expect(code).toBe(0);
    expect(out).toContain('BLEU-4');
    const columns = [
      'bleu_1',
      'bleu_2',
      'bleu_3',
      'bleu_4',
      'rouge_l',
      'meteor',
      'cider',
      'rouge_1',
      'rouge_2',
    ];

    const detailed = parse(
      await readFile(join(dir, 'res/medical_val_detailed.csv'), 'utf8'),
    ) as string[][];
    expect(detailed[0]).toEqual(['image_id', ...columns]);
    expect(detailed.slice(1).map((r) => r[0])).toEqual(['img1', 'img2', 'img3']);
    expect(Number(detailed[2]![1])).toBe(0); // empty caption scored, not crashed on

    const withMetrics = parse(
      await readFile(join(dir, 'res/medical_captions_val_with_metrics.csv'), 'utf8'),
    ) as string[][];
    expect(withMetrics[0]!.slice(0, 10)).toEqual([
      'image_id',
      'image_path',
      'reference_caption',
      'generated_caption',
      'processing_time_s',
      'batch_size',
      'engine',
      'model',
      'status',
      'error',
    ]);
    expect(withMetrics[0]!.slice(10)).toEqual(columns);
    expect(withMetrics).toHaveLength(6);
    expect(withMetrics[4]!.slice(10).every((cell) => cell === '')).toBe(true);
    expect(Number(withMetrics[1]![10])).toBeGreaterThan(0);

    const aggregate = JSON.parse(
      await readFile(join(dir, 'res/medical_val_aggregate.json'), 'utf8'),
    );
    expect(aggregate.split).toBe('val');
    expect(aggregate.n).toBe(3);
    expect(Object.keys(aggregate.metrics)).toEqual(columns);
    expect(Object.keys(aggregate.metrics.cider)).toEqual([
      'corpus',
      'mean',
      'std',
      'median',
      'min',
      'max',
      'ci95',
    ]);
    expect(aggregate.metrics.bleu_1.ci95).toHaveLength(2);
    expect(aggregate.run).toMatchObject({
      engine: 'transformers',
      model: 'tiny-qwen2-vl',
      device: 'cpu',
      dtype: 'fp32',
      batchSize: 4,
      images: 5,
      failed: 1,
      wallTimeS: 5,
      imagesPerS: 1,
      peakRssBytes: 123456789,
      tokenizer: 'coco',
      bootstrap: 50,
      seed: 12345,
      source: 'journal',
    });

    const summary = await readFile(join(dir, 'res/medical_val_summary.txt'), 'utf8');
    expect(summary).toContain('3 scored, 1 failed captioning, 1 without a reference');
    expect(summary).toMatch(/img4: corrupt JPEG/);
    expect(summary).toMatch(/img5/);
    // 123456789 bytes, in binary units named as such
    expect(summary).toContain('peak RSS 117.7 MiB');
  });

  it('reads JSONL and names the bad line', async () => {
    await writeFile(
      join(dir, 'pairs.jsonl'),
      '{"id": "a", "candidate": "a small mass", "references": ["a mass"]}\n\n{"id": 2, "candidate": "x", "references": "nope"}\n',
    );
    const bad = await cli([
      'evaluate',
      '--captions',
      'pairs.jsonl',
      '--out',
      'j',
      '--metrics',
      'bleu',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/pairs\.jsonl:3: "references" must be an array of strings/);

    await writeFile(
      join(dir, 'pairs.jsonl'),
      '{"id": "a", "candidate": "a small mass", "references": ["a mass"]}\n{"id": 2, "candidate": "", "references": ["x", "y"]}\n',
    );
    const good = await cli([
      'evaluate',
      '--captions',
      'pairs.jsonl',
      '--out',
      'j',
      '--metrics',
      'rouge',
      '--metrics',
      'bleu',
      '--tokenizer',
      'whitespace',
      '--bootstrap',
      '0',
    ]);
    expect(good.code).toBe(0);
    const aggregate = JSON.parse(
      await readFile(join(dir, 'j/medical_train_aggregate.json'), 'utf8'),
    );
    // --metrics given twice: both lists, not the last one only
    expect(Object.keys(aggregate.metrics)).toEqual([
      'bleu_1',
      'bleu_2',
      'bleu_3',
      'bleu_4',
      'rouge_l',
      'rouge_1',
      'rouge_2',
    ]);
    expect(aggregate.metrics.rouge_l.ci95).toBeNull();
    expect(aggregate.run.source).toBe('none');
    // JSONL has no timing or batch size: those cells are empty, not "NaN"
    const withMetrics = await readFile(
      join(dir, 'j/medical_captions_train_with_metrics.csv'),
      'utf8',
    );
    const [header, first] = withMetrics.split('\n');
    const cells = first!.split(',');
    const columns = header!.split(',');
    expect(cells[columns.indexOf('processing_time_s')]).toBe('');
    expect(cells[columns.indexOf('batch_size')]).toBe('');
    expect(withMetrics).not.toMatch(/NaN/);
    expect(good.err).not.toContain('|||');

    await writeFile(
      join(dir, 'pairs.jsonl'),
      '{"id": "a", "candidate": "a mass", "references": ["a mass ||| a nodule"]}\n{"id": "b", "candidate": "x", "references": ["x"]}\n',
    );
    const separator = await cli([
      ...['evaluate', '--captions', 'pairs.jsonl', '--out', 'j'],
      ...['--metrics', 'bleu', '--bootstrap', '0'],
    ]);
    expect(separator.code).toBe(0);
    expect(separator.err).toContain(
      "1 rows have a reference holding '|||' (the first: a), scored as one reference",
    );
  });

  it('--offline: BERTScore uses only the model cache and says what is missing', async () => {
    await writeFile(
      join(dir, 'pairs.jsonl'),
      '{"id": "a", "candidate": "a small mass", "references": ["a mass"]}\n',
    );
    const offline = await cli([
      'evaluate',
      '--captions',
      'pairs.jsonl',
      '--out',
      'offline',
      '--metrics',
      'bertscore',
      '--bertscore-model',
      'someone/not-cached-anywhere',
      '--offline',
      '--bootstrap',
      '0',
    ]);
    expect(offline.code).toBe(1);
    expect(offline.err).toMatch(
      /BERTScore model someone\/not-cached-anywhere is not available offline \(--offline or HF_HUB_OFFLINE=1\)/,
    );
  });

  it('--bertscore-baseline: rescaled values, recorded and labelled as such; compare warns against raw', async () => {
    vi.stubEnv('MEDCAP_MODEL_CACHE', join(dir, 'model-cache'));
    try {
      await writeFile(
        join(dir, 'bert.jsonl'),
        [
          '{"id": "a", "candidate": "a small mass in the liver", "references": ["a liver mass"]}',
          '{"id": "b", "candidate": "chest x-ray", "references": ["chest radiograph", "x-ray of the chest"]}',
          '{"id": "c", "candidate": "brain mri", "references": ["axial mri of the brain"]}',
        ].join('\n'),
      );
      // made-up baselines in bert_score's format; tiny-bert's default layer is 2
      await writeFile(
        join(dir, 'tiny.tsv'),
        'LAYER,P,R,F\n0,0.1,0.1,0.1\n1,0.2,0.2,0.2\n2,0.5,0.25,0.375\n',
      );
      const model = resolve(import.meta.dirname, '../../models/tiny-bert');
      const evaluate = (out: string, extra: string[]) =>
        cli([
          'evaluate',
          '--captions',
          'bert.jsonl',
          '--out',
          out,
          '--metrics',
          'bertscore',
          '--bertscore-model',
          model,
          '--bootstrap',
          '0',
          '--offline',
          ...extra,
        ]);
      const raw = await evaluate('bert-raw', []);
      const rescaled = await evaluate('bert-rescaled', ['--bertscore-baseline', 'tiny.tsv']);
      expect([raw.code, rescaled.code], raw.err + rescaled.err).toEqual([0, 0]);
      const aggregate = (out: string) =>
        readFile(join(dir, out, 'medical_train_aggregate.json'), 'utf8').then(JSON.parse);
      const [a, b] = [await aggregate('bert-raw'), await aggregate('bert-rescaled')];
      expect(a.run.bertscore).toEqual({
        model,
        layer: 2,
        idf: false,
        dtype: 'fp32',
        baseline: null,
      });
      expect(b.run.bertscore.baseline).toEqual({
        file: join(dir, 'tiny.tsv'),
        layer: 2,
        precision: 0.5,
        recall: 0.25,
        f1: 0.375,
      });
      const f1 = (x: { metrics: Record<string, { corpus: number }> }) =>
        x.metrics.bertscore_f1!.corpus;
      expect(f1(b)).toBeCloseTo((f1(a) - 0.375) / (1 - 0.375), 12);
      expect(rescaled.out).toMatch(/BERTScore F1 \(rescaled\) /);
      expect(rescaled.out).toMatch(
        /bertscore {2}model .*tiny-bert, layer 2, no idf, fp32, rescaled with the baseline of layer 2 in .*tiny\.tsv \(P 0\.5, R 0\.25, F 0\.375\)/,
      );
      expect(raw.out).toMatch(/raw values \(no baseline rescaling\)/);
      expect(raw.out).not.toMatch(/\(rescaled\)/);
      const cmp = await cli(['compare', 'bert-raw', 'bert-rescaled', '--out', 'bert-cmp']);
      expect(cmp.code).toBe(0);
      expect(cmp.err).toMatch(
        /A was scored with BERTScore .*tiny-bert layer 2 no idf raw, B with .*tiny-bert layer 2 no idf rescaled \(baseline F 0\.375\): their values are not comparable/,
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('takes the split from the captions file name without --split, and refuses a --split that differs', async () => {
    const named = await cli([
      'evaluate',
      '--captions',
      'medical_captions_val.csv',
      '--out',
      'by-name',
      '--metrics',
      'bleu',
      '--bootstrap',
      '0',
    ]);
    expect(named.code).toBe(0);
    expect(named.err).toContain("evaluate: split 'val', from the name of medical_captions_val.csv");
    expect(existsSync(join(dir, 'by-name/medical_val_aggregate.json'))).toBe(true);
    expect(existsSync(join(dir, 'by-name/medical_train_aggregate.json'))).toBe(false);

    const other = await cli([
      'evaluate',
      '--captions',
      'medical_captions_val.csv',
      '--split',
      'train',
      '--out',
      'by-flag',
      '--metrics',
      'bleu',
    ]);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(
      /--split train: the captions file .*medical_captions_val\.csv is named for split 'val'/,
    );
    expect(existsSync(join(dir, 'by-flag/medical_train_aggregate.json'))).toBe(false);

    await writeFile(
      join(dir, 'medical_captions_test.jsonl'),
      '{"id": "a", "candidate": "a small mass", "references": ["a mass"]}\n',
    );
    const jsonl = await cli([
      'evaluate',
      ...['--captions', 'medical_captions_test.jsonl', '--out', 'by-name'],
      ...['--metrics', 'bleu', '--bootstrap', '0'],
    ]);
    expect(jsonl.code).toBe(0);
    expect(existsSync(join(dir, 'by-name/medical_test_aggregate.json'))).toBe(true);
  });

  it('refuses an unknown metric or a missing --captions with exit code 1', async () => {
    const unknown = await cli(['evaluate', '--captions', 'pairs.jsonl', '--metrics', 'bleu,spice']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/--metrics/);
    const missing = await cli(['evaluate']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/--captions is required/);
  });

  it('compare: writes comparison_{split}.json/.txt for two runs', async () => {
    await cli([
      'evaluate',
      '--captions',
      'medical_captions_val.csv',
      '--split',
      'val',
      '--out',
      'runB',
      '--metrics',
      'bleu,rouge',
      '--tokenizer',
      'whitespace',
    ]);
    const { code, out } = await cli(['compare', 'res', 'runB', '--split', 'val', '--out', 'cmp']);
    expect(code).toBe(0);
    expect(out).toContain('compared on 3 shared images');
    const json = JSON.parse(await readFile(join(dir, 'cmp/comparison_val.json'), 'utf8'));
    expect(json.shared).toBe(3);
    expect(json.metrics.map((m: { column: string }) => m.column)).toEqual([
      'bleu_1',
      'bleu_2',
      'bleu_3',
      'bleu_4',
      'rouge_l',
      'rouge_1',
      'rouge_2',
    ]);
    expect(json.unmatchedColumns).toEqual(['meteor', 'cider']);
    expect(json.warnings).toEqual([
      'A was scored with tokenizer coco, B with whitespace: their values are not comparable',
    ]);
    expect(out).toContain('Warning: A was scored with tokenizer coco');
    const page = await readFile(join(dir, 'cmp/comparison_val.html'), 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain('BLEU-4');
    expect(page).toMatch(/paired approximate randomization, [\d,]+ trials, seed 12345/);
    const missing = await cli(['compare', 'res', 'nowhere', '--split', 'val']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/run folder .*nowhere: no such folder/);
    const unscored = await cli(['compare', 'res', 'cmp', '--split', 'val']);
    expect(unscored.code).toBe(1);
    expect(unscored.err).toMatch(
      /run folder .*cmp: no medical_val_detailed\.csv: run 'medcap evaluate'/,
    );
    // A damaged aggregate JSON: the comparison still runs, with a warning naming the file.
    const aggregate = join(dir, 'runB/medical_val_aggregate.json');
    await writeFile(aggregate, '{"run": ');
    const damaged = await cli(['compare', 'res', 'runB', '--split', 'val', '--out', 'cmp2']);
    expect(damaged.code, damaged.err).toBe(0);
    expect(damaged.out).toContain(`Warning: ${aggregate}: not valid JSON`);
    expect(damaged.out).toContain('its scoring settings are not compared');
  });

  it('compare: says how many images left out failed in the other run', async () => {
    // Run C: the same scores, but its last image failed (an error row, so no score).
    const runC = join(dir, 'runC');
    await mkdir(runC, { recursive: true });
    const detailed = (await readFile(join(dir, 'res/medical_val_detailed.csv'), 'utf8'))
      .trimEnd()
      .split('\n');
    await writeFile(
      join(runC, 'medical_val_detailed.csv'),
      `${detailed.slice(0, -1).join('\n')}\n`,
    );
    const dropped = detailed.at(-1)!.split(',')[0];
    const rows = await readCaptionsCsv(join(dir, 'medical_captions_val.csv'));
    const failed = rows.find((r) => r.imageId === dropped)!;
    failed.status = 'error';
    failed.error = 'timed out';
    await writeFile(join(runC, 'medical_captions_val.csv'), formatCaptionsCsv(rows));
    const { code, out } = await cli(['compare', 'res', 'runC', '--split', 'val', '--out', 'cmp3']);
    expect(code).toBe(0);
    expect(out).toContain(
      `Warning: 1 of the images only in A failed in B (error rows of ${join(runC, 'medical_captions_val.csv')})`,
    );
  });
});
