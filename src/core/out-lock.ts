import { open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ConfigError, describeError } from './errors.js';
import { asOutputError, ensureWritableDir, temporarySibling } from './files.js';
import type { Logger } from './logger.js';
import { outputPaths } from './paths.js';

/** What a lock file says: which process writes the run of one split in an output folder. */
export interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO 8601. */
  startedAt: string;
  command: string;
}

export interface OutputLock {
  readonly path: string;
  /** Removes the lock file if it is still this process's; never throws. */
  release(): Promise<void>;
}

/**
 * Lock files this process holds, or is creating (a second call in this process may read one
 * between its creation and the first call's return): its own pid in any other lock file is
 * a previous life's.
 */
const heldHere = new Set<string>();
/** Calls of this process creating each lock file now (several may try at once). */
const creatingHere = new Map<string, number>();
/** A lock file read empty is being written by its creator: look again after this long. */
const BEING_WRITTEN_MS = 20;
const MAX_EMPTY_READS = 3;
/** Each try either takes the lock or refuses; a retry only follows a race with another medcap. */
const MAX_TRIES = 5;
/**
 * The holder touches its lock file this often. Another host's lock untouched for
 * LOCK_STALE_MS is stale: its node was lost (a preempted or requeued job), and the job that
 * resumes on another node must not be refused. Long, because one synchronous model call can
 * hold the event loop for a while.
 */
export const LOCK_HEARTBEAT_MS = 60_000;
export const LOCK_STALE_MS = 10 * 60_000;

/**
 * Takes `medical_captions_{split}.lock` in `dir` (which must exist), so that no two
 * processes write one run's journal and captions CSV at once. A lock left by a process of
 * this host that is gone (kill -9, a lost shell) is taken over, said in one line; a live
 * owner, another host's (its liveness cannot be checked) or an unreadable lock file is a
 * ConfigError naming the owner and what to do.
 */
export async function lockOutput(dir: string, split: string, logger: Logger): Promise<OutputLock> {
  const path = outputPaths(dir, split).lock;
  const text = `${JSON.stringify(currentOwner())}\n`;
  let emptyReads = 0;
  for (let tries = 0; tries < MAX_TRIES; tries += 1) {
    creatingHere.set(path, (creatingHere.get(path) ?? 0) + 1);
    let created: boolean;
    try {
      created = await createExclusive(path, text);
    } finally {
      const left = creatingHere.get(path)! - 1;
      if (left > 0) creatingHere.set(path, left);
      else creatingHere.delete(path);
    }
    if (created) {
      heldHere.add(path);
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => undefined);
      }, LOCK_HEARTBEAT_MS).unref();
      return {
        path,
        release: () => {
          clearInterval(heartbeat);
          return release(path, text, logger);
        },
      };
    }
    const found = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined; // released meanwhile: try again
      throw asOutputError(error, path);
    });
    if (found === undefined) continue;
    if (found === '' && emptyReads < MAX_EMPTY_READS) {
      // Created an instant ago, its owner not written in yet (or never: then it is unreadable).
      emptyReads += 1;
      await new Promise((resolve) => setTimeout(resolve, BEING_WRITTEN_MS));
      continue;
    }
    const owner = parseOwner(found);
    if (owner === undefined) {
      throw new ConfigError(
        `--out ${dir}: the lock file ${path} is not a medcap lock (unreadable or damaged), so another ` +
          `process may be writing split ${split} there; if none is, delete ${path} and run again`,
        { code: 'OUT_LOCKED' },
      );
    }
    const untouchedMs = await untouchedFor(path);
    if (untouchedMs === undefined) continue; // released meanwhile: try again
    if (!isStale(owner, path, untouchedMs)) throw inUse(dir, split, path, owner, untouchedMs);
    if (await moveAside(path, found)) {
      logger.warn(
        owner.hostname === hostname()
          ? `lock: took over ${path}, left by pid ${owner.pid} (started ${owner.startedAt}), which is no longer running`
          : `lock: took over ${path}, left by pid ${owner.pid} on host ${owner.hostname} (started ${owner.startedAt}), untouched for ${Math.round(untouchedMs / 60_000)} min: that process is gone`,
      );
    }
  }
  throw new ConfigError(
    `--out ${dir}: the lock file ${path} kept changing (other medcap processes are starting there); try again`,
    { code: 'OUT_LOCKED' },
  );
}

