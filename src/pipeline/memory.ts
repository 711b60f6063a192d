import { execFile } from 'node:child_process';
import { totalmem } from 'node:os';
import { promisify } from 'node:util';
import { formatBytes } from '../config/size.js';
import type { CaptionConfig } from '../config/types.js';
import { cgroupSettingFiles, type ReadText, readText } from '../core/cgroup.js';

const run = promisify(execFile);

export interface MemorySnapshot {
  rssBytes: number;
  heapUsedBytes: number;
  /** GPU memory in use (all GPUs), from nvidia-smi; null where there is none. */
  gpuUsedBytes: number | null;
  gpuTotalBytes: number | null;
}

/** Reads RSS and, where nvidia-smi exists, GPU memory. Remembers when nvidia-smi is absent. */
export class MemoryProbe {
  private gpuAvailable: boolean | undefined;
  peakRssBytes = 0;

  constructor(private readonly nvidiaSmi = 'nvidia-smi') {}

  /** Cheap: RSS only. */
  rss(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.peakRssBytes) this.peakRssBytes = rss;
    return rss;
  }

  async snapshot(): Promise<MemorySnapshot> {
    const { heapUsed } = process.memoryUsage();
    const gpu = await this.gpu();
    return {
      rssBytes: this.rss(),
      heapUsedBytes: heapUsed,
      gpuUsedBytes: gpu?.used ?? null,
      gpuTotalBytes: gpu?.total ?? null,
    };
  }

  /** False once we know there is no usable nvidia-smi. */
  get hasGpuInfo(): boolean | undefined {
    return this.gpuAvailable;
  }

  private async gpu(): Promise<{ used: number; total: number } | undefined> {
    if (this.gpuAvailable === false) return undefined;
    try {
      const { stdout } = await run(
        this.nvidiaSmi,
        ['--query-gpu=memory.used,memory.total', '--format=csv,noheader,nounits'],
        {
          timeout: 5000,
        },
      );
      let used = 0;
      let total = 0;
      for (const line of stdout.trim().split('\n')) {
        const [u, t] = line.split(',').map((v) => Number(v.trim()));
        if (!Number.isFinite(u) || !Number.isFinite(t))
          throw new Error('unexpected nvidia-smi output');
        used += u! * 1024 * 1024;
        total += t! * 1024 * 1024;
      }
      this.gpuAvailable = true;
      return { used, total };
    } catch {
      this.gpuAvailable = false;
      return undefined;
    }
  }
}

export function describeMemory(snapshot: MemorySnapshot, cacheBytes: number): string {
  const parts = [`RSS ${formatBytes(snapshot.rssBytes)}`, `cache ${formatBytes(cacheBytes)}`];
  if (snapshot.gpuUsedBytes !== null && snapshot.gpuTotalBytes !== null) {
    parts.push(
      `GPU ${formatBytes(snapshot.gpuUsedBytes)} / ${formatBytes(snapshot.gpuTotalBytes)}`,
    );
  }
  return parts.join(', ');
}

/** The memory this process may use: the machine's RAM or, when lower, its cgroup's limit. */
export interface MemoryCeiling {
  bytes: number;
  ramBytes: number;
  /** The cgroup limit file that sets it (SLURM `--mem`, `docker --memory`, Kubernetes limits). */
  cgroupFile?: string;
}

/** cgroup v1 writes "no limit" as 2^63-1 rounded to a page; anything this large is none. */
const NO_LIMIT = 2 ** 60;

/**
 * The lowest memory limit of this process's cgroup and its ancestors (core/cgroup.ts),
 * cgroup v2 (`memory.max`) or v1 (`memory.limit_in_bytes`).
 */
export function cgroupMemoryLimit(
  read: ReadText = readText,
): { bytes: number; file: string } | undefined {
  const files = cgroupSettingFiles(
    { v2: 'memory.max', v1Controller: 'memory', v1: 'memory.limit_in_bytes' },
    read,
  );
  let lowest: { bytes: number; file: string } | undefined;
  for (const file of files) {
    const text = read(file)?.trim();
    if (!text || !/^\d+$/.test(text)) continue; // "max": no limit
    const bytes = Number(text);
    if (bytes > 0 && bytes < NO_LIMIT && (!lowest || bytes < lowest.bytes))
      lowest = { bytes, file };
  }
  return lowest;
}

