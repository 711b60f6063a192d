/**
 * An image that brings the whole process down (a native crash in a decoder or the engine,
 * the out-of-memory killer) must not stop a run for good: `--resume` would reach it again and
 * die again. After an abrupt end, the images that were in progress are tried alone; one that
 * ends the process while alone becomes an error row on the next `--resume`, and the rest
 * finish with the uninterrupted run's captions.
 *
 * The crashes are the child killing itself with SIGKILL (test/support/cli-child.ts,
 * MEDCAP_TEST_CRASH_ON), which leaves the files exactly as a segfault would.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliOutcome,
  checkJournal,
  csvWithout,
  expectFinishedLikeReference,
  faultCaptionArgs,
  faultRunFixture,
  runCli,
} from '../support/cli-process.js';

const IMAGES = 24;
const CAPTIONS = 'medical_captions_train.csv';
const JOURNAL = 'medical_captions_train.journal.jsonl';
const TIMING = ['processing_time_s'];

let root: string;
let data: string;
let reference: string;

beforeAll(async () => {
  ({ root, data, reference } = await faultRunFixture('medcap-poison-', IMAGES));
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const captionArgs = (out: string, extra: string[] = []) =>
  faultCaptionArgs(data, out, ['--keep-checkpoints', '0', ...extra]);

function expectKilled(outcome: CliOutcome): void {
  expect(outcome.signal, outcome.stderr).toBe('SIGKILL');
}

/** Rows of the captions CSV by id, timing blanked. */
function rowsById(dir: string): Map<string, string[]> {
  const [header, ...rows] = csvWithout(join(dir, CAPTIONS), TIMING);
  expect(header![0]).toBe('image_id');
  return new Map(rows.map((row) => [row[0]!, row]));
}

/** Every image but `poisoned` as in the reference run, `poisoned` an error row naming why. */
function expectAllButPoisoned(out: string, poisoned: string, doing: string): void {
  const [header] = csvWithout(join(out, CAPTIONS), []);
  const status = header!.indexOf('status');
  const error = header!.indexOf('error');
  const rows = rowsById(out);
  const expected = rowsById(reference);
  expect(rows.size).toBe(IMAGES);
  for (const [id, row] of expected) {
    if (id === poisoned) continue;
    expect(rows.get(id), id).toEqual(row);
  }
  const bad = rows.get(poisoned)!;
  expect(bad[status]).toBe('error');
  expect(bad[error]).toContain(
    `ended abruptly (killed, crashed, out of memory or hung) while this image was being ${doing}`,
  );
  expect(bad[error]).toContain('--resume --retry-failed');
  const journal = checkJournal(join(out, JOURNAL));
  expect(new Set(journal.items.map((i) => i.index)).size).toBe(IMAGES);
}

describe('an image that crashes the process', () => {
  it('in the engine: tried alone after the first crash, an error row after the second', async () => {
    const out = join(root, 'engine');
    const crashOn = 'engine:IMG_0009';
    expectKilled(await runCli(captionArgs(out), { crashOn }));
    const probing = await runCli(captionArgs(out, ['--resume']), { crashOn });
    expectKilled(probing);
    expect(probing.stderr).toMatch(
      /ended abruptly .* while \d+ images were being read or captioned/,
    );
    const last = await runCli(captionArgs(out, ['--resume']), { crashOn });
    expect(last.code, last.stderr).toBe(3);
    expect(last.stderr).toContain('IMG_0009');
    expectAllButPoisoned(out, 'IMG_0009', 'captioned');
  });

  it('while being read: the same, naming the reading', async () => {
    const out = join(root, 'read');
    const crashOn = 'read:IMG_0014.jpg';
    expectKilled(await runCli(captionArgs(out), { crashOn }));
    expectKilled(await runCli(captionArgs(out, ['--resume']), { crashOn }));
    const last = await runCli(captionArgs(out, ['--resume']), { crashOn });
    expect(last.code, last.stderr).toBe(3);
    expectAllButPoisoned(out, 'IMG_0014', 'read');
  });

  it('--retry-failed tries a poisoned image again (here it passes: the crash is gone)', async () => {
    const out = join(root, 'retry');
    const crashOn = 'engine:IMG_0003';
    expectKilled(await runCli(captionArgs(out), { crashOn }));
    expectKilled(await runCli(captionArgs(out, ['--resume']), { crashOn }));
    expect((await runCli(captionArgs(out, ['--resume']), { crashOn })).code).toBe(3);
    const retried = await runCli(captionArgs(out, ['--resume', '--retry-failed']));
    expect(retried.code, retried.stderr).toBe(0);
    expect(csvWithout(join(out, CAPTIONS), TIMING)).toEqual(
      csvWithout(join(reference, CAPTIONS), TIMING),
    );
  });
});

