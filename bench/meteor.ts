/**
 * METEOR throughput on 60,000 synthetic radiology caption pairs (one reference each):
 * templated captions, candidates made by synonym / inflection swaps, drops, moves and
 * case changes, with some real WordNet lemmas sprinkled in so the vocabulary is large
 * (about 21,000 distinct tokens: the caches start cold, as with real model output).
 *
 *   npx tsx bench/meteor.ts [pairs] [--dump pairs.jsonl]
 *
 * Reported: WordNet load, a first scoring pass with empty caches (their sum is what one
 * evaluation costs), and a second pass with warm caches.
 *
 * The same pairs through NLTK (its WordNet load and its meteor_score loop are timed
 * separately; its scores also check ours, pair by pair):
 *
 *   npx tsx bench/meteor.ts --dump /tmp/pairs.jsonl
 *   PYTHONPATH=<nltk 3.9+> python3 tools/parity/meteor_reference.py scores /tmp/pairs.jsonl /tmp/nltk.json
 */

import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createMeteorMetric } from '../src/metrics/meteor/index.js';
import { WordNet } from '../src/metrics/meteor/wordnet.js';
import { readWordNetFiles } from '../src/metrics/meteor/wordnet-files.js';
import { seededRandom } from '../src/metrics/statistics.js';
import type { MetricInput } from '../src/metrics/types.js';

export interface MeteorBenchResult {
  pairs: number;
  distinctTokens: number;
  /** Reading the WordNet files and indexing their lemmas. */
  wordnetLoadMs: number;
  /** First scoring of all pairs (empty stem and synonym caches). */
  firstPassMs: number;
  /** Second scoring with the same metric (caches filled). */
  secondPassMs: number;
  /** wordnetLoadMs + firstPassMs: what one evaluation of these pairs costs. */
  totalMs: number;
  pairsPerSecond: number;
  corpusMeteor: number;
  peakRssBytes: number;
}

const MODALITIES = [
  'axial ct image',
  'coronal ct scan',
  'sagittal t2-weighted mri',
  'chest radiograph',
  'frontal chest x-ray',
  'contrast-enhanced ct of the abdomen',
  'ultrasound image',
  'doppler ultrasound',
  'pet-ct',
  'flair image',
  'mammogram',
  'angiography',
  'bone scan',
  'non-contrast ct head',
];
const VERBS = ['shows', 'showing', 'demonstrates', 'reveals', 'with', 'depicts', 'indicates'];
const SIZES = ['a small', 'a large', 'an enlarged', 'a 3 cm', 'a 12 mm', 'multiple', 'bilateral'];
const FINDINGS = [
  'hypodense lesion',
  'enhancing tumor',
  'mass',
  'nodules',
  'pleural effusions',
  'fracture',
  'hemorrhage',
  'abscess',
  'calculi',
  'opacities',
  'cyst',
  'aneurysm',
  'stenosis',
  'thrombus',
  'metastases',
  'lymph nodes',
  'consolidation',
  'edema',
];
const PLACES = [
  'in the right lobe of the liver',
  'of the left kidney',
  'in both lungs',
  'of the femoral neck',
  'in the left frontal lobe',
  'at l4-l5',
  'in the vertebrae',
  'of the abdominal aorta',
  'in the gallbladder',
  'of the medial meniscus',
  'in the mediastinum',
  'of the distal esophagus',
];
const TAILS = [
  '',
  'with surrounding edema',
  'consistent with pneumonia',
  'suggestive of malignancy',
  '( arrow )',
  'without hydronephrosis',
  'measuring 5.2 cm',
  '.',
];
const SWAPS: Record<string, string[]> = {
  shows: ['showed', 'show', 'demonstrates', 'reveals', 'displays'],
  showing: ['shows', 'demonstrating', 'revealing'],
  demonstrates: ['shows', 'demonstrated', 'reveals'],
  reveals: ['revealed', 'shows'],
  lesion: ['lesions', 'tumor', 'tumour', 'neoplasm', 'mass'],
  tumor: ['tumour', 'neoplasm', 'tumors', 'mass'],
  mass: ['masses', 'lump', 'tumor'],
  large: ['big', 'larger', 'huge'],
  small: ['little', 'tiny', 'smaller'],
  image: ['images', 'picture', 'scan'],
  scan: ['image', 'scans'],
  fracture: ['fractures', 'break', 'fractured'],
  hemorrhage: ['haemorrhage', 'bleeding'],
  edema: ['oedema', 'swelling'],
  kidney: ['kidneys', 'renal'],
  lungs: ['lung', 'pulmonary'],
  calculi: ['calculus', 'stones'],
  vertebrae: ['vertebra', 'spine'],
  metastases: ['metastasis', 'metastatic'],
  nodules: ['nodule', 'lumps'],
  right: ['left'],
  left: ['right'],
  multiple: ['many', 'several', 'numerous'],
  enlarged: ['large', 'swollen', 'big'],
};

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function lemmaSample(rand: () => number, count: number): string[] {
  const text = readWordNetFiles().index.n;
  const lemmas: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(' ')) continue;
    const lemma = line.slice(0, line.indexOf(' '));
    if (!lemma.includes('_')) lemmas.push(lemma);
  }
  return Array.from({ length: count }, () => pick(rand, lemmas));
}

