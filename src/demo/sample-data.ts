import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import sharp from 'sharp';
import { STUDY_KINDS, type SyntheticStudy, syntheticStudy } from './cases.js';
import { toBytes } from './phantoms.js';

/** Held-out seeds (below TRAINING_SEED_START) of the demo's studies, per kind. */
export const DEMO_SEEDS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8];

/** The demo's studies: eight of each kind, drawn from held-out seeds. */
export function demoStudies(): SyntheticStudy[] {
  return STUDY_KINDS.flatMap((kind) => DEMO_SEEDS.map((seed) => syntheticStudy(kind, seed)));
}

/** An 8-bit grey JPEG of a study, as the demo and the training data store it. */
export async function studyJpeg(study: SyntheticStudy): Promise<Buffer> {
  const grey = study.render();
  return sharp(toBytes(grey), { raw: { width: grey.width, height: grey.height, channels: 1 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** Number of images in the bundled sample dataset. */
export const DEMO_IMAGE_COUNT = 24;

/**
 * Writes the sample dataset (or the given studies) in ROCOv2 layout (`train_captions.csv`,
 * `train_concepts.csv`, `train/*.jpg`) into `dir`. Deterministic: the same bytes every time.
 */
export async function writeDemoDataset(
  dir: string,
  split = 'train',
  studies: readonly SyntheticStudy[] = demoStudies(),
): Promise<{ dir: string; count: number }> {
  const width = Math.max(3, String(studies.length).length);
  const all = studies.map((study, i) => ({
    id: `DEMO_${String(i + 1).padStart(width, '0')}`,
    caption: study.caption,
    cuis: study.cuis,
    study,
  }));
  await mkdir(join(dir, split), { recursive: true });
  for (const item of all) {
    await writeFile(join(dir, split, `${item.id}.jpg`), await studyJpeg(item.study));
  }
  await writeFile(
    join(dir, `${split}_captions.csv`),
    stringify([['ID', 'Caption'], ...all.map((i) => [i.id, i.caption])]),
  );
  await writeFile(
    join(dir, `${split}_concepts.csv`),
    stringify([['ID', 'CUIs'], ...all.map((i) => [i.id, i.cuis.join(';')])]),
  );
  return { dir, count: all.length };
}