describe('an engine that hangs on an image (blocks its thread for good)', () => {
  it('stops the run past --batch-timeout, then the image is tried alone and becomes an error row', async () => {
    const out = join(root, 'hang');
    const crashOn = 'hang:IMG_0011';
    const args = (extra: string[] = []) => captionArgs(out, ['--batch-timeout', '1', ...extra]);
    // Its last words are a log line like the others: JSON with --log-format json.
    const hung = await runCli(args(['--log-format', 'json']), { crashOn });
    expectKilled(hung);
    const lines = hung.stderr
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { level: string; message: string });
    expect(lines.at(-1)!.level).toBe('error');
    expect(lines.at(-1)!.message).toMatch(
      /^the engine has been captioning one batch \([^)]*IMG_0011[^)]*\) for 1 s \(--batch-timeout 1\): stopping the run as hung/,
    );
    expectKilled(await runCli(args(['--resume']), { crashOn }));
    const last = await runCli(args(['--resume']), { crashOn });
    expect(last.code, last.stderr).toBe(3);
    expectAllButPoisoned(out, 'IMG_0011', 'captioned');
  });
});

describe('a crash that needs a batch (passes alone)', () => {
  it('is captioned alone for good after its second crash, and nothing fails', async () => {
    const out = join(root, 'batch');
    const crashOn = 'batch:IMG_0006';
    expectKilled(await runCli(captionArgs(out), { crashOn }));
    // Tried alone (passes, result dropped), then the batch crashes again.
    expectKilled(await runCli(captionArgs(out, ['--resume']), { crashOn }));
    const last = await runCli(captionArgs(out, ['--resume']), { crashOn });
    expect(last.code, last.stderr).toBe(0);
    expectFinishedLikeReference(out, reference, IMAGES);
  });
});

describe('an orderly stop is not a crash', () => {
  it('a run stopped by an error (exit 2) ends with a stop line; --resume suspects nothing', async () => {
    const out = join(root, 'stopped');
    const stopped = await runCli(captionArgs(out), { engine: { stopRunAt: 'IMG_0010' } });
    expect(stopped.code, stopped.stderr).toBe(2);
    const last = readFileSync(join(out, JOURNAL), 'utf8').trim().split('\n').at(-1)!;
    expect(JSON.parse(last)).toMatchObject({ kind: 'stop' });
    expect(last).toContain('fake server refused every request');
    const resumed = await runCli(captionArgs(out, ['--resume']));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toContain('ended abruptly');
    expectFinishedLikeReference(out, reference, IMAGES);
  });

  it('leaves no suspects after a run that ended with its end line', async () => {
    const out = join(root, 'orderly');
    const first = await runCli(captionArgs(out, ['--limit', '8']));
    expect(first.code, first.stderr).toBe(0);
    const resumed = await runCli(captionArgs(out, ['--resume']));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toContain('ended abruptly');
    const kinds = readFileSync(join(out, JOURNAL), 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { kind: string }).kind);
    expect(kinds.filter((k) => k === 'stage').length).toBeGreaterThan(0);
    expectFinishedLikeReference(out, reference, IMAGES);
  });
});
