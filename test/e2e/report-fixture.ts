/**
 * Synthetic run directories for the report's tests and benchmark, written from the file
 * formats of SPEC §6 (captions CSV, detailed CSV, aggregate JSON, journal), not from the
 * code that writes them in a real run.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { type CaptionRow, formatCaptionsCsv } from '../../src/formats/captions-csv.js';
import type { JournalLine } from '../../src/formats/journal-types.js';

export interface SyntheticRunOptions {
  rows: number;
  split?: string;
  /** Distinct images on disk (rows reuse them); 0 for none. */
  images?: number;
  /** Write the per-item detailed CSV (and with-metrics CSV). */
  metrics?: boolean;
  aggregate?: boolean;
  journal?: boolean;
  /** Resume once halfway (two start lines) and leave a torn last line. */
  resumed?: boolean;
  concepts?: boolean;
  /** Rows with status=error. */
  failures?: number;
  /** Put captions that carry markup and script into the first rows. */
  hostile?: boolean;
  bertscore?: boolean;
  seed?: number;
}

export const HOSTILE_CAPTION = '<img src=x onerror=alert(1)>';
export const HOSTILE_REFERENCE = '<script>window.__pwned = 1; alert(2)</script> & "quotes"';
export const HOSTILE_ID = 'x"><svg onload=alert(3)>';

const WORDS = (
  'axial coronal sagittal contrast enhanced computed tomography magnetic resonance image ' +
  'showing demonstrating a an the large small well defined hypodense hyperintense lesion mass ' +
  'nodule cyst opacity effusion fracture in of with left right upper lower lobe liver kidney ' +
  'lung brain spine pelvis chest abdomen arrow marks region heterogeneous enhancement'
).split(' ');

const CONCEPT_POOL = [
  'C0040405',
  'C1306645',
  'C0024485',
  'C0041618',
  'C0002978',
  'C0032743',
  'C0817096',
  'C0000726',
  'C0030797',
  'C0037303',
  'C0205400',
  'C0577559',
  'C0018787',
];

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sentence(random: () => number, min: number, max: number): string {
  const length = min + Math.floor(random() * (max - min + 1));
  const words = Array.from({ length }, () => WORDS[Math.floor(random() * WORDS.length)]!);
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1) + '.';
}

/** A grey "scan": a bright ellipse with a darker blob and some noise. */
async function writeScan(path: string, random: () => number, size = 192): Promise<void> {
  const pixels = Buffer.alloc(size * size);
  const cx = size / 2 + (random() - 0.5) * 20;
  const cy = size / 2 + (random() - 0.5) * 20;
  const bx = cx + (random() - 0.5) * 60;
  const by = cy + (random() - 0.5) * 60;
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      const body = ((x - cx) / 80) ** 2 + ((y - cy) / 66) ** 2 < 1 ? 150 : 12;
      const blob = (x - bx) ** 2 + (y - by) ** 2 < 180 ? -70 : 0;
      pixels[y * size + x] = Math.max(0, Math.min(255, body + blob + (random() - 0.5) * 40));
    }
  }
  await sharp(pixels, { raw: { width: size, height: size, channels: 1 } })
    .png()
    .toFile(path);
}

export interface SyntheticRun {
  dir: string;
  split: string;
  rows: CaptionRow[];
  metricColumns: string[];
  /** Per-item scores by id. */
  scores: Map<string, Record<string, number>>;
}

