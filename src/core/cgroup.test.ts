import { describe, expect, it } from 'vitest';
import { cgroupCpuLimit, type ReadText, usableCores } from './cgroup.js';

/** A machine whose files are these texts. */
function files(texts: Record<string, string>): ReadText {
  return (path) => texts[path];
}

describe('cgroupCpuLimit', () => {
  it('reads cgroup v2 cpu.max (docker --cpus 2.5), rounded up, and the lowest up the tree', () => {
    const read = files({
      '/proc/self/cgroup': '0::/kubepods/pod1/c1\n',
      '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': '250000 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '400000 100000\n',
      '/sys/fs/cgroup/kubepods/cpu.max': 'max 100000\n',
    });
    expect(cgroupCpuLimit(read)).toBe(3);
  });

  it('reads cgroup v1 cpu.cfs_quota_us and its period; -1 means no cap', () => {
    const capped = files({
      '/proc/self/cgroup': '4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n',
      '/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us': '150000\n',
      '/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuLimit(capped)).toBe(2);
    const uncapped = files({
      '/proc/self/cgroup': '3:cpu,cpuacct:/\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuLimit(uncapped)).toBeUndefined();
  });

  it('gives at least one core, and nothing without cgroup files', () => {
    const tiny = files({
      '/proc/self/cgroup': '0::/\n',
      '/sys/fs/cgroup/cpu.max': '10000 100000\n',
    });
    expect(cgroupCpuLimit(tiny)).toBe(1);
    expect(cgroupCpuLimit(files({}))).toBeUndefined();
  });
});

describe('usableCores', () => {
  it('is the cores this process may run on, or the cgroup cap when lower', () => {
    const capped = files({
      '/proc/self/cgroup': '0::/\n',
      '/sys/fs/cgroup/cpu.max': '200000 100000',
    });
    expect(usableCores(capped, 64)).toBe(2);
    expect(usableCores(capped, 1)).toBe(1);
    expect(usableCores(files({}), 16)).toBe(16);
  });
});
