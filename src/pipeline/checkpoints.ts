import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaptionConfig } from '../config/types.js';
import { writeFileAtomic } from '../core/files.js';
import type { Logger } from '../core/logger.js';
import { outputPaths } from '../core/paths.js';
import type { Checkpoint } from './run-state.js';

/** Checkpoints waiting to be written before `add` makes the run wait (each holds a copy). */
const MAX_QUEUED = 2;

/**
 * Writes `checkpoint_{n}.csv` files in the background, in order, each atomically and
 * fsync'd, and keeps the newest `--keep-checkpoints`. The run goes on captioning while the
 * disk works; a failed write (disk full) is thrown by the next `add` or by `drain`.
 */
export class CheckpointWriter {
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private failure: unknown;

  constructor(
    private readonly dir: string,
    private readonly split: string,
    private readonly keep: number,
    private readonly logger: Logger,
  ) {}

  async add(checkpoint: Checkpoint): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.queued += 1;
    this.chain = this.chain.then(() => this.write(checkpoint));
    if (this.queued > MAX_QUEUED) await this.chain;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits for every queued checkpoint; throws the first failure. */
  async drain(): Promise<void> {
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
  }

  private async write({ n, parts }: Checkpoint): Promise<void> {
    try {
      if (this.failure !== undefined) return;
      await writeFileAtomic(outputPaths(this.dir, this.split).checkpoint(n), parts);
      await pruneCheckpoints(this.dir, this.keep, this.logger);
    } catch (error) {
      this.failure ??= error;
    } finally {
      this.queued -= 1;
    }
  }
}

/**
 * `checkpoint_{n}.csv` carries no split (SPEC's name), so the checkpoints of two splits in one
 * --out overwrite and prune each other: said once at the start of a run that writes them.
 */
export async function warnIfCheckpointsShared(
  dir: string,
  split: string,
  checkpointEvery: number,
  logger: Logger,
): Promise<void> {
  if (checkpointEvery <= 0) return;
  const others = (await readdir(dir))
    .map((name) => /^medical_captions_(.+)\.journal\.jsonl$/.exec(name)?.[1])
    .filter((other): other is string => other !== undefined && other !== split);
  if (others.length === 0) return;
  logger.warn(
    `--checkpoint-every: --out ${dir} also holds the run of split ${others.join(', ')}, and ` +
      'checkpoint_{n}.csv names no split: the checkpoints of both runs overwrite and prune each ' +
      'other (journals and captions CSVs are not affected); give each split its own --out to keep both',
  );
}

/** The checkpoint files in `dir`, newest first. */
async function checkpointFiles(dir: string): Promise<{ name: string; n: number }[]> {
  const names = (await readdir(dir)).filter((name) => /^checkpoint_\d+\.csv$/.test(name));
  return names.map((name) => ({ name, n: Number(/\d+/.exec(name)![0]) })).sort((a, b) => b.n - a.n);
}

/** Keeps the newest `keep` checkpoint files (0 keeps all). */
async function pruneCheckpoints(dir: string, keep: number, logger: Logger): Promise<void> {
  if (keep <= 0) return;
  for (const { name } of (await checkpointFiles(dir)).slice(keep)) {
    await rm(join(dir, name), { force: true });
    logger.debug(`removed old checkpoint ${name}`);
  }
}

/**
 * Checkpoints that the journaled images crossed but whose files are missing (a crash or a
 * full disk came between): those newer than the newest file, at most `--keep-checkpoints`.
 */
export async function missingCheckpoints(
  dir: string,
  config: CaptionConfig,
  journaled: number,
): Promise<Set<number>> {
  const every = config.checkpointEvery;
  if (!config.resume || every <= 0) return new Set();
  const newest = (await checkpointFiles(dir))[0]?.n ?? 0;
  const missing: number[] = [];
  for (let n = Math.floor(journaled / every) * every; n > newest; n -= every) missing.push(n);
  return new Set(config.keepCheckpoints > 0 ? missing.slice(0, config.keepCheckpoints) : missing);
}
