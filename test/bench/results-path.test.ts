import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newResultPath } from '../../bench/results-path.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medcap-results-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('newResultPath', () => {
  it("never names a result file that exists: the day's name, then -b, -c", async () => {
    const day = new Date('2026-12-06T20:00:00Z');
    const first = newResultPath('evaluate', day, dir);
    expect(basename(first)).toBe('evaluate-2026-12-06.json');
    await writeFile(first, '{}');
    const second = newResultPath('evaluate', day, dir);
    expect(basename(second)).toBe('evaluate-2026-12-06-b.json');
    await writeFile(second, '{}');
    expect(basename(newResultPath('evaluate', day, dir))).toBe('evaluate-2026-12-06-c.json');
    expect(basename(newResultPath('checkpoints', day, dir))).toBe('checkpoints-2026-12-06.json');
  });
});
