/**
 * Caption-metric throughput on 60,000 synthetic radiology caption pairs (ROCOv2-train
 * sized, one reference each; raw text with punctuation, numbers and units; ROCOv2-like
 * lengths and a 40,000-word Zipfian vocabulary of real words, so that vocabulary and
 * n-gram tables are as large as a real corpus makes them): coco
 * tokenization + BLEU-1..4, ROUGE-L (+ ROUGE-1/2), CIDEr-D and METEOR (when available),
 * all through the metric registry, in one process.
 *
 *   npx tsx bench/metrics.ts [pairs] [--dump pairs.jsonl] [--dump-tokens tokens.jsonl]
 *                            [--no-meteor] [--serial]
 *
 * `--dump` writes the pairs as {"id","candidate","references"} lines, the input of
 * tools/parity/time_reference.py, which times pycocoevalcap (and NLTK's METEOR) on the
 * very same pairs. `--dump-tokens` writes the same lines with each caption as its coco
 * tokens (a list of strings: what pycocoevalcap's PTBTokenizer makes of it, see the parity
 * tests), for `time_reference.py --tokens` where the PTBTokenizer's Java jar is missing.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { readWordNetFiles } from '../src/metrics/meteor/wordnet-files.js';
import { createMetric } from '../src/metrics/registry.js';
import { type CaptionItem, scoreCaptions } from '../src/metrics/score.js';
import { seededRandom } from '../src/metrics/statistics.js';
import { tokenizeCocoBatch } from '../src/metrics/tokenize.js';
import type { Metric } from '../src/metrics/types.js';

export interface MetricsBenchResult {
  pairs: number;
  metrics: string[];
  /** A second, warm tokenization of the same captions, for scale. */
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

/** Distinct words the captions draw from, as a real corpus's long tail needs. */
const VOCABULARY_SIZE = 40_000;

/** The most frequent words of radiology captions, ahead of the long tail. */
const COMMON_WORDS = [
  'the',
  'of',
  'and',
  'in',
  'a',
  'with',
  'right',
  'left',
  'showing',
  'arrow',
  'to',
  'image',
  'shows',
  'on',
  'at',
  'CT',
  'lesion',
  'mass',
  'MRI',
  'patient',
  'artery',
  'after',
  'was',
  'is',
  'from',
  'white',
  'view',
  'normal',
  'tumor',
  'axial',
  'contrast',
  'lower',
  'upper',
  'bilateral',
  'scan',
  'radiograph',
  'arrows',
  'wall',
  'enhancement',
  'large',
];

/**
 * WordNet 3.0 lemmas (nouns, adjectives, verbs; `_` as `-`) in a seeded shuffle: a
 * vocabulary of real English words as large as a radiology corpus's, with no download.
 */
function wordList(rand: () => number): string[] {
  const { index } = readWordNetFiles();
  const words: string[] = [];
  for (const pos of ['n', 'a', 'v'] as const) {
    for (const line of index[pos].split('\n')) {
      if (line === '' || line.startsWith('  ')) continue;
      words.push(line.slice(0, line.indexOf(' ')).replaceAll('_', '-'));
    }
  }
  for (let i = words.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [words[i], words[j]] = [words[j]!, words[i]!];
  }
  return [...COMMON_WORDS, ...words.slice(0, VOCABULARY_SIZE - COMMON_WORDS.length)];
}

/** Draws words with Zipf's law (exponent 1.1), as word frequencies in text fall off. */
function zipfSampler(rand: () => number, words: readonly string[]): () => string {
  const cumulative = new Float64Array(words.length);
  let total = 0;
  for (let r = 0; r < words.length; r++) {
    total += 1 / (r + 1) ** 1.1;
    cumulative[r] = total;
  }
  return () => {
    const x = rand() * total;
    let lo = 0;
    let hi = words.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return words[lo]!;
  };
}

/** A token count with ROCOv2's spread: median about 16, a long tail to 150. */
function captionLength(rand: () => number): number {
  const normal = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return Math.min(150, Math.max(4, Math.round(Math.exp(Math.log(16) + 0.6 * normal))));
}

function number(rand: () => number): string {
  if (rand() < 0.3) return pick(rand, SIZES);
  const value = rand() < 0.5 ? String(1 + Math.floor(rand() * 30)) : (rand() * 20).toFixed(1);
  return `${value} ${pick(rand, ['mm', 'cm', 'HU', 'ml', '%'])}`;
}

class CaptionWriter {
  private readonly word: () => string;

  constructor(private readonly rand: () => number) {
    this.word = zipfSampler(rand, wordList(rand));
  }

