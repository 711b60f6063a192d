import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { expect } from 'vitest';
import { imageSpecs, writeRocov2 } from './datasets.js';
import type { FakeEngineOptions } from './fake-engine.js';

const CHILD = join(import.meta.dirname, 'cli-child.ts');

export interface CliOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  /** The pause point the child announced before it was killed, if any. */
  pausedAt: string | undefined;
}

export interface CliOptions {
  /** MEDCAP_TEST_PAUSE_AT of test/support/cli-child.ts. */
  pauseAt?: string;
  engine?: FakeEngineOptions;
  /** Kill the whole process group with SIGKILL as soon as the child announces its pause. */
  killOnPause?: boolean;
  /** Called once when the child announces a pause point (e.g. to send it a signal). */
  onPause?: (point: string, pid: number) => void;
  /** MEDCAP_TEST_CRASH_ON of test/support/cli-child.ts: where the child kills itself. */
  crashOn?: string;
  /** Run through a shell with this prefix (e.g. `ulimit -f 64;`). */
  shellPrefix?: string;
}

/** The fault suites' batch size and checkpoint interval: kills land between batches, checkpoints and the CSV. */
export const FAULT_BATCH = 4;
export const FAULT_CHECKPOINT_EVERY = 8;

/** The fault suites' caption run: `data` into `out` in FAULT_BATCH batches, then `extra`. */
export function faultCaptionArgs(
  data: string,
  out: string,
  extra: readonly string[] = [],
): string[] {
  return [
    'caption',
    '--data',
    data,
    '--out',
    out,
    '--batch-size',
    String(FAULT_BATCH),
    '--checkpoint-every',
    String(FAULT_CHECKPOINT_EVERY),
    ...extra,
  ];
}

/**
 * A temporary root holding a ROCOv2 dataset of `images` images (`data`) and the
 * uninterrupted run of it (`reference`, by faultCaptionArgs with `extra`), which the
 * interrupted runs are compared with.
 */
export async function faultRunFixture(
  prefix: string,
  images: number,
  extra: readonly string[] = [],
): Promise<{ root: string; data: string; reference: string }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const data = await writeRocov2(join(root, 'data'), imageSpecs(images));
  const reference = join(root, 'reference');
  const clean = await runCli(faultCaptionArgs(data, reference, extra));
  expect(clean.code, clean.stderr).toBe(0);
  return { root, data, reference };
}

/**
 * Runs the medcap CLI with the fake engine in a child process of its own process group
 * (so a kill reaches everything it started), and waits for it to end.
 */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliOutcome> {
  const env = {
    ...process.env,
    MEDCAP_TEST_PAUSE_AT: options.pauseAt ?? '',
    MEDCAP_TEST_ENGINE: JSON.stringify(options.engine ?? {}),
    MEDCAP_TEST_CRASH_ON: options.crashOn ?? '',
  };
  const node = [process.execPath, '--import', 'tsx', CHILD, ...args];
  const child = options.shellPrefix
    ? spawn('bash', ['-c', `${options.shellPrefix} exec "$@"`, 'bash', ...node], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      })
    : spawn(node[0]!, node.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  let stdout = '';
  let pausedAt: string | undefined;
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    const match = /@@paused (\S+)/.exec(stderr);
    if (match && pausedAt === undefined) {
      pausedAt = match[1];
      if (options.killOnPause) process.kill(-child.pid!, 'SIGKILL');
      options.onPause?.(pausedAt!, child.pid!);
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, stdout, pausedAt }));
  });
}

/** CSV records with the named columns blanked (timings differ between runs). */
export function csvWithout(path: string, columns: readonly string[]): string[][] {
  const records = parse(readFileSync(path), { relax_column_count: false }) as string[][];
  const blank = columns.map((name) => records[0]!.indexOf(name)).filter((i) => i >= 0);
  return records.map((record, row) =>
    row === 0 ? record : record.map((cell, i) => (blank.includes(i) ? '' : cell)),
  );
}

/** Names of the files in `dir` matching `pattern`, sorted. */
export function filesIn(dir: string, pattern: RegExp): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => pattern.test(name))
        .sort()
    : [];
}

export interface JournalCheck {
  items: { index: number; id: string }[];
  /** Bytes after the last newline: a line torn by a kill. */
  tornBytes: number;
}

/**
 * Reads a journal strictly: every complete line must be JSON (a torn last line is reported,
 * not parsed); returns the item lines in file order.
 */
export function checkJournal(path: string): JournalCheck {
  const text = readFileSync(path, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  const items: JournalCheck['items'] = [];
  for (const line of text.slice(0, end).split('\n')) {
    if (line === '') continue;
    const parsed = JSON.parse(line) as { kind: string; index: number; id: string };
    if (parsed.kind === 'item') items.push({ index: parsed.index, id: parsed.id });
  }
  return { items, tornBytes: Buffer.byteLength(text.slice(end)) };
}

/**
 * `out` ends like the uninterrupted `reference` run: the same captions CSV (timing aside),
 * each of the `images` images journaled once, and a journal of whole lines.
 */
export function expectFinishedLikeReference(out: string, reference: string, images: number): void {
  const captions = 'medical_captions_train.csv';
  expect(csvWithout(join(out, captions), ['processing_time_s'])).toEqual(
    csvWithout(join(reference, captions), ['processing_time_s']),
  );
  const journal = checkJournal(join(out, 'medical_captions_train.journal.jsonl'));
  expect(journal.tornBytes).toBe(0);
  expect(journal.items.map((i) => i.index).sort((a, b) => a - b)).toEqual(
    Array.from({ length: images }, (_, i) => i),
  );
}
