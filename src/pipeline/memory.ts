import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { formatBytes } from '../config/size.js';

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
