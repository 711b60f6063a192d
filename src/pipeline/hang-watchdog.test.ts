import { describe, expect, it } from 'vitest';
import { batchLimitMs, SLOWEST_BATCH_FACTOR, startHangWatchdog } from './hang-watchdog.js';

describe('the hang watchdog', () => {
  it('allows the limit, or ten times the slowest batch so far when that is longer', () => {
    expect(batchLimitMs(1800, 0)).toBe(1_800_000);
    expect(batchLimitMs(1800, 120_000)).toBe(1_800_000);
    expect(batchLimitMs(1800, 200_000)).toBe(SLOWEST_BATCH_FACTOR * 200_000);
  });

  it('with a limit of 0, does nothing (no thread that could end the process)', async () => {
    const watchdog = startHangWatchdog(0);
    watchdog.enter(['a']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    watchdog.leave();
    watchdog.stop();
  });

  it('leaves a batch that came back in time alone, and does not hold the process open', async () => {
    const watchdog = startHangWatchdog(1);
    for (let i = 0; i < 3; i++) {
      watchdog.enter([`image-${i}`]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      watchdog.leave();
    }
    // Past the 1 s limit since the first enter: had the timer not been cleared, the test
    // process would have been killed.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    watchdog.stop();
  });
});
