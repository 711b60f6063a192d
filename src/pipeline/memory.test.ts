import { describe, expect, it } from 'vitest';
import type { ReadText } from '../core/cgroup.js';
import { cgroupMemoryLimit, memoryBudget, memoryCeiling } from './memory.js';

const GiB = 1024 ** 3;

/** A machine whose files are these texts. */
function files(texts: Record<string, string>): ReadText {
  return (path) => texts[path];
}

describe('cgroupMemoryLimit', () => {
  it('reads cgroup v2 memory.max of a SLURM job step, where the limit sits on the job', () => {
    const read = files({
      '/proc/self/cgroup': '0::/system.slice/slurmstepd.scope/job_42/step_0/user/task_0\n',
      '/sys/fs/cgroup/system.slice/slurmstepd.scope/job_42/step_0/user/task_0/memory.max': 'max\n',
      '/sys/fs/cgroup/system.slice/slurmstepd.scope/job_42/memory.max': `${8 * GiB}\n`,
      '/sys/fs/cgroup/system.slice/memory.max': 'max\n',
    });
    expect(cgroupMemoryLimit(read)).toEqual({
      bytes: 8 * GiB,
      file: '/sys/fs/cgroup/system.slice/slurmstepd.scope/job_42/memory.max',
    });
  });

  it('reads cgroup v1 memory.limit_in_bytes; the page-rounded 2^63 means no limit', () => {
    const unlimited = files({
      '/proc/self/cgroup': '4:memory:/user.slice\n3:cpu,cpuacct:/user.slice\n',
      '/sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes': '9223372036854771712\n',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
    });
    expect(cgroupMemoryLimit(unlimited)).toBeUndefined();
    const limited = files({
      '/proc/self/cgroup': '11:cpuset:/\n4:memory,hugetlb:/slurm/uid_1000/job_7\n',
      '/sys/fs/cgroup/memory/slurm/uid_1000/job_7/memory.limit_in_bytes': `${4 * GiB}`,
    });
    expect(cgroupMemoryLimit(limited)?.bytes).toBe(4 * GiB);
  });

  it("reads the mount's root inside a container whose cgroup path is not visible", () => {
    const read = files({
      '/proc/self/cgroup': '0::/kubepods/burstable/pod1/abc\n',
      '/sys/fs/cgroup/memory.max': `${2 * GiB}`,
    });
    expect(cgroupMemoryLimit(read)).toEqual({
      bytes: 2 * GiB,
      file: '/sys/fs/cgroup/memory.max',
    });
  });

  it('finds nothing where there is no cgroup file (macOS, Windows)', () => {
    expect(cgroupMemoryLimit(files({}))).toBeUndefined();
  });
});

describe('memoryCeiling', () => {
  const eightGiB = files({
    '/proc/self/cgroup': '0::/job\n',
    '/sys/fs/cgroup/job/memory.max': `${8 * GiB}`,
  });

  it('is the cgroup limit when lower than RAM, else RAM', () => {
    expect(memoryCeiling(eightGiB, 256 * GiB)).toMatchObject({ bytes: 8 * GiB });
    expect(memoryCeiling(eightGiB, 4 * GiB)).toEqual({ bytes: 4 * GiB, ramBytes: 4 * GiB });
  });
});

describe('memoryBudget', () => {
  const config = {
    maxPixels: 448 * 448,
    prefetch: 32,
    cache: true,
    cacheMemory: 9 * GiB,
  };
  const bigMachine = { bytes: 256 * GiB, ramBytes: 256 * GiB };
  const slurmJob = {
    bytes: 8 * GiB,
    ramBytes: 256 * GiB,
    cgroupFile: '/sys/fs/cgroup/job/memory.max',
  };

  it('gives the cache its --cache-memory where the machine has room, and says nothing', () => {
    const budget = memoryBudget(config, bigMachine);
    expect(budget).toMatchObject({ cache: 9 * GiB, ahead: 32, notes: [] });
  });

  it('keeps cache and prefetch within half of an 8 GB cgroup limit, and says why', () => {
    const budget = memoryBudget(config, slurmJob);
    expect(budget.cache + budget.ahead * (448 * 448 * 3 + 256)).toBeLessThanOrEqual(4 * GiB);
    expect(budget.cache).toBeGreaterThan(3 * GiB);
    expect(budget.notes).toHaveLength(1);
    expect(budget.notes[0]!.message).toMatch(
      /instead of --cache-memory 9\.0 GiB.*cgroup memory limit in \/sys\/fs\/cgroup\/job\/memory\.max.*set --memory-limit/,
    );
  });

  it('warns about a --memory-limit above the cgroup limit and budgets within the cgroup', () => {
    const budget = memoryBudget({ ...config, memoryLimit: 64 * GiB }, slurmJob);
    expect(budget.cache).toBeLessThanOrEqual(4 * GiB);
    expect(budget.notes[0]).toMatchObject({ level: 'warn' });
    expect(budget.notes[0]!.message).toMatch(/--memory-limit 64\.0 GiB is more than the 8\.0 GiB/);
  });

  it('honours a --memory-limit below --cache-memory and says the cache is smaller', () => {
    const budget = memoryBudget({ ...config, memoryLimit: GiB }, bigMachine);
    expect(budget.cache).toBeLessThan(GiB);
    expect(budget.notes.map((n) => n.message).join('\n')).toMatch(/within --memory-limit/);
  });

  it('leaves the cache at 0 with --no-cache and keeps at least one image of prefetch', () => {
    const budget = memoryBudget({ ...config, cache: false, memoryLimit: 1024 * 1024 }, bigMachine);
    expect(budget.cache).toBe(0);
    expect(budget.ahead).toBe(1);
  });
});
