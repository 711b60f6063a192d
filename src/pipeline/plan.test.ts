import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captionConfig } from '../../test/support/config.js';
import { silentLogger } from '../core/logger.js';
import type { JournalItem, JournalStart } from '../formats/journal-types.js';
import { generationSettings } from './generation-settings.js';
import { previousWork } from './plan.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-plan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FLAGS = { data: '/data/rocov2', out: '/out', resume: true };

function startLine(generation: JournalStart['generation']): JournalStart {
  return {
    kind: 'start',
    time: 1,
    engine: 'transformers',
    model: 'm',
    device: 'cpu',
    dtype: null,
    batchSize: 8,
    split: 'train',
    dataset: '/data/rocov2',
    format: 'rocov2',
    resumed: false,
    planned: 4,
    ...(generation ? { generation } : {}),
    host: { platform: 'linux-x64', cpus: 2, totalMemoryBytes: 1, node: 'v20' },
  };
}

const item: JournalItem = {
  kind: 'item',
  id: 'IMG_0001',
  index: 0,
  path: '/data/rocov2/train/IMG_0001.jpg',
  references: ['a scan'],
  caption: 'a caption',
  status: 'ok',
  error: '',
  processingTimeS: 0.1,
  batchSize: 8,
  engine: 'transformers',
  model: 'm',
  time: 2,
};

async function journalWith(name: string, start: JournalStart): Promise<string> {
  const path = join(dir, `${name}.journal.jsonl`);
  await writeFile(path, `${JSON.stringify(start)}\n${JSON.stringify(item)}\n`);
  return path;
}

describe('previousWork', () => {
  it('refuses --resume with other settings that change the captions, naming each with both values', async () => {
    const path = await journalWith('other', startLine(generationSettings(captionConfig(FLAGS))));
    const config = captionConfig({
      ...FLAGS,
      prompt: 'Write a haiku.',
      maxNewTokens: 3,
      imageSize: 112,
    });
    const refusal = previousWork(path, config, silentLogger);
    await expect(refusal).rejects.toThrow(/^--resume: the journal .* other settings/);
    await expect(refusal).rejects.toThrow(
      /--prompt: ".*" in the journal, "Write a haiku\." now; --max-new-tokens: \d+ in the journal, 3 now; --image-size: \(not set\) in the journal, 112 now\)/,
    );
    await expect(refusal).rejects.toThrow(
      /Use the same settings, or --overwrite to start over, or another --out$/,
    );
  });

  it('resumes with the same settings, and a journal that does not record them', async () => {
    const config = captionConfig(FLAGS);
    const same = await journalWith('same', startLine(generationSettings(config)));
    expect((await previousWork(same, config, silentLogger)).items.size).toBe(1);
    const older = await journalWith('older', startLine(undefined));
    const notes: string[] = [];
    const logger = { ...silentLogger, info: (m: string) => notes.push(m) };
    const other = captionConfig({ ...FLAGS, prompt: 'Write a haiku.' });
    expect((await previousWork(older, other, logger)).items.size).toBe(1);
    expect(notes).toContainEqual(expect.stringContaining('does not record the prompt'));
  });

  it('leaves min/max pixels out of the comparison when both runs use a fixed --image-size', async () => {
    const before = captionConfig({ ...FLAGS, imageSize: 224 });
    const path = await journalWith('fixed', startLine(generationSettings(before)));
    const now = captionConfig({ ...FLAGS, imageSize: 224, maxPixels: 50_000 });
    expect((await previousWork(path, now, silentLogger)).items.size).toBe(1);
    const bigger = captionConfig({ ...FLAGS, imageSize: 336, maxPixels: 50_000 });
    await expect(previousWork(path, bigger, silentLogger)).rejects.toThrow(
      /\(--image-size: 224 in the journal, 336 now\)/,
    );
  });
});