/** Writes a run directory like `medcap run` leaves it. */
export async function writeSyntheticRun(
  dir: string,
  options: SyntheticRunOptions,
): Promise<SyntheticRun> {
  const split = options.split ?? 'train';
  const random = prng(options.seed ?? 7);
  await mkdir(dir, { recursive: true });
  const imageCount = options.images ?? Math.min(options.rows, 60);
  const imagePaths: string[] = [];
  if (imageCount > 0) {
    await mkdir(join(dir, 'images'), { recursive: true });
    for (let i = 0; i < imageCount; i += 1) {
      const path = join(dir, 'images', `scan_${i}.png`);
      await writeScan(path, random);
      imagePaths.push(path);
    }
  }

  const failures = options.failures ?? 0;
  const rows: CaptionRow[] = [];
  for (let i = 0; i < options.rows; i += 1) {
    const failed = i >= options.rows - failures;
    const row: CaptionRow = {
      imageId: `ROCOv2_2023_${split}_${String(i + 1).padStart(6, '0')}`,
      imagePath: imagePaths.length > 0 ? imagePaths[i % imagePaths.length]! : `missing/${i}.jpg`,
      references: [sentence(random, 6, 28)],
      generatedCaption: failed ? '' : sentence(random, 5, 20),
      processingTimeS: 0.05 + random() * 0.1,
      batchSize: 8,
      engine: 'transformers',
      model: 'onnx-community/Qwen2-VL-2B-Instruct',
      status: failed ? 'error' : 'ok',
      error: failed ? `ImageError: cannot decode image ${i} (corrupt JPEG)` : '',
    };
    if (options.concepts) {
      const n = 1 + Math.floor(random() * 3);
      const set = new Set<string>([CONCEPT_POOL[Math.floor(random() * 6)]!]);
      while (set.size < n) set.add(CONCEPT_POOL[Math.floor(random() * CONCEPT_POOL.length)]!);
      row.concepts = [...set];
    }
    rows.push(row);
  }
  if (options.hostile && rows.length >= 3) {
    rows[0]!.generatedCaption = HOSTILE_CAPTION;
    rows[1]!.references = [HOSTILE_REFERENCE, 'A second reference & <b>bold</b>.'];
    rows[2]!.imageId = HOSTILE_ID;
    rows[2]!.imagePath = join(dir, 'does-not-exist.png');
  }
  await writeFile(join(dir, `medical_captions_${split}.csv`), formatCaptionsCsv(rows));

  const metricColumns = [
    'bleu_1',
    'bleu_2',
    'bleu_3',
    'bleu_4',
    'rouge_l',
    'meteor',
    'cider',
    'rouge_1',
    'rouge_2',
    ...(options.bertscore ? ['bertscore_precision', 'bertscore_recall', 'bertscore_f1'] : []),
  ];
  const scores = new Map<string, Record<string, number>>();
  if (options.metrics || options.aggregate) {
    for (const row of rows) {
      if (row.status !== 'ok') continue;
      const quality = random() ** 1.5;
      const s: Record<string, number> = {};
      s.bleu_1 = clamp(quality * 0.8 + random() * 0.15);
      s.bleu_2 = s.bleu_1 * (0.5 + random() * 0.3);
      s.bleu_3 = s.bleu_2 * (0.4 + random() * 0.3);
      s.bleu_4 = s.bleu_3 * (0.3 + random() * 0.3);
      s.rouge_l = clamp(quality * 0.7 + random() * 0.2);
      s.meteor = clamp(quality * 0.6 + random() * 0.15);
      s.cider = quality * 3 * random();
      s.rouge_1 = clamp(s.rouge_l + random() * 0.1);
      s.rouge_2 = clamp(s.rouge_l * 0.5);
      if (options.bertscore) {
        s.bertscore_precision = clamp(0.75 + quality * 0.2);
        s.bertscore_recall = clamp(0.74 + quality * 0.2);
        s.bertscore_f1 = (s.bertscore_precision + s.bertscore_recall) / 2;
      }
      scores.set(row.imageId, s);
    }
  }
  if (options.metrics) {
    const lines = [['image_id', ...metricColumns].join(',')];
    for (const row of rows) {
      const s = scores.get(row.imageId);
      lines.push(
        [csvCell(row.imageId), ...metricColumns.map((c) => (s ? String(s[c]) : ''))].join(','),
      );
    }
    await writeFile(join(dir, `medical_${split}_detailed.csv`), `${lines.join('\n')}\n`);
  }
  if (options.aggregate) {
    const metrics: Record<string, unknown> = {};
    for (const column of metricColumns) {
      const values = [...scores.values()].map((s) => s[column]!).sort((a, b) => a - b);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
      metrics[column] = {
        corpus: column.startsWith('bleu') ? mean * 0.93 : mean,
        mean,
        std,
        median: values[Math.floor(values.length / 2)],
        min: values[0],
        max: values.at(-1),
        ci95: [
          mean - 1.96 * (std / Math.sqrt(values.length)),
          mean + 1.96 * (std / Math.sqrt(values.length)),
        ],
      };
    }
    const aggregate = {
      split,
      n: scores.size,
      metrics,
      run: {
        engine: 'transformers',
        model: 'onnx-community/Qwen2-VL-2B-Instruct',
        device: 'cpu',
        dtype: 'q4f16',
        batchSize: 8,
        images: rows.length,
        failed: failures,
        wallTimeS: rows.length * 0.11,
        imagesPerS: 1 / 0.11,
        peakRssBytes: 3.2 * 1024 ** 3,
        tokenizer: 'coco',
        bootstrap: 1000,
      },
    };
    await writeFile(
      join(dir, `medical_${split}_aggregate.json`),
      JSON.stringify(aggregate, null, 2),
    );
  }
  if (options.journal) await writeJournal(dir, split, rows, random, options.resumed === true);
  return { dir, split, rows, metricColumns, scores };
}

