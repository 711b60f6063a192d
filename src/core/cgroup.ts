/**
 * What this process's control group allows it (SLURM jobs, containers, Kubernetes limits),
 * from the cgroup files of its own group and of each ancestor (each one's limit applies),
 * cgroup v2 or v1. The mount's own root is read too: inside a container that is the
 * container's group.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { posix } from 'node:path';

/** A file's text, or undefined when it cannot be read. */
export type ReadText = (path: string) => string | undefined;

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A setting's file name under cgroup v2, and its v1 controller and file name. */
export interface CgroupSetting {
  v2: string;
  v1Controller: string;
  v1: string;
}

/** The setting's files for this process's group and its ancestors, its own first. */
export function cgroupSettingFiles(setting: CgroupSetting, read: ReadText = readText): string[] {
  const files: string[] = [];
  for (const line of (read('/proc/self/cgroup') ?? '').split('\n')) {
    const match = /^\d+:([^:]*):(\/.*)$/.exec(line.trim());
    if (!match) continue;
    const [, controllers, path] = match as unknown as [string, string, string];
    const [mount, name] =
      controllers === ''
        ? ['/sys/fs/cgroup', setting.v2]
        : controllers.split(',').includes(setting.v1Controller)
          ? [`/sys/fs/cgroup/${setting.v1Controller}`, setting.v1]
          : [undefined, undefined];
    if (!mount || !name) continue;
    for (let dir = path; ; dir = posix.dirname(dir)) {
      files.push(posix.join(mount, dir, name));
      if (dir === '/') break;
    }
  }
  return [...new Set(files)];
}

/**
 * The CPU time the group may use, in cores (quota / period, rounded up), when it is capped
 * (`docker --cpus`, Kubernetes CPU limits); undefined when it is not. v2 `cpu.max` holds
 * "QUOTA PERIOD" or "max PERIOD"; v1 has `cpu.cfs_quota_us` (-1: none) and `cpu.cfs_period_us`.
 */
export function cgroupCpuLimit(read: ReadText = readText): number | undefined {
  let lowest: number | undefined;
  const take = (quota: number, period: number) => {
    if (!(quota > 0 && period > 0)) return;
    const cores = Math.max(1, Math.ceil(quota / period));
    if (lowest === undefined || cores < lowest) lowest = cores;
  };
  for (const file of cgroupSettingFiles(
    { v2: 'cpu.max', v1Controller: 'cpu', v1: 'cpu.cfs_quota_us' },
    read,
  )) {
    const text = read(file)?.trim();
    if (!text) continue;
    if (file.endsWith('cpu.max')) {
      const [quota, period] = text.split(/\s+/);
      take(Number(quota), Number(period));
    } else {
      take(Number(text), Number(read(posix.join(posix.dirname(file), 'cpu.cfs_period_us'))));
    }
  }
  return lowest;
}

/** The cores this process can keep busy: those it may run on, or fewer if its group caps its CPU time. */
export function usableCores(
  read: ReadText = readText,
  available: number = availableParallelism(),
): number {
  return Math.min(available, cgroupCpuLimit(read) ?? available);
}
