/**
 * Caption-metric throughput on 60,000 synthetic radiology caption pairs (ROCOv2-train
 * sized, one reference each, raw text with punctuation, numbers and units): coco
 * tokenization + BLEU-1..4, ROUGE-L (+ ROUGE-1/2), CIDEr-D and METEOR (when available),
 * all through the metric registry, in one process.
 *
 *   npx tsx bench/metrics.ts [pairs] [--dump pairs.jsonl] [--no-meteor]
 *
 * `--dump` writes the pairs as {"id","candidate","references"} lines, the input of
 * tools/parity/time_reference.py, which times pycocoevalcap (and NLTK's METEOR) on the
 * very same pairs.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createMetric } from '../src/metrics/registry.js';
import { type CaptionItem, scoreCaptions } from '../src/metrics/score.js';
import { seededRandom } from '../src/metrics/statistics.js';
import { tokenizeCocoBatch } from '../src/metrics/tokenize.js';
import type { Metric } from '../src/metrics/types.js';

export interface MetricsBenchResult {
  pairs: number;
  metrics: string[];
  tokenizeSeconds: number;
  totalSeconds: number;
  pairsPerSecond: number;
  corpus: Record<string, number>;
}

const MODALITIES = [
  'Axial CT',
  'Coronal CT',
  'Sagittal T2-weighted MRI',
  'Chest radiograph',
  'PET/CT',
  'Ultrasound',
  'Contrast-enhanced CT',
  'FLAIR MRI',
  'Digital subtraction angiography',
  'Panoramic radiograph',
];
const VERBS = ['shows', 'showing', 'demonstrates', 'reveals', 'with', 'depicting', 'confirms'];
const FINDINGS = [
  'a well-defined mass',
  'a hypodense lesion',
  'pleural effusion',
  'consolidation',
  'a displaced fracture',
  'ground-glass opacities',
  'an aneurysm',
  'a calcified nodule',
  'free fluid',
  'lymphadenopathy',
  'a pneumothorax',
  'an abscess',
  'a filling defect',
  'stenosis',
  'a hematoma',
  'hydronephrosis',
  'a cystic lesion',
  'bowel wall thickening',
];
const PLACES = [
  'in the right lower lobe',
  'of the left kidney',
  'in the liver (segment VII)',
  'at the L4-L5 level',
  'in the frontal lobe',
  'adjacent to the aorta',
  'of the femur',
  'in the mediastinum',
  'near the hilum',
  "in the patient's pancreas",
];
const SIZES = [
  '3.5 cm',
  '12 x 8 mm',
  '2.3x1.8 cm',
  '10 mm',
  '4 cm',
  '7 × 5 cm',
  '1.2 cm',
  '25 HU',
  'SUVmax 12.4',
];
const EXTRAS = [
  '(arrow)',
  '(arrows)',
  '[asterisk]',
  '(white arrowhead)',
  'e.g. after surgery',
  'vs. prior study',
  '(Fig. 2)',
  'i.e. benign',
];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

function caption(rand: () => number): string {
  let text = `${pick(rand, MODALITIES)} ${pick(rand, VERBS)} ${pick(rand, FINDINGS)}`;
  if (rand() < 0.8) text += ` ${pick(rand, PLACES)}`;
  if (rand() < 0.6) text += `${rand() < 0.5 ? ', measuring' : ''} ${pick(rand, SIZES)}`;
  if (rand() < 0.5) text += ` ${pick(rand, EXTRAS)}`;
  if (rand() < 0.3) text += `; ${pick(rand, FINDINGS)} ${pick(rand, PLACES)}`;
  return `${text}.`;
}

function perturb(rand: () => number, text: string): string {
  const words = text.split(' ');
  const out: string[] = [];
  for (const w of words) {
    const x = rand();
    if (x < 0.1) continue;
    out.push(x < 0.2 ? pick(rand, [...FINDINGS, ...PLACES, ...SIZES]) : w);
  }
  return out.join(' ');
}

/** `count` caption items with one reference each, the same for the same seed. */
export function metricsBenchItems(count: number, seed = 7): CaptionItem[] {
  const rand = seededRandom(seed);
  const items: CaptionItem[] = [];
  for (let i = 0; i < count; i++) {
    const reference = caption(rand);
    const x = rand();
    const candidate = x < 0.6 ? perturb(rand, reference) : x < 0.98 ? caption(rand) : '';
    items.push({
      id: `ROCOv2_bench_${String(i).padStart(6, '0')}`,
      candidate,
      references: [reference],
    });
  }
  return items;
}

export async function benchMetrics(
  options: { pairs?: number; dump?: string; meteor?: boolean; log?: (line: string) => void } = {},
): Promise<MetricsBenchResult> {
  const count = options.pairs ?? 60_000;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const items = metricsBenchItems(count);
  if (options.dump !== undefined) {
    writeFileSync(options.dump, items.map((item) => JSON.stringify(item)).join('\n') + '\n');
    log(`wrote ${count} pairs to ${options.dump}`);
  }
  const ids = ['bleu', 'rouge', 'cider', ...(options.meteor === false ? [] : ['meteor'])];
  const metrics: Metric[] = [];
  for (const id of ids) {
    try {
      metrics.push(await createMetric(id));
    } catch (error) {
      log(`(skipping ${id}: ${(error as Error).message})`);
    }
  }
  const t0 = performance.now();
  tokenizeCocoBatch(items.flatMap((item) => item.references));
  tokenizeCocoBatch(items.map((item) => item.candidate));
  const tokenizeSeconds = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  const scored = await scoreCaptions(items, { metrics, tokenizer: 'coco' });
  const totalSeconds = (performance.now() - t1) / 1000;
  const corpus: Record<string, number> = {};
  for (const [column, s] of Object.entries(scored.summary)) corpus[column] = s.corpus;
  const result: MetricsBenchResult = {
    pairs: count,
    metrics: metrics.map((m) => m.id),
    tokenizeSeconds,
    totalSeconds,
    pairsPerSecond: count / totalSeconds,
    corpus,
  };
  log(
    `metrics: ${count} pairs, ${result.metrics.join(' + ')} (coco tokens): ` +
      `${totalSeconds.toFixed(2)} s, ${Math.round(result.pairsPerSecond)} pairs/s ` +
      `(tokenizing alone: ${tokenizeSeconds.toFixed(2)} s)`,
  );
  log(
    `  corpus: ${Object.entries(corpus)
      .map(([c, v]) => `${c} ${v.toFixed(4)}`)
      .join(', ')}`,
  );
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const dumpAt = args.indexOf('--dump');
  const dump = dumpAt === -1 ? undefined : args[dumpAt + 1];
  const positional = args.filter((a, k) => k !== dumpAt && k !== dumpAt + 1 && !a.startsWith('--'));
  const pairs = positional[0] === undefined ? undefined : Number(positional[0]);
  await benchMetrics({
    ...(pairs === undefined ? {} : { pairs }),
    ...(dump === undefined ? {} : { dump }),
    meteor: !args.includes('--no-meteor'),
  });
}
