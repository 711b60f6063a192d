import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration } from './progress.js';

function fakeClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('progress', () => {
  it('draws a bar with images/s and ETA in place on a terminal', () => {
    const clock = fakeClock();
    const writes: string[] = [];
    const progress = createProgress({
      total: 100,
      interactive: true,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      write: (t) => writes.push(t),
      now: clock.now,
    });
    clock.advance(10_000);
    progress.update(25, 1);
    expect(writes.at(-1)).toMatch(
      /^\r\u001b\[2K\[######\.{18}\] 25\/100 images, 2\.50 img\/s, elapsed 10s, ETA 30s, 1 failed$/,
    );
    progress.finish();
    expect(writes.at(-1)).toMatch(/\n$/);
  });

  it('logs plain lines at an interval when not on a terminal', () => {
    const clock = fakeClock();
    const lines: string[] = [];
    const progress = createProgress({
      total: undefined,
      interactive: false,
      logger: { debug() {}, info: (m) => lines.push(m), warn() {}, error() {} },
      intervalMs: 1000,
      now: clock.now,
    });
    clock.advance(500);
    progress.update(5, 0);
    expect(lines).toHaveLength(0);
    clock.advance(600);
    progress.update(11, 0);
    expect(lines).toEqual([
      expect.stringMatching(/^progress: 11 images, 10\.00 img\/s, elapsed 1s, ETA \?$/),
    ]);
  });

  it('formats durations', () => {
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(61)).toBe('1m01s');
    expect(formatDuration(3 * 3600 + 5 * 60)).toBe('3h05m');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });
});
