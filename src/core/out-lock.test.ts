import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from './errors.js';
import type { Logger } from './logger.js';
import { LOCK_STALE_MS, type LockOwner, lockOutput, withOutputLock } from './out-lock.js';

let root: string;
let count = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-lock-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh output folder and the path of its train lock. */
async function folder(): Promise<{ dir: string; lock: string }> {
  const dir = await mkdtemp(join(root, `out-${count++}-`));
  return { dir, lock: join(dir, 'medical_captions_train.lock') };
}

function recording(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {}, warnings };
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid;
}

const owner = (fields: Partial<LockOwner>): string =>
  JSON.stringify({
    pid: process.ppid,
    hostname: hostname(),
    startedAt: '2026-01-02T03:04:05.000Z',
    command: 'medcap caption --data d --out o',
    ...fields,
  });

async function refusal(dir: string): Promise<ConfigError> {
  const error = await lockOutput(dir, 'train', recording()).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('lockOutput', () => {
  it('writes who holds the lock and removes the file on release', async () => {
    const { dir, lock } = await folder();
    const held = await lockOutput(dir, 'train', recording());
    expect(held.path).toBe(lock);
    const written = JSON.parse(await readFile(lock, 'utf8')) as LockOwner;
    expect(written).toMatchObject({ pid: process.pid, hostname: hostname() });
    expect(Number.isNaN(Date.parse(written.startedAt))).toBe(false);
    expect(typeof written.command).toBe('string');
    await held.release();
    expect(existsSync(lock)).toBe(false);
    await held.release(); // twice is harmless
  });

  it('refuses a lock of a live process on this host, naming it, and leaves the file alone', async () => {
    const { dir, lock } = await folder();
    const text = owner({});
    await writeFile(lock, text);
    const error = await refusal(dir);
    expect(error.message).toContain(`--out ${dir}`);
    expect(error.message).toContain(`pid ${process.ppid}`);
    expect(error.message).toContain(`host ${hostname()}`);
    expect(error.message).toContain('started 2026-01-02T03:04:05.000Z');
    expect(error.message).toContain('command: medcap caption --data d --out o');
    expect(error.message).toContain('Wait for it to finish');
    expect(await readFile(lock, 'utf8')).toBe(text);
  });

  it('refuses a second lock of the same folder and split in one process', async () => {
    const { dir } = await folder();
    const held = await lockOutput(dir, 'train', recording());
    expect((await refusal(dir)).message).toContain('by another run in this process');
    await held.release();
  });

  it('lets only one of two calls started together in one process take the lock', async () => {
    const { dir } = await folder();
    const logger = recording();
    const [first, second] = await Promise.allSettled([
      lockOutput(dir, 'train', logger),
      lockOutput(dir, 'train', logger),
    ]);
    const taken = [first, second].filter((result) => result.status === 'fulfilled');
    const refused = [first, second].filter((result) => result.status === 'rejected');
    expect(taken).toHaveLength(1);
    expect(String(refused[0]?.reason)).toContain('by another run in this process');
    expect(logger.warnings).toEqual([]);
    await (taken[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
  });

  it('takes over a lock left by a process of this host that is gone, in one line', async () => {
    const { dir, lock } = await folder();
    const pid = deadPid();
    await writeFile(lock, owner({ pid }));
    const logger = recording();
    const held = await lockOutput(dir, 'train', logger);
    expect(logger.warnings).toEqual([expect.stringContaining(`took over ${lock}`)]);
    expect(logger.warnings[0]).toContain(`pid ${pid}`);
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: process.pid });
    await held.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("takes over a lock naming this process's own pid when it does not hold it (a previous life)", async () => {
    const { dir, lock } = await folder();
    await writeFile(lock, owner({ pid: process.pid }));
    const logger = recording();
    const held = await lockOutput(dir, 'train', logger);
    expect(logger.warnings).toHaveLength(1);
    await held.release();
  });

  it('refuses a lock from another host, even when its pid is not running here', async () => {
    const { dir, lock } = await folder();
    await writeFile(lock, owner({ pid: deadPid(), hostname: 'gpu-node-17' }));
    const error = await refusal(dir);
    expect(error.message).toContain('host gpu-node-17');
    expect(error.message).toContain(`delete ${lock}`);
    expect(existsSync(lock)).toBe(true);
  });

  it("takes over another host's lock once its holder stopped touching it (a lost node)", async () => {
    const { dir, lock } = await folder();
    await writeFile(lock, owner({ pid: 4242, hostname: 'gpu-node-17' }));
    const beforeStale = new Date(Date.now() - LOCK_STALE_MS + 60_000);
    await utimes(lock, beforeStale, beforeStale);
    expect((await refusal(dir)).message).toContain(
      'counts as left behind once untouched for 10 min',
    );
    const stale = new Date(Date.now() - LOCK_STALE_MS - 60_000);
    await utimes(lock, stale, stale);
    const logger = recording();
    const held = await lockOutput(dir, 'train', logger);
    expect(logger.warnings).toEqual([
      expect.stringMatching(
        /took over .* left by pid 4242 on host gpu-node-17 .*untouched for 11 min/,
      ),
    ]);
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: process.pid });
    await held.release();
  });

  it('keeps its own lock fresh while it holds it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      const { dir, lock } = await folder();
      const held = await lockOutput(dir, 'train', recording());
      const old = new Date(Date.now() - LOCK_STALE_MS);
      await utimes(lock, old, old);
      vi.advanceTimersByTime(LOCK_STALE_MS);
      await vi.waitFor(async () => {
        expect((await stat(lock)).mtimeMs).toBeGreaterThan(old.getTime() + 1000);
      });
      await held.release();
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses an unreadable lock file and says to delete it', async () => {
    const { dir, lock } = await folder();
    for (const text of ['', '{"pid": 12', '{"pid": 0, "hostname": "h"}', '[]']) {
      await writeFile(lock, text);
      const error = await refusal(dir);
      expect(error.message).toContain(`delete ${lock}`);
      expect(await readFile(lock, 'utf8')).toBe(text);
    }
  });

  it('does not conflict with the lock of another split', async () => {
    const { dir } = await folder();
    const train = await lockOutput(dir, 'train', recording());
    const valid = await lockOutput(dir, 'valid', recording());
    expect(valid.path).toBe(join(dir, 'medical_captions_valid.lock'));
    await Promise.all([train.release(), valid.release()]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('release leaves a lock that another process has taken since', async () => {
    const { dir, lock } = await folder();
    const held = await lockOutput(dir, 'train', recording());
    await writeFile(lock, owner({}));
    await held.release();
    expect(existsSync(lock)).toBe(true);
  });
});

describe('withOutputLock', () => {
  it('releases the lock when the work throws', async () => {
    const { dir, lock } = await folder();
    const work = withOutputLock(dir, 'train', recording(), async () => {
      expect(existsSync(lock)).toBe(true);
      throw new Error('boom');
    });
    await expect(work).rejects.toThrow('boom');
    expect(existsSync(lock)).toBe(false);
  });
});