/**
 * `--out` made and checked writable (an OutputError naming it if not), then lockOutput for
 * the duration of `work`, released however it ends.
 */
export async function withOutputLock<T>(
  dir: string,
  split: string,
  logger: Logger,
  work: (lock: OutputLock) => Promise<T>,
): Promise<T> {
  await ensureWritableDir(dir, '--out');
  const lock = await lockOutput(dir, split, logger);
  try {
    return await work(lock);
  } finally {
    await lock.release();
  }
}

function currentOwner(): LockOwner {
  return {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
  };
}

/** Creates the lock file only if there is none (O_EXCL); false when one exists. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw asOutputError(error, path);
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (error) {
    await rm(path, { force: true });
    throw asOutputError(error, path);
  } finally {
    await handle.close();
  }
  return true;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    const valid =
      Number.isInteger(owner.pid) &&
      (owner.pid as number) > 0 &&
      typeof owner.hostname === 'string' &&
      typeof owner.startedAt === 'string' &&
      typeof owner.command === 'string';
    return valid ? (owner as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

/** How long ago the lock file was last touched; undefined if it is gone. */
async function untouchedFor(path: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw asOutputError(error, path);
  }
}

/**
 * A process of this host is stale when it is gone; another host's (whose processes cannot be
 * seen) when its holder stopped touching the file (LOCK_STALE_MS).
 */
function isStale(owner: LockOwner, path: string, untouchedMs: number): boolean {
  if (owner.hostname !== hostname()) return untouchedMs > LOCK_STALE_MS;
  if (owner.pid === process.pid) return !heldHere.has(path) && !creatingHere.has(path);
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function inUse(
  dir: string,
  split: string,
  path: string,
  owner: LockOwner,
  untouchedMs: number,
): ConfigError {
  const here = owner.hostname === hostname();
  if (here && owner.pid === process.pid) {
    return new ConfigError(
      `--out ${dir} is in use for split ${split} by another run in this process ` +
        `(caption, run or merge called again before the first returned): wait for it, or use another --out`,
      { code: 'OUT_LOCKED' },
    );
  }
  const what = here
    ? `if pid ${owner.pid} is not that medcap (the pid was reused), delete ${path}`
    : `medcap cannot see processes on ${owner.hostname}; its lock was refreshed ${Math.round(untouchedMs / 1000)} s ago ` +
      `and counts as left behind once untouched for ${LOCK_STALE_MS / 60_000} min; if that medcap is gone, delete ${path}`;
  return new ConfigError(
    `--out ${dir} is in use for split ${split} by another medcap: pid ${owner.pid} on host ${owner.hostname}` +
      `${here ? ' (this host)' : ''}, started ${owner.startedAt}, command: ${owner.command}. ` +
      `Wait for it to finish (then --resume continues its journal) or use another --out; ${what} and run again`,
    { code: 'OUT_LOCKED' },
  );
}

/**
 * Moves a stale lock file out of the way, unless another process took it over since it was
 * read (then its new lock is put back): two processes taking over one stale lock at once must
 * not both win.
 */
async function moveAside(path: string, staleText: string): Promise<boolean> {
  const aside = temporarySibling(path);
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw asOutputError(error, path);
  }
  if ((await readFile(aside, 'utf8')) !== staleText) {
    await rename(aside, path);
    return false;
  }
  await rm(aside, { force: true });
  return true;
}

async function release(path: string, text: string, logger: Logger): Promise<void> {
  heldHere.delete(path);
  try {
    // Not ours any more (someone deleted it and another medcap took it): leave it.
    if ((await readFile(path, 'utf8')) === text) await rm(path, { force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    logger.warn(
      `could not remove the lock file ${path}: ${describeError(error)}; delete it before the next run into this folder`,
    );
  }
}