export function memoryCeiling(read: ReadText = readText, ramBytes = totalmem()): MemoryCeiling {
  const cgroup = cgroupMemoryLimit(read);
  return cgroup && cgroup.bytes < ramBytes
    ? { bytes: cgroup.bytes, ramBytes, cgroupFile: cgroup.file }
    : { bytes: ramBytes, ramBytes };
}

/** "8.0 GiB (cgroup limit, /sys/fs/cgroup/.../memory.max)" or "23.2 GiB (RAM)". */
export function describeCeiling(ceiling: MemoryCeiling): string {
  return ceiling.cgroupFile
    ? `${formatBytes(ceiling.bytes)} (cgroup memory limit in ${ceiling.cgroupFile}; the machine has ${formatBytes(ceiling.ramBytes)})`
    : `${formatBytes(ceiling.bytes)} (RAM)`;
}

export interface MemoryBudget {
  /** Bytes the cache's buckets may hold (0: no cache). */
  cache: number;
  /** Images preprocessed ahead of the engine. */
  ahead: number;
  /** What the run should say about how the budget was set. */
  notes: Array<{ level: 'info' | 'warn'; message: string }>;
}

/**
 * Splits the memory limit between the prefetch window and the cache: the window gets a
 * quarter (at least one image), the cache the rest, and never more than `--cache-memory`.
 * Without `--memory-limit` (or with one beyond what this process may use) the limit is half
 * of the RAM or cgroup limit: the other half is the model's, so that a 9GB cache cannot get
 * an 8 GB SLURM job killed.
 */
export function memoryBudget(
  config: Pick<
    CaptionConfig,
    'imageSize' | 'maxPixels' | 'prefetch' | 'cache' | 'cacheMemory' | 'memoryLimit'
  >,
  ceiling: MemoryCeiling,
): MemoryBudget {
  const notes: MemoryBudget['notes'] = [];
  const half = Math.floor(ceiling.bytes / 2);
  let limit = config.memoryLimit ?? half;
  let why =
    config.memoryLimit === undefined
      ? `half of the ${describeCeiling(ceiling)} this process may use`
      : '--memory-limit';
  if (config.memoryLimit !== undefined && config.memoryLimit > ceiling.bytes) {
    limit = half;
    why = `half of the ${describeCeiling(ceiling)} this process may use`;
    notes.push({
      level: 'warn',
      message: `memory: --memory-limit ${formatBytes(config.memoryLimit)} is more than the ${describeCeiling(ceiling)} this process may use; cache and prefetch get ${formatBytes(limit)}`,
    });
  }
  const side = config.imageSize ? Math.ceil(config.imageSize / 28) * 28 : 0;
  const largestImage = 256 + (side ? side * side : config.maxPixels) * 3;
  const aheadBytes = Math.max(largestImage, Math.floor(limit / 4));
  const ahead = Math.max(1, Math.min(config.prefetch, Math.floor(aheadBytes / largestImage)));
  const cache = config.cache
    ? Math.max(0, Math.min(config.cacheMemory, limit - ahead * largestImage))
    : 0;
  if (config.cache && cache < config.cacheMemory) {
    notes.push({
      level: 'info',
      message:
        `cache: ${formatBytes(cache)} instead of --cache-memory ${formatBytes(config.cacheMemory)}, to stay within ${why} ` +
        `(${formatBytes(limit)} for cache and prefetch)` +
        (config.memoryLimit === undefined ? '; set --memory-limit to choose' : ''),
    });
  }
  if (ahead < config.prefetch) {
    notes.push({
      level: 'info',
      message: `prefetch: ${ahead} images ahead instead of --prefetch ${config.prefetch}, to stay within ${why}`,
    });
  }
  return { cache, ahead, notes };
}