async function writeJournal(
  dir: string,
  split: string,
  rows: CaptionRow[],
  random: () => number,
  resumed: boolean,
): Promise<void> {
  const path = join(dir, `medical_captions_${split}.journal.jsonl`);
  const lines: JournalLine[] = [];
  let time = Date.UTC(2025, 0, 15, 9, 30, 0);
  const start = (resumedRun: boolean): JournalLine => ({
    kind: 'start',
    time,
    engine: 'transformers',
    model: 'onnx-community/Qwen2-VL-2B-Instruct',
    device: 'cpu',
    dtype: 'q4f16',
    batchSize: 8,
    split,
    dataset: '/data/rocov2',
    format: 'rocov2',
    resumed: resumedRun,
    planned: rows.length,
    host: { platform: 'linux', cpus: 16, totalMemoryBytes: 64 * 1024 ** 3, node: 'v20.19.0' },
  });
  lines.push(start(false));
  let rss = 900 * 1024 ** 2;
  let done = 0;
  const half = Math.floor(rows.length / 2);
  for (let i = 0; i < rows.length; i += 8) {
    if (resumed && i >= half && i - 8 < half && i > 0) {
      time += 600_000;
      lines.push(start(true));
      rss = 900 * 1024 ** 2;
    }
    const batch = rows.slice(i, i + 8);
    const slow = i > rows.length * 0.6 && i < rows.length * 0.7 ? 2.5 : 1;
    time += Math.round((700 + random() * 300) * slow);
    for (const [k, row] of batch.entries()) {
      lines.push({
        kind: 'item',
        id: row.imageId,
        index: i + k,
        path: row.imagePath,
        references: row.references,
        caption: row.generatedCaption,
        status: row.status,
        error: row.error,
        processingTimeS: row.processingTimeS,
        batchSize: 8,
        engine: row.engine,
        model: row.model,
        time,
      });
    }
    done += batch.length;
    rss = Math.min(rss + random() * 40 * 1024 ** 2, 3.2 * 1024 ** 3);
    lines.push({
      kind: 'memory',
      time,
      rssBytes: rss,
      heapUsedBytes: rss * 0.3,
      cacheBytes: Math.min(done * 600_000, 1.5 * 1024 ** 3),
      gpuUsedBytes: null,
      done,
    });
  }
  lines.push({
    kind: 'end',
    time,
    done: rows.length,
    failed: rows.filter((r) => r.status === 'error').length,
    wallTimeS: (time - lines[0]!.time) / 1000,
    peakRssBytes: rss,
  });
  if (resumed) lines.pop();
  await writeFile(path, lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
  if (resumed) await appendFile(path, '{"kind":"item","id":"torn');
}

function clamp(v: number): number {
  return Math.max(0, Math.min(1, v));
}

function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
