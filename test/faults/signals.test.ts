/**
 * SIGINT and SIGTERM (issue #11 §1): the run stops soon, writes what is done, exits 130
 * (Ctrl-C) or 143 (SIGTERM) and says how to resume; a batch still running after the grace
 * period is cancelled and left for --resume; a second Ctrl-C stops at once and the journal
 * stays valid. Each interrupted run, resumed, ends with the uninterrupted run's files.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkJournal,
  csvWithout,
  expectFinishedLikeReference,
  faultCaptionArgs,
  faultRunFixture,
  runCli,
} from '../support/cli-process.js';

const IMAGES = 40;
const CAPTIONS = 'medical_captions_train.csv';
const JOURNAL = 'medical_captions_train.journal.jsonl';

let root: string;
let data: string;
let reference: string;

const captionArgs = (out: string, extra: string[] = []) => faultCaptionArgs(data, out, extra);

beforeAll(async () => {
  ({ root, data, reference } = await faultRunFixture('medcap-signals-', IMAGES));
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Resumes `out` and expects the uninterrupted run's captions, each image once. */
async function expectResumesToReference(out: string): Promise<void> {
  const resumed = await runCli(captionArgs(out, ['--resume']));
  expect(resumed.code, resumed.stderr).toBe(0);
  expectFinishedLikeReference(out, reference, IMAGES);
}

describe('stop signals', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal}: writes what is done, exits ${code}, says how to resume; --resume finishes`, async () => {
      const out = join(root, `stopped-${signal}`);
      const stopped = await runCli(captionArgs(out), {
        pauseAt: 'started:2',
        engine: { delayMs: 150 },
        onPause: (_point, pid) => process.kill(pid, signal),
      });
      expect(stopped.pausedAt).toBe('started:2');
      expect(stopped.code, stopped.stderr).toBe(code);
      expect(stopped.stderr).toContain('--resume');
      const journal = checkJournal(join(out, JOURNAL));
      expect(journal.tornBytes).toBe(0);
      expect(journal.items.length).toBeGreaterThan(0);
      expect(journal.items.length).toBeLessThan(IMAGES);
      // The captions CSV holds exactly the journaled images.
      const rows = csvWithout(join(out, CAPTIONS), []).slice(1);
      expect(rows.map((r) => r[0]).sort()).toEqual(journal.items.map((i) => i.id).sort());
      await expectResumesToReference(out);
    }, 60_000);
  }

  it('a batch still running after the grace period is cancelled and left for --resume', async () => {
    const out = join(root, 'stuck-batch');
    // The second batch (images 5-8) would take ten minutes; the signal comes as it starts.
    const stopped = await runCli(captionArgs(out), {
      pauseAt: 'started:2',
      engine: { slowId: { id: 'IMG_0006', delayMs: 600_000 } },
      onPause: (_point, pid) => process.kill(pid, 'SIGTERM'),
    });
    expect(stopped.code, stopped.stderr).toBe(143);
    expect(stopped.stderr).toMatch(/cancelled 1 batch still running/);
    const journal = checkJournal(join(out, JOURNAL));
    expect(journal.items.map((i) => i.id)).not.toContain('IMG_0006');
    await expectResumesToReference(out);
  }, 60_000);

  it('a second Ctrl-C stops at once; the journal stays valid and --resume finishes', async () => {
    const out = join(root, 'twice');
    const stopped = await runCli(captionArgs(out), {
      pauseAt: 'started:2',
      engine: { slowId: { id: 'IMG_0006', delayMs: 600_000 } },
      onPause: (_point, pid) => {
        process.kill(pid, 'SIGINT');
        setTimeout(() => process.kill(pid, 'SIGINT'), 300);
      },
    });
    expect(stopped.signal ?? stopped.code, stopped.stderr).toBe('SIGINT');
    expect(stopped.stderr).toContain('send it again to stop at once');
    checkJournal(join(out, JOURNAL));
    // A stop, not a crash: the images in flight are not isolated as suspects.
    const resumed = await runCli(captionArgs(out, ['--resume']));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/ended abruptly/);
    expectFinishedLikeReference(out, reference, IMAGES);
  }, 60_000);
});
