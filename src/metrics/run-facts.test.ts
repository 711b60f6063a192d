import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
});
