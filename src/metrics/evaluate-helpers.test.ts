import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomCaption } from '../../test/support/metric-input.js';
import { silentLogger } from '../core/logger.js';
import { captionParts } from '../formats/metric-files.js';
import { evaluate } from './evaluate.js';
import { startResampleHelpers } from './resample-helpers.js';
import { seededRandom } from './statistics.js';

// The cores the process may use, as evaluate and the thread counts see them.
const cores = vi.hoisted(() => ({ count: 2 }));
vi.mock('../core/cgroup.js', async (original) => ({
  ...(await original<typeof import('../core/cgroup.js')>()),
  usableCores: () => cores.count,
}));
vi.mock('../formats/metric-files.js', async (original) => {
  const module = await original<typeof import('../formats/metric-files.js')>();
  return { ...module, captionParts: vi.fn(module.captionParts) };
});
vi.mock('./resample-helpers.js', async (original) => {
  const module = await original<typeof import('./resample-helpers.js')>();
  return { ...module, startResampleHelpers: vi.fn(module.startResampleHelpers) };
});

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-evaluate-helpers-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A JSONL file large enough for the metric worker and the helpers to start ahead. */
async function captionsFile(items: number): Promise<string> {
  const random = seededRandom(items);
  const words =
    'the a small large lesion lesions mass masses tumor tumour chest thorax lung lungs left right upper lower lobe shows showing image scan ct mri axial contrast enhanced nodule nodules effusion pleural'.split(
      ' ',
    );
  const caption = () => randomCaption(random, words, 6, 20).join(' ');
  const lines = Array.from({ length: items }, (_, k) =>
    JSON.stringify({
      id: `img${k}`,
      candidate: k % 97 === 0 ? '' : `${caption()}.`,
      references: Array.from({ length: 1 + (k % 3) }, caption),
    }),
  );
  const path = join(root, 'pairs.jsonl');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir)).sort();
  return new Map(
    await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n))] as const)),
  );
}

describe('evaluate with helper threads', () => {
  it('writes the same files with METEOR, the n-gram pass, the cells and the caption columns on helpers as on two cores', async () => {
    const captions = await captionsFile(6000);
    const run = async (count: number, out: string) => {
      cores.count = count;
      await evaluate(
        { captions, out: join(root, out), split: 'train', bootstrap: 100 },
        { logger: silentLogger },
      );
      return filesOf(join(root, out));
    };
    const started = vi.mocked(startResampleHelpers);
    const partsHere = vi.mocked(captionParts);
    const two = await run(2, 'two');
    expect(started.mock.results.every((r) => (r.value as { count: number }).count === 0)).toBe(
      true,
    );
    expect(partsHere).toHaveBeenCalledTimes(1);
    started.mockClear();
    partsHere.mockClear();
    const eight = await run(8, 'eight');
    // The with-metrics CSV's caption columns came from a helper.
    expect(partsHere).not.toHaveBeenCalled();
    // Started ahead (8 cores: the main thread, the metric worker, 6 helpers), WordNet in
    // three, then taken over for the scoring.
    expect(started.mock.calls[0]).toEqual([6, undefined, { meteorHelpers: 3 }]);
    const taken = started.mock.results.at(-1)!.value as { count: number; meteorCount: number };
    expect([taken.count, taken.meteorCount]).toEqual([6, 3]);
    expect([...eight.keys()]).toEqual([...two.keys()]);
    for (const [name, bytes] of two) expect(eight.get(name)!.equals(bytes), name).toBe(true);
  });
});
