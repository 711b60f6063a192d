import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { STUDY_KINDS, type StudyKind, type SyntheticStudy, syntheticStudy } from './cases.js';
import { toBytes } from './phantoms.js';
import { studyJpeg } from './sample-data.js';

/**
 * A study pack: many studies in two files, so thousands of images travel as one blob.
 * `<name>.jsonl` has one line per study ({kind, seed, caption, width, height, offset, bytes});
 * `<name>.bin` holds the encoded images back to back at those offsets.
 */
export interface PackEntry {
  kind: StudyKind;
  seed: number;
  caption: string;
  width: number;
  height: number;
  offset: number;
  bytes: number;
}

export type PackEncoding = 'jpeg' | 'png';

/** Studies for seeds [first, first + perKind) of every kind, interleaved by seed. */
export function studiesFrom(first: number, perKind: number): SyntheticStudy[] {
  const out: SyntheticStudy[] = [];
  for (let seed = first; seed < first + perKind; seed++) {
    for (const kind of STUDY_KINDS) out.push(syntheticStudy(kind, seed));
  }
  return out;
}

/** Lossless 8-bit grey PNG of a study (for references that must match pixel for pixel). */
export async function studyPng(study: SyntheticStudy): Promise<Buffer> {
  const grey = study.render();
  return sharp(toBytes(grey), { raw: { width: grey.width, height: grey.height, channels: 1 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/** Writes `<dir>/<name>.jsonl` and `<dir>/<name>.bin`; returns the entries written. */
export async function writeStudyPack(
  dir: string,
  name: string,
  studies: readonly SyntheticStudy[],
  encoding: PackEncoding = 'jpeg',
): Promise<PackEntry[]> {
  const entries: PackEntry[] = [];
  const bin = await open(join(dir, `${name}.bin`), 'w');
  try {
    let offset = 0;
    for (const study of studies) {
      const bytes = encoding === 'jpeg' ? await studyJpeg(study) : await studyPng(study);
      await bin.write(bytes);
      entries.push({
        kind: study.kind,
        seed: study.seed,
        caption: study.caption,
        width: study.width,
        height: study.height,
        offset,
        bytes: bytes.byteLength,
      });
      offset += bytes.byteLength;
    }
  } finally {
    await bin.close();
  }
  await writeFile(
    join(dir, `${name}.jsonl`),
    entries.map((e) => `${JSON.stringify(e)}\n`).join(''),
  );
  return entries;
}
