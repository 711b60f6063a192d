import { describe, expect, it } from 'vitest';
import type { JournalItem, JournalLine, JournalStage } from '../formats/journal-types.js';
import { crashSuspects } from './crash-suspects.js';

const start = (): JournalLine => ({
  kind: 'start',
  time: 0,
  engine: 'fake',
  model: 'm',
  device: 'cpu',
  dtype: null,
  batchSize: 4,
  split: 'train',
  dataset: '/d',
  format: 'folder',
  resumed: false,
  planned: 10,
  host: { platform: 'linux-x64', cpus: 2, totalMemoryBytes: 1, node: 'v20' },
});
const stage = (s: JournalStage['stage'], indexes: number[], alone = false): JournalLine => ({
  kind: 'stage',
  time: 0,
  stage: s,
  indexes,
  ...(alone ? { alone: true as const } : {}),
});
const item = (index: number): JournalItem => ({
  kind: 'item',
  id: `img${index}`,
  index,
  path: `/d/img${index}.png`,
  references: [],
  caption: 'c',
  status: 'ok',
  error: '',
  processingTimeS: 0,
  batchSize: 4,
  engine: 'fake',
  model: 'm',
  time: 0,
});
const end: JournalLine = {
  kind: 'end',
  time: 0,
  done: 0,
  failed: 0,
  wallTimeS: 0,
  peakRssBytes: 0,
};
const sorted = (indexes: Iterable<number>) => [...indexes].sort((a, b) => a - b);

describe('crashSuspects', () => {
  it('names the images in prepare or in the engine when a session ends without an end line', () => {
    const { suspects, poisoned } = crashSuspects([
      start(),
      stage('prepare', [0]),
      stage('prepare', [1]),
      stage('wait', [0]),
      stage('wait', [1]),
      stage('engine', [0, 1]),
      item(0),
      item(1),
      stage('prepare', [2]),
      stage('prepare', [3]),
      stage('wait', [2]),
      stage('prepare', [4]),
      stage('wait', [3]),
      stage('engine', [2, 3]),
      // killed here: 2 and 3 in the engine, 4 being read
    ]);
    expect(sorted(suspects.keys())).toEqual([2, 3, 4]);
    expect(suspects.get(4)).toEqual({ stage: 'prepare', crashes: 1 });
    expect(suspects.get(2)).toEqual({ stage: 'engine', crashes: 1 });
    expect(poisoned.size).toBe(0);
  });

  it('leaves out images that were only waiting for a batch (the cache)', () => {
    const { suspects } = crashSuspects([
      start(),
      stage('prepare', [5]),
      stage('wait', [5]),
      stage('prepare', [6]),
    ]);
    expect(sorted(suspects.keys())).toEqual([6]);
  });

  it('finds nothing after an orderly end or stop, whatever was left unfinished', () => {
    for (const last of [end, { kind: 'stop', time: 0, reason: 'disk full' } as JournalLine]) {
      const { suspects, poisoned } = crashSuspects([start(), stage('engine', [1, 2]), last]);
      expect(suspects.size + poisoned.size).toBe(0);
    }
  });

  it('poisons an image that was alone in its stage when a session ended abruptly', () => {
    const { suspects, poisoned } = crashSuspects([
      start(),
      stage('engine', [1, 2, 3]),
      start(),
      stage('prepare', [1], true),
      stage('wait', [1]),
      stage('engine', [1], true),
      item(1),
      stage('prepare', [2], true),
      stage('wait', [2]),
      stage('engine', [2], true),
    ]);
    expect([...poisoned]).toEqual([[2, 'engine']]);
    // 3 was never reached alone: still a suspect.
    expect(sorted(suspects.keys())).toEqual([3]);
  });

  it('keeps a suspect through an orderly session that did not reach it, and clears it by a row', () => {
    const lines = [start(), stage('engine', [7, 8]), start(), end];
    expect(sorted(crashSuspects(lines).suspects.keys())).toEqual([7, 8]);
    expect(sorted(crashSuspects([...lines, start(), item(7)]).suspects.keys())).toEqual([8]);
  });

  it('counts the crashes a suspect was in, through a probe that passed', () => {
    const { suspects } = crashSuspects([
      start(),
      stage('engine', [1, 2]),
      start(),
      stage('prepare', [1], true),
      stage('wait', [1]),
      stage('engine', [1], true),
      stage('wait', [1]),
      stage('engine', [1, 2]),
    ]);
    expect(suspects.get(1)).toEqual({ stage: 'engine', crashes: 2 });
    expect(suspects.get(2)).toEqual({ stage: 'engine', crashes: 2 });
  });

  it('forgets a poisoned image once it has a row (an error row, or a later retry)', () => {
    const lines = [start(), stage('prepare', [4], true)];
    expect(crashSuspects(lines).poisoned.get(4)).toBe('prepare');
    expect(crashSuspects([...lines, start(), item(4)]).poisoned.size).toBe(0);
  });
});
