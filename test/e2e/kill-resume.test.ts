import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { readJournal } from '../../src/pipeline/journal.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';

const CHILD = join(import.meta.dirname, '../support/caption-child.ts');
const IMAGES = 48;
let root: string;
let data: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-kill-'));
  data = await writeRocov2(
    join(root, 'data'),
    imageSpecs(IMAGES, [
      [64, 48],
      [96, 40],
    ]),
  );
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function start(flags: Record<string, unknown>, delayMs: number, engine = 'blocking'): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, JSON.stringify(flags), String(delayMs), engine],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
}

function journalItems(path: string): number {
  if (!existsSync(path)) return 0;
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"kind":"item"')).length;
}

/** Starts the job and kills it with SIGKILL once the journal holds at least `killAt` items. */
async function runAndKill(flags: Record<string, unknown>, journal: string, killAt: number) {
  const child = start(flags, 40);
  const done = exited(child);
  const timer = setInterval(() => {
    if (journalItems(journal) >= killAt) child.kill('SIGKILL');
  }, 2);
  const result = await done;
  clearInterval(timer);
  return result;
}

function comparable(rows: Awaited<ReturnType<typeof readCaptionsCsv>>) {
  return rows.map(({ processingTimeS, ...rest }) => rest);
}

describe('kill -9 and --resume', () => {
  it('ends with every image exactly once and the same CSV as an uninterrupted run', async () => {
    const common = { data, batchSize: 4, checkpointEvery: 8 };
    const reference = join(root, 'reference');
    const clean = await exited(start({ ...common, out: reference }, 0));
    expect(clean.code, clean.stderr).toBe(0);
    const expected = comparable(
      await readCaptionsCsv(join(reference, 'medical_captions_train.csv')),
    );
    expect(expected).toHaveLength(IMAGES);

    const out = join(root, 'killed');
    const journal = join(out, 'medical_captions_train.journal.jsonl');
    let kills = 0;
    // Kill right after start, after the first batch, in the middle and near the end.
    for (const killAt of [0, 4, 21, 44]) {
      const result = await runAndKill(
        { ...common, out, resume: kills > 0 || existsSync(journal) },
        journal,
        killAt,
      );
      if (result.signal === 'SIGKILL') kills += 1;
    }
    expect(kills).toBeGreaterThanOrEqual(3);

    const final = await exited(start({ ...common, out, resume: true }, 0));
    expect(final.code, final.stderr).toBe(0);
    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(comparable(rows)).toEqual(expected);

    const { items, tornBytes } = await readJournal(journal);
    expect(tornBytes).toBe(0);
    expect(items.size).toBe(IMAGES);
    const itemLines = readFileSync(journal, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; index: number })
      .filter((line) => line.kind === 'item');
    expect(itemLines).toHaveLength(IMAGES);
    expect(new Set(itemLines.map((line) => line.index)).size).toBe(IMAGES);
  }, 120_000);
});

describe('the hang watchdog and an engine of the library caller', () => {
  it("leaves the process alone when the caller's own async engine takes longer than --batch-timeout", async () => {
    const out = join(root, 'slow-engine');
    const child = start({ data, out, limit: 2, batchSize: 2, batchTimeout: 1 }, 2500, 'async');
    let stdout = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    const { code, signal, stderr } = await exited(child);
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    expect(JSON.parse(stdout)).toEqual({ processed: 2, resumed: 0 });
  }, 60_000);
});
