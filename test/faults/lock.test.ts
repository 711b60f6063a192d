/**
 * The output lock: two medcap processes never write one run at once. A second caption, run
 * or merge into a folder whose run is going is refused (exit 1, naming the process) and
 * touches nothing; a lock left by a killed process of this host is taken over; another
 * host's lock is refused; the lock file is gone however the command ends short of a kill.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectFinishedLikeReference,
  faultCaptionArgs,
  faultRunFixture,
  runCli,
} from '../support/cli-process.js';

const IMAGES = 16;
const LOCK = 'medical_captions_train.lock';
const JOURNAL = 'medical_captions_train.journal.jsonl';

let root: string;
let data: string;
let reference: string;

const captionArgs = (out: string, extra: string[] = []) => faultCaptionArgs(data, out, extra);

beforeAll(async () => {
  ({ root, data, reference } = await faultRunFixture('medcap-lock-', IMAGES));
  expect(existsSync(join(reference, LOCK))).toBe(false);
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every file of `dir` with its bytes. */
/**
 * The files of `dir`, the journal without its stage lines: the run holding the lock goes on
 * reading images ahead while its batch waits, and notes each one there.
 */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir).map((name) => {
      const text = readFileSync(join(dir, name), 'latin1');
      if (!name.endsWith('.journal.jsonl')) return [name, text];
      return [
        name,
        text
          .split('\n')
          .filter((line) => !line.startsWith('{"kind":"stage"'))
          .join('\n'),
      ];
    }),
  );
}

function lockText(fields: Record<string, unknown>): string {
  return JSON.stringify({
    pid: spawnSync(process.execPath, ['-e', '']).pid,
    hostname: hostname(),
    startedAt: '2026-01-02T03:04:05.000Z',
    command: 'medcap caption --data d --out o',
    ...fields,
  });
}

describe('output lock', () => {
  it('refuses a second caption, run or merge while a run holds --out, touching nothing; SIGTERM releases it', async () => {
    const out = join(root, 'busy');
    let paused!: (pid: number) => void;
    const pausedPid = new Promise<number>((resolve) => {
      paused = resolve;
    });
    // The second batch (images 5-8) would take ten minutes: the first run holds the lock.
    const first = runCli(captionArgs(out), {
      pauseAt: 'started:2',
      engine: { slowId: { id: 'IMG_0006', delayMs: 600_000 } },
      onPause: (_point, pid) => paused(pid),
    });
    const pid = await pausedPid;
    expect(JSON.parse(readFileSync(join(out, LOCK), 'utf8'))).toMatchObject({ pid });
    const before = snapshot(out);
    for (const args of [
      captionArgs(out, ['--resume']),
      captionArgs(out, ['--overwrite']),
      ['run', ...captionArgs(out, ['--resume']).slice(1)],
      ['merge', reference, '--out', out],
    ]) {
      const second = await runCli(args);
      expect(second.code, second.stderr).toBe(1);
      expect(second.stderr).toContain(`--out ${out} is in use for split train`);
      expect(second.stderr).toContain(`pid ${pid} on host ${hostname()}`);
      expect(second.stderr).toContain(join(out, LOCK));
      expect(snapshot(out)).toEqual(before);
    }
    process.kill(pid, 'SIGTERM');
    const stopped = await first;
    expect(stopped.code, stopped.stderr).toBe(143);
    expect(existsSync(join(out, LOCK))).toBe(false);
    const resumed = await runCli(captionArgs(out, ['--resume']));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toContain('took over');
    expectFinishedLikeReference(out, reference, IMAGES);
  }, 120_000);

  it('after kill -9, --resume takes over the lock left behind, says so, and finishes', async () => {
    const out = join(root, 'killed');
    const killed = await runCli(captionArgs(out), { pauseAt: 'generate:2', killOnPause: true });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(out, LOCK))).toBe(true);
    const resumed = await runCli(captionArgs(out, ['--resume']));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr.match(/lock: took over/g)).toHaveLength(1);
    expect(existsSync(join(out, LOCK))).toBe(false);
    expectFinishedLikeReference(out, reference, IMAGES);
  }, 60_000);

  it('takes over a lock of a process of this host that is gone, and the run completes', async () => {
    const out = join(root, 'stale');
    await mkdir(out, { recursive: true });
    const text = lockText({});
    await writeFile(join(out, LOCK), text);
    const { pid } = JSON.parse(text) as { pid: number };
    const ran = await runCli(captionArgs(out));
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toContain(`lock: took over ${join(out, LOCK)}, left by pid ${pid}`);
    expect(existsSync(join(out, LOCK))).toBe(false);
    expectFinishedLikeReference(out, reference, IMAGES);
  }, 60_000);

  it('refuses a lock from another host, and an unreadable one, and leaves them in place', async () => {
    const out = join(root, 'foreign');
    await mkdir(out, { recursive: true });
    for (const [text, says] of [
      [lockText({ hostname: 'gpu-node-17' }), 'host gpu-node-17'],
      ['{"pid": 4', 'is not a medcap lock'],
    ] as const) {
      await writeFile(join(out, LOCK), text);
      const refused = await runCli(captionArgs(out));
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain(says);
      expect(refused.stderr).toContain(`delete ${join(out, LOCK)}`);
      expect(readdirSync(out)).toEqual([LOCK]);
      expect(readFileSync(join(out, LOCK), 'utf8')).toBe(text);
    }
  }, 60_000);

  it('is released after a run with failed rows (exit 3) and after a fatal error (exit 2)', async () => {
    const partial = join(root, 'partial');
    const failed = await runCli(captionArgs(partial), { engine: { failIds: ['IMG_0003'] } });
    expect(failed.code, failed.stderr).toBe(3);
    expect(existsSync(join(partial, LOCK))).toBe(false);

    // A damaged journal line stops --resume with a DatasetError once the lock is held.
    const fatal = join(root, 'fatal');
    await mkdir(fatal, { recursive: true });
    await writeFile(join(fatal, JOURNAL), 'not json\n');
    const stopped = await runCli(captionArgs(fatal, ['--resume']));
    expect(stopped.code, stopped.stderr).toBe(2);
    expect(stopped.stderr).toContain('journal line is not valid JSON');
    expect(existsSync(join(fatal, LOCK))).toBe(false);
  }, 60_000);
});