/** `count` (candidate, reference) token pairs, the same for the same seed. */
export function meteorBenchPairs(
  count: number,
  seed = 1,
): { candidate: string[]; reference: string[] }[] {
  const rand = seededRandom(seed);
  const extraWords = lemmaSample(rand, 30_000);
  const pairs: { candidate: string[]; reference: string[] }[] = [];
  for (let k = 0; k < count; k += 1) {
    const reference = [
      pick(rand, MODALITIES),
      pick(rand, VERBS),
      pick(rand, SIZES),
      pick(rand, FINDINGS),
      pick(rand, PLACES),
      pick(rand, TAILS),
    ]
      .join(' ')
      .split(' ')
      .filter((token) => token !== '');
    if (rand() < 0.3)
      reference.splice(Math.floor(rand() * reference.length), 0, pick(rand, extraWords));
    if (rand() < 0.3) reference[0] = reference[0]!.toUpperCase();
    const candidate: string[] = [];
    for (const token of reference) {
      const r = rand();
      const swaps = SWAPS[token.toLowerCase()];
      if (swaps !== undefined && r < 0.4) candidate.push(pick(rand, swaps));
      else if (r < 0.08) continue;
      else if (r < 0.14) candidate.push(pick(rand, extraWords));
      else candidate.push(token);
    }
    if (candidate.length > 3 && rand() < 0.4) {
      const from = Math.floor(rand() * candidate.length);
      const block = candidate.splice(from, 1 + Math.floor(rand() * 3));
      candidate.splice(Math.floor(rand() * (candidate.length + 1)), 0, ...block);
    }
    pairs.push({ candidate, reference });
  }
  return pairs;
}

export async function benchMeteor(
  options: { pairs?: number; seed?: number; dump?: string; log?: (line: string) => void } = {},
): Promise<MeteorBenchResult> {
  const count = options.pairs ?? 60_000;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const pairs = meteorBenchPairs(count, options.seed ?? 1);
  if (options.dump !== undefined) {
    writeFileSync(
      options.dump,
      pairs
        .map((pair, k) =>
          JSON.stringify({ id: `p${k}`, candidate: pair.candidate, references: [pair.reference] }),
        )
        .join('\n') + '\n',
    );
  }
  const input: MetricInput = {
    ids: pairs.map((_, k) => `p${k}`),
    candidates: pairs.map((pair) => pair.candidate.join(' ')),
    references: pairs.map((pair) => [pair.reference.join(' ')]),
    candidateTokens: pairs.map((pair) => pair.candidate),
    referenceTokens: pairs.map((pair) => [pair.reference]),
  };
  const distinctTokens = new Set(pairs.flatMap((pair) => [...pair.candidate, ...pair.reference]))
    .size;

  let t = performance.now();
  const wordnet = WordNet.load();
  const wordnetLoadMs = performance.now() - t;

  const metric = createMeteorMetric({ wordnet });
  t = performance.now();
  const first = await metric.score(input);
  const firstPassMs = performance.now() - t;
  t = performance.now();
  await metric.score(input);
  const secondPassMs = performance.now() - t;

  const totalMs = wordnetLoadMs + firstPassMs;
  const result: MeteorBenchResult = {
    pairs: count,
    distinctTokens,
    wordnetLoadMs,
    firstPassMs,
    secondPassMs,
    totalMs,
    pairsPerSecond: count / (totalMs / 1000),
    corpusMeteor: first.corpus.meteor!,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  const seconds = (ms: number) => (ms / 1000).toFixed(2);
  log(
    `meteor: ${count.toLocaleString('en-US')} pairs (${distinctTokens.toLocaleString('en-US')} distinct tokens): ` +
      `${seconds(totalMs)} s = WordNet load ${seconds(wordnetLoadMs)} s + scoring ${seconds(firstPassMs)} s ` +
      `(again with warm caches: ${seconds(secondPassMs)} s); ` +
      `${Math.round(result.pairsPerSecond).toLocaleString('en-US')} pairs/s; corpus METEOR ${result.corpusMeteor.toFixed(4)}`,
  );
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const dumpAt = args.indexOf('--dump');
  const dump = dumpAt === -1 ? undefined : args[dumpAt + 1];
  const positional = args.filter((_, k) => k !== dumpAt && k !== dumpAt + 1);
  const pairs = positional[0] === undefined ? undefined : Number(positional[0]);
  await benchMeteor({
    ...(pairs === undefined ? {} : { pairs }),
    ...(dump === undefined ? {} : { dump }),
  });
}