  caption(): string {
    const { rand } = this;
    const length = captionLength(rand);
    const parts = [`${pick(rand, MODALITIES)} ${pick(rand, VERBS)} ${pick(rand, FINDINGS)}`];
    let words = parts[0]!.split(' ').length;
    while (words < length) {
      const x = rand();
      let part: string;
      if (x < 0.06) part = pick(rand, PLACES);
      else if (x < 0.1) part = number(rand);
      else if (x < 0.13) part = pick(rand, EXTRAS);
      else if (x < 0.2) part = `${this.word()},`;
      else part = this.word();
      parts.push(part);
      words += part.split(' ').length;
    }
    return `${parts.join(' ')}.`;
  }

  /** A model's caption of the same image: words dropped, swapped, or a different caption. */
  candidateFor(reference: string): string {
    const { rand } = this;
    const x = rand();
    if (x >= 0.98) return '';
    if (x >= 0.6) return this.caption();
    const out: string[] = [];
    for (const w of reference.split(' ')) {
      const y = rand();
      if (y < 0.1) continue;
      out.push(y < 0.25 ? this.word() : w);
    }
    return out.join(' ');
  }
}

/** `count` caption items with one reference each, the same for the same seed. */
export function metricsBenchItems(count: number, seed = 7): CaptionItem[] {
  const writer = new CaptionWriter(seededRandom(seed));
  const items: CaptionItem[] = [];
  for (let i = 0; i < count; i++) {
    const reference = writer.caption();
    items.push({
      id: `ROCOv2_bench_${String(i).padStart(6, '0')}`,
      candidate: writer.candidateFor(reference),
      references: [reference],
    });
  }
  return items;
}

export async function benchMetrics(
  options: {
    pairs?: number;
    dump?: string;
    dumpTokens?: string;
    meteor?: boolean;
    /** ScoreOptions.parallel (default: automatic). */
    parallel?: boolean;
    log?: (line: string) => void;
  } = {},
): Promise<MetricsBenchResult> {
  const count = options.pairs ?? 60_000;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const items = metricsBenchItems(count);
  if (options.dump !== undefined) {
    writeFileSync(options.dump, items.map((item) => JSON.stringify(item)).join('\n') + '\n');
    log(`wrote ${count} pairs to ${options.dump}`);
  }
  if (options.dumpTokens !== undefined) {
    const lines = items.map((item) => {
      const [candidate, ...references] = tokenizeCocoBatch([item.candidate, ...item.references]);
      return JSON.stringify({ id: item.id, candidate, references });
    });
    writeFileSync(options.dumpTokens, lines.join('\n') + '\n');
    log(`wrote ${count} tokenized pairs to ${options.dumpTokens}`);
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
  // Timed cold, as one `medcap evaluate` run is: nothing has been compiled or cached yet.
  const t1 = performance.now();
  const scored = await scoreCaptions(items, {
    metrics,
    tokenizer: 'coco',
    ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
  });
  const totalSeconds = (performance.now() - t1) / 1000;

  const t0 = performance.now();
  tokenizeCocoBatch(items.flatMap((item) => item.references));
  tokenizeCocoBatch(items.map((item) => item.candidate));
  const tokenizeSeconds = (performance.now() - t0) / 1000;
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
  const threads =
    scored.workerMetrics.length > 0
      ? `${scored.workerMetrics.join(' + ')} in a worker thread`
      : 'one thread';
  log(
    `metrics: ${count} pairs, ${result.metrics.join(' + ')} (coco tokens, ${threads}): ` +
      `${totalSeconds.toFixed(2)} s, ${Math.round(result.pairsPerSecond)} pairs/s ` +
      `(tokenizing the same captions again, warm: ${tokenizeSeconds.toFixed(2)} s)`,
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
  const valued = ['--dump', '--dump-tokens']
    .map((flag) => args.indexOf(flag))
    .filter((k) => k !== -1);
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at === -1 ? undefined : args[at + 1];
  };
  const dump = value('--dump');
  const dumpTokens = value('--dump-tokens');
  const positional = args.filter(
    (a, k) => !valued.includes(k) && !valued.includes(k - 1) && !a.startsWith('--'),
  );
  const pairs = positional[0] === undefined ? undefined : Number(positional[0]);
  await benchMetrics({
    ...(pairs === undefined ? {} : { pairs }),
    ...(dump === undefined ? {} : { dump }),
    ...(dumpTokens === undefined ? {} : { dumpTokens }),
    meteor: !args.includes('--no-meteor'),
    ...(args.includes('--serial') ? { parallel: false } : {}),
  });
}
