import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFacts } from './evaluate.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-run-facts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runFacts', () => {
  it("reads a long run's journal without an end line (more lines than a call takes arguments)", async () => {
    const images = 70_000;
    const lines: string[] = [
      JSON.stringify({
        kind: 'start',
        time: 1_000,
        engine: 'e',
        model: 'm',
        device: 'cpu',
        batchSize: 8,
      }),
    ];
    for (let i = 0; i < images; i++) {
      lines.push(
        JSON.stringify({ kind: 'stage', time: 1_000 + i, stage: 'prepare', indexes: [i] }),
      );
      lines.push(JSON.stringify({ kind: 'stage', time: 1_000 + i, stage: 'wait', indexes: [i] }));
      lines.push(
        JSON.stringify({ kind: 'item', time: 1_001 + i, id: `img${i}`, index: i, status: 'ok' }),
      );
      if (i % 10_000 === 0)
        lines.push(JSON.stringify({ kind: 'memory', time: 1_001 + i, rssBytes: 100 + i, done: i }));
    }
    await writeFile(join(dir, 'medical_captions_train.journal.jsonl'), `${lines.join('\n')}\n`);
    const facts = runFacts(join(dir, 'medical_captions_train.csv'), 'train', []);
    expect(facts.images).toBe(images);
    expect(facts.wallTimeS).toBe(images / 1000);
    expect(facts.peakRssBytes).toBe(100 + 60_000);
    expect(facts.source).toBe('journal');
  });

  it('adds up the wall time of every session and takes the peak of all (a resume counts all images)', async () => {
    const start = (time: number) =>
      JSON.stringify({ kind: 'start', time, engine: 'e', model: 'm', device: 'cpu', batchSize: 8 });
    const item = (time: number, i: number) =>
      JSON.stringify({ kind: 'item', time, id: `img${i}`, index: i, status: 'ok' });
    const lines = [
      // a first run of 4 images, killed 4 s in (no end line), peak 900
      start(0),
      ...[1000, 2000, 3000, 4000].map((t, i) => item(t, i)),
      JSON.stringify({ kind: 'memory', time: 4000, rssBytes: 900, done: 4 }),
      // its resume: 2 more images in 1 s, peak 300
      start(10_000),
      item(10_500, 4),
      item(11_000, 5),
      JSON.stringify({ kind: 'end', time: 11_000, wallTimeS: 1, peakRssBytes: 300 }),
    ];
    const folder = join(dir, 'resumed');
    await mkdir(folder);
    await writeFile(join(folder, 'medical_captions_train.journal.jsonl'), `${lines.join('\n')}\n`);
    const facts = runFacts(join(folder, 'medical_captions_train.csv'), 'train', []);
    expect([facts.images, facts.wallTimeS, facts.imagesPerS, facts.peakRssBytes]).toEqual([
      6,
      5,
      6 / 5,
      900,
    ]);
  });

  it('says when a line in the middle of the journal cannot be read, not when the last one is torn', async () => {
    const item = (time: number, index: number) =>
      JSON.stringify({ kind: 'item', time, id: `img${index}`, index, status: 'ok' });
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const folder = join(dir, 'damaged');
    await mkdir(folder);
    const journal = join(folder, 'medical_captions_train.journal.jsonl');
    await writeFile(journal, `${[item(1, 0), item(2, 1), '{"kind":"it'].join('\n')}`);
    expect(runFacts(join(folder, 'medical_captions_train.csv'), 'train', [], logger).images).toBe(
      2,
    );
    expect(warnings).toEqual([]);
    await writeFile(journal, `${[item(1, 0), '{"kind":"it', item(3, 2)].join('\n')}\n`);
    expect(runFacts(join(folder, 'medical_captions_train.csv'), 'train', [], logger).images).toBe(
      2,
    );
    expect(warnings).toEqual([
      `${journal}: 1 line cannot be read (line 2), skipped: the run facts (images, wall time, images/s) may not count every image; the scores come from the captions file and are not affected`,
    ]);
  });
});
