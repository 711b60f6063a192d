// Writes the demo captioner's data as study packs (see src/demo/study-pack.ts):
//   train.{jsonl,bin}      JPEGs from the training seeds (TRAINING_SEED_START and up)
//   heldout.{jsonl,bin}    JPEGs from held-out seeds 1.. (the demo's seeds 1-8 among them)
//   reference.{jsonl,bin}  lossless PNGs of a few demo studies, for the greedy-token reference
//
// With --rocov2 DIR, the held-out studies are also written as a ROCOv2 dataset that
// `medcap run --data DIR` captions and scores.
//
//   npx tsx tools/write-demo-training-data.ts --out DIR [--train-per-kind 2000] [--heldout-per-kind 100] [--rocov2 DIR]
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { TRAINING_SEED_START } from '../src/demo/cases.js';
import { writeDemoDataset } from '../src/demo/sample-data.js';
import { studiesFrom, writeStudyPack } from '../src/demo/study-pack.js';

/** Seeds of the reference studies (demo seeds 1 and 2 of every kind). */
const REFERENCE_SEEDS_PER_KIND = 2;

function count(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${flag} must be a positive integer, got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      'train-per-kind': { type: 'string' },
      'heldout-per-kind': { type: 'string' },
      rocov2: { type: 'string' },
    },
  });
  if (!values.out) throw new Error('--out DIR is required');
  const trainPerKind = count(values['train-per-kind'], 2000, '--train-per-kind');
  const heldoutPerKind = count(values['heldout-per-kind'], 100, '--heldout-per-kind');
  if (heldoutPerKind >= TRAINING_SEED_START)
    throw new Error(`--heldout-per-kind must stay below ${TRAINING_SEED_START}`);
  await mkdir(values.out, { recursive: true });
  const started = Date.now();
  const sets = [
    { name: 'train', studies: studiesFrom(TRAINING_SEED_START, trainPerKind), as: 'jpeg' },
    { name: 'heldout', studies: studiesFrom(1, heldoutPerKind), as: 'jpeg' },
    { name: 'reference', studies: studiesFrom(1, REFERENCE_SEEDS_PER_KIND), as: 'png' },
  ] as const;
  for (const set of sets) {
    const entries = await writeStudyPack(values.out, set.name, set.studies, set.as);
    const bytes = entries.reduce((sum, e) => sum + e.bytes, 0);
    console.log(
      `${set.name}: ${entries.length} studies, ${(bytes / 2 ** 20).toFixed(1)} MiB, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  if (values.rocov2) {
    const { count } = await writeDemoDataset(
      values.rocov2,
      'train',
      studiesFrom(1, heldoutPerKind),
    );
    console.log(`ROCOv2 layout: ${count} held-out studies in ${values.rocov2}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
