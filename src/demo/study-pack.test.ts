import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAINING_SEED_START } from './cases.js';
import { toBytes } from './phantoms.js';
import { type PackEntry, studiesFrom, writeStudyPack } from './study-pack.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-pack-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function readPack(name: string): Promise<{ entries: PackEntry[]; bin: Buffer }> {
  const lines = (await readFile(join(root, `${name}.jsonl`), 'utf8')).trim().split('\n');
  return {
    entries: lines.map((l) => JSON.parse(l) as PackEntry),
    bin: await readFile(join(root, `${name}.bin`)),
  };
}

describe('study packs', () => {
  it('hold every study back to back, with its caption and size', async () => {
    const studies = studiesFrom(TRAINING_SEED_START, 2);
    expect(studies.map((s) => `${s.kind}:${s.seed}`)).toEqual([
      'head-ct:1000000',
      'chest-xray:1000000',
      'ultrasound:1000000',
      'head-ct:1000001',
      'chest-xray:1000001',
      'ultrasound:1000001',
    ]);
    await writeStudyPack(root, 'train', studies);
    const { entries, bin } = await readPack('train');
    expect(entries.map((e) => e.caption)).toEqual(studies.map((s) => s.caption));
    let offset = 0;
    for (const e of entries) {
      expect(e.offset).toBe(offset);
      offset += e.bytes;
      const meta = await sharp(bin.subarray(e.offset, e.offset + e.bytes)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', e.width, e.height]);
    }
    expect(bin.byteLength).toBe(offset);
  });

  it('keep the exact grey pixels when written as PNG', async () => {
    const studies = studiesFrom(1, 1);
    await writeStudyPack(root, 'reference', studies, 'png');
    const { entries, bin } = await readPack('reference');
    for (const [i, e] of entries.entries()) {
      const { data } = await sharp(bin.subarray(e.offset, e.offset + e.bytes))
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect(new Uint8Array(data)).toEqual(toBytes(studies[i]!.render()));
    }
  });
});
