/**
 * Disk faults (issue #11 §6): an output folder that cannot be written, and a disk that
 * fills up mid-run. medcap stops with a clear error naming the folder or file, the journal
 * keeps whole lines only, and `--resume` on a disk with room finishes the job.
 *
 * A full disk is a small tmpfs where this process may mount one (root in CI); elsewhere the
 * same test runs under a file size limit (`ulimit -f`, EFBIG), so it never skips. The file
 * size limit case also runs on its own everywhere.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliOptions,
  checkJournal,
  expectFinishedLikeReference,
  faultCaptionArgs,
  faultRunFixture,
  runCli,
} from '../support/cli-process.js';

const IMAGES = 60;
const CAPTIONS = 'medical_captions_train.csv';
const JOURNAL = 'medical_captions_train.journal.jsonl';

let root: string;
let data: string;
let reference: string;
const mounted: string[] = [];

const captionArgs = (out: string, extra: string[] = []) =>
  faultCaptionArgs(data, out, ['--keep-checkpoints', '2', ...extra]);

/** Mounts a tmpfs of `options` at `dir`; false where this process may not mount. */
function tryMount(dir: string, options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
    mounted.push(dir);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  ({ root, data, reference } = await faultRunFixture('medcap-disk-', IMAGES, [
    '--keep-checkpoints',
    '2',
  ]));
}, 60_000);

afterAll(async () => {
  for (const dir of mounted.reverse()) {
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' });
    } catch {}
  }
  await rm(root, { recursive: true, force: true });
});

/**
 * A folder this process cannot write into: read-only by permissions for a normal user; a
 * read-only tmpfs for root; where root may not mount, a path whose parent is a file.
 */
async function unwritableFolder(name: string): Promise<{ out: string; reason: RegExp }> {
  const parent = join(root, name);
  await mkdir(parent);
  if (process.getuid?.() !== 0) {
    await chmod(parent, 0o555);
    return { out: join(parent, 'out'), reason: /permission denied \(EACCES\)/ };
  }
  if (tryMount(parent, 'ro,size=64k')) {
    return { out: join(parent, 'out'), reason: /read-only \(EROFS\)/ };
  }
  writeFileSync(join(parent, 'a-file'), 'not a folder');
  return { out: join(parent, 'a-file', 'out'), reason: /not a folder \(ENOTDIR\)/ };
}

describe('the output folder is not writable', () => {
  for (const command of ['caption', 'evaluate', 'merge'] as const) {
    it(`${command}: exit 1, naming --out and the folder, before any work`, async () => {
      const { out, reason } = await unwritableFolder(`unwritable-${command}`);
      const args =
        command === 'caption'
          ? captionArgs(out)
          : command === 'evaluate'
            ? ['evaluate', '--captions', join(reference, CAPTIONS), '--out', out]
            : ['merge', reference, '--out', out];
      const result = await runCli(args);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain(`--out ${out}`);
      expect(result.stderr).toMatch(reason);
      expect(result.stderr).not.toMatch(/internal error/);
    }, 30_000);
  }
});

describe('the run folder of report is not writable', () => {
  it('report: exit 1, naming the run folder', async (context) => {
    const dir = join(root, 'read-only-run');
    await mkdir(dir);
    const asRoot = process.getuid?.() === 0;
    if (asRoot && !tryMount(dir, 'size=1m')) context.skip();
    await copyFile(join(reference, CAPTIONS), join(dir, CAPTIONS));
    if (asRoot) execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore' });
    else await chmod(dir, 0o555);
    const result = await runCli(['report', dir]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`run folder ${dir}: the output folder is not writable`);
    expect(result.stderr).not.toMatch(/internal error/);
  }, 30_000);
});

/** Runs until the disk (or file size limit) stops it, checks the failure, then resumes with room. */
async function fillUpThenResume(
  out: string,
  full: CliOptions,
  expectedReason: RegExp,
  makeRoom: () => void,
): Promise<void> {
  const failed = await runCli(captionArgs(out), full);
  expect(failed.code, failed.stderr).toBe(2);
  expect(failed.stderr).toMatch(expectedReason);
  expect(failed.stderr).toMatch(/cannot write \/\S+/);
  expect(failed.stderr).toContain('--resume');
  expect(failed.stderr).not.toMatch(/internal error/);
  const journal = checkJournal(join(out, JOURNAL));
  expect(journal.tornBytes).toBe(0);
  expect(journal.items.length).toBeLessThan(IMAGES);
  expect(new Set(journal.items.map((i) => i.index)).size).toBe(journal.items.length);

  makeRoom();
  const resumed = await runCli(captionArgs(out, ['--resume']));
  expect(resumed.code, resumed.stderr).toBe(0);
  expectFinishedLikeReference(out, reference, IMAGES);
}

describe('the disk fills up mid-run', () => {
  it('full disk (small tmpfs; file size limit where mounting is not allowed): clear error, journal valid, --resume finishes', async () => {
    const disk = join(root, 'small-disk');
    mkdirSync(disk);
    // Room for the journal's first half or so: the run fails part-way through.
    if (tryMount(disk, 'size=16k')) {
      await fillUpThenResume(join(disk, 'out'), {}, /the disk is full \(ENOSPC\)/, () =>
        execFileSync('mount', ['-o', 'remount,size=4m', disk]),
      );
    } else {
      await fillUpThenResume(
        join(disk, 'out'),
        { shellPrefix: 'ulimit -f 12;' },
        /file size limit is reached \(ulimit -f\) \(EFBIG\)/,
        () => {},
      );
    }
  }, 60_000);

  it('file size limit (ulimit -f): clear error, journal valid, --resume without the limit finishes', async () => {
    await fillUpThenResume(
      join(root, 'size-limit'),
      { shellPrefix: 'ulimit -f 12;' },
      /file size limit is reached \(ulimit -f\) \(EFBIG\)/,
      () => {},
    );
  }, 60_000);
});
